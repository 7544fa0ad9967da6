package main

// Transport reliability tests: the built binary is driven over its stdio
// with malformed lines, lines just under the 4 MiB cap, unknown methods,
// calls before initialize, 1,000 pipelined calls and an abrupt end of input
// (over-long lines: longline_test.go). In every
// case the process must stay up, every line it writes on stdout must be one
// JSON-RPC 2.0 message, and end of input must be a clean exit (code 0).

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// JSON-RPC error codes the tests expect.
const (
	rpcParseError     = -32700
	rpcInvalidRequest = -32600
	rpcMethodNotFound = -32601
	rpcInvalidParams  = -32602
)

// checkRPCLine fails the test unless line is exactly one JSON-RPC 2.0
// message: an object with "jsonrpc":"2.0" that is either a request or
// notification (a method) or a response (an id and exactly one of result and
// error, an error having an integer code and a string message).
func checkRPCLine(t *testing.T, line string) map[string]any {
	t.Helper()
	var msg map[string]any
	dec := json.NewDecoder(strings.NewReader(line))
	if err := dec.Decode(&msg); err != nil || dec.More() || msg == nil {
		t.Fatalf("stdout line is not one JSON object (len %d): %.200q", len(line), line)
	}
	if msg["jsonrpc"] != "2.0" {
		t.Fatalf("stdout line is not JSON-RPC 2.0: %.200q", line)
	}
	if _, ok := msg["method"].(string); ok {
		return msg
	}
	_, hasID := msg["id"]
	_, hasResult := msg["result"]
	rpcErr, hasErr := msg["error"].(map[string]any)
	if !hasID || hasResult == hasErr {
		t.Fatalf("stdout line is neither a request nor a response: %.200q", line)
	}
	if hasErr {
		code, ok := rpcErr["code"].(float64)
		if _, isStr := rpcErr["message"].(string); !ok || code != float64(int(code)) || !isStr {
			t.Fatalf("malformed JSON-RPC error object: %.200q", line)
		}
	}
	return msg
}

// rpcID is the canonical JSON of a message's id ("null" when absent).
func rpcID(msg map[string]any) string {
	b, _ := json.Marshal(msg["id"])
	return string(b)
}

// rpcCode is the error code of a response, or 0 when it is not an error.
func rpcCode(msg map[string]any) int {
	e, _ := msg["error"].(map[string]any)
	c, _ := e["code"].(float64)
	return int(c)
}

// readUntil reads stdout lines, each checked as JSON-RPC, until a response
// carrying every one of ids (canonical JSON) has been seen. It returns every
// message read, in order.
func (s *stdioSession) readUntil(timeout time.Duration, ids ...string) []map[string]any {
	s.t.Helper()
	_, msgs := s.readLinesUntil(timeout, ids...)
	return msgs
}

// readLinesUntil is readUntil that also returns the raw lines.
func (s *stdioSession) readLinesUntil(timeout time.Duration, ids ...string) ([]string, []map[string]any) {
	s.t.Helper()
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var lines []string
	var msgs []map[string]any
	deadline := time.After(timeout)
	for len(want) > 0 {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("stdout closed while waiting for %d response(s); stderr tail:\n%s", len(want), tail(s.stderr.String(), 2000))
			}
			msg := checkRPCLine(s.t, line)
			lines, msgs = append(lines, line), append(msgs, msg)
			if _, isReq := msg["method"]; !isReq {
				delete(want, rpcID(msg))
			}
		case <-deadline:
			s.t.Fatalf("no response to %d request(s) within %v (still waiting for %v)", len(want), timeout, keysOf(want))
		}
	}
	return lines, msgs
}

// drainAndWait closes stdin, reads stdout to its end (checking every line),
// and returns the messages read and the exit code.
func (s *stdioSession) drainAndWait() ([]map[string]any, int) {
	s.t.Helper()
	_ = s.stdin.Close()
	var got []map[string]any
	deadline := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				return got, s.wait()
			}
			got = append(got, checkRPCLine(s.t, line))
		case <-deadline:
			s.t.Fatal("stdout not closed 30 s after stdin was")
		}
	}
}

