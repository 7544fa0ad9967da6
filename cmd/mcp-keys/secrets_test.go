package main

// Secret-hygiene test over the real client path: `mcp-keys sandbox` serves
// the API emulator over HTTP with a known Full Access operator key, and
// `mcp-keys serve` (not --sandbox) is driven through every flow: reads,
// dry runs, mints, refusals, revokes, the policy resource, bad arguments and
// upstream failures (a closed port, a wrong key, a scoped key). Afterwards
// every output a person or an agent could see — stdout apart from the one
// result that delivers each new key, stderr logs at debug level, the audit
// log, the sandbox's own logs, doctor and policy explain — is scanned for the
// operator key and every minted key, whole or as any 16-character part.
// Secrets are never printed: failures name the secret by its label only.

import (
	"bufio"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// anyCode accepts any exit code.
const anyCode = -1

// leakWindow is the length of the parts of a secret that must not appear.
const leakWindow = 16

// secretSet is the secrets a test must never see in an output, by label.
type secretSet struct {
	labels []string
	values []string
}

// add records a secret under a label (the label is what failures print).
func (s *secretSet) add(label, value string) {
	if len(value) < leakWindow {
		panic("secret " + label + " is too short to scan for")
	}
	s.labels = append(s.labels, label)
	s.values = append(s.values, value)
}

// leaks returns the labels of the secrets of which text contains the whole
// or any leakWindow-character part.
func (s *secretSet) leaks(text string) []string {
	window := make(map[string]int) // part -> index of its secret
	for i, v := range s.values {
		for j := 0; j+leakWindow <= len(v); j++ {
			window[v[j:j+leakWindow]] = i
		}
	}
	hit := make(map[int]bool)
	for j := 0; j+leakWindow <= len(text); j++ {
		if i, ok := window[text[j:j+leakWindow]]; ok {
			hit[i] = true
		}
	}
	var out []string
	for i := range s.values {
		if hit[i] {
			out = append(out, s.labels[i])
		}
	}
	return out
}

// check fails the test if text leaks any secret; where names the output.
func (s *secretSet) check(t *testing.T, where, text string) {
	t.Helper()
	if leaked := s.leaks(text); len(leaked) > 0 {
		t.Errorf("%s (%d bytes) contains (part of) %s", where, len(text), strings.Join(leaked, ", "))
	}
}

// sandboxProc is a running `mcp-keys sandbox`.
type sandboxProc struct {
	cmd     *exec.Cmd
	url     string
	key     string
	rest    *safeBuffer // stdout after the first two lines
	stderr  *safeBuffer
	outDone chan struct{}
}

// startSandboxCmd starts `mcp-keys sandbox` on a free loopback port and
// reads the base URL and operator key it prints.
func startSandboxCmd(t *testing.T) *sandboxProc {
	t.Helper()
	cmd := exec.Command(binary, "sandbox", "--addr", "127.0.0.1:0")
	cmd.Env = baseEnv("MCP_KEYS_LOG_LEVEL=debug")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &sandboxProc{cmd: cmd, rest: &safeBuffer{}, stderr: &safeBuffer{}, outDone: make(chan struct{})}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	r := bufio.NewReader(stdout)
	for _, want := range []string{"SUPERMEMORY_BASE_URL=", "SUPERMEMORY_API_KEY="} {
		line, err := r.ReadString('\n')
		v, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), want)
		if err != nil || !ok {
			t.Fatalf("sandbox: want a %s line (err %v); stderr:\n%s", want, err, p.stderr.String())
		}
		if want == "SUPERMEMORY_BASE_URL=" {
			p.url = v
		} else {
			p.key = v
		}
	}
	go func() {
		_, _ = r.WriteTo(p.rest)
		close(p.outDone)
	}()
	return p
}

// stop interrupts the sandbox and waits until its output is complete.
func (p *sandboxProc) stop(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.outDone:
	case <-time.After(30 * time.Second):
		t.Fatal("sandbox did not stop")
	}
}

