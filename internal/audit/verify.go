package audit

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// VerifyError names the first record of a log that fails verification, or
// the record a checkpoint names when the log no longer holds it.
type VerifyError struct {
	// Line is the 1-based line number, which is also the record's Seq.
	Line int
	// Msg says what is wrong with it.
	Msg string
}

// Error returns "line N: message".
func (e *VerifyError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// verifier checks a log's lines one after the other.
type verifier struct {
	key     []byte // the chain key; nil: an unkeyed log
	seq     int64  // records verified
	prevSHA string // hex SHA-256 of the last verified line; "" before the first
}

// next checks the line (without "\n") that follows those verified so far:
// at most MaxLineBytes long, a valid record in canonical form whose Seq is
// its line number, whose Prev is the SHA-256 of the previous line's exact
// bytes, and, with a key, whose MAC is right (without a key, a record with
// a MAC cannot be checked and fails). On success it returns the record and
// counts the line as verified; otherwise a *VerifyError.
func (v *verifier) next(line []byte) (Record, error) {
	n := int(v.seq + 1)
	if len(line) > MaxLineBytes {
		return Record{}, &VerifyError{Line: n, Msg: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
	}
	rec, err := decodeLine(line)
	if err != nil {
		return Record{}, &VerifyError{Line: n, Msg: err.Error()}
	}
	if rec.Seq != int64(n) {
		return Record{}, &VerifyError{Line: n, Msg: fmt.Sprintf("seq is %d, want %d (a line was removed, inserted or moved)", rec.Seq, n)}
	}
	switch {
	case n == 1 && rec.Prev != "":
		return Record{}, &VerifyError{Line: 1, Msg: "prev must be empty on the first line (lines before it were removed?)"}
	case n > 1 && rec.Prev != v.prevSHA:
		return Record{}, &VerifyError{Line: n, Msg: fmt.Sprintf("prev hash does not match line %d", n-1)}
	}
	switch {
	case v.key == nil && rec.MAC != "":
		return Record{}, &VerifyError{Line: n, Msg: errNoKey.Error()}
	case v.key != nil && rec.MAC == "":
		return Record{}, &VerifyError{Line: n, Msg: "the record has no MAC: it was written without the chain key " +
			"(a log begun before the key was set, or a forged record); a keyed store accepts only keyed records"}
	case v.key != nil && !macEqual(rec.MAC, recordMAC(v.key, unsignedLine(line))):
		return Record{}, &VerifyError{Line: n, Msg: "the MAC does not match: the record was changed, or written without this chain key"}
	}
	v.seq++
	v.prevSHA = hashLine(line)
	return rec, nil
}

// verifyLines reads r from its start, checking every line with v, and
// calls fn (when not nil) with each verified record and the offset just
// after its line. It returns the offset after the last verified line.
func verifyLines(r io.Reader, v *verifier, fn func(line []byte, rec Record, end int64) error) (int64, error) {
	br := bufio.NewReaderSize(r, MaxLineBytes+2)
	var off int64
	for {
		raw, rerr := br.ReadSlice('\n')
		switch {
		case errors.Is(rerr, bufio.ErrBufferFull):
			return off, &VerifyError{Line: int(v.seq + 1), Msg: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
		case errors.Is(rerr, io.EOF):
			if len(raw) > 0 {
				return off, &VerifyError{Line: int(v.seq + 1), Msg: "incomplete last line (no trailing newline: an interrupted write?)"}
			}
			return off, nil
		case rerr != nil:
			return off, fmt.Errorf("audit: verify: read after line %d: %w", v.seq, rerr)
		}
		line := raw[:len(raw)-1]
		rec, err := v.next(line)
		if err != nil {
			return off, err
		}
		off += int64(len(raw))
		if fn != nil {
			if err := fn(line, rec, off); err != nil {
				return off, err
			}
		}
	}
}

// VerifyFile is [VerifyFileKey] without a chain key, returning only the
// number of records: it verifies the unkeyed log at path under a shared
// lock, so that it sees no half-written line of a running server. A keyed
// log fails at its first record.
func VerifyFile(path string) (int, error) {
	rep, err := VerifyFileKey(path, nil)
	return rep.Records, err
}