// checkNoCrash fails when stderr shows a Go panic or a fatal runtime error.
func checkNoCrash(t *testing.T, stderr string) {
	t.Helper()
	for _, sign := range []string{"panic:", "goroutine ", "fatal error:", "panic recovered"} {
		if strings.Contains(stderr, sign) {
			t.Errorf("stderr shows %q:\n%s", sign, tail(stderr, 3000))
		}
	}
}

// tail is the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// keysOf lists a set's members (for messages).
func keysOf(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// rpcRequest is one JSON-RPC request line.
func rpcRequest(id any, method string, params any) string {
	m := map[string]any{"jsonrpc": "2.0", "id": id, "method": method}
	if params != nil {
		m["params"] = params
	}
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// toolCall is one tools/call request line.
func toolCall(id any, tool string, args map[string]any) string {
	return rpcRequest(id, "tools/call", map[string]any{"name": tool, "arguments": args})
}

// transportEnv runs serve --sandbox under the design's example policy, with
// an audit log of the test's own.
func transportEnv(t *testing.T) []string {
	return baseEnv("MCP_KEYS_POLICY="+writePolicy(t, designPolicy),
		"MCP_KEYS_AUDIT_LOG="+filepath.Join(t.TempDir(), "audit.jsonl"))
}

func TestTransportMalformedLines(t *testing.T) {
	deep := func(open, mid, close string, n int) string {
		return strings.Repeat(open, n) + mid + strings.Repeat(close, n)
	}
	anyAnswer := []int(nil) // any error code, or a result
	tests := []struct {
		name string
		line string
		// id is the canonical JSON id of the answer the line must get; ""
		// means it may get no answer at all.
		id string
		// codes are the error codes the answer may carry; nil allows any
		// code, or a result.
		codes []int
	}{
		{"empty line", ``, "", []int{rpcParseError}},
		{"whitespace only", "  \t ", "", []int{rpcParseError}},
		{"lone brace", `{`, "null", []int{rpcParseError}},
		{"truncated request", `{"jsonrpc":"2.0","id":"t1","method":`, "null", []int{rpcParseError}},
		{"plain text", `hello, server`, "null", []int{rpcParseError}},
		{"invalid UTF-8", "\xff\xfe{\"jsonrpc\":\"2.0\"}", "null", []int{rpcParseError}},
		{"NUL bytes", "\x00\x00\x00", "null", []int{rpcParseError}},
		{"trailing garbage", `{"jsonrpc":"2.0","id":"t2","method":"ping"} x`, "null", []int{rpcParseError}},
		{"two messages on one line", `{"jsonrpc":"2.0","id":"t3","method":"ping"}{"jsonrpc":"2.0","id":"t4","method":"ping"}`, "null", []int{rpcParseError}},
		{"JSON null", `null`, "null", []int{rpcParseError, rpcInvalidRequest}},
		{"JSON number", `42`, "null", []int{rpcParseError, rpcInvalidRequest}},
		{"JSON string", `"ping"`, "null", []int{rpcParseError, rpcInvalidRequest}},
		{"empty batch", `[]`, "null", []int{rpcParseError, rpcInvalidRequest}},
		{"batch", `[{"jsonrpc":"2.0","id":"t5","method":"ping"}]`, "null", []int{rpcParseError, rpcInvalidRequest}},
		{"deep arrays", deep("[", "", "]", 100000), "null", []int{rpcParseError, rpcInvalidRequest}},
		{"deep objects", deep(`{"a":`, "1", "}", 20000), "null", []int{rpcParseError, rpcInvalidRequest}},
		{"id out of float range", `{"jsonrpc":"2.0","id":1e400,"method":"ping"}`, "null", []int{rpcParseError, rpcInvalidRequest}},
		{"JSON-RPC 1.0", `{"jsonrpc":"1.0","id":"t6","method":"ping"}`, `"t6"`, []int{rpcInvalidRequest}},
		{"no jsonrpc member", `{"id":"t7","method":"ping"}`, `"t7"`, []int{rpcInvalidRequest}},
		{"params a string", `{"jsonrpc":"2.0","id":"t8","method":"tools/call","params":"x"}`, `"t8"`, []int{rpcInvalidRequest, rpcInvalidParams}},
		{"params an array", `{"jsonrpc":"2.0","id":"t9","method":"tools/list","params":[]}`, `"t9"`, []int{rpcInvalidRequest, rpcInvalidParams}},
		{"initialize params a string", `{"jsonrpc":"2.0","id":"t10","method":"initialize","params":"x"}`, `"t10"`, []int{rpcInvalidRequest, rpcInvalidParams}},
		{"tools/call without params", `{"jsonrpc":"2.0","id":"t11","method":"tools/call"}`, `"t11"`, []int{rpcInvalidRequest, rpcInvalidParams}},
		{"arguments an array", `{"jsonrpc":"2.0","id":"t12","method":"tools/call","params":{"name":"list_tags","arguments":[1]}}`, `"t12"`, anyAnswer},
		{"unknown tool", `{"jsonrpc":"2.0","id":"t13","method":"tools/call","params":{"name":"mint_full_access_key","arguments":{}}}`, `"t13"`, []int{rpcInvalidParams}},
		{"object id", `{"jsonrpc":"2.0","id":{},"method":"ping"}`, "", anyAnswer},
		{"a stray result", `{"jsonrpc":"2.0","id":"t14","result":{}}`, "", anyAnswer},
		{"a stray error", `{"jsonrpc":"2.0","id":"t15","error":{"code":1,"message":"x"}}`, "", anyAnswer},
	}
	s := startServe(t, transportEnv(t), "--sandbox")
	s.initialize("2025-11-25")
	for i, tc := range tests {
		ping := strconv.Quote("after-" + strconv.Itoa(i))
		s.send(tc.line)
		s.send(rpcRequest("after-"+strconv.Itoa(i), "ping", nil))
		wait := []string{ping}
		if tc.id != "" && tc.id != "null" {
			wait = append(wait, tc.id)
		}
		msgs := s.readUntil(30*time.Second, wait...)
		var answer map[string]any
		for _, m := range msgs {
			if rpcID(m) == ping {
				if rpcCode(m) != 0 {
					t.Errorf("%s: the following ping failed: %v", tc.name, m["error"])
				}
				continue
			}
			if tc.id == "" || rpcID(m) == tc.id {
				answer = m
			}
		}
		switch {
		case answer == nil && tc.id != "":
			t.Errorf("%s: no answer with id %s (got %d other lines)", tc.name, tc.id, len(msgs)-1)
		case answer != nil && tc.codes != nil && !containsInt(tc.codes, rpcCode(answer)):
			t.Errorf("%s: answer %v, want an error with a code in %v", tc.name, answer, tc.codes)
		}
	}
	// Late answers to the lines that may go unanswered are checked as
	// JSON-RPC by drainAndWait.
	if _, code := s.drainAndWait(); code != 0 {
		t.Errorf("exit code on EOF = %d, want 0", code)
	}
	checkNoCrash(t, s.stderr.String())
}

// containsInt reports whether x is in xs.
func containsInt(xs []int, x int) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// peakRSS is the process's peak resident set (VmHWM) in KiB, or 0 where
// /proc is not available.
func peakRSS(pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			return n
		}
	}
	return 0
}

