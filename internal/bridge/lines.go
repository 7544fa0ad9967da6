package bridge

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
)

// lineReader reads newline-delimited messages of at most max bytes. A
// longer line is discarded as it streams: memory stays bounded by the
// bufio buffer, not by the line.
type lineReader struct {
	r   *bufio.Reader
	max int
	eof bool
}

func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// next returns the next line without its line ending. tooLong reports a line
// longer than max, which was consumed and dropped (line is nil then). At the
// end of input it returns io.EOF; a last line without a newline is returned
// first.
func (l *lineReader) next() (line []byte, tooLong bool, err error) {
	if l.eof {
		return nil, false, io.EOF
	}
	var buf []byte
	n := 0
	for {
		chunk, err := l.r.ReadSlice('\n')
		n += len(chunk)
		content := n
		if err == nil {
			content-- // the newline itself does not count
		}
		switch {
		case tooLong:
		case content > l.max:
			tooLong, buf = true, nil
		default:
			buf = appendDoubling(buf, chunk, l.max+1)
		}
		switch {
		case err == nil:
			return trimEOL(buf), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			l.eof = true
			if n == 0 {
				return nil, false, io.EOF
			}
			return trimEOL(buf), tooLong, nil
		default:
			return nil, false, fmt.Errorf("read stdin: %w", err)
		}
	}
}

// appendDoubling appends chunk to buf, doubling the capacity when it grows
// (append's own growth is gentler for large slices and allocates about five
// times the final size on the way), but never past limit bytes.
func appendDoubling(buf, chunk []byte, limit int) []byte {
	if need := len(buf) + len(chunk); need > cap(buf) {
		grown := make([]byte, len(buf), min(max(2*cap(buf), need), max(limit, need)))
		copy(grown, buf)
		buf = grown
	}
	return append(buf, chunk...)
}

// trimEOL drops a trailing "\n" or "\r\n".
func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// lineWriter writes whole messages, one a line, from many goroutines. After
// the first failed write it writes nothing more and closes broken.
type lineWriter struct {
	mu     sync.Mutex
	w      io.Writer
	err    error
	broken chan struct{}
}

func newLineWriter(w io.Writer) *lineWriter {
	return &lineWriter{w: w, broken: make(chan struct{})}
}

// write writes msg (one JSON value without newlines) and a newline in one
// call, so that lines never interleave.
func (w *lineWriter) write(msg []byte) error {
	line := make([]byte, 0, len(msg)+1)
	line = append(append(line, msg...), '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if _, err := w.w.Write(line); err != nil {
		w.err = fmt.Errorf("write stdout: %w", err)
		close(w.broken)
		return w.err
	}
	return nil
}

// failure returns the write error, if any.
func (w *lineWriter) failure() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}
