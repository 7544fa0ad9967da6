package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

func testReserve(t *testing.T, h *harness) {
	s := h.store("a")
	var seen audit.QuotaCounts
	quota := func(q audit.QuotaCounts) error { seen = q; return q.Global.Check(2, 3) }
	reserve := func() (audit.Record, error) { return s.Reserve(ctx, intent("local", "proj-a"), quota) }

	start := h.clock.Now()
	a, err := reserve()
	if err != nil || a.Seq != 1 || a.Phase != audit.PhaseIntent || !a.Time.Equal(start) {
		t.Fatalf("first reserve: %+v, %v", a, err)
	}
	h.clock.Advance(10 * time.Minute)
	if _, err := reserve(); err != nil {
		t.Fatal(err)
	}
	if seen.Global.LastHour != 1 || seen.Caller.LastHour != 1 {
		t.Fatalf("second reserve saw %+v; want one create", seen)
	}
	h.clock.Advance(10 * time.Minute)
	_, err = reserve()
	var qe *audit.QuotaError
	if !errors.As(err, &qe) || qe.Quota != audit.QuotaPerHour || qe.Used != 2 || !qe.FreesAt.Equal(start.Add(time.Hour)) {
		t.Fatalf("third reserve: %v (%+v)", err, qe)
	}
	if n := len(all(t, s)); n != 2 {
		t.Fatalf("a refused reserve was written: %d records", n)
	}

	// A definite failure frees the slot; an unknown outcome does not.
	mustAppend(t, s, result(a.Seq, audit.OutcomeFailed, ""))
	c, err := reserve()
	if err != nil {
		t.Fatalf("after a failed create: %v", err)
	}
	mustAppend(t, s, result(c.Seq, audit.OutcomeUnknown, ""))
	if _, err := reserve(); !errors.As(err, &qe) || qe.Quota != audit.QuotaPerHour {
		t.Fatalf("an unknown outcome freed the slot: %v", err)
	}
	// An hour later the hour quota frees, and the day quota (3) binds.
	h.clock.Advance(time.Hour)
	if _, err := reserve(); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
	_, err = reserve()
	if !errors.As(err, &qe) || qe.Quota != audit.QuotaPerDay || qe.Used != 3 || !qe.FreesAt.Equal(start.Add(10*time.Minute+24*time.Hour)) {
		t.Fatalf("day quota: %v (%+v)", err, qe)
	}
	h.clock.Advance(24 * time.Hour)
	if _, err := reserve(); err != nil {
		t.Fatalf("a day later: %v", err)
	}

	// check's error comes back as is, and nothing is written.
	before := len(all(t, s))
	sentinel := errors.New("no")
	if _, err := s.Reserve(ctx, intent("local", "proj-a"), func(audit.QuotaCounts) error { return sentinel }); err != sentinel {
		t.Fatalf("Reserve = %v, want the check's error itself", err)
	}
	if n := len(all(t, h.store("a"))); n != before {
		t.Fatalf("%d records after a refusal, want %d", n, before)
	}
}

func testReservePerCaller(t *testing.T, h *harness) {
	s := h.store("a")
	other := h.store("a")
	for i, caller := range []string{"token:a", "token:b", "token:a", "oauth:https://issuer#sub", "token:a"} {
		st := s
		if i%2 == 1 {
			st = other
		}
		if _, err := st.Reserve(ctx, intent(caller, "proj-a"), func(audit.QuotaCounts) error { return nil }); err != nil {
			t.Fatal(err)
		}
		h.clock.Advance(time.Minute)
	}
	mustAppend(t, s, check("token:b", "proj-a", audit.DecisionAllowed))
	denied := intent("token:b", "proj-a")
	denied.Phase, denied.Decision = "", audit.DecisionDenied
	mustAppend(t, s, denied)
	var seen audit.QuotaCounts
	_, err := other.Reserve(ctx, intent("token:a", "proj-a"), func(q audit.QuotaCounts) error {
		seen = q
		return q.Caller.Check(3, 0)
	})
	var qe *audit.QuotaError
	if !errors.As(err, &qe) || seen.Caller.LastHour != 3 || seen.Global.LastHour != 5 || seen.Global.LastDay != 5 {
		t.Fatalf("token:a's fourth create: %v; counts %+v", err, seen)
	}
	if _, err := s.Reserve(ctx, intent("token:b", "proj-a"), func(q audit.QuotaCounts) error {
		seen = q
		return q.Caller.Check(3, 0)
	}); err != nil || seen.Caller.LastHour != 1 {
		t.Fatalf("token:b's second create: %v; counts %+v", err, seen)
	}
	q, err := s.Counts(ctx, "oauth:https://issuer#sub", h.clock.Now())
	if err != nil || q.Caller.LastDay != 1 || q.Global.LastDay != 6 {
		t.Fatalf("Counts = %+v, %v", q, err)
	}
	q, err = other.Counts(ctx, "token:nobody", h.clock.Now())
	if err != nil || q.Caller != (audit.Counts{}) || q.Global.LastDay != 6 {
		t.Fatalf("Counts for a caller with no creates = %+v, %v", q, err)
	}
}

