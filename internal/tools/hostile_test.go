// Tests of the tools against hostile arguments. The corpus in
// testdata/hostile_args.json holds attacks on every tool's arguments: Full
// Access asked for in every shape, tag tricks (case, white space, NUL,
// look-alikes, fullwidth and zero-width characters, percent-encoding, path
// segments, globs, over-long tags), limits out of range or of the wrong type,
// ids with path characters, prompt injection in names, and raw JSON texts
// (duplicate and case-variant keys) that a Go map cannot express. Each case
// is sent as raw bytes through the server's JSON-RPC entry point, must get
// the outcome the corpus names, and every create case is also dry-run
// through check_policy, which must agree. Afterwards every key the sandbox
// minted must be a scoped key for a tag the policy allows.
package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// hostilePolicy is the policy the corpus's expectations are written
// against: the design's example (designPolicy in helpers_test.go).
const hostilePolicy = designPolicy

// hostileCase is one attack from testdata/hostile_args.json.
type hostileCase struct {
	Name string `json:"name"`
	Tool string `json:"tool"`
	// Args is the arguments value as written, or, when it is a JSON
	// string, the raw text of the arguments (for duplicate keys, escapes
	// and values that are not objects). Placeholders are expanded before
	// sending: {{operator_id}}, {{full_id}}, {{console_id}} and
	// {{minted_id}} name keys of the sandbox, {{rep N S}} is S repeated N
	// times.
	Args json.RawMessage `json:"args"`
	// Expect is "refuse" (an isError result, or check_policy's allowed:
	// false), "allow" (a success), or "safe" (either, as long as every
	// invariant holds).
	Expect string `json:"expect"`
	// Contains, if set, must appear in the answer's text.
	Contains string `json:"contains,omitempty"`
	// Note says why a case is allowed or what it probes.
	Note string `json:"note,omitempty"`
}

// loadHostileCases reads and checks the corpus.
func loadHostileCases(t *testing.T) []hostileCase {
	t.Helper()
	data, err := os.ReadFile("testdata/hostile_args.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []hostileCase
	if err := json.Unmarshal(data, &cases); err != nil {
		t.Fatalf("hostile_args.json: %v", err)
	}
	names := map[string]bool{}
	for i, c := range cases {
		switch {
		case c.Name == "" || names[c.Name]:
			t.Fatalf("case %d: missing or duplicate name %q", i, c.Name)
		case c.Expect != "refuse" && c.Expect != "allow" && c.Expect != "safe":
			t.Fatalf("case %q: expect %q is not refuse, allow or safe", c.Name, c.Expect)
		case !knownTool(c.Tool):
			t.Fatalf("case %q: unknown tool %q", c.Name, c.Tool)
		case len(c.Args) == 0:
			t.Fatalf("case %q: no args", c.Name)
		}
		names[c.Name] = true
	}
	return cases
}

func knownTool(name string) bool {
	switch name {
	case "list_tags", "list_keys", "create_scoped_key", "revoke_key", "check_policy":
		return true
	}
	return false
}

// repPattern is the {{rep N S}} placeholder.
var repPattern = regexp.MustCompile(`\{\{rep (\d+) ([^}]*)\}\}`)

// argsText returns the raw arguments of c with placeholders expanded, and the
// repeated strings longer than policy.MaxQuoted (which no refusal may quote
// whole).
func (c hostileCase) argsText(ids map[string]string) (raw []byte, long []string, err error) {
	text := string(c.Args)
	if c.Args[0] == '"' {
		if err := json.Unmarshal(c.Args, &text); err != nil {
			return nil, nil, err
		}
	}
	for name, id := range ids {
		text = strings.ReplaceAll(text, "{{"+name+"}}", id)
	}
	text = repPattern.ReplaceAllStringFunc(text, func(m string) string {
		sub := repPattern.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[1])
		s := strings.Repeat(sub[2], n)
		if n > policy.MaxQuoted {
			long = append(long, strings.Repeat(sub[2], policy.MaxQuoted+1))
		}
		return s
	})
	if strings.Contains(text, "{{") {
		return nil, nil, fmt.Errorf("unexpanded placeholder in %.80s", text)
	}
	if !json.Valid([]byte(text)) {
		return nil, nil, fmt.Errorf("arguments are not valid JSON: %.80s", text)
	}
	return []byte(text), long, nil
}