func TestTransportHugeLine(t *testing.T) {
	// Just under maxLineBytes once wrapped in a request (longer lines are
	// refused whole: TestTransportOverlongLine).
	const size = maxLineBytes - 1024
	pad := strings.Repeat("a", size)
	tests := []struct {
		name string
		line string
		id   string // canonical JSON id of the answer
		// check inspects the answer.
		check func(t *testing.T, msg map[string]any, raw int)
	}{
		{"unterminated string", `{"jsonrpc":"2.0","id":"h1","params":{"x":"` + pad, "null", func(t *testing.T, msg map[string]any, _ int) {
			if rpcCode(msg) != rpcParseError {
				t.Errorf("answer %v, want a parse error", msg)
			}
		}},
		{"ping with a huge param", rpcRequest("h2", "ping", map[string]any{"pad": pad}), `"h2"`, func(t *testing.T, msg map[string]any, _ int) {
			if rpcCode(msg) != 0 {
				t.Errorf("ping failed: %v", msg["error"])
			}
		}},
		{"check_policy with a huge tag", toolCall("h3", "check_policy", map[string]any{"tag": pad}), `"h3"`, func(t *testing.T, msg map[string]any, raw int) {
			res, _ := msg["result"].(map[string]any)
			if res == nil {
				t.Fatalf("protocol error, want a tool result: %v", msg["error"])
			}
			// A refusal quotes at most 80 characters of any input.
			if raw > 16<<10 {
				t.Errorf("answer is %d bytes: the huge input was echoed", raw)
			}
		}},
		{"create_scoped_key with a huge name", toolCall("h4", "create_scoped_key", map[string]any{"tag": "proj-huge", "name": pad}), `"h4"`, func(t *testing.T, msg map[string]any, raw int) {
			res, _ := msg["result"].(map[string]any)
			if res == nil || res["isError"] != true {
				t.Errorf("want an isError result, got %.300s", maskKeys(fmt.Sprint(msg)))
			}
			if raw > 16<<10 {
				t.Errorf("answer is %d bytes: the huge input was echoed", raw)
			}
		}},
	}
	s := startServe(t, transportEnv(t), "--sandbox")
	s.initialize("2025-11-25")
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s.send(tc.line)
			ping := "after-" + strconv.Itoa(i)
			s.send(rpcRequest(ping, "ping", nil))
			wait := []string{strconv.Quote(ping)}
			if tc.id != "null" {
				wait = append(wait, tc.id)
			}
			var answer map[string]any
			for _, m := range s.readUntil(60*time.Second, wait...) {
				if rpcID(m) == tc.id {
					answer = m
				}
			}
			if answer == nil {
				t.Fatalf("no answer with id %s", tc.id)
			}
			raw, _ := json.Marshal(answer)
			tc.check(t, answer, len(raw))
		})
	}
	hwm := peakRSS(s.cmd.Process.Pid)
	t.Logf("peak RSS (VmHWM) after %d lines of ~4 MiB: %d MiB", len(tests), hwm>>10)
	if hwm > 1<<20 {
		t.Errorf("peak RSS %d MiB for ~4 MiB lines", hwm>>10)
	}
	if _, code := s.drainAndWait(); code != 0 {
		t.Errorf("exit code on EOF = %d, want 0", code)
	}
	checkNoCrash(t, s.stderr.String())
}

