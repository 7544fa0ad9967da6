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

// chainState is the head, the checkpoint and the highest seq stored, read
// in one statement (one snapshot).
type chainState struct {
	head, cp position
	last     int64
}

// readState reads the chain's state; with lock, it locks the head and the
// checkpoint rows until the transaction ends, as every append does first.
func readState(ctx context.Context, tx pgx.Tx, lock bool) (chainState, error) {
	q := `SELECT h.seq, h.hash, c.seq, c.hash, (SELECT coalesce(max(seq), 0) FROM mcp_keys_audit)
FROM mcp_keys_audit_head h CROSS JOIN mcp_keys_audit_checkpoint c`
	if lock {
		q += " FOR UPDATE OF h, c"
	}
	var st chainState
	err := tx.QueryRow(ctx, q).Scan(&st.head.seq, &st.head.hash, &st.cp.seq, &st.cp.hash, &st.last)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, errors.New("the chain head or checkpoint row is missing (the schema was altered?)")
	}
	return st, err
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
		var line string
		err := tx.QueryRow(ctx, "SELECT line FROM mcp_keys_audit WHERE seq = $1", cp.seq).Scan(&line)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return cp, &audit.VerifyError{Line: int(cp.seq), Msg: fmt.Sprintf(
				"record %d, verified before, is missing: records were removed from the end of the chain", cp.seq)}
		case err != nil:
			return cp, err
		case audit.ChainHash(s.key, []byte(line)) != cp.hash:
			return cp, &audit.VerifyError{Line: int(cp.seq), Msg: fmt.Sprintf(
				"record %d was changed after it was verified (or the chain key differs)", cp.seq)}
		}
	}
	v := audit.NewChainVerifier(s.key, cp.seq, cp.hash)
	// Up to the head read: records appended since (by another process,
	// when the head is not locked) are the next verification's.
	err := s.walk(ctx, tx, v, "SELECT seq, line FROM mcp_keys_audit WHERE seq > $1 AND seq <= $2 ORDER BY seq", cp.seq, head.seq)
	if err != nil {
		return cp, err
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

// lockVerified locks the head, verifies the chain up to it (see
// verifyFrom) and moves the checkpoint to it. Every append starts with it.
func (s *Store) lockVerified(ctx context.Context, tx pgx.Tx) (position, error) {
	st, err := readState(ctx, tx, true)
	if err != nil {
		return position{}, err
	}
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

// guard verifies the chain without locking its head, for the writes that
// do not append to it: they too are refused while the chain fails.
func (s *Store) guard(ctx context.Context, tx pgx.Tx) error {
	st, err := readState(ctx, tx, false)
	if err != nil {
		return err
	}
	_, err = s.verifyFrom(ctx, tx, st)
	return err
}

// refused wraps an error of a write: a failed verification is said to
// refuse the write (errors.As still finds the *audit.VerifyError).
func refused(op string, err error) error {
	var ve *audit.VerifyError
	if errors.As(err, &ve) {
		return fmt.Errorf("pgstore: %s refused: the audit chain fails verification at record %d: %s: %w", op, ve.Line, ve.Msg, err)
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
	err := s.inTx(ctx, true, func(tx pgx.Tx) error {
		_, err := s.lockVerified(ctx, tx)
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
		st, err := readState(ctx, tx, false)
		if err != nil {
			return err
		}
		head, cp := st.head, st.cp
		v := audit.NewChainVerifier(s.key, 0, "")
		err = s.walk(ctx, tx, v, "SELECT seq, line FROM mcp_keys_audit ORDER BY seq")
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
