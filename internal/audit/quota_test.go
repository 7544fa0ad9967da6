package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestCountCreates(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	intent := func(seq int64, age time.Duration) Record {
		r := createIntent("proj-a")
		r.Seq, r.Time = seq, now.Add(-age)
		return r
	}
	result := func(seq, ref int64, outcome Outcome, decision Decision) Record {
		r := createResult(ref, outcome, "k")
		r.Seq, r.Time, r.Decision = seq, now, decision
		return r
	}
	denied := intent(9, time.Minute)
	denied.Decision = DecisionDenied
	check := intent(10, time.Minute)
	check.Event = EventCheck
	noPhase := intent(11, time.Minute)
	noPhase.Phase = ""

	tests := []struct {
		name      string
		recent    []Record
		hour, day int
		hourFrees time.Time
		dayFrees  time.Time
	}{
		{"none", nil, 0, 0, time.Time{}, time.Time{}},
		{"one fresh", []Record{intent(1, 10*time.Minute)}, 1, 1, now.Add(50 * time.Minute), now.Add(23*time.Hour + 50*time.Minute)},
		{"hour boundary", []Record{intent(1, time.Hour), intent(2, time.Hour-time.Nanosecond)}, 1, 2, now.Add(time.Nanosecond), now.Add(23 * time.Hour)},
		{"day boundary", []Record{intent(1, 24*time.Hour), intent(2, 23*time.Hour)}, 0, 1, time.Time{}, now.Add(time.Hour)},
		{"oldest frees first", []Record{intent(1, 50*time.Minute), intent(2, 20*time.Minute), intent(3, 5*time.Minute)}, 3, 3, now.Add(10 * time.Minute), now.Add(23*time.Hour + 10*time.Minute)},
		{"failed result frees", []Record{intent(1, 5*time.Minute), result(2, 1, OutcomeFailed, DecisionError)}, 0, 0, time.Time{}, time.Time{}},
		{"denied result frees", []Record{intent(1, 5*time.Minute), result(2, 1, OutcomeFailed, DecisionDenied)}, 0, 0, time.Time{}, time.Time{}},
		{"unknown outcome keeps", []Record{intent(1, 5*time.Minute), result(2, 1, OutcomeUnknown, DecisionError)}, 1, 1, now.Add(55 * time.Minute), now.Add(23*time.Hour + 55*time.Minute)},
		{"created keeps", []Record{intent(1, 5*time.Minute), result(2, 1, OutcomeCreated, DecisionAllowed)}, 1, 1, now.Add(55 * time.Minute), now.Add(23*time.Hour + 55*time.Minute)},
		{"result for another intent", []Record{intent(1, 5*time.Minute), intent(2, 4*time.Minute), result(3, 2, OutcomeFailed, DecisionError)}, 1, 1, now.Add(55 * time.Minute), now.Add(23*time.Hour + 55*time.Minute)},
		{"denials, checks and intents without phase do not count", []Record{denied, check, noPhase}, 0, 0, time.Time{}, time.Time{}},
		{"clock skew: future intent counts", []Record{intent(1, -time.Minute)}, 1, 1, now.Add(61 * time.Minute), now.Add(24*time.Hour + time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := CountCreates(tt.recent, now)
			if c.LastHour != tt.hour || c.LastDay != tt.day || !c.HourFreesAt.Equal(tt.hourFrees) || !c.DayFreesAt.Equal(tt.dayFrees) {
				t.Fatalf("got %+v; want hour %d (frees %v), day %d (frees %v)", c, tt.hour, tt.hourFrees, tt.day, tt.dayFrees)
			}
		})
	}
}

func TestReserveQuota(t *testing.T) {
	l, clk := newLog(t)
	ctx := context.Background()
	check := QuotaCheck(2, 3, clk.Now)
	reserve := func() (Record, error) { return l.Reserve(ctx, createIntent("proj-a"), check) }

	start := clk.Now()
	a, err := reserve()
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Minute)
	if _, err := reserve(); err != nil {
		t.Fatal(err)
	}
	clk.Advance(10 * time.Minute)
	_, err = reserve()
	var qe *QuotaError
	if !errors.As(err, &qe) || qe.Quota != QuotaPerHour || qe.Limit != 2 || qe.Used != 2 || !qe.FreesAt.Equal(start.Add(time.Hour)) {
		t.Fatalf("third create: %v (%+v)", err, qe)
	}
	if !strings.Contains(err.Error(), "max_keys_per_hour") || !strings.Contains(err.Error(), start.Add(time.Hour).Format(time.RFC3339)) {
		t.Errorf("refusal does not name the quota and when it frees up: %v", err)
	}
	if n, _ := VerifyFile(l.Path()); n != 2 {
		t.Fatalf("a refused reserve was written: %d records", n)
	}

	// A definite failure frees the slot; an unknown outcome does not.
	if _, err := l.Append(ctx, createResult(a.Seq, OutcomeFailed, "")); err != nil {
		t.Fatal(err)
	}
	c, err := reserve()
	if err != nil {
		t.Fatalf("after a failed create: %v", err)
	}
	if _, err := l.Append(ctx, createResult(c.Seq, OutcomeUnknown, "")); err != nil {
		t.Fatal(err)
	}
	if _, err := reserve(); !errors.As(err, &qe) || qe.Quota != QuotaPerHour {
		t.Fatalf("unknown outcome freed the slot: %v", err)
	}

	// An hour later the hour quota frees, and the day quota (3) binds.
	clk.Advance(time.Hour)
	if _, err := reserve(); err != nil {
		t.Fatalf("an hour later: %v", err)
	}
	_, err = reserve()
	if !errors.As(err, &qe) || qe.Quota != QuotaPerDay || qe.Used != 3 || !qe.FreesAt.Equal(start.Add(10*time.Minute+24*time.Hour)) {
		t.Fatalf("day quota: %v (%+v)", err, qe)
	}
	if !strings.Contains(err.Error(), "24 hours") {
		t.Errorf("day refusal: %v", err)
	}
	clk.Advance(24 * time.Hour)
	if _, err := reserve(); err != nil {
		t.Fatalf("a day later: %v", err)
	}
}

