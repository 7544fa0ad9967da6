package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/tools"
)

// TestOutOfRangeNumberIsAToolError: a number no float64 holds (1e400) in a
// tool's arguments gets an isError result naming the argument, and the
// deciding tools audit the refusal, like any other bad argument. mcp-go
// alone answers such a call with a JSON-RPC error before any handler runs.
func TestOutOfRangeNumberIsAToolError(t *testing.T) {
	auditLog := filepath.Join(t.TempDir(), "audit.jsonl")
	s := startServe(t, baseEnv("MCP_KEYS_POLICY="+writePolicy(t, designPolicy), "MCP_KEYS_AUDIT_LOG="+auditLog), "--sandbox")
	s.initialize("2025-11-25")
	tests := []struct {
		id, line, want string
		audited        bool
	}{
		{"c1", `{"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"create_scoped_key","arguments":{"tag":"proj-a","expires_in_days":1e400}}}`,
			`"expires_in_days" must be a whole number from -2147483648 to 2147483647, got "1e400"`, true},
		{"c2", `{"jsonrpc":"2.0","id":"c2","method":"tools/call","params":{"name":"check_policy","arguments":{"tag":"proj-a","rate_limit_max":-1.5E+400}}}`,
			`"rate_limit_max" must be a whole number`, true},
		{"c3", `{"jsonrpc":"2.0","id":"c3","method":"tools/call","params":{"name":"list_tags","arguments":{"limit":` + strings.Repeat("9", 400) + `}}}`,
			`"limit" must be a whole number`, false},
		// Keys are matched as mcp-go (encoding/json) matches them.
		{"c4", `{"jsonrpc":"2.0","id":"c4","method":"tools/call","PARAMS":{"name":"list_keys","Arguments":{"include_disabled":1e999}}}`,
			`"include_disabled" must be true or false, got a number`, false},
		{"c5", `{"jsonrpc":"2.0","id":"c5","method":"tools/call","params":{"name":"create_scoped_key","arguments":{"tag":1e400}}}`,
			"Full Access", true},
	}
	for _, tc := range tests {
		s.send(tc.line)
		msgs := s.readUntil(30*time.Second, `"`+tc.id+`"`)
		answer := msgs[len(msgs)-1]
		res, _ := answer["result"].(map[string]any)
		if res == nil || res["isError"] != true {
			raw, _ := json.Marshal(answer)
			t.Errorf("%s: want an isError result, got %.300s", tc.id, raw)
			continue
		}
		if text := fmtContent(res); !strings.Contains(text, tc.want) {
			t.Errorf("%s: result %q does not say %q", tc.id, text, tc.want)
		}
	}
	if _, code := s.drainAndWait(); code != 0 {
		t.Errorf("exit code on EOF = %d, want 0", code)
	}
	checkNoCrash(t, s.stderr.String())

	data, err := os.ReadFile(auditLog)
	if err != nil {
		t.Fatal(err)
	}
	var denied int
	for _, line := range bytes.Split(bytes.TrimSpace(data), []byte("\n")) {
		var r struct{ Tool, Decision, Reason string }
		if err := json.Unmarshal(line, &r); err != nil {
			t.Fatalf("audit line: %v", err)
		}
		if r.Decision == "denied" {
			denied++
		}
	}
	want := 0
	for _, tc := range tests {
		if tc.audited {
			want++
		}
	}
	if denied != want {
		t.Errorf("%d denied audit records, want %d:\n%s", denied, want, data)
	}
}

