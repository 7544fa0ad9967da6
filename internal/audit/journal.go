package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// The journal (PATH.state) holds what the store keeps besides records:
// used confirmation nonces and leases. It is a file of JSON lines, each an
// upsert or a removal, appended under the log's flock and fsynced; every
// process reads what was appended since it last looked. When most of its
// lines are obsolete it is rewritten with the live entries only (a new file
// renamed into place), and the other processes, seeing another file at the
// path, read it again from the start.
//
// The journal is not chained: like the log, it is protected by its mode
// (0600) and its directory's; someone who can write it can forget a used
// nonce or a lease. Nothing in it is secret: nonces are stored as their
// SHA-256.
type journal struct {
	path  string
	f     *os.File
	off   int64 // bytes read
	lines int   // lines in the file
	// compactAt is the line count at which the journal is next rewritten:
	// twice its length after the last rewrite, so that rewriting costs a
	// constant share of each write.
	compactAt int
	// minLines is the fewest lines before a rewrite (compactMin; tests
	// lower it).
	minLines int
	nonces   map[string]time.Time
	leases   map[string]leaseRec
}

// journalEntry is one line of the journal.
type journalEntry struct {
	// Op is "nonce" (a used nonce), "lease" (a lease's whole state) or
	// "finish" (a lease closed).
	Op      string    `json:"op"`
	Nonce   string    `json:"nonce,omitempty"` // the hex SHA-256 of the nonce
	Expires time.Time `json:"expires,omitzero"`
	Lease   *leaseRec `json:"lease,omitempty"`
	KeyID   string    `json:"key_id,omitempty"`
	Outcome Outcome   `json:"outcome,omitempty"`
}

// leaseRec is a lease with its claim.
type leaseRec struct {
	KeyID     string    `json:"key_id"`
	Caller    string    `json:"caller,omitempty"`
	Tags      []string  `json:"tags,omitempty"`
	Name      string    `json:"name,omitempty"`
	EndsAt    time.Time `json:"ends_at"`
	Attempts  int       `json:"attempts,omitempty"`
	RetryAt   time.Time `json:"retry_at,omitzero"`
	LastError string    `json:"last_error,omitempty"`
	// Owner holds the claim until Until.
	Owner string    `json:"owner,omitempty"`
	Until time.Time `json:"until,omitzero"`
}

func (l leaseRec) lease() Lease {
	return Lease{KeyID: l.KeyID, Caller: l.Caller, Tags: append([]string(nil), l.Tags...), Name: l.Name,
		EndsAt: l.EndsAt, Attempts: l.Attempts, RetryAt: l.RetryAt, LastError: l.LastError}
}

// open opens (creating) the journal at path.
func (j *journal) open(path string) error {
	f, err := openFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE)
	if err != nil {
		return err
	}
	j.path = path
	j.reset(f)
	return nil
}

func (j *journal) reset(f *os.File) {
	if j.f != nil && j.f != f {
		_ = j.f.Close()
	}
	if j.minLines == 0 {
		j.minLines = compactMin
	}
	j.f, j.off, j.lines, j.compactAt = f, 0, 0, j.minLines
	j.nonces = make(map[string]time.Time)
	j.leases = make(map[string]leaseRec)
}

// reopenIfReplaced reopens the journal when the file at its path is
// another one (rewritten by another process), to be read from the start.
func (j *journal) reopenIfReplaced() error {
	cur, err := os.Lstat(j.path)
	if err != nil {
		return fmt.Errorf("the journal: %w", err)
	}
	mine, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("the journal: %w", err)
	}
	if os.SameFile(cur, mine) {
		return nil
	}
	f, err := openFile(j.path, os.O_RDWR|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("reopen the journal: %w", err)
	}
	j.reset(f)
	return nil
}

