package keys_test

// Helpers for the lease, reaper and rotation tests: a keys.Service over a
// client talking HTTP to a sandbox on loopback, with one controllable clock
// shared by the service, its store of record (the audit FileStore, or
// PostgreSQL) and the sandbox, so that a lease can end without waiting.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/audit/pgstore"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// leasePolicy is the design's example policy with leases capped at two
// hours and rotation allowed with up to 60 minutes of grace.
const leasePolicy = `version: 1
tags:
  allow: ["demo-project", "proj-*", "user_*", "team:search"]
  deny:  ["proj-prod*"]
  allow_new: true
keys:
  name_prefix: "agent-"
  default_expiry_days: 30
  max_expiry_days: 90
  max_lease_minutes: 120
revoke:
  enabled: true
  only_prefixed: true
`

// leaseStart is where every test's clock starts: a whole second, so that a
// lease's end (truncated to the second) is exactly start + minutes.
var leaseStart = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// stoppedClock is the tests' clock, shared by the sandbox and the store: it
// moves only when advanced.
type stoppedClock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *stoppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *stoppedClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// swapPolicy is a policy source a test can change between calls.
type swapPolicy struct{ p atomic.Pointer[policy.Policy] }

// Current returns the policy in force.
func (s *swapPolicy) Current() *policy.Policy { return s.p.Load() }

