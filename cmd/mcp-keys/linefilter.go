package main

import (
	"bytes"
	"io"
)

// maxLineBytes bounds one line of standard input (one JSON-RPC message,
// without its newline). The largest legitimate message is a few KiB; tool
// arguments are capped at 64 KiB further in.
const maxLineBytes = 4 << 20

// overlongLine stands in for a line longer than maxLineBytes. It is not
// JSON, so mcp-go answers it with its own parse error (-32700, id null),
// written in order with the other answers by the same writer.
const overlongLine = "input line over the size limit dropped\n"

// lineFilter is standard input as mcp-go reads it. It holds each line back
// until its newline (mcp-go cannot act on a line before that anyway), so
// that it can
//
//   - bound memory: a line that grows past max is replaced by overlongLine
//     at once and the rest of its bytes are dropped as they arrive, never
//     buffered (mcp-go's reader, and the EOF drain after it, would otherwise
//     each hold the whole line, however long);
//   - hand each complete line to rewrite (when set) before mcp-go sees it.
//
// Complete lines are passed on unchanged otherwise, newline included.
type lineFilter struct {
	in  io.Reader
	max int
	// rewrite, when set, may replace a complete line (without its newline).
	rewrite func(line []byte) []byte
	// dropped, when set, is called once for each over-long line.
	dropped func()

	chunk    []byte
	line     []byte // the current line so far, held back
	out      []byte // bytes ready for the reader, from off
	off      int
	dropping bool  // inside an over-long line: discard up to its newline
	err      error // the input's error, returned once out is empty
}

// newLineFilter filters in; see lineFilter.
func newLineFilter(in io.Reader, max int, rewrite func([]byte) []byte, dropped func()) *lineFilter {
	return &lineFilter{in: in, max: max, rewrite: rewrite, dropped: dropped, chunk: make([]byte, 32<<10)}
}

// Read hands out filtered bytes. It reads the input only when it has none
// ready, so a complete line is handed on as soon as its newline arrives.
func (f *lineFilter) Read(p []byte) (int, error) {
	for f.off == len(f.out) {
		f.out, f.off = shrink(f.out), 0
		if f.err != nil {
			return 0, f.err
		}
		n, err := f.in.Read(f.chunk)
		f.feed(f.chunk[:n])
		if err != nil {
			// An unterminated last line is handed on as it is (mcp-go
			// drops it at end of input).
			if !f.dropping {
				f.out = append(f.out, f.line...)
			}
			f.line, f.dropping, f.err = nil, false, err
		}
	}
	n := copy(p, f.out[f.off:])
	f.off += n
	return n, nil
}

// feed splits b into lines.
func (f *lineFilter) feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		seg := b
		if i >= 0 {
			seg = b[:i]
		}
		if !f.dropping {
			if len(f.line)+len(seg) > f.max {
				f.dropping, f.line = true, nil
				f.out = append(f.out, overlongLine...)
				if f.dropped != nil {
					f.dropped()
				}
			} else {
				f.line = append(f.line, seg...)
			}
		}
		if i < 0 {
			return
		}
		if !f.dropping {
			line := f.line
			if f.rewrite != nil {
				line = f.rewrite(line)
			}
			f.out = append(append(f.out, line...), '\n')
		}
		f.line, f.dropping = shrink(f.line), false
		b = b[i+1:]
	}
}

// shrink empties a buffer, keeping it only when it is small.
func shrink(b []byte) []byte {
	if cap(b) > 64<<10 {
		return nil
	}
	return b[:0]
}
