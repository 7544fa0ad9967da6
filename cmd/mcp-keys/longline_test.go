package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// TestTransportOverlongLine: a line longer than maxLineBytes gets one
// JSON-RPC parse error (id null) in order with the other answers, its bytes
// are dropped as they arrive instead of being held, and the server goes on
// serving. A 64 MiB line without a newline, sent in 1 MiB writes, must not
// raise the server's peak RSS by 64 MiB (before the cap it cost about 4×
// its size).
func TestTransportOverlongLine(t *testing.T) {
	s := startServe(t, transportEnv(t), "--sandbox")
	s.initialize("2025-11-25")
	s.send(rpcRequest("warm", "ping", nil))
	s.readUntil(30*time.Second, `"warm"`)
	before := peakRSS(s.cmd.Process.Pid)
	if before == 0 {
		t.Skip("no /proc/<pid>/status VmHWM here")
	}

	const total, chunk = 64 << 20, 1 << 20
	// An opening that would be a valid request, so that a server that cut
	// the line short and answered the rest would show.
	head := `{"jsonrpc":"2.0","id":"long","method":"ping","params":{"pad":"`
	buf := bytes.Repeat([]byte("a"), chunk)
	copy(buf, head)
	for sent := 0; sent < total; sent += chunk {
		if _, err := s.stdin.Write(buf); err != nil {
			t.Fatalf("write after %d MiB: %v", sent>>20, err)
		}
		copy(buf, strings.Repeat("a", len(head)))
	}
	s.send("")                               // ends the long line
	s.send(rpcRequest("after", "ping", nil)) // must be answered
	lines, msgs := s.readLinesUntil(60*time.Second, "null", `"after"`)
	var order []string
	for i, m := range msgs {
		id := rpcID(m)
		order = append(order, id)
		switch id {
		case "null":
			if rpcCode(m) != rpcParseError {
				t.Errorf("the long line got %s, want a parse error (%d)", lines[i], rpcParseError)
			}
		case `"after"`:
			if rpcCode(m) != 0 {
				t.Errorf("the ping after the long line failed: %v", m["error"])
			}
		case `"long"`:
			t.Errorf("the long line was answered as a request: %.200s", lines[i])
		}
		if len(lines[i]) > 4096 {
			t.Errorf("an answer is %d bytes: the long line was echoed", len(lines[i]))
		}
	}
	if strings.Join(order, ",") != `null,"after"` {
		t.Errorf("answers in order %v, want the parse error then the ping", order)
	}
	after := peakRSS(s.cmd.Process.Pid)
	t.Logf("peak RSS (VmHWM) %d MiB before the 64 MiB line, %d MiB after", before>>10, after>>10)
	if grew := after - before; grew >= 64<<10 {
		t.Errorf("peak RSS grew by %d MiB for a 64 MiB line: the line was buffered", grew>>10)
	}

	// A line just over the cap that is valid JSON (a request followed by
	// blanks) is refused too; one at the cap is served.
	over := `{"jsonrpc":"2.0","id":"over","method":"ping"}`
	s.send(over + strings.Repeat(" ", maxLineBytes+1-len(over)))
	at := `{"jsonrpc":"2.0","id":"at","method":"ping"}`
	s.send(at + strings.Repeat(" ", maxLineBytes-len(at)))
	// The parse error is written by the read loop before it reads the next
	// line, so it comes before the answer to "at".
	lines, msgs = s.readLinesUntil(60*time.Second, `"at"`)
	refused := false
	for i, m := range msgs {
		switch rpcID(m) {
		case "null":
			refused = refused || rpcCode(m) == rpcParseError
		case `"over"`:
			t.Errorf("a line of %d bytes was served: %.200s", maxLineBytes+1, lines[i])
		case `"at"`:
			if rpcCode(m) != 0 {
				t.Errorf("a line of exactly %d bytes was refused: %.200s", maxLineBytes, lines[i])
			}
		}
	}
	if !refused {
		t.Errorf("no parse error for a line of %d bytes", maxLineBytes+1)
	}
	if _, code := s.drainAndWait(); code != 0 {
		t.Errorf("exit code on EOF = %d, want 0", code)
	}
	checkNoCrash(t, s.stderr.String())

}

// TestLineFilter: lines up to max pass unchanged whatever the read sizes; a
// longer one becomes overlongLine exactly once and the lines around it are
// kept, in order.
func TestLineFilter(t *testing.T) {
	const max = 8
	tests := []struct {
		name, in, want string
		drops          int
	}{
		{"lines pass", "a\nbb\n", "a\nbb\n", 0},
		{"at the limit", "12345678\n", "12345678\n", 0},
		{"one over", "123456789\nok\n", overlongLine + "ok\n", 1},
		{"far over, then more", strings.Repeat("x", 100) + "\n{}\n" + strings.Repeat("y", 9) + "\n", overlongLine + "{}\n" + overlongLine, 2},
		{"empty lines", "\n\n", "\n\n", 0},
		{"unterminated last line passes", "a\nbc", "a\nbc", 0},
		{"unterminated over-long last line", "a\n" + strings.Repeat("z", 50), "a\n" + overlongLine, 1},
		{"CRLF counts the CR", "1234567\r\n12345678\r\n", "1234567\r\n" + overlongLine, 1},
	}
	readers := map[string]func(string) io.Reader{
		"whole":    func(s string) io.Reader { return strings.NewReader(s) },
		"bytewise": func(s string) io.Reader { return iotest.OneByteReader(strings.NewReader(s)) },
		"data+EOF": func(s string) io.Reader { return iotest.DataErrReader(strings.NewReader(s)) },
	}
	for _, tc := range tests {
		for rname, mk := range readers {
			t.Run(tc.name+"/"+rname, func(t *testing.T) {
				drops := 0
				f := newLineFilter(mk(tc.in), max, nil, func() { drops++ })
				got, err := io.ReadAll(iotest.OneByteReader(f))
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != tc.want || drops != tc.drops {
					t.Errorf("got %q (%d drops), want %q (%d)", got, drops, tc.want, tc.drops)
				}
			})
		}
	}
	// rewrite sees each complete line without its newline.
	f := newLineFilter(strings.NewReader("ab\ncd\nef"), max, bytes.ToUpper, nil)
	if got, _ := io.ReadAll(f); string(got) != "AB\nCD\nef" {
		t.Errorf("rewritten to %q", got)
	}
	// A read error is returned after the data before it.
	f = newLineFilter(io.MultiReader(strings.NewReader("a\n"), iotest.ErrReader(io.ErrUnexpectedEOF)), max, nil, nil)
	if got, err := io.ReadAll(f); string(got) != "a\n" || err != io.ErrUnexpectedEOF {
		t.Errorf("got %q, %v", got, err)
	}
}
