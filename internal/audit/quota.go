package audit

import (
	"fmt"
	"time"
)

// ReserveWindow is the longest quota window: a create intent counts
// against the day quota while it is younger than this.
const ReserveWindow = 24 * time.Hour

// Quota names, as in the policy file.
const (
	// QuotaPerHour is the policy's quota.max_keys_per_hour.
	QuotaPerHour = "max_keys_per_hour"
	// QuotaPerDay is the policy's quota.max_keys_per_day.
	QuotaPerDay = "max_keys_per_day"
)

// Counts is the number of creates that count against the quotas: the
// allowed create intents (event create, phase intent, decision allowed)
// younger than one hour and than ReserveWindow. An intent stops counting
// when a create_result referring to it (Ref) records a definite failure
// (outcome "failed" or decision "denied"); "outcome_unknown" keeps it
// counted, since the key may exist. An intent stamped in the future (a
// writer with a clock ahead) counts.
type Counts struct {
	// LastHour and LastDay count create intents younger than one hour and
	// 24 hours.
	LastHour, LastDay int
	// HourFreesAt and DayFreesAt are when the oldest counted intent leaves
	// each window (zero when none is counted).
	HourFreesAt, DayFreesAt time.Time
}

// add counts an intent recorded at t, at now.
func (c *Counts) add(t, now time.Time) {
	age := now.Sub(t)
	if age < time.Hour {
		c.LastHour++
		if at := t.Add(time.Hour); c.HourFreesAt.IsZero() || at.Before(c.HourFreesAt) {
			c.HourFreesAt = at
		}
	}
	if age < ReserveWindow {
		c.LastDay++
		if at := t.Add(ReserveWindow); c.DayFreesAt.IsZero() || at.Before(c.DayFreesAt) {
			c.DayFreesAt = at
		}
	}
}

// Check returns a *QuotaError when another create would exceed maxPerHour
// or maxPerDay (0 or less: no limit), and nil otherwise. When both are
// reached it names the one that frees up later.
func (c Counts) Check(maxPerHour, maxPerDay int) error {
	var refusal *QuotaError
	if maxPerHour > 0 && c.LastHour >= maxPerHour {
		refusal = &QuotaError{Quota: QuotaPerHour, Limit: maxPerHour, Used: c.LastHour, FreesAt: c.HourFreesAt}
	}
	if maxPerDay > 0 && c.LastDay >= maxPerDay && (refusal == nil || c.DayFreesAt.After(refusal.FreesAt)) {
		refusal = &QuotaError{Quota: QuotaPerDay, Limit: maxPerDay, Used: c.LastDay, FreesAt: c.DayFreesAt}
	}
	if refusal != nil {
		return refusal
	}
	return nil
}

// QuotaError is a refusal by a quota; it names the quota and when a slot
// frees up.
type QuotaError struct {
	// Quota is QuotaPerHour or QuotaPerDay.
	Quota string
	// Limit is the configured maximum; Used is the number counted.
	Limit, Used int
	// FreesAt is when the oldest counted create leaves the window.
	FreesAt time.Time
}

// Error says which quota was reached and when the next slot frees up.
func (e *QuotaError) Error() string {
	window := "hour"
	if e.Quota == QuotaPerDay {
		window = "24 hours"
	}
	return fmt.Sprintf("quota %s (%d) reached: %d keys created in the last %s; the next slot frees up at %s",
		e.Quota, e.Limit, e.Used, window, e.FreesAt.UTC().Format(time.RFC3339))
}
