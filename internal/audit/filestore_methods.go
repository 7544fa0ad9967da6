package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"
)

var _ Store = (*FileStore)(nil)

// write runs fn as a write: under the exclusive flock, after the chain is
// verified up to the head, and after the folded checks that are due are
// written.
func (s *FileStore) write(ctx context.Context, what string, fn func() error) error {
	return s.do(ctx, what, true, func() error {
		if err := s.trust(ctx); err != nil {
			return err
		}
		if err := s.flushFolds(s.now(), false); err != nil {
			return err
		}
		return fn()
	})
}

// Append writes r as the next record, durably (fsync), and returns it as
// written, with Seq, Time, PID, Prev and (keyed) MAC filled in. Text in any
// string that looks like a Supermemory API key is written as "[REDACTED]"
// (and Reason says so). It refuses a record that is too large
// (ErrTooLarge) or has invalid fields (ErrInvalid), and, while the chain
// fails verification, every record (ErrChainBroken).
func (s *FileStore) Append(ctx context.Context, r Record) (Record, error) {
	var out Record
	err := s.write(ctx, "append to", func() error {
		var err error
		out, err = s.appendLocked(r, true)
		return err
	})
	return out, err
}

// AppendCheck writes a check record without fsync, or folds it into the
// previous identical one (see the package documentation). It refuses a
// record whose Event is not EventCheck.
func (s *FileStore) AppendCheck(ctx context.Context, r Record) error {
	if r.Event != EventCheck {
		return fmt.Errorf("audit: append check to %s: %w: event %q is not %q", s.path, ErrInvalid, truncate(string(r.Event), 40), EventCheck)
	}
	clean := sanitize(r)
	key := foldKey(clean)
	return s.write(ctx, "append check to", func() error {
		if s.foldCheck(key, clean) {
			return nil
		}
		first, err := s.appendLocked(r, false)
		if err != nil {
			return err
		}
		s.startRun(key, first)
		return nil
	})
}

// Reserve appends r (durably) only when check, given the create counts at
// the store's clock globally and for r.Caller, returns nil; both under the
// exclusive flock, so that processes sharing the file never exceed a quota
// together. check's error is returned as is.
func (s *FileStore) Reserve(ctx context.Context, r Record, check func(QuotaCounts) error) (Record, error) {
	if check == nil {
		return Record{}, fmt.Errorf("audit: reserve in %s: nil check", s.path)
	}
	caller := sanitize(Record{Caller: r.Caller}).Caller // as it will be written
	var out Record
	var refused error
	err := s.write(ctx, "reserve in", func() error {
		if refused = check(s.ix.counts(caller, s.now())); refused != nil {
			return nil
		}
		var err error
		out, err = s.appendLocked(r, true)
		return err
	})
	if refused != nil {
		return Record{}, refused
	}
	return out, err
}

// Counts returns the create counts at now, globally and for caller, from
// the index (its cost does not grow with the log), after verifying the
// chain up to the head.
func (s *FileStore) Counts(ctx context.Context, caller string, now time.Time) (QuotaCounts, error) {
	caller = sanitize(Record{Caller: caller}).Caller
	var q QuotaCounts
	err := s.do(ctx, "count creates in", false, func() error {
		if err := s.trust(ctx); err != nil {
			return err
		}
		q = s.ix.counts(caller, now)
		return nil
	})
	return q, err
}

// Minted returns the provenance of those of ids that the log records as
// created through mcp-keys, from the index, after verifying the chain up
// to the head.
func (s *FileStore) Minted(ctx context.Context, ids []string) (map[string]Mint, error) {
	var out map[string]Mint
	err := s.do(ctx, "read provenance in", false, func() error {
		if err := s.trust(ctx); err != nil {
			return err
		}
		out = s.ix.mints(ids)
		return nil
	})
	return out, err
}

// journal writes entries to the journal and rewrites it when it has
// grown enough. Under the exclusive flock, after the journal's catchUp.
func (s *FileStore) journal(entries ...journalEntry) error {
	if err := s.st.write(entries...); err != nil {
		return err
	}
	return s.st.compact(s.now())
}

// nonceHash is how a nonce is kept: its SHA-256.
func nonceHash(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(sum[:])
}

// UseConfirmation marks nonce used in the journal, once across every
// process sharing the log; it returns false when it was used before.
func (s *FileStore) UseConfirmation(ctx context.Context, nonce string, expires time.Time) (bool, error) {
	if nonce == "" {
		return false, fmt.Errorf("audit: use confirmation in %s: %w: empty nonce", s.path, ErrInvalid)
	}
	h := nonceHash(nonce)
	fresh := false
	err := s.write(ctx, "use confirmation in", func() error {
		if err := s.st.catchUp(); err != nil {
			return err
		}
		if _, used := s.st.nonces[h]; used {
			return nil
		}
		if err := s.journal(journalEntry{Op: "nonce", Nonce: h, Expires: expires.UTC()}); err != nil {
			return err
		}
		fresh = true
		return nil
	})
	if err != nil {
		return false, err
	}
	return fresh, nil
}

