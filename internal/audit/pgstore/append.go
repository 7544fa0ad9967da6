package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// checkRefusal carries Reserve's check error out of the transaction, to be
// returned as is.
type checkRefusal struct{ err error }

func (c *checkRefusal) Error() string { return c.err.Error() }

// Append writes r as the next record of the chain and returns it as
// written, with Seq, Time, PID and Prev filled in. In one transaction it
// locks the chain head, verifies the records after the checkpoint (see
// Verify), inserts the record, updates what quotas and provenance read, and
// moves the head and the checkpoint; replicas appending together queue on
// the head's lock, so the chain never forks. Key-shaped text is redacted as
// in the file; a record too large (audit.ErrTooLarge) or invalid
// (audit.ErrInvalid) is refused, and so is every append while the chain
// fails verification (the *audit.VerifyError is wrapped).
func (s *Store) Append(ctx context.Context, r audit.Record) (audit.Record, error) {
	rec, err := s.append(ctx, r, nil, true)
	if err != nil {
		return audit.Record{}, refused("append", err)
	}
	return rec, nil
}

// AppendCheck appends a dry-run record (event check; any other is
// ErrInvalid) like Append, except that its commit
// does not wait for the write-ahead log to reach the disk (the next durable
// commit flushes it). Checks are never folded: rows are never updated.
func (s *Store) AppendCheck(ctx context.Context, r audit.Record) error {
	if r.Event != audit.EventCheck {
		return fmt.Errorf("pgstore: append check: %w: event %q is not %q", audit.ErrInvalid, clean(string(r.Event)), audit.EventCheck)
	}
	if _, err := s.append(ctx, r, nil, false); err != nil {
		return refused("append check", err)
	}
	return nil
}

// Reserve appends r (a create intent) only when check, given the create
// counts at this moment globally and for r.Caller, returns nil; check's
// error is returned as is. The counts are read after the head is locked, in
// the transaction that appends, so no two replicas can both take the last
// slot of a quota.
func (s *Store) Reserve(ctx context.Context, r audit.Record, check func(audit.QuotaCounts) error) (audit.Record, error) {
	if check == nil {
		return audit.Record{}, errors.New("pgstore: reserve: nil check")
	}
	rec, err := s.append(ctx, r, check, true)
	var cr *checkRefusal
	if errors.As(err, &cr) {
		return audit.Record{}, cr.err
	}
	if err != nil {
		return audit.Record{}, refused("reserve", err)
	}
	return rec, nil
}

// append is Append with an optional check under the head's lock. It costs
// three round trips: BEGIN with the lock, the chain's state and the counts;
// the inserts and updates; COMMIT (and one more to read the records after
// the checkpoint, when another process left some unverified).
func (s *Store) append(ctx context.Context, r audit.Record, check func(audit.QuotaCounts) error, durable bool) (audit.Record, error) {
	var (
		out audit.Record
		st  chainState
		c   audit.QuotaCounts
		now = dbTime(s.now())
	)
	prelude := func(b *pgx.Batch) {
		queueState(b, &st, true)
		if check != nil {
			queueCounts(b, &c, r.Caller, now)
		}
	}
	err := s.inTx(ctx, durable, prelude, func(tx pgx.Tx) error {
		head, err := s.verified(ctx, tx, st)
		if err != nil {
			return err
		}
		if check != nil {
			if err := check(c); err != nil {
				return &checkRefusal{err: err}
			}
		}
		line, rec, err := audit.EncodeAfter(head.hash, head.seq, r, now, s.pid, s.key)
		if err != nil {
			return err
		}
		next := position{seq: rec.Seq, hash: audit.LineHash(line)}
		b := &pgx.Batch{}
		b.Queue("INSERT INTO mcp_keys_audit (seq, at, line) VALUES ($1, $2, $3)", rec.Seq, rec.Time, string(line))
		queueIndex(b, rec)
		b.Queue(`WITH h AS (UPDATE mcp_keys_audit_head SET seq = $1, hash = $2)
UPDATE mcp_keys_audit_checkpoint SET seq = $1, hash = $2, verified_at = now()`, next.seq, next.hash)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("write record %d: %w", rec.Seq, err)
		}
		out = rec
		return nil
	})
	return out, err
}

// queueIndex queues, for a record about to be appended, the updates of what
// quotas and provenance read, by the file store's rules: an allowed create
// intent counts; a create result that records a definite failure frees
// its intent; one with outcome created records the key's provenance (the
// caller, tags and permission the result leaves out, its intent gives; a
// later result for the same key replaces it).
func queueIndex(b *pgx.Batch, rec audit.Record) {
	switch {
	case rec.Event == audit.EventCreate && rec.Phase == audit.PhaseIntent && rec.Decision == audit.DecisionAllowed:
		b.Queue("INSERT INTO mcp_keys_quota_intents (seq, caller, at, tags, permission) VALUES ($1, $2, $3, $4, $5)",
			rec.Seq, clean(rec.Caller), rec.Time, cleanAll(tagsOf(rec)), clean(rec.Permission))
	case rec.Event == audit.EventCreateResult && rec.Ref > 0 && (rec.Outcome == audit.OutcomeFailed || rec.Decision == audit.DecisionDenied):
		b.Queue("UPDATE mcp_keys_quota_intents SET freed = true WHERE seq = $1", rec.Ref)
	}
	if rec.Event == audit.EventCreateResult && rec.Outcome == audit.OutcomeCreated && rec.KeyID != "" {
		var tags []string // NULL: the intent's
		if t := tagsOf(rec); len(t) > 0 {
			tags = cleanAll(t)
		}
		b.Queue(`INSERT INTO mcp_keys_minted (key_id, caller, tags, permission, at, seq)
SELECT $1, coalesce(nullif($2, ''), i.caller, ''), coalesce($3, i.tags, '{}'), coalesce(nullif($4, ''), i.permission, ''), $5, $6
FROM (SELECT 1) AS one LEFT JOIN mcp_keys_quota_intents i ON i.seq = $7
ON CONFLICT (key_id) DO UPDATE SET caller = excluded.caller, tags = excluded.tags,
	permission = excluded.permission, at = excluded.at, seq = excluded.seq`,
			clean(rec.KeyID), clean(rec.Caller), tags, clean(rec.Permission), rec.Time, rec.Seq, rec.Ref)
	}
}

// tagsOf is a record's tags: Tags, or Tag alone, or none.
func tagsOf(r audit.Record) []string {
	if len(r.Tags) > 0 {
		return r.Tags
	}
	if r.Tag != "" {
		return []string{r.Tag}
	}
	return nil
}
