package pgstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// position is a point of the chain: a record and its line's chain value.
type position struct {
	seq  int64
	hash string
}

// chainState is the head, the checkpoint, the highest seq stored and the
// checkpoint's line (nil when missing or at the start), read in one
// statement (one snapshot).
type chainState struct {
	head, cp position
	last     int64
	cpLine   *string
}

// lockSQL locks the head and the checkpoint until the transaction ends: the
// first thing every append does, so that appends queue here.
const lockSQL = "SELECT 1 FROM mcp_keys_audit_head, mcp_keys_audit_checkpoint FOR UPDATE"

// stateSQL reads a chainState.
const stateSQL = `SELECT h.seq, h.hash, c.seq, c.hash,
	(SELECT coalesce(max(seq), 0) FROM mcp_keys_audit),
	(SELECT line FROM mcp_keys_audit WHERE seq = c.seq)
FROM mcp_keys_audit_head h CROSS JOIN mcp_keys_audit_checkpoint c`

// queueState queues, on a batch that begins a transaction, the reading of
// the chain's state into st, after locking it when lock. The two are
// separate statements: in READ COMMITTED the second takes its snapshot
// once the lock is held, so it sees every append committed before.
func queueState(b *pgx.Batch, st *chainState, lock bool) {
	if lock {
		b.Queue(lockSQL)
	}
	b.Queue(stateSQL).QueryRow(func(row pgx.Row) error {
		err := row.Scan(&st.head.seq, &st.head.hash, &st.cp.seq, &st.cp.hash, &st.last, &st.cpLine)
		if errors.Is(err, pgx.ErrNoRows) {
			return errors.New("the chain head or checkpoint row is missing (the schema was altered?)")
		}
		return err
	})
}

// verifyFrom checks the chain from the checkpoint to the head: the
// checkpoint's record is still there unchanged (else the chain was cut or
// rewritten), no record lies beyond the head (an append always moves it),
// the records after the checkpoint follow without a gap and verify (MAC
// or hash, canonical form), and they end exactly at the head. It reads
// only the records after the checkpoint, so it costs a few index lookups
// when the checkpoint is the head. It returns the position verified, or a
// *audit.VerifyError.
func (s *Store) verifyFrom(ctx context.Context, tx pgx.Tx, st chainState) (position, error) {
	head, cp := st.head, st.cp
	switch {
	case head.seq < cp.seq:
		return cp, &audit.VerifyError{Line: int(head.seq) + 1, Msg: fmt.Sprintf(
			"the chain head is at record %d but record %d was verified before: records were removed from its end", head.seq, cp.seq)}
	case st.last > head.seq:
		return cp, &audit.VerifyError{Line: int(head.seq) + 1, Msg: fmt.Sprintf(
			"record %d lies beyond the chain head (%d): it was not appended by mcp-keys", head.seq+1, head.seq)}
	}
	if cp.seq > 0 {
		if err := s.checkCheckpoint(cp, st.cpLine); err != nil {
			return cp, err
		}
	}
	v := audit.NewChainVerifier(s.key, cp.seq, cp.hash)
	if head.seq > cp.seq {
		// Up to the head read: records appended since (by another process,
		// when the head is not locked) are the next verification's.
		err := s.walk(ctx, tx, v, "SELECT seq, line FROM mcp_keys_audit WHERE seq > $1 AND seq <= $2 ORDER BY seq", cp.seq, head.seq)
		if err != nil {
			return cp, err
		}
	}
	got := position{seq: v.Seq(), hash: v.Hash()}
	switch {
	case got.seq < head.seq:
		return cp, &audit.VerifyError{Line: int(got.seq) + 1, Msg: fmt.Sprintf(
			"record %d is missing: the chain head is at record %d (records were removed from its end?)", got.seq+1, head.seq)}
	case got.hash != head.hash:
		return cp, &audit.VerifyError{Line: int(head.seq), Msg: fmt.Sprintf(
			"the chain head does not match record %d (the head or the record was changed)", head.seq)}
	}
	return got, nil
}

// checkCheckpoint checks the record at the checkpoint: still there, with
// the same SHA-256 (else the chain was cut or rewritten), and its MAC right
// under this store's key (or absent without one), so that a process with a
// wrong or missing chain key is refused before it appends a record that
// the others would reject.
func (s *Store) checkCheckpoint(cp position, line *string) error {
	switch {
	case line == nil:
		return &audit.VerifyError{Line: int(cp.seq), Msg: fmt.Sprintf(
			"record %d, verified before, is missing: records were removed from the end of the chain", cp.seq)}
	case audit.LineHash([]byte(*line)) != cp.hash:
		return &audit.VerifyError{Line: int(cp.seq), Msg: fmt.Sprintf(
			"record %d was changed after it was verified", cp.seq)}
	}
	rec, err := audit.DecodeLine([]byte(*line))
	if err != nil {
		return &audit.VerifyError{Line: int(cp.seq), Msg: err.Error()}
	}
	_, err = audit.NewChainVerifier(s.key, cp.seq-1, rec.Prev).Next([]byte(*line))
	return err
}

// walk feeds the lines that q selects (seq, line in seq order) to v,
// reporting a gap in the sequence numbers as a *audit.VerifyError.
func (s *Store) walk(ctx context.Context, tx pgx.Tx, v *audit.ChainVerifier, q string, args ...any) error {
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		seq  int64
		line []byte
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &line); err != nil {
			return err
		}
		if want := v.Seq() + 1; seq != want {
			return &audit.VerifyError{Line: int(want), Msg: fmt.Sprintf("record %d is missing (the next is %d)", want, seq)}
		}
		if _, err := v.Next(line); err != nil {
			return err
		}
	}
	return rows.Err()
}

