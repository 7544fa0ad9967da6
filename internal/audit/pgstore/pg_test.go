package pgstore

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// chainKey is a test chain key.
var chainKey = []byte(strings.Repeat("0123456789abcdef", 2))

func TestMigrateConcurrentAndIdempotent(t *testing.T) {
	t.Parallel()
	u := freshDB(t)
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for i := 0; i < 6; i++ { // replicas starting together
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs <- Migrate(ctx, u)
				return
			}
			s, err := Open(ctx, u, Options{})
			if err == nil {
				err = s.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent start: %v", err)
		}
	}
	if err := Migrate(ctx, u); err != nil {
		t.Errorf("Migrate again: %v", err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, v int
	if err := conn.QueryRow(ctx, "SELECT count(*), max(version) FROM mcp_keys_schema_migrations").Scan(&n, &v); err != nil {
		t.Fatal(err)
	}
	if n != SchemaVersion() || v != SchemaVersion() || v < 1 {
		t.Errorf("%d migrations recorded, last %d; want %d", n, v, SchemaVersion())
	}
}

func TestOpenRefuses(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := freshDB(t)
	if err := Migrate(ctx, u); err != nil {
		t.Fatal(err)
	}
	adminExec(t, u, "INSERT INTO mcp_keys_schema_migrations (version, name) VALUES (999, 'future')")
	for _, tc := range []struct {
		name string
		url  string
		opts Options
		want string
	}{
		{"newer schema", u, Options{}, "newer than this mcp-keys"},
		{"short chain key", u, Options{ChainKey: []byte("short")}, "at least 32"},
		{"empty url", "", Options{}, "empty database URL"},
		{"bad url", "postgres://%zz", Options{}, "database URL"},
		{"no server", withHost(t, u, "127.0.0.1:1"), Options{}, "pgstore"},
	} {
		s, err := Open(ctx, tc.url, tc.opts)
		if err == nil {
			_ = s.Close()
			t.Errorf("%s: Open succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Open = %v, want %q", tc.name, err, tc.want)
		}
	}
	pu, err := url.Parse(withHost(t, u, "127.0.0.1:1"))
	if err != nil {
		t.Fatal(err)
	}
	pu.User = url.UserPassword("someone", "pw-s3cret-9")
	withPassword := pu.String()
	if _, err := Open(ctx, withPassword, Options{}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open on an unreachable server = %v: the password must not show", err)
	}
	if err := Migrate(ctx, u); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Migrate on a newer schema = %v", err)
	}
}