func TestTransportUnknownMethods(t *testing.T) {
	methods := []string{
		"nosuch", "tools/nosuch", "TOOLS/LIST", "tools/list/", "", "rpc.discover",
		"sampling/createMessage", "elicitation/create", "roots/list",
		"prompts/list", "logging/setLevel", "completion/complete", "resources/subscribe",
		"keys/create", strings.Repeat("m", 4096),
	}
	s := startServe(t, transportEnv(t), "--sandbox")
	s.initialize("2025-11-25")
	for i, m := range methods {
		id := "u" + strconv.Itoa(i)
		s.send(rpcRequest(id, m, map[string]any{}))
		msgs := s.readUntil(30*time.Second, strconv.Quote(id))
		got := msgs[len(msgs)-1]
		if rpcCode(got) != rpcMethodNotFound {
			t.Errorf("method %.40q: got %.300v, want error %d", m, got, rpcMethodNotFound)
		}
		if raw, _ := json.Marshal(got); len(raw) > 1024+len(m) {
			t.Errorf("method %.40q: answer of %d bytes", m, len(raw))
		}
	}
	// An unknown notification gets no answer, and the server goes on.
	s.send(`{"jsonrpc":"2.0","method":"notifications/nosuch"}`)
	if r := s.request("ping", nil); rpcCode(r) != 0 {
		t.Errorf("ping after an unknown notification: %v", r)
	}
	if _, code := s.drainAndWait(); code != 0 {
		t.Errorf("exit code on EOF = %d, want 0", code)
	}
	checkNoCrash(t, s.stderr.String())
}

