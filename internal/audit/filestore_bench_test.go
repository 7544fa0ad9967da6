package audit

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchLog writes a log of n records quickly (canonical lines, a correct
// chain, without the store's per-record checks), all of them older than
// two days at clock's time: a history that quotas no longer count. One
// record in 50 is a create intent and one a create_result with outcome
// created (key ids key_<seq>), the rest checks and revokes.
func benchLog(b *testing.B, path string, n int, clock time.Time) {
	b.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		b.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	start := clock.Add(-30 * 24 * time.Hour)
	step := 25 * 24 * time.Hour / time.Duration(n+1)
	check := Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionDenied, Tag: "proj-prod-eu", Caller: "token:ci",
		Rules:  []Rule{{Rule: "tag_deny", Outcome: "fail", Detail: `"proj-prod-eu" matches deny "proj-prod*"`}},
		Reason: "tag is denied", Client: "cursor", ClientVersion: "0.9"}
	revoke := Record{Event: EventRevoke, Phase: PhaseIntent, Tool: "revoke_key", Decision: DecisionAllowed, KeyID: "key_x", Caller: "token:ci"}
	prev := ""
	for i := range n {
		seq := int64(i + 1)
		var r Record
		switch {
		case i%50 == 0:
			r = createIntent("proj-a")
			r.Caller = "token:ci"
		case i%50 == 1:
			r = createResult(seq-1, OutcomeCreated, fmt.Sprintf("key_%d", seq))
			r.Caller, r.Tags = "token:ci", []string{"proj-a"}
		case i%2 == 0:
			r = check
		default:
			r = revoke
		}
		r.Seq, r.Time, r.PID, r.Prev = seq, start.Add(time.Duration(i)*step).UTC(), 4242, prev
		line, err := json.Marshal(r)
		if err != nil {
			b.Fatal(err)
		}
		prev = hashLine(line)
		w.Write(line)
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	if err := f.Sync(); err != nil { // not left for the first timed fsync
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkFileStore measures the quota, provenance and check paths over
// logs of 10, 100,000 and 1,000,000 records: their cost must not grow with
// the log. The first open of a generated log reads and verifies all of it
// and writes the index snapshot (reported as open-rebuild-s); later opens
// read the snapshot (reopen-ms).
func BenchmarkFileStore(b *testing.B) {
	ctx := context.Background()
	for _, n := range []int{10, 100_000, 1_000_000} {
		dir := b.TempDir()
		path := filepath.Join(dir, "state", "audit.jsonl")
		clock := newClock()
		benchLog(b, path, n, clock.Now())
		fi, _ := os.Stat(path)
		t0 := time.Now()
		s, err := OpenFile(path, FileOptions{Now: clock.Now})
		if err != nil {
			b.Fatal(err)
		}
		rebuild := time.Since(t0)
		if err := s.Verify(ctx); err != nil {
			b.Fatal(err)
		}
		_ = s.Close()
		t0 = time.Now()
		s, err = OpenFile(path, FileOptions{Now: clock.Now})
		if err != nil {
			b.Fatal(err)
		}
		reopen := time.Since(t0)
		_ = s.Close()
		b.Logf("records=%d: log %d MB; first open (read and verify all, write the index) %v; reopen with the index %v",
			n, fi.Size()>>20, rebuild.Round(time.Millisecond), reopen.Round(time.Millisecond))

		run := func(name string, setup func(s *FileStore), op func(s *FileStore, i int) error) {
			b.Run(fmt.Sprintf("records=%d/%s", n, name), func(b *testing.B) {
				s, err := OpenFile(path, FileOptions{Now: clock.Now})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				if setup != nil {
					setup(s)
				}
				i := 0
				for b.Loop() {
					if err := op(s, i); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		}
		// The same recent creates for every size: 100, ten minutes apart.
		recent := func(s *FileStore) {
			for range 100 {
				clock.Advance(10 * time.Minute)
				if _, err := s.Reserve(ctx, createIntent("proj-a"), func(QuotaCounts) error { return nil }); err != nil {
					b.Fatal(err)
				}
			}
		}
		run("Counts", recent, func(s *FileStore, i int) error {
			_, err := s.Counts(ctx, "token:ci", clock.Now())
			return err
		})
		run("Reserve", recent, func(s *FileStore, i int) error {
			clock.Advance(10 * time.Minute)
			_, err := s.Reserve(ctx, createIntent("proj-a"), func(q QuotaCounts) error { return q.Global.Check(1000, 1000) })
			return err
		})
		run("Minted", nil, func(s *FileStore, i int) error {
			id := fmt.Sprintf("key_%d", 2+50*(i%max(1, n/50)))
			m, err := s.Minted(ctx, []string{id, "key_none"})
			if err == nil && len(m) != 1 {
				err = fmt.Errorf("Minted(%s) = %v", id, m)
			}
			return err
		})
		run("AppendCheck-distinct", nil, func(s *FileStore, i int) error {
			return s.AppendCheck(ctx, Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionAllowed, Tag: fmt.Sprint("proj-", i), Caller: "local"})
		})
		run("AppendCheck-folded", nil, func(s *FileStore, i int) error {
			clock.Advance(time.Second)
			return s.AppendCheck(ctx, Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionAllowed, Tag: "proj-a", Caller: "local"})
		})
	}
}