// rpcAnswer is the server's answer to one tools/call sent as raw bytes.
type rpcAnswer struct {
	// RPCError is the JSON-RPC error message; "" when a result came.
	RPCError string
	IsError  bool
	Text     string
	// Structured is the result's structuredContent.
	Structured json.RawMessage
	// Allowed is a success that did what was asked: any success, except
	// that check_policy must also say allowed: true.
	Allowed bool
}

var rpcID atomic.Int64

// rawToolCall sends a tools/call whose arguments are exactly the bytes of
// args (a valid JSON value) straight to the server's JSON-RPC entry point.
// Without a session in ctx, mcp-go serves it as a legacy request and does
// not require an initialize first; the tools do not depend on a session.
func rawToolCall(ctx context.Context, srv *server.MCPServer, tool string, args []byte) (rpcAnswer, error) {
	name, _ := json.Marshal(tool)
	var msg bytes.Buffer
	fmt.Fprintf(&msg, `{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":%s,"arguments":`, rpcID.Add(1), name)
	msg.Write(args)
	msg.WriteString(`}}`)
	resp := srv.HandleMessage(ctx, json.RawMessage(msg.Bytes()))
	wire, err := json.Marshal(resp)
	if err != nil {
		return rpcAnswer{}, fmt.Errorf("encoding the answer: %w", err)
	}
	var env struct {
		Result *struct {
			IsError bool `json:"isError"`
			Content []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"content"`
			StructuredContent json.RawMessage `json:"structuredContent"`
		} `json:"result"`
		Error *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(wire, &env); err != nil {
		return rpcAnswer{}, fmt.Errorf("decoding the answer %.200s: %w", wire, err)
	}
	switch {
	case env.Error != nil:
		return rpcAnswer{RPCError: fmt.Sprintf("%d %s", env.Error.Code, env.Error.Message)}, nil
	case env.Result == nil:
		return rpcAnswer{}, fmt.Errorf("answer with neither result nor error: %.200s", wire)
	}
	a := rpcAnswer{IsError: env.Result.IsError, Structured: env.Result.StructuredContent}
	var b strings.Builder
	for _, c := range env.Result.Content {
		b.WriteString(c.Text)
	}
	a.Text = b.String()
	a.Allowed = !a.IsError
	if a.Allowed && tool == "check_policy" {
		var out struct {
			Allowed *bool `json:"allowed"`
		}
		if err := json.Unmarshal(a.Structured, &out); err != nil || out.Allowed == nil {
			return a, fmt.Errorf("check_policy success without allowed: %.200s", a.Structured)
		}
		a.Allowed = *out.Allowed
	}
	return a, nil
}

// decodableByMCPGo reports whether mcp-go can decode args into Go values, as
// it does before any handler runs (a number beyond float64, such as 1e400,
// cannot be). Arguments it cannot decode get a JSON-RPC error from mcp-go
// itself: nothing of mcp-keys runs, and nothing is done.
func decodableByMCPGo(args []byte) bool {
	var v any
	return json.Unmarshal(args, &v) == nil
}

// withAction returns a check_policy argument text for the same request as
// args with "action" set, or args unchanged when it is not an object.
func withAction(args []byte, action string) []byte {
	trimmed := bytes.TrimSpace(args)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return args
	}
	inner := bytes.TrimSpace(trimmed[1:])
	head := `{"action":` + strconv.Quote(action)
	if len(inner) > 0 && inner[0] == '}' {
		return []byte(head + "}")
	}
	return []byte(head + "," + string(inner))
}

// hasKey reports whether the top-level object args has a property whose
// decoded name is one of names.
func hasKey(args []byte, names ...string) bool {
	dec := json.NewDecoder(bytes.NewReader(args))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		for _, n := range names {
			if tok == n {
				return true
			}
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return false
		}
	}
	return false
}

// TestHostileArguments runs the corpus. Create cases go through
// check_policy first and create_scoped_key second; revoke cases through
// check_policy's revoke action and revoke_key. Every answer must be a tool
// result (never a JSON-RPC error, except for arguments mcp-go itself cannot
// decode), leak no secret, quote no long input whole, and the two verdicts
// must agree.
func TestHostileArguments(t *testing.T) {
	cases := loadHostileCases(t)
	if len(cases) < 60 {
		t.Fatalf("the corpus has %d cases; at least 60 are required", len(cases))
	}
	e := newEnv(t, envOptions{policyYAML: hostilePolicy})
	p, err := policy.Parse("policy.yaml", []byte(hostilePolicy))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	keys, err := e.api.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	before := map[string]bool{}
	ids := map[string]string{}
	for _, k := range keys {
		before[k.ID] = true
		switch k.Name {
		case "operator (Full Access)":
			ids["operator_id"] = k.ID
		case "ci-deploy":
			ids["full_id"] = k.ID
		case "console-proj-search":
			ids["console_id"] = k.ID
		}
	}
	if len(ids) != 3 {
		t.Fatalf("seeded keys not found: %v", ids)
	}
	ids["minted_id"] = mintForTest(t, e, "proj-hostile-victim")
	createsBefore := e.sb.Sandbox.Count(sandbox.EndpointCreate)
	operatorKey := e.sb.Sandbox.OperatorKey()

	created := 0
	tally := map[string]int{}
	for _, c := range cases {
		tally[c.Tool]++
		t.Run(c.Name, func(t *testing.T) {
			raw, long, err := c.argsText(ids)
			if err != nil {
				t.Fatalf("corpus: %v", err)
			}
			var check *rpcAnswer
			switch c.Tool {
			case "create_scoped_key":
				a := mustRawCall(t, e, "check_policy", raw, long, operatorKey)
				check = &a
			case "revoke_key":
				a := mustRawCall(t, e, "check_policy", withAction(raw, "revoke"), long, operatorKey)
				check = &a
			}
			got := mustRawCall(t, e, c.Tool, raw, long, operatorKey)
			if c.Tool == "create_scoped_key" && got.Allowed {
				created++
			}
			switch {
			case c.Expect == "refuse" && got.Allowed:
				t.Errorf("allowed, want refused: %.300s", redact(got.Text))
			case c.Expect == "allow" && !got.Allowed:
				t.Errorf("refused, want allowed: %.300s %s", redact(got.Text), got.RPCError)
			}
			if c.Contains != "" && !strings.Contains(got.Text, c.Contains) {
				t.Errorf("answer does not contain %q: %.300s %s", c.Contains, redact(got.Text), got.RPCError)
			}
			if check != nil {
				// An "action" or "id" property is check_policy's own: with
				// it the two calls are not the same request, and the write
				// tool must refuse the stray argument.
				if c.Tool == "create_scoped_key" && hasKey(raw, "action", "id") {
					if got.Allowed {
						t.Errorf("create_scoped_key accepted check_policy's arguments: %.200s", redact(got.Text))
					}
				} else if check.Allowed != got.Allowed {
					t.Errorf("check_policy allowed=%v but %s allowed=%v\ncheck: %.300s%s\n%s: %.300s%s",
						check.Allowed, c.Tool, got.Allowed, check.Text, check.RPCError, c.Tool, redact(got.Text), got.RPCError)
				}
			}
		})
	}
	t.Logf("hostile corpus: %d cases (%v); %d creates succeeded", len(cases), tally, created)

	// Every key minted during the corpus is a scoped key for one tag that
	// the same policy, parsed again, allows, with a prefixed printable name.
	keys, err = e.api.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	minted := 0
	for _, k := range keys {
		if before[k.ID] || k.ID == ids["minted_id"] {
			continue
		}
		minted++
		checkMintedKey(t, p, k)
	}
	if minted != created {
		t.Errorf("the sandbox holds %d new keys, but %d creates succeeded", minted, created)
	}
	if n := e.sb.Sandbox.Count(sandbox.EndpointCreate) - createsBefore; n != created {
		t.Errorf("%d creates reached the API for %d successful creates: a refused create was sent", n, created)
	}
	if f := e.sb.Sandbox.ForbiddenRequests(); len(f) != 0 {
		t.Errorf("forbidden endpoints were called: %+v", f)
	}
	if strings.Contains(e.logs.String(), operatorKey) {
		t.Error("the operator key reached the logs")
	}
}

// mustRawCall sends one raw call and checks the invariants every answer must
// hold: a tool result (or, for arguments mcp-go cannot decode, its
// JSON-RPC refusal), a readable text, no secret except a new key's own, and
// no long input quoted whole in a refusal.
func mustRawCall(t *testing.T, e *testEnv, tool string, args []byte, long []string, operatorKey string) rpcAnswer {
	t.Helper()
	a, err := rawToolCall(context.Background(), e.srv, tool, args)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	if a.RPCError != "" {
		if decodableByMCPGo(args) {
			t.Fatalf("%s: JSON-RPC error %q; refusals must be isError results", tool, a.RPCError)
		}
		return a
	}
	if strings.TrimSpace(a.Text) == "" {
		t.Fatalf("%s: answer without text", tool)
	}
	if strings.Contains(a.Text, operatorKey) || strings.Contains(string(a.Structured), operatorKey) {
		t.Fatalf("%s: the operator key is in the answer", tool)
	}
	if !(tool == "create_scoped_key" && !a.IsError) && secretPattern.MatchString(a.Text) {
		// The corpus's secret-shaped name may be echoed back; anything
		// else shaped like a secret is a leak.
		if m := secretPattern.FindString(a.Text); !strings.HasPrefix(m, "sm_org_sandbox_AAAAAAAA") {
			t.Fatalf("%s: a secret-shaped string is in the answer (%d bytes)", tool, len(m))
		}
	}
	if !a.Allowed {
		for _, s := range long {
			if strings.Contains(a.Text, s) {
				t.Errorf("%s: the refusal quotes more than %d characters of an input", tool, policy.MaxQuoted)
			}
		}
		if len(a.Text) > 4096 {
			t.Errorf("%s: refusal of %d bytes", tool, len(a.Text))
		}
	}
	return a
}

// checkMintedKey checks a key minted through the tools against the policy.
func checkMintedKey(t *testing.T, p *policy.Policy, k client.Key) {
	t.Helper()
	if k.Kind != client.KindScoped || len(k.Tags) != 1 {
		t.Errorf("key %s: kind %s with %d tags; only scoped keys for one tag may be minted", k.ID, k.Kind, len(k.Tags))
		return
	}
	tag := k.Tags[0]
	if err := policy.ValidTag(tag); err != nil {
		t.Errorf("key %s: minted for an invalid tag %s: %v", k.ID, policy.Quote(tag), err)
	}
	if ok, why := p.CheckTag(tag); !ok {
		t.Errorf("key %s: minted for tag %s which the policy refuses: %s", k.ID, policy.Quote(tag), why)
	}
	if !strings.HasPrefix(k.Name, p.Keys.NamePrefix) || utf8.RuneCountInString(k.Name) > policy.MaxNameLength {
		t.Errorf("key %s: name %s lacks the prefix or is too long", k.ID, policy.Quote(k.Name))
	}
	for _, r := range k.Name {
		if r < ' ' || r == 0x7f || (r >= 0x200b && r <= 0x200f) || (r >= 0x202a && r <= 0x202e) || r == 0xfeff {
			t.Errorf("key %s: name %s holds an invisible or control character", k.ID, policy.Quote(k.Name))
			break
		}
	}
}
