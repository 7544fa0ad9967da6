package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

func testAppendChains(t *testing.T, h *harness) {
	s := h.store("a")
	start := h.clock.Now()
	in := intent("token:alice", "proj-a")
	in.Tags = []string{"proj-a", "proj-b"}
	in.Permission = "read"
	lease := start.Add(30 * time.Minute)
	in.LeaseEndsAt = &lease
	first := mustAppend(t, s, in)
	if first.Seq != 1 || first.Prev != "" || !first.Time.Equal(start) {
		t.Fatalf("first record: seq %d, prev %q, time %v (want 1, \"\", %v)", first.Seq, first.Prev, first.Time, start)
	}
	if first.Caller != "token:alice" || first.Tag != "proj-a" || strings.Join(first.Tags, ",") != "proj-a,proj-b" ||
		first.Permission != "read" || first.LeaseEndsAt == nil || !first.LeaseEndsAt.Equal(lease) || first.Name != "agent-proj-a" {
		t.Fatalf("caller fields lost: %+v", first)
	}
	h.clock.Advance(time.Millisecond)
	r := result(1, audit.OutcomeCreated, "key_1")
	r.Seq, r.Prev, r.Time = 99, "forged", start.Add(-time.Hour) // filled by the store, whatever the caller says
	second := mustAppend(t, s, r)
	if second.Seq != 2 || !isHex64(second.Prev) || !second.Time.Equal(start.Add(time.Millisecond)) {
		t.Fatalf("second record: seq %d, prev %q, time %v", second.Seq, second.Prev, second.Time)
	}
	if second.KeyID != "key_1" || second.Outcome != audit.OutcomeCreated || second.Ref != 1 {
		t.Fatalf("caller fields lost: %+v", second)
	}
	third := mustAppend(t, s, check("local", "proj-a", audit.DecisionDenied))
	if third.Seq != 3 || !isHex64(third.Prev) || third.Prev == second.Prev {
		t.Fatalf("third record: seq %d, prev %q (second's %q)", third.Seq, third.Prev, second.Prev)
	}
	got := all(t, h.store("a")) // through another handle
	want := []audit.Record{first, second, third}
	if len(got) != len(want) {
		t.Fatalf("Tail: %d records, want %d", len(got), len(want))
	}
	for i := range want {
		if norm(t, got[i]) != norm(t, want[i]) {
			t.Errorf("record %d read back\n %s\nreturned by Append\n %s", i+1, norm(t, got[i]), norm(t, want[i]))
		}
	}
}

func testAppendRefuses(t *testing.T, h *harness) {
	huge := intent("local", "proj-a")
	huge.Rules = nil
	for range audit.MaxRules {
		huge.Rules = append(huge.Rules, audit.Rule{Rule: "r", Outcome: "fail", Detail: strings.Repeat("\x01", audit.MaxDetailRunes)})
	}
	tests := []struct {
		name   string
		rec    audit.Record
		target error
	}{
		{"unknown event", audit.Record{Event: "mint", Tool: "t", Decision: audit.DecisionAllowed}, audit.ErrInvalid},
		{"no tool", audit.Record{Event: audit.EventCheck, Decision: audit.DecisionAllowed}, audit.ErrInvalid},
		{"unknown decision", audit.Record{Event: audit.EventCheck, Tool: "t", Decision: "maybe"}, audit.ErrInvalid},
		{"unknown outcome", audit.Record{Event: audit.EventCreateResult, Tool: "t", Decision: audit.DecisionAllowed, Outcome: "meh"}, audit.ErrInvalid},
		{"ref to the future", result(5, audit.OutcomeCreated, "k"), audit.ErrInvalid},
		{"result without ref", result(0, audit.OutcomeCreated, "k"), audit.ErrInvalid},
		{"too large", huge, audit.ErrTooLarge},
	}
	s := h.store("a")
	for _, tt := range tests {
		if _, err := s.Append(ctx, tt.rec); !errors.Is(err, tt.target) {
			t.Errorf("%s: Append = %v, want %v", tt.name, err, tt.target)
		}
		if _, err := s.Reserve(ctx, tt.rec, func(audit.QuotaCounts) error { return nil }); !errors.Is(err, tt.target) {
			t.Errorf("%s: Reserve = %v, want %v", tt.name, err, tt.target)
		}
	}
	if err := s.AppendCheck(ctx, intent("local", "proj-a")); !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("AppendCheck of a create = %v, want ErrInvalid", err)
	}
	if _, err := s.Reserve(ctx, intent("local", "proj-a"), nil); err == nil {
		t.Error("Reserve with a nil check succeeded")
	}
	if got := all(t, s); len(got) != 0 {
		t.Fatalf("refused records were written: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if got := all(t, h.store("a")); len(got) != 0 {
		t.Fatalf("refused records were written: %v", got)
	}
}

