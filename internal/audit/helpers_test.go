package audit

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
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

// encodeNext turns r into the line that follows prevLine (nil when the file
// is empty) with Seq prevSeq+1, in an unkeyed log. It returns the line with
// its "\n" and the record exactly as written.
func encodeNext(prevLine []byte, prevSeq int64, r Record, now time.Time, pid int) ([]byte, Record, error) {
	prev := ""
	if prevLine != nil {
		prev = hashLine(prevLine)
	}
	return encodeRecord(prev, prevSeq, r, now, pid, nil)
}

// appendLegacy appends r at now to the log at path (created if missing) as
// the next unkeyed record, the way logs were written before the file
// store: the line alone, no checkpoint, index or journal beside it. It
// returns the record as written.
func appendLegacy(t *testing.T, path string, r Record, now time.Time) Record {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	ls := lines(data)
	var prev []byte
	if len(ls) > 0 {
		prev = bytes.TrimSuffix(ls[len(ls)-1], []byte("\n"))
	}
	line, rec, err := encodeNext(prev, int64(len(ls)), r, now, os.Getpid())
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(line); err != nil {
		t.Fatal(err)
	}
	return rec
}

// verifyStream verifies a whole log read from r, with the chain key (nil:
// unkeyed), as VerifyFileKey does without the checkpoint and the lock. It
// returns the number of records verified.
func verifyStream(r io.Reader, key []byte) (int, error) {
	v := verifier{key: key}
	_, err := verifyLines(r, &v, nil)
	return int(v.seq), err
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

// buildLog writes records, a second apart, to a fresh unkeyed log (see
// appendLegacy) and returns its path and bytes.
func buildLog(t *testing.T, recs []Record) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	c := newClock()
	for _, r := range recs {
		appendLegacy(t, path, r, c.Now())
		c.Advance(time.Second)
	}
	return path, readFile(t, path)
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
