package audit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"
)

// ReserveWindow is how far back Reserve reads: the longest quota window.
const ReserveWindow = 24 * time.Hour

// backChunk is how many bytes a backward scan reads at a time, at most;
// firstBackChunk is its first read.
const (
	backChunk      = 64 << 10
	firstBackChunk = 4 << 10
)

// Log is an audit log file, unkeyed, as written before [FileStore]: its
// quotas read back the last 24 hours, and its provenance scans the file
// once per Log. New code uses a FileStore, which writes the same format;
// both may share a file. Log is safe for concurrent use by goroutines, and
// several processes may append to the same file at once.
type Log struct {
	path string
	pid  int
	now  func() time.Time // the clock; tests replace it
	sem  chan struct{}    // serializes this Log's appends within the process

	mu     sync.Mutex // guards minted
	minted mintedCache
}

// mintedCache remembers the key ids recorded as created in the part of the
// file already scanned, so that Minted reads only what was appended since.
type mintedCache struct {
	fi     fs.FileInfo // the file scanned (identity, size and mtime)
	offset int64       // bytes of complete lines scanned
	lines  int         // lines scanned
	ids    map[string]bool
}

// Open prepares the audit log at path: it creates the directory (0700) and
// the file (0600) if missing, and refuses a file that is a symlink or not a
// regular file, and a file or directory writable by group or others. It
// does not keep the file open or locked.
func Open(path string) (*Log, error) {
	if err := lockSupported(); err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	if path == "" {
		return nil, errors.New("audit: open: empty path")
	}
	path = filepath.Clean(path)
	if err := ensureDir(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	f, err := openWrite(path)
	if err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("audit: open %s: %w", path, err)
	}
	return &Log{path: path, pid: os.Getpid(), now: time.Now, sem: make(chan struct{}, 1)}, nil
}

// Path returns the file's path.
func (l *Log) Path() string { return l.path }

// ensureDir creates dir (0700) when missing and refuses one that others
// can write to.
func ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
		fi, err = os.Stat(dir)
	}
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if problem := fileperm.DirProblem("directory "+dir, fi, fileperm.NoWrite); problem != "" {
		return errors.New(problem)
	}
	return nil
}

// checkFile refuses what is not a private regular file.
func checkFile(path string, fi fs.FileInfo) error {
	if problem := fileperm.Problem(path, fi, fileperm.NoWrite); problem != "" {
		return errors.New(problem)
	}
	return nil
}

// openFile opens path with flags, never through a symlink, and checks what
// it opened.
func openFile(path string, flags int) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil {
		if err := checkFile(path, fi); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, flags|oNoFollow, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkFile(path, fi)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// openWrite opens the log for appending (creating it 0600). It is opened
// read-write, not write-only, so that the last line can be read under the
// same lock; O_APPEND still puts every write at the end.
func openWrite(path string) (*os.File, error) {
	return openFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE)
}

// openRead opens the log for reading.
func openRead(path string) (*os.File, error) { return openFile(path, os.O_RDONLY) }