func testRedaction(t *testing.T, h *harness) {
	s := h.store("a")
	r := intent("local", secret)
	r.Name = "agent " + secret
	r.Reason = "because " + secret
	r.Rules = []audit.Rule{{Rule: "tag_allow", Outcome: "pass", Detail: secret}}
	orig := r.Name
	got, err := s.Reserve(ctx, r, func(audit.QuotaCounts) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != orig {
		t.Error("the caller's record was modified")
	}
	if !strings.Contains(got.Name, "[REDACTED]") || secretRE.MatchString(norm(t, got)) {
		t.Errorf("returned record not redacted: %s", norm(t, got))
	}
	mustAppend(t, s, result(got.Seq, audit.OutcomeFailed, "key_1"))
	c := check("local", "x"+secret, audit.DecisionDenied)
	c.Tags = []string{secret}
	if err := s.AppendCheck(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	recs := all(t, h.store("a"))
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for _, rec := range recs {
		text := norm(t, rec)
		if secretRE.MatchString(text) {
			t.Errorf("key-shaped text kept: %s", text)
		}
		for i := len("sm_org1_"); i+6 <= len(secret); i++ { // any piece of the random part
			if strings.Contains(text, secret[i:i+6]) {
				t.Fatalf("a piece of the key-shaped text was kept: %s", text)
			}
		}
	}
	if !strings.Contains(recs[2].Tag, "[REDACTED]") || !strings.Contains(recs[2].Tags[0], "[REDACTED]") {
		t.Errorf("check record not redacted: %s", norm(t, recs[2]))
	}
}

func testTail(t *testing.T, h *harness) {
	s := h.store("a")
	for i := range 10 {
		mustAppend(t, s, check("local", fmt.Sprintf("proj-%d", i), audit.DecisionAllowed))
		h.clock.Advance(time.Second)
	}
	tests := []struct {
		n     int
		first int64
		count int
	}{{0, 0, 0}, {1, 10, 1}, {3, 8, 3}, {10, 1, 10}, {50, 1, 10}}
	for _, tt := range tests {
		got, err := s.Tail(ctx, tt.n)
		if err != nil {
			t.Fatalf("Tail(%d): %v", tt.n, err)
		}
		if len(got) != tt.count {
			t.Fatalf("Tail(%d): %d records, want %d", tt.n, len(got), tt.count)
		}
		for i, r := range got {
			if r.Seq != tt.first+int64(i) {
				t.Fatalf("Tail(%d)[%d].Seq = %d, want %d", tt.n, i, r.Seq, tt.first+int64(i))
			}
		}
	}
	if _, err := s.Tail(ctx, -1); err == nil {
		t.Error("Tail(-1) succeeded")
	}
}

// testAppendCheck: whether and how a store folds identical checks, every
// check decision is accounted for once Close has run: the sum of
// max(Count, 1) over the check records of one kind is the number of
// AppendCheck calls of that kind.
func testAppendCheck(t *testing.T, h *harness) {
	s := h.store("a")
	other := h.store("a")
	type kind struct {
		caller string
		d      audit.Decision
	}
	calls := map[kind]int{}
	do := func(s audit.Store, k kind, n int) {
		t.Helper()
		for range n {
			r := check(k.caller, "proj-a", k.d)
			r.DurationMs = float64(calls[k]) + 0.5 // durations differ; the decision is the same
			if err := s.AppendCheck(ctx, r); err != nil {
				t.Fatalf("AppendCheck: %v", err)
			}
			calls[k]++
			h.clock.Advance(time.Second)
		}
	}
	a, b, aDenied := kind{"token:a", audit.DecisionAllowed}, kind{"token:b", audit.DecisionAllowed}, kind{"token:a", audit.DecisionDenied}
	do(s, a, 5)
	do(s, b, 2)
	do(s, aDenied, 1)
	do(other, a, 2)
	h.clock.Advance(2 * time.Minute)
	do(s, a, 3)
	mustAppend(t, s, intent("token:a", "proj-a"))
	do(s, a, 4)
	for _, st := range []audit.Store{s, other} {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	recs := all(t, h.store("a"))
	got := map[kind]int{}
	creates := 0
	for _, r := range recs {
		if r.Event != audit.EventCheck {
			creates++
			continue
		}
		if r.Count < 0 {
			t.Fatalf("negative count: %s", norm(t, r))
		}
		got[kind{r.Caller, r.Decision}] += max(r.Count, 1)
	}
	if creates != 1 {
		t.Errorf("%d other records, want 1", creates)
	}
	for k, n := range calls {
		if got[k] != n {
			t.Errorf("%s %s: records stand for %d checks, want %d", k.caller, k.d, got[k], n)
		}
	}
	for _, r := range recs {
		if r.Event == audit.EventCheck && r.Caller == "token:a" && r.Decision == audit.DecisionAllowed && r.Tag != "proj-a" {
			t.Errorf("folded record lost its fields: %s", norm(t, r))
		}
	}
}