// TestTransportBeforeInitialize sends requests without the legacy
// initialize handshake. mcp-go v1.2.1 also speaks the stateless 2026-07-28
// protocol, which has no handshake, so it serves them; what matters here is
// that each gets a JSON-RPC response with its id and nothing crashes.
func TestTransportBeforeInitialize(t *testing.T) {
	s := startServe(t, transportEnv(t), "--sandbox")
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	calls := []struct {
		method string
		params any
	}{
		{"tools/call", map[string]any{"name": "list_tags", "arguments": map[string]any{}}},
		{"tools/call", map[string]any{"name": "check_policy", "arguments": map[string]any{"tag": "proj-search"}}},
		{"tools/call", map[string]any{"name": "create_scoped_key", "arguments": map[string]any{"tag": "proj-prod-eu"}}},
		{"tools/list", map[string]any{}},
		{"resources/read", map[string]any{"uri": "mcp-keys://policy"}},
		{"ping", nil},
	}
	for _, c := range calls {
		r := s.request(c.method, c.params)
		outcome := "result"
		if e, ok := r["error"].(map[string]any); ok {
			outcome = fmt.Sprintf("error %v %v", e["code"], e["message"])
		} else if res, _ := r["result"].(map[string]any); res["isError"] == true {
			outcome = "isError result"
		}
		t.Logf("%s before initialize: %s", c.method, outcome)
	}
	// The handshake still works afterwards.
	if init := s.initialize("2025-11-25"); init["result"] == nil {
		t.Errorf("initialize after calls: %v", init)
	}
	if _, code := s.drainAndWait(); code != 0 {
		t.Errorf("exit code on EOF = %d, want 0", code)
	}
	checkNoCrash(t, s.stderr.String())
}

func TestTransportPipelinedCalls(t *testing.T) {
	const n = 1000
	tags := []string{"proj-search", "proj-prod-eu", "user_alex", "team:search", "*", "nope"}
	var buf strings.Builder
	for i := 1; i <= n; i++ {
		switch {
		case i%3 == 0:
			buf.WriteString(toolCall(i, "list_tags", map[string]any{"limit": 1 + i%10}))
		case i%3 == 1:
			buf.WriteString(toolCall(i, "check_policy", map[string]any{"tag": tags[i%len(tags)]}))
		default:
			buf.WriteString(toolCall(i, "check_policy", map[string]any{"tag": tags[i%len(tags)], "expires_in_days": i % 120}))
		}
		buf.WriteByte('\n')
	}
	s := startServe(t, transportEnv(t), "--sandbox")
	s.initialize("2025-11-25")
	// Write everything without waiting for a single answer; read meanwhile.
	written := make(chan error, 1)
	go func() {
		_, err := io.WriteString(s.stdin, buf.String())
		written <- err
	}()
	seen := make(map[int]int, n)
	deadline := time.After(120 * time.Second)
	for len(seen) < n {
		select {
		case line, ok := <-s.lines:
			if !ok {
				t.Fatalf("stdout closed after %d responses; stderr tail:\n%s", len(seen), tail(s.stderr.String(), 2000))
			}
			msg := checkRPCLine(t, line)
			id, ok := msg["id"].(float64)
			if !ok || id < 1 || id > n || id != float64(int(id)) {
				t.Fatalf("response with an id that was never sent: %.200q", line)
			}
			seen[int(id)]++
			if seen[int(id)] > 1 {
				t.Fatalf("two responses for id %d", int(id))
			}
			res, _ := msg["result"].(map[string]any)
			if res == nil || res["isError"] == true {
				t.Errorf("id %d: not a successful tool result: %.300q", int(id), line)
			}
		case <-deadline:
			t.Fatalf("only %d of %d responses arrived", len(seen), n)
		}
	}
	if err := <-written; err != nil {
		t.Fatalf("write: %v", err)
	}
	msgs, code := s.drainAndWait()
	if len(msgs) != 0 {
		t.Errorf("%d extra message(s) after %d responses", len(msgs), n)
	}
	if code != 0 {
		t.Errorf("exit code on EOF = %d, want 0", code)
	}
	checkNoCrash(t, s.stderr.String())
}