// lockFile takes the flock, polling so that ctx can end the wait.
func lockFile(ctx context.Context, f *os.File, exclusive bool) error {
	delay := 100 * time.Microsecond
	for {
		ok, err := tryLock(f, exclusive)
		if err != nil {
			return fmt.Errorf("lock: %w", err)
		}
		if ok {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the lock: %w", ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 10*time.Millisecond)
	}
}

// lockBestEffort takes a shared lock where locks are supported.
func lockBestEffort(f *os.File) error {
	if lockSupported() != nil {
		return nil
	}
	return lockFile(context.Background(), f, false)
}

// Append writes r as the next line and returns it as written, with Seq,
// Time, PID and Prev filled in. Under an exclusive lock it reads the last
// line, writes the new line with one write(2) and fsyncs. Text in any
// string that looks like a Supermemory API key is written as "[REDACTED]"
// (and Reason says so); the record is not refused for it. It refuses a
// record that is too large (ErrTooLarge) or has invalid fields (ErrInvalid),
// and appends nothing to a file whose last line is incomplete or unreadable
// (ErrCorrupt).
func (l *Log) Append(ctx context.Context, r Record) (Record, error) {
	return l.write(ctx, r, nil, true)
}

// AppendUnsynced is Append without the fsync, for records whose loss in a
// crash of the machine is acceptable, such as a dry run's decision. The line
// is still written whole, with one write(2) under the exclusive lock, so the
// hash chain is never broken; the next Append's fsync makes it durable too.
func (l *Log) AppendUnsynced(ctx context.Context, r Record) (Record, error) {
	return l.write(ctx, r, nil, false)
}

// Reserve appends r only if check passes, atomically with respect to other
// appenders in any process: under the exclusive lock it reads the records
// younger than ReserveWindow (reading backwards from the end, stopping at
// the first older one), in file order, and calls check with them. When check
// returns an error, Reserve returns that error unchanged and appends
// nothing. Use it with [QuotaCheck] for quotas: two processes can never both
// pass the check for the last slot.
func (l *Log) Reserve(ctx context.Context, r Record, check func(recent []Record) error) (Record, error) {
	if check == nil {
		return Record{}, errors.New("audit: reserve: nil check")
	}
	return l.write(ctx, r, check, true)
}

func (l *Log) write(ctx context.Context, r Record, check func([]Record) error, sync bool) (Record, error) {
	if err := ctx.Err(); err != nil {
		return Record{}, fmt.Errorf("audit: append to %s: %w", l.path, err)
	}
	select {
	case l.sem <- struct{}{}:
		defer func() { <-l.sem }()
	case <-ctx.Done():
		return Record{}, fmt.Errorf("audit: append to %s: %w", l.path, ctx.Err())
	}
	f, err := openWrite(l.path)
	if err != nil {
		return Record{}, fmt.Errorf("audit: append: %w", err)
	}
	defer f.Close()
	if err := lockFile(ctx, f, true); err != nil {
		return Record{}, fmt.Errorf("audit: append to %s: %w", l.path, err)
	}
	defer func() { _ = unlock(f) }()

	fi, err := f.Stat()
	if err != nil {
		return Record{}, fmt.Errorf("audit: append to %s: %w", l.path, err)
	}
	size := fi.Size()
	if err := checkComplete(f, size); err != nil {
		return Record{}, fmt.Errorf("audit: append to %s: %w", l.path, err)
	}
	now := l.now().UTC()
	last, lastSeq, recent, err := scanTail(f, size, now, check != nil)
	if err != nil {
		return Record{}, fmt.Errorf("audit: append to %s: %w", l.path, err)
	}
	if check != nil {
		if err := check(recent); err != nil {
			return Record{}, err
		}
	}
	line, rec, err := encodeNext(last, lastSeq, r, now, l.pid)
	if err != nil {
		return Record{}, fmt.Errorf("audit: append to %s: %w", l.path, err)
	}
	if n, err := f.Write(line); err != nil || n != len(line) {
		return Record{}, fmt.Errorf("audit: append to %s: write (%d of %d bytes): %w", l.path, n, len(line), err)
	}
	if !sync {
		return rec, nil
	}
	if err := f.Sync(); err != nil {
		return Record{}, fmt.Errorf("audit: append to %s: fsync: %w", l.path, err)
	}
	return rec, nil
}

// scanTail reads the file backwards: the last line (a copy) and its Seq,
// and, when withRecent, the records younger than ReserveWindow at now, in
// file order. It stops at the first record older than the window.
//
// Only the last line is decoded strictly (it anchors the chain); the others
// are read with quickRecord, which decodes create records in full and
// reads only the time of the rest, so that a long log does not make every
// reservation slower (Verify checks every line in full).
func scanTail(f *os.File, size int64, now time.Time, withRecent bool) (last []byte, lastSeq int64, recent []Record, err error) {
	err = backScan(f, size, func(line []byte, off int64) (bool, error) {
		var rec Record
		var err error
		if last == nil {
			rec, err = decodeLine(line)
		} else {
			rec, err = quickRecord(line)
		}
		if err != nil {
			return false, corruptAt(f, off, err)
		}
		if last == nil {
			last, lastSeq = bytes.Clone(line), rec.Seq
		}
		if !withRecent || now.Sub(rec.Time) >= ReserveWindow {
			return false, nil
		}
		recent = append(recent, rec)
		return true, nil
	})
	if err != nil {
		return nil, 0, nil, err
	}
	for i, j := 0, len(recent)-1; i < j; i, j = i+1, j-1 {
		recent[i], recent[j] = recent[j], recent[i]
	}
	return last, lastSeq, recent, nil
}

// quickRecord reads what quotas need of a line: a create or create_result
// record in full, any other record's time only (its other fields are left
// empty).
func quickRecord(line []byte) (Record, error) {
	if bytes.Contains(line, []byte(`"event":"create`)) {
		var r Record
		if err := json.Unmarshal(line, &r); err != nil {
			return Record{}, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		return r, nil
	}
	const key = `"time":"`
	i := bytes.Index(line, []byte(key))
	if i < 0 {
		return Record{}, fmt.Errorf("%w: no time", ErrCorrupt)
	}
	rest := line[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return Record{}, fmt.Errorf("%w: unterminated time", ErrCorrupt)
	}
	t, err := time.Parse(time.RFC3339Nano, string(rest[:j]))
	if err != nil {
		return Record{}, fmt.Errorf("%w: time: %v", ErrCorrupt, err)
	}
	return Record{Time: t}, nil
}

// Recent returns the records younger than ReserveWindow, in file order, as
// Reserve would pass them to its check, read under a shared lock: create
// and create_result records in full, others with their time only. It is for
// read-only decisions (a dry run's quota counts); a create must use Reserve,
// since the counts may change as soon as the lock is released. An incomplete
// or unreadable line among them is an error (ErrCorrupt).
func (l *Log) Recent(ctx context.Context) ([]Record, error) {
	f, err := openRead(l.path)
	if err != nil {
		return nil, fmt.Errorf("audit: recent: %w", err)
	}
	defer f.Close()
	if err := lockFile(ctx, f, false); err != nil {
		return nil, fmt.Errorf("audit: recent %s: %w", l.path, err)
	}
	defer func() { _ = unlock(f) }()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit: recent %s: %w", l.path, err)
	}
	if err := checkComplete(f, fi.Size()); err != nil {
		return nil, fmt.Errorf("audit: recent %s: %w", l.path, err)
	}
	_, _, recent, err := scanTail(f, fi.Size(), l.now().UTC(), true)
	if err != nil {
		return nil, fmt.Errorf("audit: recent %s: %w", l.path, err)
	}
	return recent, nil
}

// checkComplete refuses a file whose last line has no "\n".
func checkComplete(f *os.File, size int64) error {
	if size == 0 {
		return nil
	}
	var b [1]byte
	if _, err := f.ReadAt(b[:], size-1); err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if b[0] == '\n' {
		return nil
	}
	n, err := countLines(f, size)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return fmt.Errorf("line %d is incomplete (no trailing newline; a write was interrupted): %w; "+
		"nothing is appended until it is removed (check with `mcp-keys audit verify`)", n+1, ErrCorrupt)
}

// corruptAt describes a bad line starting at byte off.
func corruptAt(f *os.File, off int64, cause error) error {
	n, err := countLines(f, off)
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	return fmt.Errorf("line %d: %w: %w (check with `mcp-keys audit verify`)", n+1, ErrCorrupt, cause)
}

// countLines counts the "\n" in the first size bytes of r.
func countLines(r io.ReaderAt, size int64) (int, error) {
	n := 0
	buf := make([]byte, backChunk)
	for off := int64(0); off < size; {
		k, err := r.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		n += bytes.Count(buf[:k], []byte{'\n'})
		off += int64(k)
		if err != nil && !(errors.Is(err, io.EOF) && off >= size) {
			return n, err
		}
	}
	return n, nil
}

// backScan calls fn with each line of the first size bytes of r, last line
// first, and the offset where the line starts, until fn returns false or an
// error. The data must end in "\n" (see checkComplete). The line is only
// valid during the call.
func backScan(r io.ReaderAt, size int64, fn func(line []byte, off int64) (bool, error)) error {
	if size == 0 {
		return nil
	}
	pos := size - 1 // buf holds the bytes [pos, size-1), the final "\n" excluded
	var buf []byte
	// The first read is small: an append needs only the last line, which is
	// far shorter than backChunk; later reads grow to backChunk.
	next := int64(firstBackChunk)
	for {
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			more, err := fn(buf[i+1:], pos+int64(i)+1)
			if err != nil || !more {
				return err
			}
			buf = buf[:i]
			continue
		}
		if pos == 0 {
			_, err := fn(buf, 0)
			return err
		}
		if len(buf) > MaxLineBytes {
			return fmt.Errorf("%w: a line is longer than %d bytes", ErrCorrupt, MaxLineBytes)
		}
		n := min(next, pos)
		next = min(2*next, backChunk)
		chunk := make([]byte, int(n)+len(buf))
		if k, err := r.ReadAt(chunk[:n], pos-n); err != nil && !(errors.Is(err, io.EOF) && int64(k) == n) {
			return fmt.Errorf("read: %w", err)
		}
		copy(chunk[n:], buf)
		buf, pos = chunk, pos-n
	}
}

