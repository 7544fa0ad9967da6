package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Errors of the file store that callers may test with errors.Is.
var (
	// ErrChainBroken is wrapped, with the *VerifyError that names the
	// record, by every write refused because the chain fails verification.
	ErrChainBroken = errors.New("the audit chain fails verification")
	// ErrClosed is returned by a store's methods after Close.
	ErrClosed = errors.New("the audit store is closed")
)

// FileOptions configures a FileStore.
type FileOptions struct {
	// ChainKey keys the chain: every record then carries an HMAC-SHA256 MAC
	// under it, and a record without one, or with a wrong one, fails
	// verification. nil: an unkeyed chain (SHA-256 only). At least
	// MinChainKeyBytes long.
	ChainKey []byte
	// Now is the store's clock (nil: time.Now): it stamps records, and
	// decides quotas, the folding of checks and the expiry of nonces.
	Now func() time.Time
}

// FileStore is the store of record in a JSONL file (see the package
// documentation): the embedded default. It is safe for concurrent use by
// goroutines, and several processes may share one file: every operation
// takes the file's flock.
type FileStore struct {
	path string
	key  []byte
	now  func() time.Time
	pid  int

	// foldDelay is how long after a check is folded the timer writes the
	// counted checks (tests shorten it).
	foldDelay time.Duration

	// sem serializes the store's operations within the process; the flock
	// serializes them across processes.
	sem chan struct{}

	// Everything below is guarded by sem.
	closed bool
	f      *os.File // the log, opened O_RDWR|O_APPEND
	ck     *os.File // the checkpoint
	v      verifier // the chain verified so far
	off    int64    // bytes verified
	head   int      // length of the last verified line, "\n" included
	ix     index
	// sinceSnap counts the records verified since the index snapshot was
	// read or written.
	sinceSnap int64
	// broken is the last verification's failure; fullErr is VerifyAll's,
	// kept until a VerifyAll passes.
	broken, fullErr error
	st              journal
	folds           folds
	confKey         []byte
}

// snapshotEvery is the fewest records verified between two index
// snapshots; more when the index is large, so that writing it costs a
// constant share of each record.
const snapshotEvery = 10000

