package audit

import (
	"context"
	"encoding/json"
	"sort"
	"time"
)

// Folding of dry runs (Store.AppendCheck). The first check decision of a
// run is written at once (without fsync); the identical ones that follow
// within foldWindow of it (same caller, tool, decision, rules, reason,
// effective fields and client) are only counted, and written as one more
// record, whose Count is their number and whose Ref is the first one's Seq,
// when the window has passed: at the store's next write after it, from a
// timer shortly after it, or at Close. The chain stays append-only: nothing
// written is ever rewritten. Checks counted but not yet written are lost if
// the process dies (a dry run need not be durable).
const foldWindow = time.Minute

// maxFoldRuns bounds the runs held at once; beyond it every run is written.
const maxFoldRuns = 256

// foldRun is a run of identical checks.
type foldRun struct {
	firstSeq  int64
	firstTime time.Time
	n         int    // checks counted since the first, not yet written
	last      Record // the latest of them, sanitized
}

type folds struct {
	runs  map[string]*foldRun
	timer stopper
}

// stopper is a *time.Timer (an interface so that nil means none).
type stopper interface{ Stop() bool }

func (f *folds) init() { f.runs = make(map[string]*foldRun) }

// foldKey is what makes two sanitized check records identical: all but
// what the store fills, the duration and the lease's end (which moves with
// the clock).
func foldKey(r Record) string {
	r.Seq, r.Time, r.PID, r.Prev, r.MAC, r.Count, r.Ref = 0, time.Time{}, 0, "", "", 0, 0
	r.DurationMs, r.LeaseEndsAt = 0, nil
	b, _ := json.Marshal(r) // cannot fail for a sanitized record; "" folds nothing wrongly
	return string(b)
}

// foldCheck counts r into its run when there is one younger than
// foldWindow, and reports whether it did. Under sem.
func (s *FileStore) foldCheck(key string, r Record) bool {
	run := s.folds.runs[key]
	if run == nil || s.now().Sub(run.firstTime) >= foldWindow {
		return false
	}
	run.n++
	run.last = r
	s.armFoldTimer()
	return true
}

// startRun begins a run with its first, written record. Under sem.
func (s *FileStore) startRun(key string, first Record) {
	s.folds.runs[key] = &foldRun{firstSeq: first.Seq, firstTime: first.Time}
}

// flushFolds writes the counted checks of the runs whose window has passed
// at now (all of them with all, or when there are too many) and forgets
// those runs. Under sem and the exclusive flock, after trust.
func (s *FileStore) flushFolds(now time.Time, all bool) error {
	all = all || len(s.folds.runs) > maxFoldRuns
	var due []string
	for k, run := range s.folds.runs {
		age := now.Sub(run.firstTime)
		if all || age >= foldWindow || age < 0 {
			due = append(due, k)
		}
	}
	sort.Slice(due, func(i, j int) bool { return s.folds.runs[due[i]].firstSeq < s.folds.runs[due[j]].firstSeq })
	for _, k := range due {
		run := s.folds.runs[k]
		if run.n > 0 {
			sum := run.last
			sum.Count, sum.Ref = run.n, run.firstSeq
			if _, err := s.appendLocked(sum, false); err != nil {
				return err
			}
		}
		delete(s.folds.runs, k)
	}
	return nil
}

// counted reports whether checks are counted and not yet written.
func (s *FileStore) counted() bool {
	for _, run := range s.folds.runs {
		if run.n > 0 {
			return true
		}
	}
	return false
}

// armFoldTimer makes sure counted checks are written soon after their
// window passes even when nothing else is written. Under sem.
func (s *FileStore) armFoldTimer() {
	if s.folds.timer != nil {
		return
	}
	s.folds.timer = time.AfterFunc(s.foldDelay, s.foldTimerFired)
}

func (s *FileStore) foldTimerFired() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = s.do(ctx, "write folded checks to", true, func() error {
		s.folds.timer = nil
		err := s.trust(ctx)
		if err == nil {
			err = s.flushFolds(s.now(), false)
		}
		if s.counted() {
			s.armFoldTimer() // not due yet by the store's clock, or failed: later
		}
		return err
	})
}
