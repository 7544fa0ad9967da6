package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// eofDrain holds back the end of standard input until every request read
// before it has been answered (or a deadline passes, or ctx ends). mcp-go's
// StdioServer cancels calls in flight the moment its input ends, so without
// it `printf '...' | mcp-keys serve` would get only some of its answers.
//
// It counts request lines (a method and an id) going in and response lines
// (an id and no method) going out. It never delays or changes a byte of
// either stream.
type eofDrain struct {
	ctx     context.Context
	maxWait time.Duration

	mu      sync.Mutex
	pending int
	inTail  []byte // an incomplete line read so far
	outTail []byte // an incomplete line written so far
}

// newEOFDrain returns a drain that waits at most maxWait at end of input.
func newEOFDrain(ctx context.Context, maxWait time.Duration) *eofDrain {
	return &eofDrain{ctx: ctx, maxWait: maxWait}
}

// rpcShape is what the drain reads of a message.
type rpcShape struct {
	ID     json.RawMessage `json:"id"`
	Method *string         `json:"method"`
}

// classify reports whether a line is a request (+1), a response (-1) or
// neither (0).
func classify(line []byte) int {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' || !bytes.Contains(line, []byte(`"id"`)) {
		return 0
	}
	var m rpcShape
	if json.Unmarshal(line, &m) != nil || len(m.ID) == 0 || string(m.ID) == "null" {
		return 0
	}
	if m.Method != nil {
		return 1
	}
	return -1
}

// count updates the pending count with the complete lines of p (after
// tail): on input (kind +1) each request adds one; on output (kind -1) each
// response takes one away.
func (d *eofDrain) count(tail *[]byte, p []byte, kind int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			*tail = append(*tail, p...)
			return
		}
		line := p[:i]
		if len(*tail) > 0 {
			line = append(*tail, line...)
			*tail = (*tail)[:0]
		}
		if classify(line) == kind {
			d.pending += kind
		}
		p = p[i+1:]
	}
}

// reader wraps standard input.
func (d *eofDrain) reader(in io.Reader) io.Reader { return drainReader{d: d, in: in} }

// writer wraps standard output.
func (d *eofDrain) writer(out io.Writer) io.Writer { return drainWriter{d: d, out: out} }

type drainReader struct {
	d  *eofDrain
	in io.Reader
}

func (r drainReader) Read(p []byte) (int, error) {
	n, err := r.in.Read(p)
	if n > 0 {
		r.d.count(&r.d.inTail, p[:n], +1)
		if err == io.EOF {
			return n, nil // hand over the data first; EOF comes on the next read
		}
	}
	if err == io.EOF {
		r.d.wait()
	}
	return n, err
}

type drainWriter struct {
	d   *eofDrain
	out io.Writer
}

func (w drainWriter) Write(p []byte) (int, error) {
	n, err := w.out.Write(p)
	if n > 0 {
		w.d.count(&w.d.outTail, p[:n], -1)
	}
	return n, err
}

// wait blocks until no request is unanswered, the deadline passes, or ctx
// ends.
func (d *eofDrain) wait() {
	deadline := time.NewTimer(d.maxWait)
	defer deadline.Stop()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		d.mu.Lock()
		idle := d.pending <= 0
		d.mu.Unlock()
		if idle {
			return
		}
		select {
		case <-d.ctx.Done():
			return
		case <-deadline.C:
			return
		case <-tick.C:
		}
	}
}