// Minted reports whether the log records keyID as created through mcp-keys:
// a create_result with outcome "created" and this key id ("outcome_unknown"
// does not count). It reads the file under a shared lock; a Log remembers
// what it has read, so later calls read only what was appended since
// (unless the file was replaced or changed in place). A candidate line that
// does not parse is an error (ErrCorrupt). Minted is not a verifier: see
// [VerifyFile].
func (l *Log) Minted(ctx context.Context, keyID string) (bool, error) {
	if keyID == "" {
		return false, nil
	}
	found, err := l.MintedAmong(ctx, []string{keyID})
	if err != nil {
		return false, err
	}
	return found[keyID], nil
}

// MintedAmong is Minted for several ids at once, under one shared lock and
// one pass over what is new in the file: the result holds the ids that the
// log records as created.
func (l *Log) MintedAmong(ctx context.Context, keyIDs []string) (map[string]bool, error) {
	f, err := openRead(l.path)
	if err != nil {
		return nil, fmt.Errorf("audit: minted: %w", err)
	}
	defer f.Close()
	if err := lockFile(ctx, f, false); err != nil {
		return nil, fmt.Errorf("audit: minted %s: %w", l.path, err)
	}
	defer func() { _ = unlock(f) }()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("audit: minted %s: %w", l.path, err)
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	c := &l.minted
	if c.fi == nil || !os.SameFile(c.fi, fi) || fi.Size() < c.offset ||
		(fi.Size() == c.fi.Size() && !fi.ModTime().Equal(c.fi.ModTime())) {
		*c = mintedCache{ids: make(map[string]bool)}
	}
	if fi.Size() > c.offset {
		if err := c.scan(ctx, f, fi.Size()); err != nil {
			*c = mintedCache{}
			return nil, fmt.Errorf("audit: minted %s: %w", l.path, err)
		}
	}
	c.fi = fi
	found := make(map[string]bool)
	for _, id := range keyIDs {
		if id != "" && c.ids[id] {
			found[id] = true
		}
	}
	return found, nil
}

