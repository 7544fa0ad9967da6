package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// countsSQL counts the allowed create intents not freed that are younger
// than 24 hours ($1 is now - 24 h) and one hour ($2 is now - 1 h), globally
// and for the caller $3, with the oldest of each. It reads the rows of the
// last 24 hours only, through a partial index: as many as the day's
// creates (which a quota bounds), however long the chain.
const countsSQL = `SELECT
	count(*) FILTER (WHERE at > $2), count(*),
	min(at) FILTER (WHERE at > $2), min(at),
	count(*) FILTER (WHERE at > $2 AND caller = $3), count(*) FILTER (WHERE caller = $3),
	min(at) FILTER (WHERE at > $2 AND caller = $3), min(at) FILTER (WHERE caller = $3)
FROM mcp_keys_quota_intents WHERE NOT freed AND at > $1`

// scanCounts reads the row of countsSQL.
func scanCounts(row pgx.Row, c *audit.QuotaCounts) error {
	var (
		gh, gd, ch, cd           int
		gHour, gDay, cHour, cDay *time.Time
	)
	if err := row.Scan(&gh, &gd, &gHour, &gDay, &ch, &cd, &cHour, &cDay); err != nil {
		return fmt.Errorf("count creates: %w", err)
	}
	*c = audit.QuotaCounts{
		Global: audit.Counts{LastHour: gh, LastDay: gd, HourFreesAt: plus(gHour, time.Hour), DayFreesAt: plus(gDay, audit.ReserveWindow)},
		Caller: audit.Counts{LastHour: ch, LastDay: cd, HourFreesAt: plus(cHour, time.Hour), DayFreesAt: plus(cDay, audit.ReserveWindow)},
	}
	return nil
}

// countsArgs are countsSQL's arguments (see audit.Counts: the same rules,
// from the index instead of the records).
func countsArgs(caller string, now time.Time) []any {
	return []any{now.Add(-audit.ReserveWindow), now.Add(-time.Hour), clean(caller)}
}

// queueCounts queues the reading of the quota counts at now into c.
func queueCounts(b *pgx.Batch, c *audit.QuotaCounts, caller string, now time.Time) {
	b.Queue(countsSQL, countsArgs(caller, now)...).QueryRow(func(row pgx.Row) error { return scanCounts(row, c) })
}

// plus is *t + d in UTC, or the zero time when t is nil.
func plus(t *time.Time, d time.Duration) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Add(d).UTC()
}

// Counts returns the create counts for quotas at now, globally and for
// caller. Its cost depends on the creates of the last 24 hours, not on the
// length of the chain.
func (s *Store) Counts(ctx context.Context, caller string, now time.Time) (audit.QuotaCounts, error) {
	var c audit.QuotaCounts
	if err := scanCounts(s.pool.QueryRow(ctx, countsSQL, countsArgs(caller, now)...), &c); err != nil {
		return audit.QuotaCounts{}, fmt.Errorf("pgstore: %w", err)
	}
	return c, nil
}
