// Package storetest is the conformance suite of audit.Store: every
// implementation (the JSONL file, PostgreSQL) runs it, so that both keep
// the same contract. It uses the interface only.
package storetest

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// Open opens a store for the test t. Every call with the same t and name
// returns a new handle on the same backing store, as another process or
// replica would see it (the file store: the same file; PostgreSQL: the same
// database); a name not used before in t gets a new, empty backing store.
// The store must use now as its clock (record times, quotas, folding).
// The suite closes every store it opens, sometimes twice.
type Open func(t *testing.T, name string, now func() time.Time) audit.Store

// Run runs the whole suite against the stores open makes.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"AppendChains", testAppendChains},
		{"AppendRefuses", testAppendRefuses},
		{"Redaction", testRedaction},
		{"Tail", testTail},
		{"AppendCheck", testAppendCheck},
		{"Reserve", testReserve},
		{"ReservePerCaller", testReservePerCaller},
		{"ReserveConcurrent", testReserveConcurrent},
		{"Counts", testCounts},
		{"Minted", testMinted},
		{"UseConfirmation", testUseConfirmation},
		{"ConfirmationKey", testConfirmationKey},
		{"Leases", testLeases},
		{"LeasesConcurrent", testLeasesConcurrent},
		{"Verify", testVerify},
		{"Durable", testDurable},
		{"Closed", testClosed},
		{"Context", testContext},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, &harness{t: t, open: open, clock: NewClock()})
		})
	}
}

// harness opens stores for one test.
type harness struct {
	t     *testing.T
	open  Open
	clock *Clock
}

// store opens a handle on the backing store name, closed at the end.
func (h *harness) store(name string) audit.Store {
	h.t.Helper()
	s := h.open(h.t, name, h.clock.Now)
	if s == nil {
		h.t.Fatal("open returned a nil store")
	}
	h.t.Cleanup(func() { _ = s.Close() })
	return s
}

var ctx = context.Background()

// secret is key-shaped text; secretRE is what a store must never keep.
const secret = "sm_org1_AbCdEfGhIjKlMnOpQrSt"

var secretRE = regexp.MustCompile(`sm_[A-Za-z0-9_-]+_[A-Za-z0-9]{16,}`)

// intent is an allowed create intent by caller.
func intent(caller, tag string) audit.Record {
	return audit.Record{
		Event: audit.EventCreate, Phase: audit.PhaseIntent, Tool: "create_scoped_key", Decision: audit.DecisionAllowed,
		Rules: []audit.Rule{{Rule: "tag_allow", Outcome: "pass", Detail: "proj-* matches"}},
		Tag:   tag, Name: "agent-" + tag, ExpiresInDays: 30, RateLimitMax: 100, RateLimitWindowMs: 60000,
		Client: "claude-code", ClientVersion: "1.2", Caller: caller, Permission: "write",
	}
}

// result is the result of the intent with seq ref.
func result(ref int64, outcome audit.Outcome, keyID string) audit.Record {
	return audit.Record{
		Event: audit.EventCreateResult, Phase: audit.PhaseResult, Ref: ref, Tool: "create_scoped_key",
		Decision: audit.DecisionAllowed, Outcome: outcome, KeyID: keyID, UpstreamStatus: 201, DurationMs: 12.5,
	}
}

// check is a dry run's decision by caller.
func check(caller, tag string, d audit.Decision) audit.Record {
	return audit.Record{Event: audit.EventCheck, Tool: "check_policy", Decision: d, Tag: tag, Caller: caller,
		Rules: []audit.Rule{{Rule: "tag_allow", Outcome: "pass"}}, Client: "cursor", DurationMs: 0.25}
}

// norm is a record as comparable text: times in UTC.
func norm(t *testing.T, r audit.Record) string {
	t.Helper()
	r.Time = r.Time.UTC()
	if r.LeaseEndsAt != nil {
		u := r.LeaseEndsAt.UTC()
		r.LeaseEndsAt = &u
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func mustAppend(t *testing.T, s audit.Store, r audit.Record) audit.Record {
	t.Helper()
	out, err := s.Append(ctx, r)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return out
}

// all returns every record of s, oldest first.
func all(t *testing.T, s audit.Store) []audit.Record {
	t.Helper()
	recs, err := s.Tail(ctx, 1<<20)
	if err != nil {
		t.Fatalf("Tail: %v", err)
	}
	return recs
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
