package audit

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 11, 25, 21, 14, 3, 123456789, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newLog opens a log in a fresh private directory with a fake clock.
func newLog(t *testing.T) (*Log, *fakeClock) {
	t.Helper()
	l, err := Open(filepath.Join(t.TempDir(), "state", "audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	c := newClock()
	l.now = c.Now
	return l, c
}

func mustAppend(t *testing.T, l *Log, r Record) Record {
	t.Helper()
	got, err := l.Append(context.Background(), r)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return got
}

// createIntent is an allowed create intent as the tools package writes it.
func createIntent(tag string) Record {
	return Record{
		Event: EventCreate, Phase: PhaseIntent, Tool: "create_scoped_key", Decision: DecisionAllowed,
		Rules: []Rule{{Rule: "tag_allow", Outcome: "pass", Detail: "proj-* matches"}},
		Tag:   tag, Name: "agent-" + tag, ExpiresInDays: 30, RateLimitMax: 100, RateLimitWindowMs: 60000,
		Client: "claude-code", ClientVersion: "1.2",
	}
}

// createResult is the result of the intent with seq ref.
func createResult(ref int64, outcome Outcome, keyID string) Record {
	return Record{
		Event: EventCreateResult, Phase: PhaseResult, Ref: ref, Tool: "create_scoped_key",
		Decision: DecisionAllowed, Outcome: outcome, KeyID: keyID, UpstreamStatus: 201, DurationMs: 12.5,
	}
}

// sampleRecords returns n varied records.
func sampleRecords(n int) []Record {
	out := make([]Record, 0, n)
	for i := range n {
		switch i % 4 {
		case 0:
			out = append(out, createIntent("proj-a"))
		case 1:
			out = append(out, createResult(int64(i), OutcomeCreated, "key_"+string(rune('a'+i%26))))
		case 2:
			out = append(out, Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionDenied, Tag: "proj-prod-eu",
				Rules:  []Rule{{Rule: "tag_deny", Outcome: "fail", Detail: `"proj-prod-eu" matches deny "proj-prod*"`}},
				Reason: "tag is denied", Client: "cursor", ClientVersion: "0.9 beta"})
		default:
			out = append(out, Record{Event: EventRevoke, Phase: PhaseIntent, Tool: "revoke_key", Decision: DecisionAllowed, KeyID: "key_x"})
		}
	}
	return out
}

// buildLog appends records to a fresh log and returns its path and bytes.
func buildLog(t *testing.T, recs []Record) (string, []byte) {
	t.Helper()
	l, c := newLog(t)
	for _, r := range recs {
		mustAppend(t, l, r)
		c.Advance(time.Second)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	return l.Path(), data
}

// lines splits a log into its lines, each with its "\n".
func lines(data []byte) [][]byte {
	parts := bytes.SplitAfter(data, []byte("\n"))
	if len(parts) > 0 && len(parts[len(parts)-1]) == 0 {
		parts = parts[:len(parts)-1]
	}
	return parts
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}
