package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
)

// VerifyError names the first line of a log that fails verification.
type VerifyError struct {
	// Line is the 1-based line number.
	Line int
	// Msg says what is wrong with it.
	Msg string
}

// Error returns "line N: message".
func (e *VerifyError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// hashLine is the hex SHA-256 of a line's bytes without its "\n".
func hashLine(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// Verify reads a whole log and checks that every line is "\n"-terminated,
// at most MaxLineBytes long, and a valid record in canonical form whose Seq
// is its line number and whose Prev is the SHA-256 of the previous line's
// exact bytes. It returns the number of records, and on the first bad line a
// *VerifyError naming it. An error reading r is returned wrapped.
func Verify(r io.Reader) (records int, err error) {
	br := bufio.NewReaderSize(r, MaxLineBytes+2)
	var prev []byte
	n := 0
	for {
		raw, rerr := br.ReadSlice('\n')
		switch {
		case errors.Is(rerr, bufio.ErrBufferFull):
			return n, &VerifyError{Line: n + 1, Msg: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
		case errors.Is(rerr, io.EOF):
			if len(raw) > 0 {
				return n, &VerifyError{Line: n + 1, Msg: "incomplete last line (no trailing newline: an interrupted write?)"}
			}
			return n, nil
		case rerr != nil:
			return n, fmt.Errorf("audit: verify: read after line %d: %w", n, rerr)
		}
		n++
		line := raw[:len(raw)-1]
		if len(line) > MaxLineBytes {
			return n - 1, &VerifyError{Line: n, Msg: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
		}
		rec, derr := decodeLine(line)
		if derr != nil {
			return n - 1, &VerifyError{Line: n, Msg: derr.Error()}
		}
		if rec.Seq != int64(n) {
			return n - 1, &VerifyError{Line: n, Msg: fmt.Sprintf("seq is %d, want %d (a line was removed, inserted or moved)", rec.Seq, n)}
		}
		switch {
		case n == 1 && rec.Prev != "":
			return 0, &VerifyError{Line: 1, Msg: "prev must be empty on the first line (lines before it were removed?)"}
		case n > 1 && rec.Prev != hashLine(prev):
			return n - 1, &VerifyError{Line: n, Msg: fmt.Sprintf("prev hash does not match line %d", n-1)}
		}
		prev = append(prev[:0], line...)
	}
}

// VerifyFile verifies the log at path (see [Verify]) under a shared lock,
// so that it sees no half-written line of a running server.
func VerifyFile(path string) (int, error) {
	f, err := openRead(path)
	if err != nil {
		return 0, fmt.Errorf("audit: verify: %w", err)
	}
	defer f.Close()
	if err := lockBestEffort(f); err != nil {
		return 0, fmt.Errorf("audit: verify %s: %w", path, err)
	}
	n, err := Verify(f)
	if err != nil {
		return n, fmt.Errorf("audit: verify %s: %w", path, err)
	}
	return n, nil
}