// closedPort returns a loopback address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// randomKeyLike is a well-formed but unknown operator key.
func randomKeyLike(t *testing.T) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 40)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			t.Fatal(err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return "sm_org_sandbox_" + string(b)
}

// recorder drives one serve process and keeps every stdout line except the
// results that deliver a new key, whose keys it collects instead.
type recorder struct {
	t        *testing.T
	s        *stdioSession
	lines    []string
	minted   []string
	mintedID []string
	// delivering are the lines that delivered minted[i].
	delivering []string
}

// rpc sends a request and returns its response.
func (r *recorder) rpc(method string, params any) map[string]any {
	r.t.Helper()
	r.s.nextID++
	id := r.s.nextID
	r.s.send(rpcRequest(id, method, params))
	lines, msgs := r.s.readLinesUntil(30*time.Second, strconv.Itoa(id))
	var resp map[string]any
	for i, m := range msgs {
		if key, keyID := deliveredKey(r.t, m); key != "" {
			r.minted, r.mintedID = append(r.minted, key), append(r.mintedID, keyID)
			r.delivering = append(r.delivering, lines[i])
		} else {
			r.lines = append(r.lines, lines[i])
		}
		if rpcID(m) == strconv.Itoa(id) {
			resp = m
		}
	}
	return resp
}

// call runs a tool and returns its result; isError results included. A
// protocol error fails the test: tools report failures as results.
func (r *recorder) call(tool string, args any) map[string]any {
	r.t.Helper()
	resp := r.rpc("tools/call", map[string]any{"name": tool, "arguments": args})
	res, _ := resp["result"].(map[string]any)
	if res == nil {
		r.t.Fatalf("%s: protocol error %v", tool, resp["error"])
	}
	return res
}

// mustFail runs a tool that must answer with an isError result.
func (r *recorder) mustFail(tool string, args any) {
	r.t.Helper()
	if res := r.call(tool, args); res["isError"] != true {
		r.t.Errorf("%s %v: want an isError result, got %.300s", tool, argNamesOf(args), maskKeys(fmt.Sprint(res["content"])))
	}
}

// mustSucceed runs a tool that must succeed and returns its structured content.
func (r *recorder) mustSucceed(tool string, args any) map[string]any {
	r.t.Helper()
	res := r.call(tool, args)
	if res["isError"] == true {
		r.t.Fatalf("%s %v refused: %.300s", tool, argNamesOf(args), maskKeys(fmt.Sprint(res["content"])))
	}
	sc, _ := res["structuredContent"].(map[string]any)
	return sc
}

// keyLike matches anything shaped like a Supermemory key.
var keyLike = regexp.MustCompile(`sm_[A-Za-z0-9_]{8,}`)

// maskKeys hides every key-shaped token of s, for test messages.
func maskKeys(s string) string {
	return keyLike.ReplaceAllStringFunc(s, func(k string) string { return fmt.Sprintf("sm_…(%d chars)", len(k)) })
}

// argNamesOf lists an argument map's names, for messages.
func argNamesOf(args any) []string {
	m, _ := args.(map[string]any)
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// deliveredKey returns the key a create_scoped_key result delivers, and the
// key's id: the secret itself, or the contents of the file it was written
// to when secrets go to files.
func deliveredKey(t *testing.T, msg map[string]any) (key, id string) {
	t.Helper()
	res, _ := msg["result"].(map[string]any)
	sc, _ := res["structuredContent"].(map[string]any)
	if res == nil || res["isError"] == true || sc == nil {
		return "", ""
	}
	id, _ = sc["id"].(string)
	if k, _ := sc["key"].(string); k != "" {
		return k, id
	}
	if f, _ := sc["key_file"].(string); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatalf("key_file: %v", err)
		}
		return strings.TrimSpace(string(b)), id
	}
	return "", ""
}