// testReserveConcurrent: goroutines on two handles (two processes or
// replicas) race for the last slots of a quota; exactly the quota wins.
func testReserveConcurrent(t *testing.T, h *harness) {
	const quota, handles, workers, tries = 5, 2, 4, 4
	stores := make([]audit.Store, handles)
	for i := range stores {
		stores[i] = h.store("a")
	}
	var mu sync.Mutex
	won := 0
	var wg sync.WaitGroup
	for w := range handles * workers {
		wg.Go(func() {
			s := stores[w%handles]
			for range tries {
				_, err := s.Reserve(ctx, intent("token:a", "proj-a"), func(q audit.QuotaCounts) error { return q.Global.Check(quota, 0) })
				var qe *audit.QuotaError
				switch {
				case err == nil:
					mu.Lock()
					won++
					mu.Unlock()
				case !errors.As(err, &qe):
					t.Errorf("Reserve: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if won != quota {
		t.Fatalf("%d reservations won under a quota of %d", won, quota)
	}
	recs := all(t, h.store("a"))
	if len(recs) != quota {
		t.Fatalf("%d records, want %d", len(recs), quota)
	}
	for i, r := range recs {
		if r.Seq != int64(i+1) {
			t.Fatalf("record %d has seq %d", i+1, r.Seq)
		}
	}
	for _, s := range stores {
		if n, err := s.VerifyAll(ctx); n != quota || err != nil {
			t.Fatalf("VerifyAll = %d, %v", n, err)
		}
	}
}

func testCounts(t *testing.T, h *harness) {
	s := h.store("a")
	start := h.clock.Now()
	at := func(d time.Duration) { h.clock.Advance(start.Add(d).Sub(h.clock.Now())) }
	add := func(r audit.Record) audit.Record { return mustAppend(t, s, r) }

	at(0)
	i1 := add(intent("token:a", "proj-a")) // counts until +1h / +24h
	at(30 * time.Minute)
	i2 := add(intent("token:b", "proj-a")) // frees: a failed result
	add(result(i2.Seq, audit.OutcomeFailed, ""))
	i3 := add(intent("token:a", "proj-a")) // frees: a denied result
	r3 := result(i3.Seq, audit.OutcomeFailed, "")
	r3.Decision = audit.DecisionDenied
	add(r3)
	i4 := add(intent("token:b", "proj-a")) // keeps: outcome unknown
	add(result(i4.Seq, audit.OutcomeUnknown, ""))
	i5 := add(intent("token:a", "proj-a")) // keeps: created
	add(result(i5.Seq, audit.OutcomeCreated, "key_5"))
	denied := intent("token:a", "proj-a")
	denied.Phase, denied.Decision = "", audit.DecisionDenied
	add(denied)
	noPhase := intent("token:a", "proj-a")
	noPhase.Phase = ""
	add(noPhase)
	add(check("token:a", "proj-a", audit.DecisionAllowed))
	if err := s.AppendCheck(ctx, check("token:a", "proj-a", audit.DecisionAllowed)); err != nil {
		t.Fatal(err)
	}

	h1 := start.Add(time.Hour)
	tests := []struct {
		name      string
		caller    string
		now       time.Time
		global    audit.Counts
		perCaller audit.Counts
	}{
		{"at +45m for a", "token:a", start.Add(45 * time.Minute),
			audit.Counts{LastHour: 3, LastDay: 3, HourFreesAt: h1, DayFreesAt: start.Add(24 * time.Hour)},
			audit.Counts{LastHour: 2, LastDay: 2, HourFreesAt: h1, DayFreesAt: start.Add(24 * time.Hour)}},
		{"at +45m for b", "token:b", start.Add(45 * time.Minute),
			audit.Counts{LastHour: 3, LastDay: 3, HourFreesAt: h1, DayFreesAt: start.Add(24 * time.Hour)},
			audit.Counts{LastHour: 1, LastDay: 1, HourFreesAt: start.Add(90 * time.Minute), DayFreesAt: start.Add(24*time.Hour + 30*time.Minute)}},
		{"at exactly +1h the first leaves the hour", "token:a", h1,
			audit.Counts{LastHour: 2, LastDay: 3, HourFreesAt: start.Add(90 * time.Minute), DayFreesAt: start.Add(24 * time.Hour)},
			audit.Counts{LastHour: 1, LastDay: 2, HourFreesAt: start.Add(90 * time.Minute), DayFreesAt: start.Add(24 * time.Hour)}},
		{"at +24h the first leaves the day", "token:a", start.Add(24 * time.Hour),
			audit.Counts{LastDay: 2, DayFreesAt: start.Add(24*time.Hour + 30*time.Minute)},
			audit.Counts{LastDay: 1, DayFreesAt: start.Add(24*time.Hour + 30*time.Minute)}},
		{"at +25h nothing counts", "token:a", start.Add(25 * time.Hour), audit.Counts{}, audit.Counts{}},
	}
	for _, tt := range tests {
		for _, st := range []audit.Store{s, h.store("a")} {
			q, err := st.Counts(ctx, tt.caller, tt.now)
			if err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			if !sameCounts(q.Global, tt.global) || !sameCounts(q.Caller, tt.perCaller) {
				t.Errorf("%s:\n got global %+v\n     caller %+v\nwant global %+v\n     caller %+v", tt.name, q.Global, q.Caller, tt.global, tt.perCaller)
			}
		}
	}
	_ = i1
}

func sameCounts(a, b audit.Counts) bool {
	return a.LastHour == b.LastHour && a.LastDay == b.LastDay && a.HourFreesAt.Equal(b.HourFreesAt) && a.DayFreesAt.Equal(b.DayFreesAt)
}

func testMinted(t *testing.T, h *harness) {
	s := h.store("a")
	empty, err := s.Minted(ctx, []string{"key_1"})
	if err != nil || len(empty) != 0 {
		t.Fatalf("Minted on an empty store = %v, %v", empty, err)
	}
	// Provenance on the result itself.
	in := intent("token:a", "proj-a")
	in.Tags, in.Permission = []string{"proj-a", "proj-b"}, "read"
	i1 := mustAppend(t, s, in)
	r1 := result(i1.Seq, audit.OutcomeCreated, "key_1")
	r1.Caller, r1.Tags, r1.Permission = "token:a", []string{"proj-a", "proj-b"}, "read"
	h.clock.Advance(time.Second)
	w1 := mustAppend(t, s, r1)
	// Provenance left to the intent.
	i2 := mustAppend(t, s, intent("token:b", "proj-c"))
	w2 := mustAppend(t, s, result(i2.Seq, audit.OutcomeCreated, "key_2"))
	// Not minted: an unknown outcome, a failure, a revoke, a check naming a key.
	i3 := mustAppend(t, s, intent("token:a", "proj-a"))
	mustAppend(t, s, result(i3.Seq, audit.OutcomeUnknown, "key_3"))
	i4 := mustAppend(t, s, intent("token:a", "proj-a"))
	mustAppend(t, s, result(i4.Seq, audit.OutcomeFailed, "key_4"))
	mustAppend(t, s, audit.Record{Event: audit.EventRevoke, Phase: audit.PhaseIntent, Tool: "revoke_key", Decision: audit.DecisionAllowed, KeyID: "key_5", Caller: "token:a"})
	c := check("token:a", "proj-a", audit.DecisionAllowed)
	c.KeyID, c.Reason = "key_6", `"outcome":"created"`
	mustAppend(t, s, c)

	ids := []string{"key_1", "key_2", "key_3", "key_4", "key_5", "key_6", "key_", "", "nope"}
	want := map[string]audit.Mint{
		"key_1": {Caller: "token:a", Tags: []string{"proj-a", "proj-b"}, Permission: "read", At: w1.Time},
		"key_2": {Caller: "token:b", Tags: []string{"proj-c"}, Permission: "write", At: w2.Time},
	}
	for _, st := range []audit.Store{s, h.store("a")} {
		got, err := st.Minted(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("Minted = %v, want %v", got, want)
		}
		for id, w := range want {
			g, ok := got[id]
			if !ok || g.Caller != w.Caller || !slices.Equal(g.Tags, w.Tags) || g.Permission != w.Permission || !g.At.Equal(w.At) {
				t.Errorf("Minted[%s] = %+v (found %v), want %+v", id, g, ok, w)
			}
		}
	}
	if got, err := s.Minted(ctx, nil); err != nil || len(got) != 0 {
		t.Fatalf("Minted(nil) = %v, %v", got, err)
	}
	// A key minted later is found at once, by every handle.
	i5 := mustAppend(t, s, intent("token:a", "proj-a"))
	mustAppend(t, h.store("a"), result(i5.Seq, audit.OutcomeCreated, "key_7"))
	if got, err := s.Minted(ctx, []string{"key_7"}); err != nil || got["key_7"].Caller != "token:a" {
		t.Fatalf("Minted(key_7) = %v, %v", got, err)
	}
	// Many ids at once.
	many := make([]string, 500)
	for i := range many {
		many[i] = fmt.Sprintf("key_x%d", i)
	}
	many = append(many, "key_1")
	if got, err := s.Minted(ctx, many); err != nil || len(got) != 1 || !strings.HasPrefix(got["key_1"].Caller, "token:a") {
		t.Fatalf("Minted(501 ids) = %v, %v", got, err)
	}
}