func TestQuotaCheckBothReached(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	r := createIntent("proj-a")
	r.Seq, r.Time = 1, now.Add(-time.Minute)
	check := QuotaCheck(1, 1, func() time.Time { return now })
	var qe *QuotaError
	if err := check([]Record{r}); !errors.As(err, &qe) || qe.Quota != QuotaPerDay {
		t.Fatalf("both reached: %v; want the day quota, which frees later", err)
	}
	if err := QuotaCheck(0, 0, nil)([]Record{r, r, r}); err != nil {
		t.Fatalf("no limits: %v", err)
	}
	if err := QuotaCheck(5, 0, nil)(nil); err != nil {
		t.Fatalf("empty log: %v", err)
	}
}

func TestReserveWindow(t *testing.T) {
	l, clk := newLog(t)
	ctx := context.Background()
	for range 3 {
		mustAppend(t, l, createIntent("proj-a"))
		clk.Advance(time.Hour)
	}
	clk.Advance(21*time.Hour - time.Nanosecond) // the first is 24h-1ns old
	var seen []int64
	collect := func(recent []Record) error {
		seen = seen[:0]
		for _, r := range recent {
			seen = append(seen, r.Seq)
		}
		return nil
	}
	if _, err := l.Reserve(ctx, createIntent("proj-a"), collect); err != nil {
		t.Fatal(err)
	}
	if !equalSeqs(seen, []int64{1, 2, 3}) {
		t.Fatalf("recent = %v, want [1 2 3] in file order", seen)
	}
	clk.Advance(time.Nanosecond) // now exactly 24h: the first leaves the window
	if _, err := l.Reserve(ctx, createIntent("proj-a"), collect); err != nil {
		t.Fatal(err)
	}
	if !equalSeqs(seen, []int64{2, 3, 4}) {
		t.Fatalf("recent = %v, want [2 3 4]", seen)
	}

	// Recent sees the same window, read-only.
	recent, err := l.Recent(ctx)
	if err != nil || len(recent) != 4 || recent[0].Seq != 2 || recent[3].Seq != 5 {
		t.Fatalf("Recent = %v, %v; want seqs 2..5", recent, err)
	}
	clk.Advance(25 * time.Hour)
	if recent, err := l.Recent(ctx); err != nil || len(recent) != 0 {
		t.Fatalf("Recent a day later = %v, %v", recent, err)
	}

	// check's error comes back unchanged, and nothing is appended.
	sentinel := errors.New("no")
	if _, err := l.Reserve(ctx, createIntent("proj-a"), func([]Record) error { return sentinel }); err != sentinel {
		t.Fatalf("Reserve = %v, want the check's error", err)
	}
	data, _ := os.ReadFile(l.Path())
	if n := len(lines(data)); n != 5 {
		t.Fatalf("%d lines, want 5", n)
	}
}

func TestRecentErrors(t *testing.T) {
	l, _ := newLog(t)
	ctx := context.Background()
	if recent, err := l.Recent(ctx); err != nil || len(recent) != 0 {
		t.Fatalf("Recent of an empty log = %v, %v", recent, err)
	}
	mustAppend(t, l, createIntent("proj-a"))
	mustAppend(t, l, createIntent("proj-a"))
	data, _ := os.ReadFile(l.Path())
	writeFile(t, l.Path(), data[:len(data)-3])
	if _, err := l.Recent(ctx); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("torn: %v", err)
	}
	writeFile(t, l.Path(), append(bytes.Clone(data), "[]\n"...))
	if _, err := l.Recent(ctx); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 3") {
		t.Fatalf("corrupt: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	f, _ := openWrite(l.Path())
	defer f.Close()
	if err := lockFile(ctx, f, true); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Recent(cctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("locked and cancelled: %v", err)
	}
	if err := os.Remove(l.Path()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Recent(ctx); err == nil {
		t.Fatal("Recent of a removed log succeeded")
	}
}