// saveCheckpoint moves the checkpoint to p (never backwards).
func saveCheckpoint(ctx context.Context, tx pgx.Tx, p position) error {
	_, err := tx.Exec(ctx, `UPDATE mcp_keys_audit_checkpoint SET seq = $1, hash = $2, verified_at = now() WHERE seq <= $1`, p.seq, p.hash)
	return err
}

// verified verifies the chain (see verifyFrom) from st, read under the
// head's lock, and moves the checkpoint to the head when it was behind.
func (s *Store) verified(ctx context.Context, tx pgx.Tx, st chainState) (position, error) {
	got, err := s.verifyFrom(ctx, tx, st)
	if err != nil {
		return position{}, err
	}
	if got.seq > st.cp.seq {
		if err := saveCheckpoint(ctx, tx, got); err != nil {
			return position{}, err
		}
	}
	return got, nil
}

// guarded runs fn in a transaction after verifying the chain without
// locking its head: the writes that do not append are refused too while
// the chain fails.
func (s *Store) guarded(ctx context.Context, fn func(pgx.Tx) error) error {
	var st chainState
	return s.inTx(ctx, true, func(b *pgx.Batch) { queueState(b, &st, false) }, func(tx pgx.Tx) error {
		if _, err := s.verifyFrom(ctx, tx, st); err != nil {
			return err
		}
		return fn(tx)
	})
}

// refused wraps an error of a write: a failed verification is said to
// refuse the write (errors.As still finds the *audit.VerifyError).
func refused(op string, err error) error {
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		return fmt.Errorf("pgstore: %s refused: the audit chain fails verification (until an operator repairs it): %w", op, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// Verify checks the chain from the checkpoint to the head under the head's
// lock and moves the checkpoint to the head. It costs nothing more than a
// few lookups when every record was appended through mcp-keys, which
// verifies as it appends. It returns a *audit.VerifyError (wrapped) naming
// the record when one fails verification, a sequence number is missing,
// the chain is shorter than the checkpoint, or a record lies beyond the
// head.
func (s *Store) Verify(ctx context.Context) error {
	var st chainState
	err := s.inTx(ctx, true, func(b *pgx.Batch) { queueState(b, &st, true) }, func(tx pgx.Tx) error {
		_, err := s.verified(ctx, tx, st)
		return err
	})
	if err != nil {
		return fmt.Errorf("pgstore: verify: %w", err)
	}
	return nil
}

// VerifyAll checks the whole chain from its first record, in one snapshot,
// and returns how many records it holds: every record as Verify checks it,
// the head matching the last, and the checkpoint within the chain.
func (s *Store) VerifyAll(ctx context.Context) (int, error) {
	n := 0
	err := s.readTx(ctx, func(tx pgx.Tx) error {
		var st chainState
		b := &pgx.Batch{}
		queueState(b, &st, false)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		head, cp := st.head, st.cp
		v := audit.NewChainVerifier(s.key, 0, "")
		err := s.walk(ctx, tx, v, "SELECT seq, line FROM mcp_keys_audit ORDER BY seq")
		n = int(v.Seq())
		if err != nil {
			return err
		}
		switch {
		case v.Seq() < cp.seq:
			return &audit.VerifyError{Line: n + 1, Msg: fmt.Sprintf(
				"the chain ends at record %d but record %d was verified before: records were removed from its end", n, cp.seq)}
		case v.Seq() < head.seq:
			return &audit.VerifyError{Line: n + 1, Msg: fmt.Sprintf(
				"record %d is missing: the chain head is at record %d (records were removed from its end?)", n+1, head.seq)}
		case v.Seq() > head.seq:
			return &audit.VerifyError{Line: int(head.seq) + 1, Msg: fmt.Sprintf(
				"record %d lies beyond the chain head (%d): it was not appended by mcp-keys", head.seq+1, head.seq)}
		case v.Hash() != head.hash:
			return &audit.VerifyError{Line: n, Msg: fmt.Sprintf(
				"the chain head does not match record %d (the head or the record was changed)", n)}
		}
		return nil
	})
	if err != nil {
		return n, fmt.Errorf("pgstore: verify all: %w", err)
	}
	return n, nil
}

// readTx runs fn in a read-only transaction with one snapshot.
func (s *Store) readTx(ctx context.Context, fn func(pgx.Tx) error) error {
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// Tail returns the last n records, oldest first.
func (s *Store) Tail(ctx context.Context, n int) ([]audit.Record, error) {
	if n < 0 {
		return nil, fmt.Errorf("pgstore: tail: negative count %d", n)
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, line FROM (
	SELECT seq, line FROM mcp_keys_audit ORDER BY seq DESC LIMIT $1) t ORDER BY seq`, n)
	if err != nil {
		return nil, fmt.Errorf("pgstore: tail: %w", err)
	}
	defer rows.Close()
	out := make([]audit.Record, 0, n)
	var (
		seq  int64
		line []byte
	)
	for rows.Next() {
		if err := rows.Scan(&seq, &line); err != nil {
			return nil, fmt.Errorf("pgstore: tail: %w", err)
		}
		rec, err := audit.DecodeLine(line)
		if err != nil {
			return nil, fmt.Errorf("pgstore: tail: record %d: %w: %w", seq, audit.ErrCorrupt, err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: tail: %w", err)
	}
	return out, nil
}
