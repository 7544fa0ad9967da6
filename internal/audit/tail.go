package audit

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// backChunk is how many bytes a backward scan reads at a time, at most;
// firstBackChunk is its first read.
const (
	backChunk      = 64 << 10
	firstBackChunk = 4 << 10
)

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
	// The first read is small: a short tail needs only the last lines, far
	// shorter than backChunk; later reads grow to backChunk.
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
