package pgstore

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// leaseColumns are the columns scanLease reads, in order.
const leaseColumns = "key_id, caller, tags, name, ends_at, attempts, retry_at, last_error"

// scanLease reads one row of leaseColumns.
func scanLease(row pgx.Row) (audit.Lease, error) {
	var (
		l       audit.Lease
		retryAt *time.Time
	)
	if err := row.Scan(&l.KeyID, &l.Caller, &l.Tags, &l.Name, &l.EndsAt, &l.Attempts, &retryAt, &l.LastError); err != nil {
		return audit.Lease{}, err
	}
	l.EndsAt = l.EndsAt.UTC()
	if retryAt != nil {
		l.RetryAt = retryAt.UTC()
	}
	return l, nil
}

// AddLease records a lease on a minted key, to be revoked at l.EndsAt. A
// lease already recorded for the key is replaced (and reopened). Its text
// is redacted and bounded as a record's (audit.CleanLease).
func (s *Store) AddLease(ctx context.Context, l audit.Lease) error {
	l, err := audit.CleanLease(l)
	if err != nil {
		return fmt.Errorf("pgstore: add lease: %w", err)
	}
	var retryAt *time.Time
	if !l.RetryAt.IsZero() {
		t := dbTime(l.RetryAt)
		retryAt = &t
	}
	err = s.guarded(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO mcp_keys_leases (key_id, caller, tags, name, ends_at, attempts, retry_at, last_error)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
ON CONFLICT (key_id) DO UPDATE SET caller = excluded.caller, tags = excluded.tags, name = excluded.name,
	ends_at = excluded.ends_at, attempts = excluded.attempts, retry_at = excluded.retry_at,
	last_error = excluded.last_error, claimed_by = NULL, claim_until = NULL, finished_at = NULL, outcome = ''`,
			l.KeyID, clean(l.Caller), cleanAll(l.Tags), clean(l.Name), dbTime(l.EndsAt), l.Attempts, retryAt, clean(l.LastError))
		return err
	})
	if err != nil {
		return refused("add lease", err)
	}
	return nil
}

// Leases returns the open leases of those of ids that have one.
func (s *Store) Leases(ctx context.Context, ids []string) (map[string]audit.Lease, error) {
	out := make(map[string]audit.Lease)
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT "+leaseColumns+" FROM mcp_keys_leases WHERE key_id = ANY($1) AND finished_at IS NULL", cleanAll(ids))
	if err != nil {
		return nil, fmt.Errorf("pgstore: leases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		l, err := scanLease(rows)
		if err != nil {
			return nil, fmt.Errorf("pgstore: leases: %w", err)
		}
		out[l.KeyID] = l
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: leases: %w", err)
	}
	return out, nil
}

// claimSQL claims due leases: open, ended, retry time come, not claimed
// or claim expired; rows another claimer holds locked are skipped, never
// waited for.
const claimSQL = `UPDATE mcp_keys_leases l SET claimed_by = $1, claim_until = $2
FROM (
	SELECT key_id FROM mcp_keys_leases
	WHERE finished_at IS NULL AND ends_at <= $3
		AND (retry_at IS NULL OR retry_at <= $3)
		AND (claim_until IS NULL OR claim_until <= $3)
	ORDER BY ends_at, key_id
	LIMIT $4
	FOR UPDATE SKIP LOCKED
) due
WHERE l.key_id = due.key_id
RETURNING l.key_id, l.caller, l.tags, l.name, l.ends_at, l.attempts, l.retry_at, l.last_error`

// ClaimDueLeases claims up to limit open leases that have ended at now and
// whose retry time (if any) has come, for owner until claimUntil, oldest
// end first. Claimers running together get disjoint sets (FOR UPDATE SKIP
// LOCKED); a claim whose time has passed can be taken by another.
func (s *Store) ClaimDueLeases(ctx context.Context, owner string, now, claimUntil time.Time, limit int) ([]audit.Lease, error) {
	switch {
	case owner == "":
		return nil, fmt.Errorf("pgstore: claim leases: %w: no owner", audit.ErrInvalid)
	case !claimUntil.After(now):
		return nil, fmt.Errorf("pgstore: claim leases: %w: the claim ends before it starts", audit.ErrInvalid)
	case limit <= 0:
		return nil, nil
	}
	var out []audit.Lease
	err := s.guarded(ctx, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, claimSQL, clean(owner), dbTime(claimUntil), dbTime(now), limit)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			l, err := scanLease(rows)
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, refused("claim leases", err)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].EndsAt.Equal(out[j].EndsAt) {
			return out[i].EndsAt.Before(out[j].EndsAt)
		}
		return out[i].KeyID < out[j].KeyID
	})
	return out, nil
}

// FinishLease closes the lease on keyID for good. Finishing a lease that
// is not open does nothing.
func (s *Store) FinishLease(ctx context.Context, keyID string, outcome audit.Outcome) error {
	err := s.guarded(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE mcp_keys_leases SET finished_at = $2, outcome = $3, claimed_by = NULL, claim_until = NULL
WHERE key_id = $1 AND finished_at IS NULL`, clean(keyID), dbTime(s.now()), clean(string(outcome)))
		return err
	})
	if err != nil {
		return refused("finish lease", err)
	}
	return nil
}

// RetryLease releases the claimed lease on keyID after a failed revoke:
// it is due again at retryAt, with attempts failures and lastError
// (redacted, bounded) recorded. Retrying a lease that is not open does
// nothing.
func (s *Store) RetryLease(ctx context.Context, keyID string, retryAt time.Time, attempts int, lastError string) error {
	err := s.guarded(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE mcp_keys_leases SET retry_at = $2, attempts = $3, last_error = $4, claimed_by = NULL, claim_until = NULL
WHERE key_id = $1 AND finished_at IS NULL`, clean(keyID), dbTime(retryAt), attempts, clean(audit.CleanErrorText(lastError)))
		return err
	})
	if err != nil {
		return refused("retry lease", err)
	}
	return nil
}