// catchUp reads the lines appended since the last look. Under the flock.
func (j *journal) catchUp() error {
	fi, err := j.f.Stat()
	if err != nil {
		return fmt.Errorf("the journal: %w", err)
	}
	size := fi.Size()
	if size < j.off {
		return fmt.Errorf("the journal %s is %d bytes, shorter than the %d bytes read: %w", j.path, size, j.off, ErrCorrupt)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(j.f, j.off, size-j.off), MaxLineBytes+2)
	for {
		raw, err := br.ReadSlice('\n')
		switch {
		case errors.Is(err, io.EOF) && len(raw) == 0:
			return nil
		case errors.Is(err, io.EOF), errors.Is(err, bufio.ErrBufferFull):
			return fmt.Errorf("the journal %s: line %d is incomplete or too long: %w", j.path, j.lines+1, ErrCorrupt)
		case err != nil:
			return fmt.Errorf("read the journal: %w", err)
		}
		var e journalEntry
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil || !j.apply(e) {
			return fmt.Errorf("the journal %s: line %d is not a valid entry: %w", j.path, j.lines+1, ErrCorrupt)
		}
		j.off += int64(len(raw))
		j.lines++
	}
}

// apply applies an entry; it reports false for an invalid one.
func (j *journal) apply(e journalEntry) bool {
	switch {
	case e.Op == "nonce" && isHexHash(e.Nonce):
		j.nonces[e.Nonce] = e.Expires
	case e.Op == "lease" && e.Lease != nil && e.Lease.KeyID != "":
		j.leases[e.Lease.KeyID] = *e.Lease
	case e.Op == "finish" && e.KeyID != "":
		delete(j.leases, e.KeyID)
	default:
		return false
	}
	return true
}

// write appends entries with one write and fsyncs, then applies them.
// Under the exclusive flock, after catchUp.
func (j *journal) write(entries ...journalEntry) error {
	var buf []byte
	for _, e := range entries {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode a journal entry: %w", err)
		}
		if len(b) > MaxLineBytes {
			return fmt.Errorf("%w: journal entry of %d bytes, limit %d", ErrTooLarge, len(b), MaxLineBytes)
		}
		buf = append(append(buf, b...), '\n')
	}
	if len(buf) == 0 {
		return nil
	}
	if n, err := j.f.Write(buf); err != nil || n != len(buf) {
		return fmt.Errorf("write the journal (%d of %d bytes): %w", n, len(buf), err)
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("fsync the journal: %w", err)
	}
	for _, e := range entries {
		j.apply(e)
	}
	j.off += int64(len(buf))
	j.lines += len(entries)
	return nil
}

// compactMin is the fewest lines before the journal is rewritten.
const compactMin = 1024

// compact rewrites the journal with its live entries, forgetting the
// nonces expired at now, once it has grown to compactAt lines. Under the
// exclusive flock, after catchUp.
func (j *journal) compact(now time.Time) error {
	if j.lines < j.compactAt {
		return nil
	}
	var buf []byte
	var kept []journalEntry
	for h, exp := range j.nonces {
		if exp.Before(now) {
			continue
		}
		kept = append(kept, journalEntry{Op: "nonce", Nonce: h, Expires: exp})
	}
	for _, l := range j.leases {
		kept = append(kept, journalEntry{Op: "lease", Lease: &l})
	}
	for _, e := range kept {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode a journal entry: %w", err)
		}
		buf = append(append(buf, b...), '\n')
	}
	dir, base := filepath.Split(j.path)
	tmp, err := os.CreateTemp(dir, base+".*.tmp")
	if err != nil {
		return fmt.Errorf("rewrite the journal: %w", err)
	}
	name := tmp.Name()
	_, err = tmp.Write(buf)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(name, j.path)
	}
	if err != nil {
		_ = os.Remove(name)
		return fmt.Errorf("rewrite the journal: %w", err)
	}
	f, err := openFile(j.path, os.O_RDWR|os.O_APPEND)
	if err != nil {
		return fmt.Errorf("reopen the journal: %w", err)
	}
	j.reset(f)
	if err := j.catchUp(); err != nil {
		return err
	}
	j.compactAt = max(j.minLines, 2*j.lines)
	return nil
}