// TestRewriteOutOfRange: only number literals a float64 cannot hold, and
// only inside a tools/call's params.arguments, are replaced.
func TestRewriteOutOfRange(t *testing.T) {
	m := func(lit string) string { return string(tools.OutOfRangeNumber([]byte(lit))) }
	nines := strings.Repeat("9", 309)
	tests := []struct{ name, in, want string }{
		{"plain call", `{"method":"tools/call","params":{"arguments":{"limit":5}}}`, ""},
		{"in range", `{"method":"tools/call","params":{"arguments":{"a":1e308,"b":-1.7e308,"c":1e-400}}}`, ""},
		{"one", `{"method":"tools/call","params":{"arguments":{"limit":1e400}}}`,
			`{"method":"tools/call","params":{"arguments":{"limit":` + m("1e400") + `}}}`},
		{"several, nested, with blanks", `{"method":"tools/call","params":{"name":"x", "arguments" : { "a" : [ 1, -2E+999 ] , "b":{"c":` + nines + `} } }}`,
			`{"method":"tools/call","params":{"name":"x", "arguments" : { "a" : [ 1, ` + m("-2E+999") + ` ] , "b":{"c":` + m(nines) + `} } }}`},
		{"method after params", `{"params":{"arguments":{"x":1e400}},"method":"tools/call"}`,
			`{"params":{"arguments":{"x":` + m("1e400") + `}},"method":"tools/call"}`},
		{"keys folded", `{"METHOD":"tools/call","Params":{"ARGUMENTſ":{"x":1e400}}}`,
			`{"METHOD":"tools/call","Params":{"ARGUMENTſ":{"x":` + m("1e400") + `}}}`},
		{"every duplicate", `{"method":"tools/call","params":{"arguments":{"x":1e400},"arguments":{"y":2e400}},"params":{"arguments":[3e400]}}`,
			`{"method":"tools/call","params":{"arguments":{"x":` + m("1e400") + `},"arguments":{"y":` + m("2e400") + `}},"params":{"arguments":[` + m("3e400") + `]}}`},
		{"the last method counts", `{"method":"tools/call","method":"ping","params":{"arguments":{"x":1e400}}}`, ""},
		{"not tools/call", `{"method":"prompts/get","params":{"arguments":{"x":1e400}}}`, ""},
		{"outside the arguments", `{"id":1e400,"method":"tools/call","params":{"name":"x","_meta":{"n":1e400},"arguments":{}}}`, ""},
		{"a string that looks like one", `{"method":"tools/call","params":{"arguments":{"x":"1e400"}}}`, ""},
		{"not JSON", `{"method":"tools/call","params":{"arguments":{"x":1e400}`, ""},
		{"not an object", `["tools/call",1e400]`, ""},
	}
	for _, tc := range tests {
		want := tc.want
		if want == "" {
			want = tc.in
		}
		if got := string(rewriteOutOfRange([]byte(tc.in))); got != want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, want)
		}
	}
}

// FuzzRewriteOutOfRange: the rewrite never breaks a line mcp-go accepts,
// and the same arguments reach the tool from it. (A changed line may still
// be refused for a number outside the arguments, e.g. in _meta.)
func FuzzRewriteOutOfRange(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tags","arguments":{"limit":1e400}}}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_tags","arguments":{"limit":5}}}`,
		`{"method":"tools/call","PARAMS":{"Arguments":[1,{"a":-9e999}]}}`,
		`{"method":"tools/call","params":{"arguments":{"x":1e400}},"params":{"arguments":{}}}`,
		`{"method":"tools/call","params":{"arguments":{"x":"\u0000"}}}`,
		`{"id":1e400,"method":"tools/call"}`,
		`{"method":"tools/call","params":{"_meta":{"n":1e400},"arguments":{"x":1e400}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		out := rewriteOutOfRange(line)
		var before, after mcp.CallToolRequest
		errBefore := json.Unmarshal(line, &before)
		if bytes.Equal(out, line) {
			return
		}
		errAfter := json.Unmarshal(out, &after)
		if errAfter != nil && errBefore == nil {
			t.Fatalf("the rewrite broke a line mcp-go accepted: %v\n in %q\nout %q", errAfter, line, out)
		}
		if errBefore == nil && !bytes.Equal(before.Params.RawArguments, after.Params.RawArguments) {
			t.Fatalf("a line mcp-go accepted reaches the tool changed:\n in %q\nout %q", line, out)
		}
	})
}