func TestTransportEOFDuringCalls(t *testing.T) {
	var b strings.Builder
	for i := 1; i <= 20; i++ {
		args := map[string]any{}
		tool := []string{"list_tags", "list_keys", "check_policy"}[i%3]
		if tool == "check_policy" {
			args["tag"] = "proj-search"
		}
		b.WriteString(toolCall("c"+strconv.Itoa(i), tool, args) + "\n")
	}
	twentyCalls := b.String()
	tests := []struct {
		name  string
		input string
		// maxAnswers is how many responses there can be at most.
		maxAnswers int
	}{
		{"create then EOF", toolCall("c1", "create_scoped_key", map[string]any{"tag": "proj-eof"}) + "\n", 1},
		{"list then EOF", toolCall("c1", "list_tags", map[string]any{}) + "\n", 1},
		{"twenty calls then EOF", twentyCalls, 20},
		{"request without newline", rpcRequest("c1", "ping", nil), 1},
		{"half a request", `{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"list_t`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for round := 0; round < 3; round++ {
				s := startServe(t, transportEnv(t), "--sandbox")
				s.initialize("2025-11-25")
				if _, err := io.WriteString(s.stdin, tc.input); err != nil {
					t.Fatal(err)
				}
				msgs, code := s.drainAndWait()
				if code != 0 {
					t.Errorf("exit code %d, want 0; stderr tail:\n%s", code, tail(s.stderr.String(), 2000))
				}
				if len(msgs) > tc.maxAnswers {
					t.Errorf("%d answers to %d request(s)", len(msgs), tc.maxAnswers)
				}
				ids := map[string]bool{}
				for _, m := range msgs {
					if ids[rpcID(m)] {
						t.Errorf("two answers with id %s", rpcID(m))
					}
					ids[rpcID(m)] = true
				}
				if round == 0 {
					t.Logf("%d of at most %d request(s) answered before exit", len(msgs), tc.maxAnswers)
				}
				checkNoCrash(t, s.stderr.String())
			}
		})
	}
}

// TestServeAnswersRequestsReadBeforeEOF: requests written just before stdin
// closes are all answered (mcp-go's StdioServer alone would cancel them at
// EOF; serve holds the EOF back until they are answered).
func TestServeAnswersRequestsReadBeforeEOF(t *testing.T) {
	for round := 0; round < 5; round++ {
		s := startServe(t, transportEnv(t), "--sandbox")
		var in strings.Builder
		in.WriteString(rpcRequest("p", "ping", nil) + "\n")
		for i := 0; i < 10; i++ {
			in.WriteString(toolCall("l"+strconv.Itoa(i), "list_tags", map[string]any{}) + "\n")
		}
		if _, err := io.WriteString(s.stdin, in.String()); err != nil {
			t.Fatal(err)
		}
		msgs, code := s.drainAndWait()
		if code != 0 {
			t.Errorf("exit code %d", code)
		}
		if len(msgs) != 11 {
			t.Errorf("round %d: %d of 11 requests answered", round, len(msgs))
		}
		for _, m := range msgs {
			if res, _ := m["result"].(map[string]any); res["isError"] == true {
				t.Errorf("round %d: id %s failed: %.200v", round, rpcID(m), res["content"])
			}
		}
	}
}
