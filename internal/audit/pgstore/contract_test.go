package pgstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// TestContract runs the store contract (audit.Store's doc comments) on
// PostgreSQL. runContract takes the same factory as storetest.Run, which
// replaces it once the shared conformance suite is on main.
func TestContract(t *testing.T) {
	baseURL(t)
	runContract(t, newStore)
}

// runContract checks a Store implementation against the interface's
// contract; newStore returns an empty store for one test.
func runContract(t *testing.T, newStore func(*testing.T) audit.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, audit.Store)
	}{
		{"AppendFillsTheChain", contractAppend},
		{"AppendRedactsAndRefuses", contractAppendRefuses},
		{"AppendCheck", contractAppendCheck},
		{"Tail", contractTail},
		{"ReserveQuotaUnderConcurrency", contractReserveConcurrent},
		{"ReserveCallerQuota", contractReserveCaller},
		{"ReserveReturnsCheckErrorAsIs", contractReserveError},
		{"Counts", contractCounts},
		{"Minted", contractMinted},
		{"UseConfirmationOnce", contractUseConfirmation},
		{"ConfirmationKey", contractConfirmationKey},
		{"Leases", contractLeases},
		{"ClaimDueLeasesDisjoint", contractClaimConcurrent},
		{"VerifyEmptyAndPing", contractVerifyEmpty},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

func contractAppend(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	before := time.Now().Add(-time.Second)
	in := []audit.Record{intent("token:a", "proj-a"), result(1, "token:a", audit.OutcomeCreated, "key_1", "proj-a"), checkRec("token:a")}
	var got []audit.Record
	for i, r := range in {
		w, err := s.Append(ctx, r)
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		got = append(got, w)
	}
	for i, w := range got {
		if w.Seq != int64(i+1) || w.PID <= 0 || w.Time.Before(before) || w.Time.After(time.Now().Add(time.Second)) {
			t.Errorf("record %d: seq %d pid %d time %v", i, w.Seq, w.PID, w.Time)
		}
		if w.Event != in[i].Event || w.Caller != in[i].Caller || w.KeyID != in[i].KeyID {
			t.Errorf("record %d: fields changed: %+v", i, w)
		}
	}
	if got[0].Prev != "" || len(got[1].Prev) != 64 || got[1].Prev == got[2].Prev {
		t.Errorf("prev values: %q %q %q", got[0].Prev, got[1].Prev, got[2].Prev)
	}
	for i, w := range got {
		if i > 0 {
			line, err := json.Marshal(got[i-1]) // the canonical line
			if err != nil {
				t.Fatal(err)
			}
			if w.Prev != audit.LineHash(line) {
				t.Errorf("record %d: prev %s, want the SHA-256 of the line before", i+1, w.Prev)
			}
		}
		if s.Keyed() != (len(w.MAC) == 64) {
			t.Errorf("record %d: MAC %q, keyed %v", i+1, w.MAC, s.Keyed())
		}
	}
	tail, err := s.Tail(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(tail, got) {
		t.Errorf("Tail = %+v\nwant %+v", tail, got)
	}
	if n, err := s.VerifyAll(ctx); err != nil || n != 3 {
		t.Errorf("VerifyAll = %d, %v; want 3", n, err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func contractAppendRefuses(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	secret := "sm_org_" + strings.Repeat("Ab3", 10)
	r := intent("token:a", "proj-a")
	r.Name = "key " + secret
	w, err := s.Append(ctx, r)
	if err != nil {
		t.Fatalf("Append of key-shaped text: %v", err)
	}
	if strings.Contains(w.Name, secret) || !strings.Contains(w.Name, "[REDACTED]") || !strings.Contains(w.Reason, "redacted") {
		t.Errorf("not redacted: name %q reason %q", w.Name, w.Reason)
	}

	big := intent("token:a", "proj-a")
	for i := 0; i < audit.MaxRules; i++ {
		big.Rules = append(big.Rules, audit.Rule{Rule: fmt.Sprint("r", i), Outcome: "pass", Detail: strings.Repeat("€", audit.MaxDetailRunes)})
	}
	invalid := intent("token:a", "proj-a")
	invalid.Tool = ""
	for _, tc := range []struct {
		name string
		r    audit.Record
		want error
	}{
		{"too large", big, audit.ErrTooLarge},
		{"invalid", invalid, audit.ErrInvalid},
	} {
		if _, err := s.Append(ctx, tc.r); !errors.Is(err, tc.want) {
			t.Errorf("%s: Append = %v, want %v", tc.name, err, tc.want)
		}
	}
	tail, err := s.Tail(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(tail) != 1 || strings.Contains(fmt.Sprint(tail), secret) {
		t.Errorf("Tail after refusals = %v", tail)
	}
	if n, err := s.VerifyAll(ctx); err != nil || n != 1 {
		t.Errorf("VerifyAll = %d, %v; want 1", n, err)
	}
}

func contractAppendCheck(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	for i := 0; i < 3; i++ {
		if err := s.AppendCheck(ctx, checkRec("token:a")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Append(ctx, intent("token:a", "proj-a")); err != nil {
		t.Fatal(err)
	}
	tail, err := s.Tail(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	checks := 0
	for _, r := range tail {
		if r.Event == audit.EventCheck {
			checks += max(r.Count, 1)
		}
	}
	if checks != 3 || tail[len(tail)-1].Event != audit.EventCreate {
		t.Errorf("Tail = %v: %d checks, want 3 then the create", tail, checks)
	}
	if _, err := s.VerifyAll(ctx); err != nil {
		t.Error(err)
	}
}

func contractTail(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	for i := 0; i < 5; i++ {
		if _, err := s.Append(ctx, checkRec(fmt.Sprint("token:", i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		n     int
		first int64
		len   int
	}{{0, 0, 0}, {2, 4, 2}, {5, 1, 5}, {100, 1, 5}} {
		got, err := s.Tail(ctx, tc.n)
		if err != nil {
			t.Fatalf("Tail(%d): %v", tc.n, err)
		}
		if len(got) != tc.len || (tc.len > 0 && (got[0].Seq != tc.first || got[len(got)-1].Seq != 5)) {
			t.Errorf("Tail(%d) = %v", tc.n, got)
		}
	}
	if _, err := s.Tail(ctx, -1); err == nil {
		t.Error("Tail(-1) succeeded")
	}
}

// errQuota is the test quota's refusal.
var errQuota = errors.New("quota reached")

// quotaOf refuses when the global hour count (or the caller's, when
// perCaller) has reached limit.
func quotaOf(limit int, perCaller bool) func(audit.QuotaCounts) error {
	return func(c audit.QuotaCounts) error {
		n := c.Global.LastHour
		if perCaller {
			n = c.Caller.LastHour
		}
		if n >= limit {
			return errQuota
		}
		return nil
	}
}

// reserveAll runs n Reserve calls at once and returns how many succeeded
// and how many the check refused; any other error fails the test.
func reserveAll(t *testing.T, stores []audit.Store, n int, caller func(i int) string, check func(audit.QuotaCounts) error) (ok, refused int) {
	ctx := ctxT(t)
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		seqs = map[int64]bool{}
	)
	start := make(chan struct{})
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			rec, err := stores[i%len(stores)].Reserve(ctx, intent(caller(i), "proj-a"), check)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
				if seqs[rec.Seq] {
					t.Errorf("seq %d given twice", rec.Seq)
				}
				seqs[rec.Seq] = true
			case err == errQuota: //nolint:errorlint // the check's error must come back as is
				refused++
			default:
				t.Errorf("Reserve: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return ok, refused
}

func contractReserveConcurrent(t *testing.T, s audit.Store) {
	ok, refused := reserveAll(t, []audit.Store{s}, 20, func(int) string { return "token:a" }, quotaOf(10, false))
	if ok != 10 || refused != 10 {
		t.Errorf("20 Reserves under a quota of 10: %d appended, %d refused", ok, refused)
	}
	if n, err := s.VerifyAll(ctxT(t)); err != nil || n != 10 {
		t.Errorf("VerifyAll = %d, %v; want 10", n, err)
	}
}

func contractReserveCaller(t *testing.T, s audit.Store) {
	callers := []string{"token:a", "token:b"}
	ok, refused := reserveAll(t, []audit.Store{s}, 16, func(i int) string { return callers[i%2] }, quotaOf(3, true))
	if ok != 6 || refused != 10 {
		t.Errorf("16 Reserves by 2 callers under a caller quota of 3: %d appended, %d refused", ok, refused)
	}
	c, err := s.Counts(ctxT(t), "token:b", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Caller.LastHour != 3 || c.Global.LastHour != 6 {
		t.Errorf("Counts(token:b) = %+v", c)
	}
}

func contractReserveError(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	sentinel := errors.New("no")
	var seen audit.QuotaCounts
	_, err := s.Reserve(ctx, intent("token:a", "proj-a"), func(c audit.QuotaCounts) error { seen = c; return sentinel })
	if err != sentinel { //nolint:errorlint // returned as is
		t.Errorf("Reserve = %v, want the check's error as is", err)
	}
	if seen.Global.LastDay != 0 {
		t.Errorf("counts on an empty store: %+v", seen)
	}
	if tail, _ := s.Tail(ctx, 5); len(tail) != 0 {
		t.Errorf("a refused Reserve appended %v", tail)
	}
	if _, err := s.Reserve(ctx, intent("token:a", "proj-a"), quotaOf(1, false)); err != nil {
		t.Fatal(err)
	}
	_, err = s.Reserve(ctx, intent("token:a", "proj-a"), func(c audit.QuotaCounts) error { seen = c; return nil })
	if err != nil || seen.Global.LastHour != 1 || seen.Caller.LastHour != 1 {
		t.Errorf("Reserve = %v with counts %+v, want 1 and 1", err, seen)
	}
}

func contractCounts(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	app := func(r audit.Record) audit.Record {
		t.Helper()
		w, err := s.Append(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	a1 := app(intent("token:a", "proj-a"))
	a2 := app(intent("token:a", "proj-a"))
	b1 := app(intent("token:b", "proj-b"))
	denied := intent("token:a", "proj-a")
	denied.Decision = audit.DecisionDenied
	app(denied)
	app(checkRec("token:a"))
	app(result(a2.Seq, "token:a", audit.OutcomeFailed, ""))   // frees a2
	app(result(a1.Seq, "token:a", audit.OutcomeUnknown, ""))  // a1 still counts
	app(result(b1.Seq, "token:b", audit.OutcomeCreated, "k")) // b1 counts

	now := b1.Time
	for _, tc := range []struct {
		name   string
		caller string
		at     time.Time
		want   audit.QuotaCounts
	}{
		{"now, a", "token:a", now, audit.QuotaCounts{
			Global: audit.Counts{LastHour: 2, LastDay: 2, HourFreesAt: a1.Time.Add(time.Hour), DayFreesAt: a1.Time.Add(24 * time.Hour)},
			Caller: audit.Counts{LastHour: 1, LastDay: 1, HourFreesAt: a1.Time.Add(time.Hour), DayFreesAt: a1.Time.Add(24 * time.Hour)},
		}},
		{"now, b", "token:b", now, audit.QuotaCounts{
			Global: audit.Counts{LastHour: 2, LastDay: 2, HourFreesAt: a1.Time.Add(time.Hour), DayFreesAt: a1.Time.Add(24 * time.Hour)},
			Caller: audit.Counts{LastHour: 1, LastDay: 1, HourFreesAt: b1.Time.Add(time.Hour), DayFreesAt: b1.Time.Add(24 * time.Hour)},
		}},
		{"now, nobody", "token:nobody", now, audit.QuotaCounts{
			Global: audit.Counts{LastHour: 2, LastDay: 2, HourFreesAt: a1.Time.Add(time.Hour), DayFreesAt: a1.Time.Add(24 * time.Hour)},
		}},
		{"in two hours", "token:a", now.Add(2 * time.Hour), audit.QuotaCounts{
			Global: audit.Counts{LastDay: 2, DayFreesAt: a1.Time.Add(24 * time.Hour)},
			Caller: audit.Counts{LastDay: 1, DayFreesAt: a1.Time.Add(24 * time.Hour)},
		}},
		{"in two days", "token:a", now.Add(48 * time.Hour), audit.QuotaCounts{}},
	} {
		got, err := s.Counts(ctx, tc.caller, tc.at)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !countsEqual(got, tc.want) {
			t.Errorf("%s: Counts = %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// countsEqual compares counts, times by instant.
func countsEqual(a, b audit.QuotaCounts) bool {
	eq := func(x, y audit.Counts) bool {
		return x.LastHour == y.LastHour && x.LastDay == y.LastDay && x.HourFreesAt.Equal(y.HourFreesAt) && x.DayFreesAt.Equal(y.DayFreesAt)
	}
	return eq(a.Global, b.Global) && eq(a.Caller, b.Caller)
}

func contractMinted(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	i1, err := s.Append(ctx, intent("token:a", "proj-a"))
	if err != nil {
		t.Fatal(err)
	}
	r1, err := s.Append(ctx, result(i1.Seq, "token:a", audit.OutcomeCreated, "key_1", "proj-a", "proj-b"))
	if err != nil {
		t.Fatal(err)
	}
	single := result(i1.Seq, "token:b", audit.OutcomeCreated, "key_2")
	single.Tag = "proj-c"
	r2, err := s.Append(ctx, single)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []audit.Record{
		result(i1.Seq, "token:a", audit.OutcomeFailed, "key_3"),
		result(i1.Seq, "token:a", audit.OutcomeUnknown, "key_4"),
		{Event: audit.EventRevokeResult, Phase: audit.PhaseResult, Ref: 1, Tool: "revoke_key", Decision: audit.DecisionAllowed, Outcome: audit.OutcomeRevoked, KeyID: "key_5"},
	} {
		if _, err := s.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Minted(ctx, []string{"key_1", "key_2", "key_3", "key_4", "key_5", "key_x", "bad\xff\x00id"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]audit.Mint{
		"key_1": {Caller: "token:a", Tags: []string{"proj-a", "proj-b"}, Permission: "read", At: r1.Time},
		"key_2": {Caller: "token:b", Tags: []string{"proj-c"}, Permission: "read", At: r2.Time},
	}
	if len(got) != len(want) {
		t.Errorf("Minted = %+v, want %+v", got, want)
	}
	for id, w := range want {
		g := got[id]
		if g.Caller != w.Caller || !slices.Equal(g.Tags, w.Tags) || g.Permission != w.Permission || !g.At.Equal(w.At) {
			t.Errorf("Minted[%s] = %+v, want %+v", id, g, w)
		}
	}
	if m, err := s.Minted(ctx, nil); err != nil || len(m) != 0 {
		t.Errorf("Minted(nil) = %v, %v", m, err)
	}
}

func contractUseConfirmation(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	exp := time.Now().Add(5 * time.Minute)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first int
	)
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := s.UseConfirmation(ctx, "nonce-1", exp)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				first++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if first != 1 {
		t.Errorf("10 concurrent uses of one nonce: %d accepted, want 1", first)
	}
	if ok, err := s.UseConfirmation(ctx, "nonce-2", exp); err != nil || !ok {
		t.Errorf("another nonce: %v, %v", ok, err)
	}
	if ok, err := s.UseConfirmation(ctx, "nonce-1", exp); err != nil || ok {
		t.Errorf("nonce-1 again: %v, %v", ok, err)
	}
	if _, err := s.UseConfirmation(ctx, "", exp); err == nil {
		t.Error("empty nonce accepted")
	}
}

func contractConfirmationKey(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	k1, err := s.ConfirmationKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 32 || slices.Equal(k1, make([]byte, 32)) {
		t.Fatalf("key %d bytes, or all zero", len(k1))
	}
	k1[0] ^= 0xff // the store must not hand out its own copy
	k2, err := s.ConfirmationKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	k1[0] ^= 0xff
	if !slices.Equal(k1, k2) {
		t.Error("second ConfirmationKey differs")
	}
}

func contractLeases(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	now := time.Now().UTC().Truncate(time.Second)
	l1 := audit.Lease{KeyID: "key_1", Caller: "token:a", Tags: []string{"proj-a"}, Name: "n1", EndsAt: now.Add(-time.Minute)}
	l2 := audit.Lease{KeyID: "key_2", Caller: "token:b", Tags: []string{"proj-b", "proj-c"}, Name: "n2", EndsAt: now.Add(time.Hour)}
	for _, l := range []audit.Lease{l1, l2} {
		if err := s.AddLease(ctx, l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Leases(ctx, []string{"key_1", "key_2", "key_3"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !leaseEqual(got["key_1"], l1) || !leaseEqual(got["key_2"], l2) {
		t.Fatalf("Leases = %+v", got)
	}
	claim := func(owner string, at time.Time, want ...string) []audit.Lease {
		t.Helper()
		ls, err := s.ClaimDueLeases(ctx, owner, at, at.Add(time.Minute), 10)
		if err != nil {
			t.Fatalf("ClaimDueLeases(%s, %v): %v", owner, at, err)
		}
		var ids []string
		for _, l := range ls {
			ids = append(ids, l.KeyID)
		}
		if !slices.Equal(ids, want) {
			t.Fatalf("ClaimDueLeases(%s, now%+v) = %v, want %v", owner, at.Sub(now), ids, want)
		}
		return ls
	}
	if c := claim("a", now, "key_1"); !leaseEqual(c[0], l1) {
		t.Errorf("claimed %+v, want %+v", c[0], l1)
	}
	claim("b", now.Add(30*time.Second))         // a's claim holds
	claim("b", now.Add(2*time.Minute), "key_1") // a's claim expired
	if err := s.RetryLease(ctx, "key_1", now.Add(10*time.Minute), 1, "upstream 503"); err != nil {
		t.Fatal(err)
	}
	got, err = s.Leases(ctx, []string{"key_1"})
	if err != nil {
		t.Fatal(err)
	}
	if g := got["key_1"]; g.Attempts != 1 || !g.RetryAt.Equal(now.Add(10*time.Minute)) || g.LastError != "upstream 503" {
		t.Errorf("after RetryLease: %+v", g)
	}
	claim("a", now.Add(5*time.Minute)) // not yet retried
	if c := claim("a", now.Add(11*time.Minute), "key_1"); c[0].Attempts != 1 {
		t.Errorf("retried lease: %+v", c[0])
	}
	if err := s.FinishLease(ctx, "key_1", audit.OutcomeRevoked); err != nil {
		t.Fatal(err)
	}
	if err := s.FinishLease(ctx, "key_1", audit.OutcomeRevoked); err != nil {
		t.Errorf("finishing twice: %v", err)
	}
	if got, _ := s.Leases(ctx, []string{"key_1"}); len(got) != 0 {
		t.Errorf("finished lease still open: %+v", got)
	}
	claim("a", now.Add(2*time.Hour), "key_2")
	if err := s.FinishLease(ctx, "key_nope", audit.OutcomeRevoked); err != nil {
		t.Errorf("FinishLease of an unknown key: %v", err)
	}
	if err := s.RetryLease(ctx, "key_1", now, 2, "x"); err != nil {
		t.Errorf("RetryLease of a finished lease: %v", err)
	}
	if got, _ := s.Leases(ctx, []string{"key_1"}); len(got) != 0 {
		t.Errorf("RetryLease reopened a finished lease: %+v", got)
	}
	if ls, err := s.ClaimDueLeases(ctx, "a", now.Add(3*time.Hour), now.Add(4*time.Hour), 0); err != nil || len(ls) != 0 {
		t.Errorf("limit 0: %v, %v", ls, err)
	}
}

// leaseEqual compares the fields a store keeps, times by instant.
func leaseEqual(a, b audit.Lease) bool {
	return a.KeyID == b.KeyID && a.Caller == b.Caller && slices.Equal(a.Tags, b.Tags) && a.Name == b.Name &&
		a.EndsAt.Equal(b.EndsAt) && a.Attempts == b.Attempts && a.RetryAt.Equal(b.RetryAt) && a.LastError == b.LastError
}

func contractClaimConcurrent(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	now := time.Now().UTC()
	for i := 0; i < 30; i++ {
		if err := s.AddLease(ctx, audit.Lease{KeyID: fmt.Sprintf("key_%02d", i), Caller: "token:a", EndsAt: now.Add(-time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		owners = map[string]string{}
	)
	for w := 0; w < 5; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprint("reaper-", w)
			ls, err := s.ClaimDueLeases(ctx, owner, now, now.Add(time.Minute), 10)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, l := range ls {
				if prev, dup := owners[l.KeyID]; dup {
					t.Errorf("%s claimed by %s and %s", l.KeyID, prev, owner)
				}
				owners[l.KeyID] = owner
			}
		}()
	}
	wg.Wait()
	if len(owners) != 30 {
		t.Errorf("5 claimers of 10 claimed %d of 30 due leases", len(owners))
	}
}

func contractVerifyEmpty(t *testing.T, s audit.Store) {
	ctx := ctxT(t)
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping: %v", err)
	}
	if err := s.Verify(ctx); err != nil {
		t.Errorf("Verify on an empty store: %v", err)
	}
	if n, err := s.VerifyAll(ctx); err != nil || n != 0 {
		t.Errorf("VerifyAll = %d, %v", n, err)
	}
}