// ConfirmationKey returns the confirmation key, kept in the file
// PATH.confirmation-key (0600) and made on first use.
func (s *FileStore) ConfirmationKey(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("audit: confirmation key: %w", err)
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return nil, fmt.Errorf("audit: confirmation key: %w", ctx.Err())
	}
	if s.closed {
		return nil, fmt.Errorf("audit: confirmation key: %w", ErrClosed)
	}
	if s.confKey == nil {
		key, err := loadConfirmationKey(s.path + confKeySuffix)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		s.confKey = key
	}
	return append([]byte(nil), s.confKey...), nil
}

// cleanLease returns l with its strings redacted and within limits; a key
// id that is empty, too long or key-shaped is refused.
func cleanLease(l Lease) (leaseRec, error) {
	switch {
	case l.KeyID == "":
		return leaseRec{}, fmt.Errorf("%w: lease without a key id", ErrInvalid)
	case len(l.KeyID) > maxShortRunes || secretRE.MatchString(l.KeyID):
		return leaseRec{}, fmt.Errorf("%w: a lease's key id must be a short key id (value not shown)", ErrInvalid)
	case l.EndsAt.IsZero():
		return leaseRec{}, fmt.Errorf("%w: lease without an end", ErrInvalid)
	}
	r := sanitize(Record{Caller: l.Caller, Tags: l.Tags, Name: l.Name})
	return leaseRec{KeyID: l.KeyID, Caller: r.Caller, Tags: r.Tags, Name: r.Name, EndsAt: l.EndsAt.UTC(),
		Attempts: l.Attempts, RetryAt: l.RetryAt.UTC(), LastError: cleanError(l.LastError)}, nil
}

// cleanError returns an error text redacted and within MaxReasonRunes.
func cleanError(s string) string {
	if s == "" {
		return ""
	}
	return sanitize(Record{Reason: s}).Reason
}

// AddLease records a lease (replacing an open one on the same key).
func (s *FileStore) AddLease(ctx context.Context, l Lease) error {
	rec, err := cleanLease(l)
	if err != nil {
		return fmt.Errorf("audit: add lease in %s: %w", s.path, err)
	}
	return s.write(ctx, "add lease in", func() error {
		if err := s.st.catchUp(); err != nil {
			return err
		}
		return s.journal(journalEntry{Op: "lease", Lease: &rec})
	})
}

