package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"

	"github.com/mcp-keys/mcp-keys/internal/tools"
)

// rewriteOutOfRange returns line with each number literal in a tools/call's
// params.arguments that a float64 cannot hold (1e400) replaced by
// tools.OutOfRangeNumber(literal). Any other line, and any line it cannot
// read, is returned as it is.
//
// Why: mcp-go decodes the arguments into float64 (an `any`) before a
// handler runs, and fails the whole call with a JSON-RPC error on such a
// number, so the refusal would bypass the tools' argument checks, their
// isError result and the audit log. The rewrite touches nothing else: the
// marker is refused by every argument decoder as the number it stands for.
// It reads keys as encoding/json (and so mcp-go) does — case-insensitively,
// every duplicate — so it rewrites whatever mcp-go would decode.
func rewriteOutOfRange(line []byte) []byte {
	if !mayOverflow(line) {
		return line
	}
	var method string
	var spans [][2]int // arguments values in line
	ok := walkObject(line, 0, func(key string, start, end int) bool {
		switch {
		case equalFold(key, "method"):
			method = ""
			_ = json.Unmarshal(line[start:end], &method)
		case equalFold(key, "params") && line[start] == '{':
			return walkObject(line[start:end], start, func(key string, s, e int) bool {
				if equalFold(key, "arguments") {
					spans = append(spans, [2]int{s, e})
				}
				return true
			})
		}
		return true
	})
	if !ok || method != "tools/call" || len(spans) == 0 {
		return line
	}
	var out []byte
	last := 0
	for _, sp := range spans {
		nums, ok := overflowingNumbers(line[sp[0]:sp[1]])
		if !ok {
			return line
		}
		for _, n := range nums {
			s, e := sp[0]+n[0], sp[0]+n[1]
			out = append(out, line[last:s]...)
			out = append(out, tools.OutOfRangeNumber(line[s:e])...)
			last = e
		}
	}
	if out == nil {
		return line
	}
	return append(out, line[last:]...)
}

// mayOverflow is a cheap test that line holds a number literal a float64
// might not hold: one needs an exponent (a digit then e or E) or at least
// 309 digits in a row.
func mayOverflow(line []byte) bool {
	run := 0
	for _, c := range line {
		switch {
		case c >= '0' && c <= '9':
			if run++; run >= 309 {
				return true
			}
		case (c == 'e' || c == 'E') && run > 0:
			return true
		default:
			run = 0
		}
	}
	return false
}

// walkObject calls fn with each member's key and the span of its value
// (offsets in doc plus base) when doc is one JSON object; fn returning false
// stops the walk. It reports whether doc was read to its end.
func walkObject(doc []byte, base int, fn func(key string, start, end int) bool) bool {
	dec := json.NewDecoder(bytes.NewReader(doc))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		tok, err := dec.Token()
		key, isKey := tok.(string)
		if err != nil || !isKey {
			return false
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return false
		}
		end := int(dec.InputOffset())
		if !fn(key, base+end-len(value), base+end) {
			return false
		}
	}
	_, err := dec.Token()
	return err == nil
}

// overflowingNumbers lists the spans of the number literals in doc that a
// float64 cannot hold, in order, and reports whether doc could be read.
func overflowingNumbers(doc []byte) ([][2]int, bool) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var spans [][2]int
	for {
		tok, err := dec.Token()
		if err != nil {
			return spans, errors.Is(err, io.EOF)
		}
		n, ok := tok.(json.Number)
		if !ok {
			continue
		}
		// The test encoding/json applies when decoding into float64.
		if _, err := strconv.ParseFloat(string(n), 64); err != nil {
			end := int(dec.InputOffset())
			spans = append(spans, [2]int{end - len(n), end})
		}
	}
}

// equalFold matches a key as encoding/json matches a field name.
func equalFold(key, name string) bool { return bytes.EqualFold([]byte(key), []byte(name)) }