// TestReplicas: stores on one database behave as one store.
func TestReplicas(t *testing.T) {
	t.Parallel()
	u := freshDB(t)
	ctx := ctxT(t)
	a, b := openAt(t, u, Options{ChainKey: chainKey}), openAt(t, u, Options{ChainKey: chainKey})
	stores := []audit.Store{a, b}

	ok, refused := reserveAll(t, stores, 20, func(int) string { return "token:a" }, quotaOf(10, false))
	if ok != 10 || refused != 10 {
		t.Errorf("20 Reserves on 2 replicas under a quota of 10: %d appended, %d refused", ok, refused)
	}

	var wg sync.WaitGroup
	for i := 0; i < 40; i++ { // interleaved appends and checks
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[i%2]
			var err error
			if i%4 < 2 {
				_, err = s.Append(ctx, checkRec(fmt.Sprint("token:", i)))
			} else {
				err = s.AppendCheck(ctx, checkRec(fmt.Sprint("token:", i)))
			}
			if err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	for _, s := range stores {
		if n, err := s.VerifyAll(ctx); err != nil || n != 50 {
			t.Errorf("VerifyAll = %d, %v; want 50", n, err)
		}
		if err := s.Verify(ctx); err != nil {
			t.Error(err)
		}
	}

	keys := make([][]byte, 6)
	for i := range keys { // made once, by whichever asks first
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := stores[i%2].ConfirmationKey(ctx)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		}()
	}
	wg.Wait()
	for _, k := range keys[1:] {
		if !slices.Equal(k, keys[0]) {
			t.Fatal("replicas disagree on the confirmation key")
		}
	}
	if first, err := a.UseConfirmation(ctx, "n1", time.Now().Add(time.Minute)); err != nil || !first {
		t.Fatalf("first use: %v, %v", first, err)
	}
	if again, err := b.UseConfirmation(ctx, "n1", time.Now().Add(time.Minute)); err != nil || again {
		t.Errorf("use on the other replica: %v, %v; want false", again, err)
	}

	i1, err := a.Append(ctx, intent("token:a", "proj-a"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Append(ctx, result(i1.Seq, "token:a", audit.OutcomeCreated, "key_r", "proj-a")); err != nil {
		t.Fatal(err)
	}
	if m, err := b.Minted(ctx, []string{"key_r"}); err != nil || m["key_r"].Caller != "token:a" {
		t.Errorf("Minted on the other replica = %v, %v", m, err)
	}
}

// TestConfirmationsExpire: an expired nonce is forgotten.
func TestConfirmationsExpire(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := freshDB(t)
	c := newClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := openAt(t, u, Options{Now: c.Now})
	if ok, err := s.UseConfirmation(ctx, "n", c.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	c.Add(2 * time.Minute)
	if ok, err := s.UseConfirmation(ctx, "other", c.Now().Add(time.Minute)); err != nil || !ok {
		t.Fatal(ok, err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM mcp_keys_used_confirmations").Scan(&n); err != nil || n != 1 {
		t.Errorf("%d nonces kept (%v), want 1: the expired one is forgotten", n, err)
	}
}

// tamperCase breaks a chain of five records as an attacker with the
// owner's rights would, and names the record verification must report.
type tamperCase struct {
	name string
	sql  []string
	// line is the record Verify (and every write) must name; 0: Verify
	// passes (the change is below the checkpoint), only VerifyAll fails.
	line int
	// allLine is the record VerifyAll names.
	allLine int
	msg     string
}

func TestTamperingRefusesWrites(t *testing.T) {
	t.Parallel()
	unlock := "ALTER TABLE mcp_keys_audit DISABLE TRIGGER USER"
	editPID := func(seq int) string {
		return fmt.Sprintf(`UPDATE mcp_keys_audit SET line = replace(line, '"pid":', '"pid":1') WHERE seq = %d`, seq)
	}
	for _, tc := range []tamperCase{
		{"last record changed", []string{unlock, editPID(5)}, 5, 5, "changed after it was verified"},
		{"tail cut", []string{unlock, "DELETE FROM mcp_keys_audit WHERE seq > 3"}, 5, 4, "records were removed from the end"},
		{"tail cut and head moved back", []string{unlock, "DELETE FROM mcp_keys_audit WHERE seq > 3",
			"UPDATE mcp_keys_audit_head SET seq = 3, hash = ''"}, 4, 4, "removed from its end"},
		{"record beyond the head", []string{
			`INSERT INTO mcp_keys_audit (seq, at, line) SELECT 6, at, replace(line, '"seq":5', '"seq":6') FROM mcp_keys_audit WHERE seq = 5`},
			6, 6, "beyond the chain head"},
		{"gap after the checkpoint", []string{unlock,
			"UPDATE mcp_keys_audit_checkpoint SET seq = 2, hash = (SELECT hash FROM cp2)", "DELETE FROM mcp_keys_audit WHERE seq = 3"},
			3, 3, "record 3 is missing"},
		{"record after the checkpoint changed", []string{unlock,
			"UPDATE mcp_keys_audit_checkpoint SET seq = 2, hash = (SELECT hash FROM cp2)", editPID(3)},
			3, 3, "MAC does not match"},
		{"head changed", []string{"UPDATE mcp_keys_audit_head SET hash = repeat('0', 64)"}, 5, 5, "chain head does not match"},
		{"record below the checkpoint changed", []string{unlock, editPID(2)}, 0, 2, "MAC does not match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testTamper(t, tc)
		})
	}
}

func testTamper(t *testing.T, tc tamperCase) {
	ctx := ctxT(t)
	u := freshDB(t)
	s := openAt(t, u, Options{ChainKey: chainKey})
	var recs []audit.Record
	for i := 0; i < 5; i++ {
		r, err := s.Append(ctx, intent("token:a", "proj-a"))
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	// cp2 holds the chain value of record 2, for cases that move the checkpoint back.
	adminExec(t, u, "CREATE TABLE cp2 AS SELECT $1::text AS hash", recs[2].Prev)
	for _, q := range tc.sql {
		adminExec(t, u, q)
	}

	var ve *audit.VerifyError
	_, err := s.VerifyAll(ctx)
	if !errors.As(err, &ve) || ve.Line != tc.allLine {
		t.Errorf("VerifyAll = %v, want a VerifyError at record %d", err, tc.allLine)
	}
	err = s.Verify(ctx)
	if tc.line == 0 {
		if err != nil {
			t.Errorf("Verify = %v; a change below the checkpoint is VerifyAll's to find", err)
		}
		return
	}
	if !errors.As(err, &ve) || ve.Line != tc.line || !strings.Contains(err.Error(), tc.msg) {
		t.Errorf("Verify = %v, want a VerifyError at record %d saying %q", err, tc.line, tc.msg)
	}
	writes := map[string]func() error{
		"Append":          func() error { _, err := s.Append(ctx, checkRec("token:a")); return err },
		"AppendCheck":     func() error { return s.AppendCheck(ctx, checkRec("token:a")) },
		"Reserve":         func() error { _, err := s.Reserve(ctx, intent("token:a", "p"), quotaOf(100, false)); return err },
		"UseConfirmation": func() error { _, err := s.UseConfirmation(ctx, "n", time.Now().Add(time.Minute)); return err },
		"AddLease": func() error {
			return s.AddLease(ctx, audit.Lease{KeyID: "k", EndsAt: time.Now()})
		},
		"ClaimDueLeases": func() error {
			_, err := s.ClaimDueLeases(ctx, "o", time.Now(), time.Now().Add(time.Minute), 1)
			return err
		},
		"RetryLease":  func() error { return s.RetryLease(ctx, "k", time.Now(), 1, "x") },
		"FinishLease": func() error { return s.FinishLease(ctx, "k", audit.OutcomeRevoked) },
	}
	for name, w := range writes {
		err := w()
		if !errors.As(err, &ve) || ve.Line != tc.line || !strings.Contains(err.Error(), "refused") {
			t.Errorf("%s while the chain fails = %v, want refused naming record %d", name, err, tc.line)
		}
	}
	if n, err := s.VerifyAll(ctx); err == nil || n > 6 {
		t.Errorf("a refused write appended: VerifyAll = %d, %v", n, err)
	}
}

// TestRepairResumesWrites: once the operator restores the record, writes
// go on without a restart.
func TestRepairResumesWrites(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := freshDB(t)
	s := openAt(t, u, Options{ChainKey: chainKey})
	for i := 0; i < 3; i++ {
		if _, err := s.Append(ctx, checkRec("token:a")); err != nil {
			t.Fatal(err)
		}
	}
	adminExec(t, u, "ALTER TABLE mcp_keys_audit DISABLE TRIGGER USER")
	adminExec(t, u, "CREATE TABLE saved AS SELECT line FROM mcp_keys_audit WHERE seq = 3")
	adminExec(t, u, `UPDATE mcp_keys_audit SET line = replace(line, 'check_policy', 'check_polic') WHERE seq = 3`)
	if _, err := s.Append(ctx, checkRec("token:a")); err == nil {
		t.Fatal("append on a changed chain succeeded")
	}
	adminExec(t, u, "UPDATE mcp_keys_audit SET line = (SELECT line FROM saved) WHERE seq = 3")
	if r, err := s.Append(ctx, checkRec("token:a")); err != nil || r.Seq != 4 {
		t.Fatalf("after the repair: %v, %v", r.Seq, err)
	}
}

func TestKeyedChain(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := freshDB(t)
	s := openAt(t, u, Options{ChainKey: chainKey})
	if !s.Keyed() {
		t.Error("Keyed() = false with a key")
	}
	for i := 0; i < 3; i++ {
		if _, err := s.Append(ctx, checkRec("token:a")); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name string
		key  []byte
		msg  string
	}{
		{"no key", nil, "no chain key was given"},
		{"another key", []byte(strings.Repeat("z", 32)), "MAC does not match"},
	} {
		o := openAt(t, u, Options{ChainKey: tc.key})
		var ve *audit.VerifyError
		// The record at the checkpoint is checked with the key at once.
		if err := o.Verify(ctx); !errors.As(err, &ve) || ve.Line != 3 || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: Verify = %v", tc.name, err)
		}
		if _, err := o.VerifyAll(ctx); !errors.As(err, &ve) || ve.Line != 1 || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: VerifyAll = %v", tc.name, err)
		}
		if _, err := o.Append(ctx, checkRec("token:a")); !errors.As(err, &ve) {
			t.Errorf("%s: Append = %v", tc.name, err)
		}
	}
	// An unkeyed chain opened with a key: refused too.
	plainURL := freshDB(t)
	if _, err := openAt(t, plainURL, Options{}).Append(ctx, checkRec("token:a")); err != nil {
		t.Fatal(err)
	}
	var ve *audit.VerifyError
	if err := openAt(t, plainURL, Options{ChainKey: chainKey}).Verify(ctx); !errors.As(err, &ve) || !strings.Contains(err.Error(), "no MAC") {
		t.Errorf("unkeyed chain, keyed store: Verify = %v", err)
	}
	if plain := openAt(t, freshDB(t), Options{}); plain.Keyed() {
		t.Error("Keyed() = true without a key")
	}
}

// TestAppendOnlyForTheOwner: the trigger refuses UPDATE, DELETE and
// TRUNCATE of records even to the owner.
func TestAppendOnlyForTheOwner(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := freshDB(t)
	s := openAt(t, u, Options{})
	if _, err := s.Append(ctx, checkRec("token:a")); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{"UPDATE mcp_keys_audit SET line = 'x'", "DELETE FROM mcp_keys_audit", "TRUNCATE mcp_keys_audit"} {
		if _, err := conn.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s as the owner: %v", q, err)
		}
	}
}

// newRoleStore migrates a fresh database as its owner, creates the role of
// role.sql under a random name and opens the store as that role.
func newRoleStore(t *testing.T) (*Store, string) {
	t.Helper()
	ctx := ctxT(t)
	u := freshDB(t)
	if err := Migrate(ctx, u); err != nil {
		t.Fatal(err)
	}
	script, err := os.ReadFile("role.sql")
	if err != nil {
		t.Fatal(err)
	}
	role := randomName(t, "mk_role_")
	t.Cleanup(func() {
		adminExec(t, u, "DROP OWNED BY "+role)
		adminExec(t, baseURL(t), "DROP ROLE "+role)
	})
	adminExec(t, u, strings.ReplaceAll(string(script), "mcp_keys_app", role))
	ru := withUser(t, u, role)
	return openAt(t, ru, Options{ChainKey: chainKey}), ru
}

// TestContractLeastPrivilege runs the whole contract as the role of
// role.sql.
func TestContractLeastPrivilege(t *testing.T) {
	baseURL(t)
	runContract(t, func(t *testing.T) audit.Store {
		s, _ := newRoleStore(t)
		return s
	})
}

func TestRoleCannotChangeRecords(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	s, ru := newRoleStore(t)
	if _, err := s.Append(ctx, checkRec("token:a")); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, ru)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		"UPDATE mcp_keys_audit SET line = 'x'",
		"DELETE FROM mcp_keys_audit",
		"TRUNCATE mcp_keys_audit",
		"ALTER TABLE mcp_keys_audit DISABLE TRIGGER USER",
		"DELETE FROM mcp_keys_minted",
		"CREATE TABLE mk_x (a int)",
	} {
		_, err := conn.Exec(ctx, q)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || (pe.Code != "42501" && !strings.Contains(pe.Message, "must be owner")) {
			t.Errorf("%s as the role: %v, want permission denied", q, err)
		}
	}
	// An up-to-date schema opens as the role; a missing one cannot be
	// created by it, and Open says what to do.
	empty := freshDB(t)
	if _, err := Open(ctx, withUser(t, empty, pgUser(t, ru)), Options{}); err == nil || !strings.Contains(err.Error(), "db migrate") {
		t.Errorf("Open as the role on an empty database = %v", err)
	}
}

