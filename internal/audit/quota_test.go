package audit

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestIndexCounts: which records count against the quotas, and until when
// (see Counts), as the file store's index counts them.
func TestIndexCounts(t *testing.T) {
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
			ix := newIndex()
			for _, r := range tt.recent {
				ix.apply(r)
			}
			c := ix.counts("", now).Global
			if c.LastHour != tt.hour || c.LastDay != tt.day || !c.HourFreesAt.Equal(tt.hourFrees) || !c.DayFreesAt.Equal(tt.dayFrees) {
				t.Fatalf("got %+v; want hour %d (frees %v), day %d (frees %v)", c, tt.hour, tt.hourFrees, tt.day, tt.dayFrees)
			}
		})
	}
}

// TestCountsCheck: a refusal names the quota that binds (the one freeing
// up later when both are reached) and when a slot frees up; 0 is no limit.
func TestCountsCheck(t *testing.T) {
	start := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	c := Counts{LastHour: 2, LastDay: 3, HourFreesAt: start.Add(time.Hour), DayFreesAt: start.Add(24 * time.Hour)}
	tests := []struct {
		name         string
		hour, day    int
		quota        string // "" when allowed
		used         int
		frees        time.Time
		text1, text2 string
	}{
		{"under both", 3, 4, "", 0, time.Time{}, "", ""},
		{"no limits", 0, 0, "", 0, time.Time{}, "", ""},
		{"hour reached", 2, 0, QuotaPerHour, 2, start.Add(time.Hour), "max_keys_per_hour (2) reached", "frees up at 2026-01-01T13:00:00Z"},
		{"day reached", 0, 3, QuotaPerDay, 3, start.Add(24 * time.Hour), "in the last 24 hours", "frees up at 2026-01-02T12:00:00Z"},
		{"both reached: the day frees later", 1, 1, QuotaPerDay, 3, start.Add(24 * time.Hour), "max_keys_per_day (1)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.Check(tt.hour, tt.day)
			if tt.quota == "" {
				if err != nil {
					t.Fatalf("Check = %v, want nil", err)
				}
				return
			}
			var qe *QuotaError
			if !errors.As(err, &qe) || qe.Quota != tt.quota || qe.Used != tt.used || !qe.FreesAt.Equal(tt.frees) {
				t.Fatalf("Check = %v (%+v); want %s, used %d, frees at %v", err, qe, tt.quota, tt.used, tt.frees)
			}
			if !strings.Contains(err.Error(), tt.text1) || !strings.Contains(err.Error(), tt.text2) {
				t.Errorf("refusal %q lacks %q or %q", err, tt.text1, tt.text2)
			}
		})
	}
	if err := (Counts{}).Check(5, 0); err != nil {
		t.Fatalf("no creates: %v", err)
	}
}