// mintedMark is in every line that can record a created key.
var mintedMark = []byte(`"outcome":"created"`)

// scan reads the complete lines from c.offset to size; an incomplete last
// line is left for later.
func (c *mintedCache) scan(ctx context.Context, f *os.File, size int64) error {
	br := bufio.NewReaderSize(io.NewSectionReader(f, c.offset, size-c.offset), MaxLineBytes+2)
	for {
		raw, err := br.ReadSlice('\n')
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return fmt.Errorf("line %d: %w: longer than %d bytes", c.lines+1, ErrCorrupt, MaxLineBytes)
		}
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		if c.lines%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		line := raw[:len(raw)-1]
		if bytes.Contains(line, mintedMark) {
			rec, err := decodeLine(line)
			if err != nil {
				return fmt.Errorf("line %d: %w: %w", c.lines+1, ErrCorrupt, err)
			}
			if rec.Event == EventCreateResult && rec.Outcome == OutcomeCreated && rec.KeyID != "" {
				c.ids[rec.KeyID] = true
			}
		}
		c.lines++
		c.offset += int64(len(raw))
	}
}

// Tail returns the last n records of the log at path, oldest first, read
// backwards from the end under a shared lock. An incomplete or unreadable
// line among them is an error (ErrCorrupt) naming its line.
func Tail(path string, n int) ([]Record, error) {
	if n < 0 {
		return nil, fmt.Errorf("audit: tail: negative count %d", n)
	}
	f, err := openRead(path)
	if err != nil {
		return nil, fmt.Errorf("audit: tail: %w", err)
	}
	defer f.Close()
	if err := lockBestEffort(f); err != nil {
		return nil, fmt.Errorf("audit: tail %s: %w", path, err)
	}
	out, err := tailFile(f, n)
	if err != nil {
		return nil, fmt.Errorf("audit: tail %s: %w", path, err)
	}
	return out, nil
}

// tailFile returns the last n records of f, oldest first, read backwards
// from the end. An incomplete or unreadable line among them is an error
// (ErrCorrupt) naming its line.
func tailFile(f *os.File, n int) ([]Record, error) {
	if n == 0 {
		return []Record{}, nil
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := checkComplete(f, fi.Size()); err != nil {
		return nil, err
	}
	out := make([]Record, 0, min(n, 1024))
	err = backScan(f, fi.Size(), func(line []byte, off int64) (bool, error) {
		rec, err := decodeLine(line)
		if err != nil {
			return false, corruptAt(f, off, err)
		}
		out = append(out, rec)
		return len(out) < n, nil
	})
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out, nil
}