// pgUser is the user of URL u.
func pgUser(t *testing.T, u string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.User
}

// TestUnreachableFailsClosedAndRecovers cuts the connection to the
// database (a proxy in between): writes and Ping fail, nothing is half
// written, and once it is back the same store works again.
func TestUnreachableFailsClosedAndRecovers(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := freshDB(t)
	p := startProxy(t, u)
	s := openAt(t, withHost(t, u, p.addr), Options{ChainKey: chainKey})
	if _, err := s.Append(ctx, checkRec("token:a")); err != nil {
		t.Fatal(err)
	}
	p.down()
	short, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var ve *audit.VerifyError
	if _, err := s.Append(short, checkRec("token:a")); err == nil || errors.As(err, &ve) {
		t.Errorf("Append while unreachable = %v, want a connection error", err)
	}
	if _, err := s.Reserve(short, intent("token:a", "p"), quotaOf(10, false)); err == nil {
		t.Error("Reserve while unreachable succeeded")
	}
	if _, err := s.UseConfirmation(short, "n", time.Now().Add(time.Minute)); err == nil {
		t.Error("UseConfirmation while unreachable succeeded")
	}
	if err := s.Ping(short); err == nil {
		t.Error("Ping while unreachable succeeded")
	}
	p.up()
	waitFor(t, 30*time.Second, func() error { return s.Ping(ctx) })
	r, err := s.Append(ctx, checkRec("token:a"))
	if err != nil || r.Seq != 2 {
		t.Fatalf("Append after recovery = seq %d, %v; want 2", r.Seq, err)
	}
	if n, err := s.VerifyAll(ctx); err != nil || n != 2 {
		t.Errorf("VerifyAll = %d, %v", n, err)
	}
}

// TestBackendsTerminated: the server drops every connection (a restart,
// a failover); the pool reconnects by itself.
func TestBackendsTerminated(t *testing.T) {
	t.Parallel()
	ctx := ctxT(t)
	u := freshDB(t)
	s := openAt(t, u, Options{})
	for i := 0; i < 3; i++ { // several connections in the pool
		if _, err := s.Append(ctx, checkRec("token:a")); err != nil {
			t.Fatal(err)
		}
	}
	adminExec(t, baseURL(t), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", pgDatabase(t, u))
	waitFor(t, 30*time.Second, func() error { _, err := s.Append(ctx, checkRec("token:a")); return err })
	if err := s.Ping(ctx); err != nil {
		t.Error(err)
	}
	if n, err := s.VerifyAll(ctx); err != nil || n != 4 {
		t.Errorf("VerifyAll = %d, %v; want 4", n, err)
	}
}

// pgDatabase is the database of URL u.
func pgDatabase(t *testing.T, u string) string {
	t.Helper()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Database
}

// waitFor retries fn until it succeeds or d has passed.
func waitFor(t *testing.T, d time.Duration, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("still failing after %v: %v", d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