// Leases returns the open leases of those of ids that have one. It answers
// while the chain fails verification.
func (s *FileStore) Leases(ctx context.Context, ids []string) (map[string]Lease, error) {
	out := make(map[string]Lease)
	err := s.do(ctx, "read leases in", false, func() error {
		if err := s.st.catchUp(); err != nil {
			return err
		}
		for _, id := range ids {
			if l, ok := s.st.leases[id]; ok {
				out[id] = l.lease()
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ClaimDueLeases claims for owner, until claimUntil, up to limit open
// leases that have ended at now, whose retry time (if any) has come and
// that no claim holds at now, earliest end first.
func (s *FileStore) ClaimDueLeases(ctx context.Context, owner string, now, claimUntil time.Time, limit int) ([]Lease, error) {
	switch {
	case owner == "":
		return nil, fmt.Errorf("audit: claim leases in %s: %w: no owner", s.path, ErrInvalid)
	case !claimUntil.After(now):
		return nil, fmt.Errorf("audit: claim leases in %s: %w: the claim ends before it starts", s.path, ErrInvalid)
	case limit <= 0:
		return nil, nil
	}
	var out []Lease
	err := s.write(ctx, "claim leases in", func() error {
		if err := s.st.catchUp(); err != nil {
			return err
		}
		var due []leaseRec
		for _, l := range s.st.leases {
			if !l.EndsAt.After(now) && !l.RetryAt.After(now) && !l.Until.After(now) {
				due = append(due, l)
			}
		}
		sort.Slice(due, func(i, j int) bool {
			if !due[i].EndsAt.Equal(due[j].EndsAt) {
				return due[i].EndsAt.Before(due[j].EndsAt)
			}
			return due[i].KeyID < due[j].KeyID
		})
		due = due[:min(limit, len(due))]
		entries := make([]journalEntry, len(due))
		for i := range due {
			due[i].Owner, due[i].Until = owner, claimUntil.UTC()
			entries[i] = journalEntry{Op: "lease", Lease: &due[i]}
		}
		if err := s.journal(entries...); err != nil {
			return err
		}
		for _, l := range due {
			out = append(out, l.lease())
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FinishLease closes a lease for good. Finishing a lease that is not open
// does nothing.
func (s *FileStore) FinishLease(ctx context.Context, keyID string, outcome Outcome) error {
	return s.write(ctx, "finish lease in", func() error {
		if err := s.st.catchUp(); err != nil {
			return err
		}
		if _, ok := s.st.leases[keyID]; !ok {
			return nil
		}
		return s.journal(journalEntry{Op: "finish", KeyID: keyID, Outcome: outcome})
	})
}

// RetryLease releases a claimed lease after a failed revoke, to be claimed
// again at retryAt, with attempts and lastError (redacted, truncated).
// Retrying a lease that is not open does nothing.
func (s *FileStore) RetryLease(ctx context.Context, keyID string, retryAt time.Time, attempts int, lastError string) error {
	lastError = cleanError(lastError)
	return s.write(ctx, "retry lease in", func() error {
		if err := s.st.catchUp(); err != nil {
			return err
		}
		l, ok := s.st.leases[keyID]
		if !ok {
			return nil
		}
		l.Attempts, l.RetryAt, l.LastError = attempts, retryAt.UTC(), lastError
		l.Owner, l.Until = "", time.Time{}
		return s.journal(journalEntry{Op: "lease", Lease: &l})
	})
}

// Verify checks the chain from the last verified record to the head and
// against the checkpoint (see the package documentation); a failure is an
// error wrapping ErrChainBroken and the *VerifyError naming the record.
// While it fails (or a VerifyAll failed), every write is refused.
func (s *FileStore) Verify(ctx context.Context) error {
	return s.do(ctx, "verify", false, func() error { return s.trust(ctx) })
}

// VerifyAll checks the whole chain from its first record, against the
// checkpoint and against what this store verified before, and returns how
// many records it holds. A failure is kept, refusing writes, until a
// VerifyAll passes.
func (s *FileStore) VerifyAll(ctx context.Context) (int, error) {
	var n int
	err := s.do(ctx, "verify", false, func() error {
		fi, err := s.f.Stat()
		if err != nil {
			return fmt.Errorf("the log: %w", err)
		}
		cp, hasCP, cpErr := readCheckpoint(s.ck, s.key)
		v := verifier{key: s.key}
		lines := 0
		_, err = verifyLines(io.NewSectionReader(s.f, 0, fi.Size()), &v, func(line []byte, rec Record, end int64) error {
			if hasCP && rec.Seq == cp.Seq && (end != cp.Offset || v.prevSHA != cp.SHA) {
				return notCheckpointed(cp)
			}
			if rec.Seq == s.v.seq && v.prevSHA != s.v.prevSHA {
				return &VerifyError{Line: int(rec.Seq), Msg: fmt.Sprintf("record %d changed after it was verified", rec.Seq)}
			}
			if lines++; lines%4096 == 0 {
				return ctx.Err()
			}
			return nil
		})
		if err == nil && cpErr != nil {
			err = cpErr
		}
		if err == nil && hasCP && cp.Seq > v.seq {
			err = cutTail(cp, v.seq)
		}
		if err == nil && s.v.seq > v.seq {
			err = &VerifyError{Line: int(s.v.seq), Msg: fmt.Sprintf("the log ends at record %d, but record %d was verified before: "+
				"records were cut off the end", v.seq, s.v.seq)}
		}
		var ve *VerifyError
		if errors.As(err, &ve) {
			s.fullErr = ve
			return &chainError{path: s.path, ve: ve}
		}
		if err != nil {
			return err
		}
		s.fullErr = nil
		n = int(v.seq)
		return s.trust(ctx)
	})
	return n, err
}

// Tail returns the last n records, oldest first. It answers while the
// chain fails verification (it does not verify).
func (s *FileStore) Tail(ctx context.Context, n int) ([]Record, error) {
	if n < 0 {
		return nil, fmt.Errorf("audit: tail %s: negative count %d", s.path, n)
	}
	var out []Record
	err := s.do(ctx, "tail", false, func() error {
		var err error
		out, err = tailFile(s.f, n)
		return err
	})
	return out, err
}

// Ping reports whether the log can be reached: the file at its path is
// the one open, and its lock can be taken.
func (s *FileStore) Ping(ctx context.Context) error {
	return s.do(ctx, "ping", false, func() error {
		_, err := s.f.Stat()
		return err
	})
}

// Close writes the checks counted and not yet written, saves the index
// snapshot, and releases the files. Methods called after Close return
// ErrClosed.
func (s *FileStore) Close() error {
	s.sem <- struct{}{}
	defer func() { <-s.sem }()
	if s.closed {
		return nil
	}
	if s.folds.timer != nil {
		s.folds.timer.Stop()
		s.folds.timer = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if s.counted() || s.sinceSnap >= closeSnapshotMin {
		errs = append(errs, s.locked(ctx, "close", true, func() error {
			var err error
			if s.counted() {
				if err = s.trust(ctx); err == nil {
					err = s.flushFolds(s.now(), true)
				}
			}
			if s.broken == nil && s.sinceSnap >= closeSnapshotMin {
				s.saveSnapshot()
			}
			return err
		}))
	}
	s.closed = true
	s.closeFiles()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("audit: close: %w", err)
	}
	return nil
}

// closeSnapshotMin is the fewest records verified since the last index
// snapshot for Close to write one.
const closeSnapshotMin = 1000