// mustPolicy parses a policy or fails the test.
func mustPolicy(t testing.TB, yaml string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("policy.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	return p
}

// syncBuf is a log sink safe for concurrent writes.
type syncBuf struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// leaseEnv is a sandbox, a client to it, a store of record and a clock;
// services are made on them with newService.
type leaseEnv struct {
	t      *testing.T
	clock  *stoppedClock
	sb     *sandbox.Server
	api    *client.Client
	policy *swapPolicy
	path   string // the audit log, when the store is the FileStore
	open   keys.StoreOpener
	logs   *syncBuf
}

// newLeaseEnv starts a sandbox on the shared clock and points a FileStore
// (in a fresh directory) at the same clock.
func newLeaseEnv(t *testing.T, policyYAML string) *leaseEnv {
	t.Helper()
	clock := &stoppedClock{t: leaseStart}
	sb, err := sandbox.Start(sandbox.Options{Now: clock.Now}, "")
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		if f := sb.Sandbox.ForbiddenRequests(); len(f) != 0 {
			t.Errorf("forbidden endpoints were called: %+v", f)
		}
		_ = sb.Close()
	})
	api, err := client.New(client.Config{BaseURL: sb.URL, APIKey: client.Secret(sb.Sandbox.OperatorKey()),
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetryAfter: 10 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	sp := &swapPolicy{}
	sp.p.Store(mustPolicy(t, policyYAML))
	path := filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	e := &leaseEnv{t: t, clock: clock, sb: sb, api: api, policy: sp, path: path, logs: &syncBuf{}}
	e.open = keys.OpenFile(path, audit.FileOptions{Now: clock.Now})
	t.Cleanup(func() {
		if strings.Contains(e.logs.String(), sb.Sandbox.OperatorKey()) {
			t.Error("the operator key is in the logs")
		}
	})
	return e
}

// newService makes a service on the env's API, policy, store and clock,
// closed when the test ends.
func (e *leaseEnv) newService(reapOnCall bool) *keys.Service {
	e.t.Helper()
	return e.serviceOn(e.open, reapOnCall)
}

// serviceOn makes a service on another store opener (same API, policy and
// clock), closed when the test ends.
func (e *leaseEnv) serviceOn(open keys.StoreOpener, reapOnCall bool) *keys.Service {
	e.t.Helper()
	svc, err := keys.New(keys.Config{API: e.api, Policy: e.policy, OpenStore: open, Logger: zerolog.New(e.logs),
		Now: e.clock.Now, ReapOnCall: reapOnCall})
	if err != nil {
		e.t.Fatalf("new service: %v", err)
	}
	e.t.Cleanup(func() { _ = svc.Close() })
	return svc
}

// local is a stdio call of tool.
func local(tool string) keys.Call { return keys.Call{Caller: keys.Local(), Tool: tool} }

// intp is a pointer to n.
func intp(n int) *int { return &n }

// createLeased mints a key for tag with a lease of minutes and checks the
// answer's lease.
func (e *leaseEnv) createLeased(svc *keys.Service, tag string, minutes int) *keys.Created {
	e.t.Helper()
	c, err := svc.Create(context.Background(), local("create_scoped_key"), keys.CreateInput{Tag: tag, LeaseMinutes: intp(minutes)})
	if err != nil {
		e.t.Fatalf("create with lease_minutes %d: %v", minutes, err)
	}
	if want := e.clock.Now().Add(time.Duration(minutes) * time.Minute); !c.LeaseEndsAt.Equal(want) {
		e.t.Fatalf("LeaseEndsAt = %v, want %v", c.LeaseEndsAt, want)
	}
	return c
}

// upstreamKey is the key id as the sandbox lists it now (nil: absent).
func (e *leaseEnv) upstreamKey(id string) *client.Key {
	e.t.Helper()
	ks, err := e.api.ListKeys(context.Background())
	if err != nil {
		e.t.Fatalf("list keys upstream: %v", err)
	}
	for i := range ks {
		if ks[i].ID == id {
			return &ks[i]
		}
	}
	return nil
}

// enabled reports whether the sandbox lists id as enabled.
func (e *leaseEnv) enabled(id string) bool {
	e.t.Helper()
	k := e.upstreamKey(id)
	if k == nil {
		e.t.Fatalf("key %s is not listed upstream", id)
	}
	return k.Enabled
}

// deletes counts the DELETE requests the sandbox saw for id ("" = any).
func (e *leaseEnv) deletes(id string) int {
	n := 0
	for _, r := range e.sb.Sandbox.Requests() {
		if r.Endpoint == sandbox.EndpointRevoke && (id == "" || strings.HasSuffix(r.Path, "/"+id)) {
			n++
		}
	}
	return n
}

// records reads the audit log the FileStore wrote.
func (e *leaseEnv) records() []audit.Record {
	e.t.Helper()
	recs, err := audit.Tail(e.path, 1<<20)
	if err != nil {
		e.t.Fatalf("read the audit log: %v", err)
	}
	return recs
}

// reaperRecords are the records the reaper wrote about id.
func reaperRecords(recs []audit.Record, id string) []audit.Record {
	var out []audit.Record
	for _, r := range recs {
		if r.KeyID == id && r.Caller == "system" {
			out = append(out, r)
		}
	}
	return out
}

// pgURL returns a fresh PostgreSQL database for this test (dropped when it
// ends), from MCP_KEYS_TEST_DATABASE_URL; without one the test is skipped,
// unless CI is set (then it fails), as in internal/audit/pgstore.
func pgURL(t *testing.T) string {
	t.Helper()
	base := os.Getenv("MCP_KEYS_TEST_DATABASE_URL")
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("MCP_KEYS_TEST_DATABASE_URL is not set, and CI is: the PostgreSQL tests are required (scripts/postgres.sh start)")
		}
		t.Skip("MCP_KEYS_TEST_DATABASE_URL is not set (scripts/postgres.sh start prints one)")
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "mk_keys_test_" + hex.EncodeToString(b)
	pgExec(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() { pgExec(t, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatal("MCP_KEYS_TEST_DATABASE_URL must be a postgres:// URL")
	}
	u.Path = "/" + name
	return u.String()
}

// pgExec runs one statement on the database at u.
func pgExec(t *testing.T, u, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// pgOpener opens a PostgreSQL store on u with the env's clock.
func (e *leaseEnv) pgOpener(u string) keys.StoreOpener {
	return func(ctx context.Context) (audit.Store, error) {
		return pgstore.Open(ctx, u, pgstore.Options{Now: e.clock.Now})
	}
}