// OpenFile opens the file store whose log is at path: it creates the
// directory (0700) and the log and its sidecars (0600) if missing, refuses
// files that are symlinks or writable by others, loads the index (from its
// snapshot, or by reading the whole log when the snapshot is missing or
// stale) and verifies the chain up to the head. A chain that fails
// verification does not make OpenFile fail: reads still answer, and Verify
// and every write return the failure.
func OpenFile(path string, opts FileOptions) (*FileStore, error) {
	if err := lockSupported(); err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	if path == "" {
		return nil, errors.New("audit: open: empty path")
	}
	if err := checkChainKey(opts.ChainKey); err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	path = filepath.Clean(path)
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	s := &FileStore{path: path, now: opts.Now, pid: os.Getpid(), sem: make(chan struct{}, 1), foldDelay: foldWindow + time.Second}
	if opts.ChainKey != nil {
		s.key = append([]byte(nil), opts.ChainKey...)
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.v = verifier{key: s.key}
	s.ix = newIndex()
	s.folds.init()
	var err error
	if s.f, err = openWrite(path); err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	if s.ck, err = openFile(path+checkpointSuffix, os.O_RDWR|os.O_CREATE); err != nil {
		_ = s.f.Close()
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	if err := s.st.open(path + stateSuffix); err != nil {
		_ = s.f.Close()
		_ = s.ck.Close()
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	err = s.do(context.Background(), "open", true, func() error {
		s.loadSnapshot()
		full := s.v.seq == 0
		err := s.refresh(context.Background())
		if err == nil && full && s.sinceSnap > 0 {
			s.saveSnapshot()
		}
		if err == nil && s.v.seq > 0 {
			err = s.checkpointHead() // make the verified head the durable checkpoint
		}
		var ve *VerifyError
		if errors.As(err, &ve) {
			return nil // kept in s.broken
		}
		return err
	})
	if err != nil {
		s.closeFiles()
		return nil, err
	}
	return s, nil
}

// Path returns the log's path.
func (s *FileStore) Path() string { return s.path }

// Keyed reports whether the chain is keyed (HMAC-SHA256).
func (s *FileStore) Keyed() bool { return s.key != nil }

// do runs fn with the store to itself: within the process (sem) and across
// processes (the log's flock, exclusive or shared). It reopens the files
// first when the log or the journal at their paths were replaced.
func (s *FileStore) do(ctx context.Context, what string, exclusive bool, fn func() error) error {
	wrap := func(err error) error { return fmt.Errorf("audit: %s %s: %w", what, s.path, err) }
	if err := ctx.Err(); err != nil {
		return wrap(err)
	}
	select {
	case s.sem <- struct{}{}:
		defer func() { <-s.sem }()
	case <-ctx.Done():
		return wrap(ctx.Err())
	}
	if s.closed {
		return wrap(ErrClosed)
	}
	return s.locked(ctx, what, exclusive, fn)
}

// locked is do once the store is the caller's within the process.
func (s *FileStore) locked(ctx context.Context, what string, exclusive bool, fn func() error) error {
	wrap := func(err error) error { return fmt.Errorf("audit: %s %s: %w", what, s.path, err) }
	for {
		if err := s.reopenIfReplaced(); err != nil {
			return wrap(err)
		}
		if err := lockFile(ctx, s.f, exclusive); err != nil {
			return wrap(err)
		}
		same, err := s.isCurrent()
		if err == nil && same {
			break
		}
		_ = unlock(s.f)
		if err != nil {
			return wrap(err)
		}
	}
	defer func() { _ = unlock(s.f) }()
	if err := s.reopenCheckpoint(); err != nil {
		return wrap(err)
	}
	if err := s.st.reopenIfReplaced(); err != nil {
		return wrap(err)
	}
	if err := fn(); err != nil {
		var ce *chainError
		if errors.As(err, &ce) {
			return err // already says where
		}
		return wrap(err)
	}
	return nil
}

// isCurrent reports whether s.f is still the file at the log's path.
func (s *FileStore) isCurrent() (bool, error) {
	cur, err := os.Lstat(s.path)
	if err != nil {
		return false, fmt.Errorf("the log: %w", err)
	}
	mine, err := s.f.Stat()
	if err != nil {
		return false, fmt.Errorf("the log: %w", err)
	}
	return os.SameFile(cur, mine), nil
}

// reopenIfReplaced reopens the log when the file at its path is another
// one (moved aside, replaced): its index is read again from the start and
// checked against the checkpoint, so a replaced log is caught like a
// rewritten one.
func (s *FileStore) reopenIfReplaced() error {
	same, err := s.isCurrent()
	if err != nil || same {
		return err
	}
	f, err := openFile(s.path, os.O_RDWR|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("reopen the replaced log: %w", err)
	}
	_ = s.f.Close()
	s.f = f
	s.v = verifier{key: s.key}
	s.off, s.head, s.sinceSnap = 0, 0, 0
	s.ix = newIndex()
	return nil
}

// reopenCheckpoint reopens the checkpoint when the file at its path is
// another one or none (moved aside with the log, say).
func (s *FileStore) reopenCheckpoint() error {
	cur, err := os.Lstat(s.path + checkpointSuffix)
	if err == nil {
		mine, err := s.ck.Stat()
		if err != nil {
			return fmt.Errorf("the checkpoint: %w", err)
		}
		if os.SameFile(cur, mine) {
			return nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("the checkpoint: %w", err)
	}
	f, err := openFile(s.path+checkpointSuffix, os.O_RDWR|os.O_CREATE)
	if err != nil {
		return fmt.Errorf("reopen the checkpoint: %w", err)
	}
	_ = s.ck.Close()
	s.ck = f
	return nil
}

// chainError is the error of an operation refused because the chain fails
// verification; it wraps ErrChainBroken and the *VerifyError.
type chainError struct {
	path string
	ve   *VerifyError
}

func (e *chainError) Error() string {
	return fmt.Sprintf("audit: %s: %v: %v; writes are refused until an operator repairs the log (`mcp-keys audit verify` shows the problem)",
		e.path, ErrChainBroken, e.ve)
}

func (e *chainError) Unwrap() []error { return []error{ErrChainBroken, e.ve} }

// trust verifies the chain up to the head (see refresh) and returns nil
// only when the store may be trusted and written to.
func (s *FileStore) trust(ctx context.Context) error {
	if err := s.refresh(ctx); err != nil {
		return err
	}
	var ve *VerifyError
	if errors.As(s.fullErr, &ve) {
		return &chainError{path: s.path, ve: ve}
	}
	return nil
}

// refresh is the incremental verification, under the flock: the last
// verified line must still be in place, unchanged; the lines appended since
// are verified and indexed; and the log must hold the record the
// checkpoint names. A *VerifyError is returned wrapped in a chainError and
// kept in s.broken.
func (s *FileStore) refresh(ctx context.Context) error {
	err := s.refreshLog(ctx)
	var ve *VerifyError
	if errors.As(err, &ve) {
		s.broken = ve
		return &chainError{path: s.path, ve: ve}
	}
	if err == nil {
		s.broken = nil
	}
	return err
}

func (s *FileStore) refreshLog(ctx context.Context) error {
	fi, err := s.f.Stat()
	if err != nil {
		return fmt.Errorf("the log: %w", err)
	}
	size := fi.Size()
	// A checkpoint that fails its MAC is reported after the log's own
	// problems, which say more (a log written with another key, say).
	cp, hasCP, cpErr := readCheckpoint(s.ck, s.key)
	if size < s.off {
		return &VerifyError{Line: int(s.v.seq), Msg: fmt.Sprintf("the log is %d bytes, shorter than the %d bytes verified "+
			"up to record %d: records were cut off the end", size, s.off, s.v.seq)}
	}
	if s.v.seq > 0 {
		buf := make([]byte, s.head)
		if _, err := s.f.ReadAt(buf, s.off-int64(s.head)); err != nil {
			return fmt.Errorf("read record %d: %w", s.v.seq, err)
		}
		if buf[len(buf)-1] != '\n' || hashLine(buf[:len(buf)-1]) != s.v.prevSHA {
			return &VerifyError{Line: int(s.v.seq), Msg: fmt.Sprintf("record %d changed after it was verified", s.v.seq)}
		}
	}
	if size > s.off {
		base := s.off
		lines := 0
		_, err := verifyLines(io.NewSectionReader(s.f, base, size-base), &s.v, func(line []byte, rec Record, end int64) error {
			s.ix.apply(rec)
			s.off, s.head = base+end, len(line)+1
			s.sinceSnap++
			if hasCP && rec.Seq == cp.Seq && (s.off != cp.Offset || s.v.prevSHA != cp.SHA) {
				return notCheckpointed(cp)
			}
			if lines++; lines%4096 == 0 {
				s.ix.prune(s.now())
				return ctx.Err()
			}
			return nil
		})
		s.ix.prune(s.now())
		if err != nil {
			return err
		}
		if s.sinceSnap >= max(snapshotEvery, int64(len(s.ix.minted))) {
			s.saveSnapshot()
		}
	}
	if cpErr != nil {
		return cpErr
	}
	if hasCP {
		if cp.Seq > s.v.seq {
			return cutTail(cp, s.v.seq)
		}
		if cp.Seq == s.v.seq && (cp.Offset != s.off || cp.SHA != s.v.prevSHA) {
			return notCheckpointed(cp)
		}
	}
	return nil
}

// checkpointHead makes the verified head durable (fsync) and writes it as
// the checkpoint.
func (s *FileStore) checkpointHead() error {
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	c := checkpoint{Seq: s.v.seq, Offset: s.off, SHA: s.v.prevSHA}
	if _, err := s.ck.WriteAt(c.encode(s.key), 0); err != nil {
		return fmt.Errorf("write the checkpoint: %w", err)
	}
	return nil
}

// appendLocked writes r as the next record, under the exclusive flock and
// after trust. With sync it fsyncs the log and moves the checkpoint to the
// new record; without, the record is made durable by the next synced write
// (the checkpoint only ever names durable records, so that a crash of the
// machine cannot leave it ahead of the log).
func (s *FileStore) appendLocked(r Record, sync bool) (Record, error) {
	line, rec, err := encodeRecord(s.v.prevSHA, s.v.seq, r, s.now(), s.pid, s.key)
	if err != nil {
		return Record{}, err
	}
	if n, err := s.f.Write(line); err != nil || n != len(line) {
		return Record{}, fmt.Errorf("write (%d of %d bytes): %w", n, len(line), err)
	}
	s.v.seq++
	s.v.prevSHA = hashLine(line[:len(line)-1])
	s.off += int64(len(line))
	s.head = len(line)
	s.sinceSnap++
	s.ix.apply(rec)
	s.ix.prune(s.now())
	if sync {
		if err := s.checkpointHead(); err != nil {
			return Record{}, err
		}
	}
	return rec, nil
}

// closeFiles closes every file the store holds.
func (s *FileStore) closeFiles() {
	for _, f := range []*os.File{s.f, s.ck, s.st.f} {
		if f != nil {
			_ = f.Close()
		}
	}
}
