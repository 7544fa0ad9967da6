package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// testURLEnv names the variable holding the URL of a PostgreSQL database
// the tests may create databases from (scripts/postgres.sh start prints it).
const testURLEnv = "MCP_KEYS_TEST_DATABASE_URL"

// baseURL returns the test server's URL. Without one the test is skipped,
// unless CI is set: there the PostgreSQL tests are required.
func baseURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(testURLEnv)
	if u == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set, and CI is: the PostgreSQL tests are required (scripts/postgres.sh start)", testURLEnv)
		}
		tb.Skipf("%s is not set (scripts/postgres.sh start prints one)", testURLEnv)
	}
	return u
}

// randomName is a fresh identifier with prefix.
func randomName(tb testing.TB, prefix string) string {
	tb.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	return prefix + hex.EncodeToString(b)
}

// withDatabase returns base with its database (and optionally user and
// host) replaced.
func withDatabase(tb testing.TB, base, db string) string {
	tb.Helper()
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatalf("%s must be a postgres:// URL", testURLEnv)
	}
	u.Path = "/" + db
	return u.String()
}

// withUser returns u with its user replaced (no password: trust auth).
func withUser(tb testing.TB, s, user string) string {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	u.User = url.User(user)
	return u.String()
}

// withHost returns u with its host:port replaced.
func withHost(tb testing.TB, s, host string) string {
	tb.Helper()
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatal(err)
	}
	u.Host = host
	return u.String()
}

// adminExec runs sql on the database at u (as the URL's user).
func adminExec(tb testing.TB, u, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("%s: %v", sql, err)
	}
}

// freshDB creates an empty database for this test alone and drops it when
// the test ends; it returns its URL.
func freshDB(tb testing.TB) string {
	tb.Helper()
	base := baseURL(tb)
	name := randomName(tb, "mk_test_")
	adminExec(tb, base, "CREATE DATABASE "+name)
	tb.Cleanup(func() { adminExec(tb, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	return withDatabase(tb, base, name)
}

// openAt opens a store on u, closed when the test ends.
func openAt(tb testing.TB, u string, opts Options) *Store {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Open(ctx, u, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// newStore is the conformance factory: a store on a fresh database.
func newStore(t *testing.T) audit.Store {
	return openAt(t, freshDB(t), Options{})
}

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// ctxT is a context ending with the test (or after a minute).
func ctxT(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// intent is an allowed create intent by caller.
func intent(caller, tag string) audit.Record {
	return audit.Record{Event: audit.EventCreate, Phase: audit.PhaseIntent, Tool: "create_scoped_key",
		Decision: audit.DecisionAllowed, Caller: caller, Tag: tag, Name: "agent-key"}
}

// result is the result of intent ref.
func result(ref int64, caller string, outcome audit.Outcome, keyID string, tags ...string) audit.Record {
	return audit.Record{Event: audit.EventCreateResult, Phase: audit.PhaseResult, Ref: ref, Tool: "create_scoped_key",
		Decision: audit.DecisionAllowed, Outcome: outcome, Caller: caller, KeyID: keyID, Tags: tags, Permission: "read"}
}

// checkRec is a check_policy record.
func checkRec(caller string) audit.Record {
	return audit.Record{Event: audit.EventCheck, Tool: "check_policy", Decision: audit.DecisionAllowed, Caller: caller, Tag: "proj-a"}
}