// finish closes stdin, expects a clean exit and returns stdout (less the
// delivering lines) and stderr.
func (r *recorder) finish() (stdout, stderr string) {
	r.t.Helper()
	_ = r.s.stdin.Close()
	for line := range r.s.lines {
		checkRPCLine(r.t, line)
		r.lines = append(r.lines, line)
	}
	if code := r.s.wait(); code != 0 {
		r.t.Errorf("serve exit code %d on EOF", code)
	}
	return strings.Join(r.lines, "\n"), r.s.stderr.String()
}

// newRecorder starts serve with env and performs the handshake.
func newRecorder(t *testing.T, env []string) *recorder {
	t.Helper()
	r := &recorder{t: t, s: startServe(t, env)}
	init := r.rpc("initialize", map[string]any{
		"protocolVersion": "2025-11-25", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "secrets-test", "version": "0"},
	})
	if init["result"] == nil {
		t.Fatalf("initialize: %v", init)
	}
	r.s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return r
}

func TestSecretsNeverLeak(t *testing.T) {
	sb := startSandboxCmd(t)
	if !strings.HasPrefix(sb.key, "sm_") || !strings.HasPrefix(sb.url, "http://127.0.0.1:") {
		t.Fatalf("sandbox printed an unexpected URL or key (key length %d)", len(sb.key))
	}
	secrets := &secretSet{}
	secrets.add("the operator key", sb.key)
	wrongKey := randomKeyLike(t)
	secrets.add("the wrong operator key", wrongKey)

	// The scanner itself must find a planted part of a secret.
	if got := secrets.leaks("xx" + sb.key[20:20+leakWindow] + "xx"); len(got) != 1 {
		t.Fatalf("scanner self-check: planted part found as %v", got)
	}

	dir := t.TempDir()
	auditLog := filepath.Join(dir, "audit.jsonl")
	policyFile := writePolicy(t, designPolicy)
	env := func(url, key string) []string {
		return baseEnv("SUPERMEMORY_BASE_URL="+url, "SUPERMEMORY_API_KEY="+key, "MCP_KEYS_POLICY="+policyFile,
			"MCP_KEYS_AUDIT_LOG="+auditLog, "MCP_KEYS_LOG_LEVEL=debug", "MCP_KEYS_TIMEOUT=5s")
	}
	outputs := map[string]string{} // where -> text, scanned at the end

	// The main session: every flow against the sandbox.
	r := newRecorder(t, env(sb.url, sb.key))
	r.rpc("tools/list", map[string]any{})
	r.rpc("resources/list", map[string]any{})
	r.rpc("resources/read", map[string]any{"uri": "mcp-keys://policy"})
	r.rpc("resources/read", map[string]any{"uri": "file:///etc/passwd"})
	r.rpc("tools/call", map[string]any{"name": "no_such_tool", "arguments": map[string]any{}})

	for _, args := range []map[string]any{{}, {"query": "proj"}, {"limit": 1}, {"query": "nothing-matches"}} {
		r.mustSucceed("list_tags", args)
	}
	var fullID string
	for _, args := range []map[string]any{{}, {"kind": "scoped"}, {"kind": "full"}, {"kind": "all", "include_disabled": true},
		{"tag": "proj-search"}, {"limit": 2}, {"kind": "scoped", "include_disabled": true, "tag": "user_alex"}} {
		sc := r.mustSucceed("list_keys", args)
		keys, _ := sc["keys"].([]any)
		for _, k := range keys {
			if k, _ := k.(map[string]any); k["kind"] == "full" && fullID == "" {
				fullID, _ = k["id"].(string)
			}
		}
	}
	if fullID == "" {
		t.Fatal("list_keys showed no Full Access key")
	}

	// Dry runs: allowed and refused creates, revokes.
	for _, args := range []map[string]any{
		{"tag": "proj-search"}, {"tag": "proj-prod-eu"}, {"tag": "*"}, {"tag": "proj-a", "expires_in_days": 400},
		{"action": "revoke", "id": fullID}, {"action": "revoke", "id": "key_doesnotexist0000"},
	} {
		r.call("check_policy", args)
	}

	// Mints that succeed, each delivering one key.
	for _, args := range []map[string]any{
		{"tag": "proj-search"},
		{"tag": "user_alex", "name": "helper", "expires_in_days": 7},
		{"tag": "team:search", "rate_limit_max": 100, "rate_limit_window_ms": 60000},
		{"tag": "proj-brand-new"},
		{"tag": "user_"},
	} {
		r.mustSucceed("create_scoped_key", args)
	}
	if len(r.minted) != 5 {
		t.Fatalf("%d keys delivered by 5 creates", len(r.minted))
	}
	for i, k := range r.minted {
		secrets.add(fmt.Sprintf("minted key %d", i+1), k)
	}

	// Mints that are refused, and bad arguments.
	for _, args := range []any{
		map[string]any{"tag": "proj-prod-eu"},
		map[string]any{"tag": "*"},
		map[string]any{"tag": "proj-a", "full_access": true},
		map[string]any{"tag": "proj-a", "permission": "full"},
		map[string]any{"tag": "proj-a", "expires_in_days": 400},
		map[string]any{"tag": "proj-a", "rate_limit_max": 100000},
		map[string]any{"tag": "elsewhere"},
		map[string]any{"tag": "proj-a", "Tag": "proj-prod"},
		map[string]any{"tag": 12},
		map[string]any{},
		"not an object",
	} {
		r.mustFail("create_scoped_key", args)
	}
	// Revokes: allowed, repeated, refused, unknown, malformed.
	r.call("check_policy", map[string]any{"action": "revoke", "id": r.mintedID[0]})
	if sc := r.mustSucceed("revoke_key", map[string]any{"id": r.mintedID[0]}); sc["revoked"] != true {
		t.Errorf("revoke of a minted key: %v", sc)
	}
	r.mustSucceed("revoke_key", map[string]any{"id": r.mintedID[0]})
	r.mustFail("revoke_key", map[string]any{"id": fullID})
	r.mustFail("revoke_key", map[string]any{"id": "key_doesnotexist0000"})
	r.mustFail("revoke_key", map[string]any{"id": "../../v3/session"})
	r.mustFail("revoke_key", map[string]any{})
	r.mustSucceed("list_keys", map[string]any{"include_disabled": true})
	outputs["serve stdout"], outputs["serve stderr"] = r.finish()

	// Upstream failures: a closed port, a wrong key, a scoped key.
	failing := []struct {
		name, url, key string
	}{
		{"closed port", "http://" + closedPort(t), sb.key},
		{"wrong key", sb.url, wrongKey},
		{"scoped key as operator key", sb.url, r.minted[1]},
	}
	for _, f := range failing {
		fr := newRecorder(t, env(f.url, f.key))
		fr.mustFail("list_tags", map[string]any{})
		fr.mustFail("list_keys", map[string]any{"kind": "all"})
		fr.mustFail("create_scoped_key", map[string]any{"tag": "proj-search"})
		fr.mustFail("revoke_key", map[string]any{"id": r.mintedID[1]})
		fr.call("check_policy", map[string]any{"action": "revoke", "id": r.mintedID[1]})
		fr.call("check_policy", map[string]any{"tag": "proj-search"})
		if len(fr.minted) != 0 {
			t.Errorf("%s: a key was delivered", f.name)
		}
		outputs[f.name+": serve stdout"], outputs[f.name+": serve stderr"] = fr.finish()
	}

	// doctor and policy explain with the keys in their environment.
	keyFile := filepath.Join(dir, "operator.key")
	if err := os.WriteFile(keyFile, []byte(sb.key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	commands := []struct {
		name     string
		env      []string
		args     []string
		wantCode int
	}{
		{"doctor", env(sb.url, sb.key), []string{"doctor"}, 0},
		{"doctor with a key file", baseEnv("SUPERMEMORY_BASE_URL="+sb.url, "SUPERMEMORY_API_KEY_FILE="+keyFile), []string{"doctor"}, 0},
		{"doctor with a wrong key", env(sb.url, wrongKey), []string{"doctor"}, 1},
		{"doctor with a scoped key", env(sb.url, r.minted[1]), []string{"doctor"}, 1},
		{"doctor with a closed port", env("http://"+closedPort(t), sb.key), []string{"doctor", "--timeout", "2s"}, 1},
		{"doctor with both key sources", append(env(sb.url, sb.key), "SUPERMEMORY_API_KEY_FILE="+keyFile), []string{"doctor"}, 1},
		{"policy explain allow", env(sb.url, sb.key), []string{"policy", "explain", "--policy", policyFile, "--tag", "proj-search"}, 0},
		{"policy explain deny", env(sb.url, sb.key), []string{"policy", "explain", "--policy", policyFile, "--tag", "proj-prod-eu"}, 3},
		{"policy explain over a cap", env(sb.url, sb.key), []string{"policy", "explain", "--policy", policyFile, "--tag", "proj-a", "--expires-in-days", "400"}, 3},
		{"serve config error", env(sb.url, sb.key), []string{"serve", "--policy", "/nonexistent/policy.yaml"}, 2},
		// The audit commands, where this build has them: any exit code.
		{"audit tail", env(sb.url, sb.key), []string{"audit", "tail", "-n", "1000"}, anyCode},
		{"audit verify", env(sb.url, sb.key), []string{"audit", "verify"}, anyCode},
	}
	for _, c := range commands {
		stdout, stderr, code := runCmd(t, c.env, "", c.args...)
		if c.wantCode != anyCode && code != c.wantCode {
			t.Errorf("%s: exit %d, want %d:\n%s%s", c.name, code, c.wantCode, stdout, stderr)
		}
		outputs[c.name+": stdout"], outputs[c.name+": stderr"] = stdout, stderr
	}

	sb.stop(t)
	outputs["sandbox stdout after the first two lines"] = sb.rest.String()
	outputs["sandbox stderr"] = sb.stderr.String()
	if b, err := os.ReadFile(auditLog); err == nil {
		outputs["audit log"] = string(b)
		t.Logf("audit log: %d bytes scanned", len(b))
	} else {
		t.Logf("audit log: not written (%v); nothing to scan", err)
	}

	// A delivering line holds its own key, and no other secret. (The key is
	// cut out first: keys share their first 15 characters, so a part of
	// another key could otherwise match across its edge.)
	for i, line := range r.delivering {
		if !strings.Contains(line, r.minted[i]) {
			t.Errorf("the result delivering minted key %d does not hold it", i+1)
		}
		secrets.check(t, fmt.Sprintf("the result delivering minted key %d, less that key", i+1), strings.ReplaceAll(line, r.minted[i], "<delivered>"))
	}

	total := 0
	for where, text := range outputs {
		secrets.check(t, where, text)
		total += len(text)
	}
	t.Logf("scanned %d outputs (%d bytes) for %d secrets and every %d-character part of each", len(outputs), total, len(secrets.values), leakWindow)
	if !strings.Contains(outputs["serve stderr"], `"level":"debug"`) && !strings.Contains(outputs["serve stderr"], `"level":"info"`) {
		t.Error("serve wrote no logs: the scan proves nothing")
	}
	var parsed map[string]any
	if err := json.Unmarshal([]byte(strings.SplitN(outputs["serve stdout"], "\n", 2)[0]), &parsed); err != nil {
		t.Errorf("serve stdout does not start with a JSON-RPC line: %v", err)
	}
}
