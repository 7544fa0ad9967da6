package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binary is the mcp-keys binary built once for the whole package, and
// stateHome the XDG_STATE_HOME its runs share (so the audit log lands in a
// temporary directory).
var binary, stateHome string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mcp-keys-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "mcp-keys")
	stateHome = filepath.Join(dir, "state")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// writePolicy writes the design's example policy with safe permissions.
func writePolicy(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const designPolicy = `version: 1
tags:
  allow: ["proj-*", "user_*", "team:search"]
  deny:  ["proj-prod*"]
  allow_new: true
keys:
  name_prefix: "agent-"
  default_expiry_days: 30
  max_expiry_days: 90
  max_rate_limit: 1000
  max_rate_window_ms: 3600000
revoke:
  enabled: true
  only_prefixed: true
`

// baseEnv is a minimal environment: no inherited secrets or policy.
func baseEnv(extra ...string) []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.TempDir(), "XDG_STATE_HOME=" + stateHome}
	return append(env, extra...)
}

// runCmd runs the binary to completion and returns stdout, stderr and the exit code.
func runCmd(t *testing.T, env []string, stdin string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// stdioSession is the binary serving MCP over pipes.
type stdioSession struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *safeBuffer
	nextID int
	done   chan error
}

// safeBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type safeBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *safeBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *safeBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServe(t *testing.T, env []string, args ...string) *stdioSession {
	t.Helper()
	return startSession(t, env, binary, append([]string{"serve"}, args...)...)
}

// startSession starts name with args (a server speaking MCP on its stdio,
// possibly through a wrapper such as setpriv) and wires its pipes.
func startSession(t *testing.T, env []string, name string, args ...string) *stdioSession {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	s := &stdioSession{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 100), stderr: &safeBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 0, 1<<20), 16<<20)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	go func() { s.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-s.done
	})
	return s
}

// send writes one JSON-RPC message.
func (s *stdioSession) send(msg string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, msg+"\n"); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

// request sends a request and returns its response, checking that every
// line on stdout is one JSON-RPC message.
func (s *stdioSession) request(method string, params any) map[string]any {
	s.t.Helper()
	s.nextID++
	id := s.nextID
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	s.send(string(body))
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("stdout closed waiting for %s; stderr:\n%s", method, s.stderr.String())
			}
			var msg map[string]any
			if err := json.Unmarshal([]byte(line), &msg); err != nil || msg["jsonrpc"] != "2.0" {
				s.t.Fatalf("stdout line is not a JSON-RPC message: %q", line)
			}
			if got, _ := msg["id"].(float64); int(got) == id {
				return msg
			}
		case <-timeout:
			s.t.Fatalf("no response to %s", method)
		}
	}
}

// initialize performs the handshake at a protocol version.
func (s *stdioSession) initialize(version string) map[string]any {
	s.t.Helper()
	res := s.request("initialize", map[string]any{
		"protocolVersion": version, "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "stdio-test", "version": "0"},
	})
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return res
}

// wait waits for the process to exit and returns its exit code.
func (s *stdioSession) wait() int {
	s.t.Helper()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			s.t.Fatalf("wait: %v", err)
		}
		return 0
	case <-time.After(30 * time.Second):
		s.t.Fatal("process did not exit")
		return -1
	}
}

func TestServeOverStdio(t *testing.T) {
	env := baseEnv("MCP_KEYS_POLICY=" + writePolicy(t, designPolicy))
	s := startServe(t, env, "--sandbox")
	init := s.initialize("2025-11-25")
	result, _ := init["result"].(map[string]any)
	if result["protocolVersion"] != "2025-11-25" {
		t.Fatalf("initialize: %v", init)
	}
	if instr, _ := result["instructions"].(string); !strings.Contains(instr, "list_tags") || !strings.Contains(instr, "proj-*") {
		t.Errorf("instructions do not describe the flow and the policy: %q", instr)
	}
	list := s.request("tools/list", map[string]any{})
	tools, _ := list["result"].(map[string]any)["tools"].([]any)
	if len(tools) != 6 {
		t.Fatalf("tools/list returned %d tools", len(tools))
	}
	call := func(name string, args map[string]any) map[string]any {
		resp := s.request("tools/call", map[string]any{"name": name, "arguments": args})
		if resp["error"] != nil {
			t.Fatalf("%s: protocol error %v", name, resp["error"])
		}
		return resp["result"].(map[string]any)
	}
	created := call("create_scoped_key", map[string]any{"tag": "proj-search"})
	if created["isError"] == true {
		t.Fatalf("create refused: %v", created["content"])
	}
	id := created["structuredContent"].(map[string]any)["id"].(string)
	if r := call("create_scoped_key", map[string]any{"tag": "proj-prod-eu"}); r["isError"] != true {
		t.Errorf("denied tag was not an isError result: %v", r)
	}
	if r := call("revoke_key", map[string]any{"id": id}); r["isError"] == true {
		t.Errorf("revoke refused: %v", r["content"])
	}
	// Arguments with a duplicate key, as raw bytes: the decoder must refuse.
	s.nextID++
	s.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"create_scoped_key","arguments":{"tag":"proj-search","tag":"proj-prod-eu"}}}`, s.nextID))
	for line := range s.lines {
		var msg map[string]any
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			t.Fatalf("stdout line is not JSON: %q", line)
		}
		if got, _ := msg["id"].(float64); int(got) == s.nextID {
			if r, _ := msg["result"].(map[string]any); r["isError"] != true || !strings.Contains(fmt.Sprint(r["content"]), "twice") {
				t.Errorf("duplicate tag argument not refused: %v", msg)
			}
			break
		}
	}

	s.stdin.Close()
	if code := s.wait(); code != 0 {
		t.Errorf("exit code on EOF = %d, want 0; stderr:\n%s", code, s.stderr.String())
	}
	logs := s.stderr.String()
	if !strings.Contains(logs, `"level"`) || !strings.Contains(logs, "serving MCP on stdio") {
		t.Errorf("no structured logs on stderr:\n%s", logs)
	}
	if strings.Contains(logs, "sm_") {
		t.Errorf("stderr contains something that looks like a key:\n%s", logs)
	}
}

func TestServeExitsCleanlyOnSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			s := startServe(t, baseEnv("MCP_KEYS_ALLOWED_TAGS=proj-*"), "--sandbox")
			s.initialize("2025-06-18")
			if err := s.cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if code := s.wait(); code != 0 {
				t.Errorf("exit code on %v = %d; stderr:\n%s", sig, code, s.stderr.String())
			}
		})
	}
}

func TestServeConfigErrors(t *testing.T) {
	bad := writePolicy(t, "tags:\n  alow: [\"x\"]\n")
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"missing key", baseEnv(), nil, "SUPERMEMORY_API_KEY is not set"},
		{"policy and shorthand", baseEnv("SUPERMEMORY_API_KEY=sm_x_y", "MCP_KEYS_POLICY="+bad, "MCP_KEYS_ALLOWED_TAGS=a"), nil, "both"},
		{"bad policy", baseEnv("SUPERMEMORY_API_KEY=sm_x_y", "MCP_KEYS_POLICY="+bad), nil, ":2:3:"},
		{"bad log level", baseEnv("MCP_KEYS_LOG_LEVEL=loud"), []string{"--sandbox"}, "MCP_KEYS_LOG_LEVEL"},
		{"http to a remote host", baseEnv("SUPERMEMORY_API_KEY=sm_x_y", "SUPERMEMORY_BASE_URL=http://example.com"), nil, "https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, tc.env, "", append([]string{"serve"}, tc.args...)...)
			if code != exitConfig {
				t.Errorf("exit code %d, want %d", code, exitConfig)
			}
			if stdout != "" {
				t.Errorf("stdout is not empty: %q", stdout)
			}
			if lines := strings.Count(strings.TrimSpace(stderr), "\n") + 1; lines != 1 || !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr (%d lines) = %q, want one line containing %q", lines, stderr, tc.want)
			}
			if strings.Contains(stderr, "sm_x_y") {
				t.Error("the key leaked into stderr")
			}
		})
	}
}

func TestPolicyCommands(t *testing.T) {
	good := writePolicy(t, designPolicy)
	typo := writePolicy(t, strings.Replace(designPolicy, "  allow:", "  alow:", 1))
	callersPolicy := writePolicy(t, designPolicy+`callers:
  - match: {token: alice}
    tags: {allow: ["proj-a*"]}
`)
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"check valid", []string{"policy", "check", good}, 0, "valid"},
		{"check example", []string{"policy", "check", "../../examples/policy.yaml"}, 0, "valid"},
		{"check typo", []string{"policy", "check", typo}, 1, typo + ":3:3:"},
		{"check missing", []string{"policy", "check", "/nonexistent/policy.yaml"}, 1, "nonexistent"},
		{"explain denied tag", []string{"policy", "explain", "--policy", good, "--tag", "proj-prod-eu"}, 3, "proj-prod*"},
		{"explain allowed", []string{"policy", "explain", "--policy", good, "--tag", "proj-search", "--expires-in-days", "30"}, 0, "ALLOW"},
		{"explain over cap", []string{"policy", "explain", "--policy", good, "--tag", "proj-search", "--expires-in-days", "400"}, 3, "max_expiry_days"},
		{"explain wildcard", []string{"policy", "explain", "--policy", good, "--tag", "*"}, 3, "Full Access keys are never granted"},
		{"explain no tag", []string{"policy", "explain", "--policy", good}, 2, "--tag is required"},
		{"explain no policy", []string{"policy", "explain", "--tag", "proj-search"}, 3, "MCP_KEYS_POLICY"},
		{"explain bad number", []string{"policy", "explain", "--policy", good, "--tag", "proj-a", "--expires-in-days", "3.5"}, 2, "whole number"},
		{"explain two tags read", []string{"policy", "explain", "--policy", good, "--tag", "proj-a", "--tag", "user_b", "--permission", "read"}, 0, "with read access, scoped to tags"},
		{"explain full permission", []string{"policy", "explain", "--policy", good, "--tag", "proj-a", "--permission", "full"}, 3, "Full Access"},
		{"explain a lease", []string{"policy", "explain", "--policy", good, "--tag", "proj-a", "--lease-minutes", "30"}, 0, "revoked by mcp-keys after 30 minutes"},
		{"explain for a caller inside its rule", []string{"policy", "explain", "--policy", callersPolicy, "--caller-token", "alice", "--tag", "proj-a1"}, 0, "caller: token:alice"},
		{"explain for a caller outside its rule", []string{"policy", "explain", "--policy", callersPolicy, "--caller-token", "alice", "--tag", "proj-b1"}, 3, "proj-b1"},
		{"explain for a caller no rule fits", []string{"policy", "explain", "--policy", callersPolicy, "--caller-sub", "mallory", "--tag", "proj-a1"}, 3, "DENY"},
		{"check notes that stdio ignores callers", []string{"policy", "check", callersPolicy}, 0, "note:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, baseEnv(), "", tc.args...)
			if code != tc.wantCode || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("exit %d (want %d), output does not contain %q:\n%s%s", code, tc.wantCode, tc.want, stdout, stderr)
			}
		})
	}
}

func TestDemo(t *testing.T) {
	stdout, stderr, code := runCmd(t, baseEnv(), "", "demo")
	if code != 0 {
		t.Fatalf("demo exit %d:\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"list_tags", "check_policy", "create_scoped_key", "refused", "Full Access", "revoke_key", "forbidden endpoints", ": 0.",
		// Least privilege: a two-tag read key minted, a write key on a
		// read-only tag refused, the two-tag key listed.
		`read-only tags (any case; a key that includes one may only read): "team:*"`,
		`Created scoped read key "agent-search-reader"`, `for tags "demo-project", "proj-search"`,
		`tag_read_only: tag "team:search" is read-only`, "tags demo-project, proj-search, active",
		"Every step behaved as the policy requires."} {
		if !strings.Contains(stdout, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	// The lease and the rotation at the end: the clock moved, not a real
	// wait; the leased key reaped and listed as revoked; the rotated key
	// replaced by one with the same tag and permission.
	for _, want := range []string{
		`create_scoped_key {"lease_minutes":1,"name":"nightly-job","tag":"proj-search"}`,
		"Leased: mcp-keys revokes it at ",
		"clock 61 s forward",
		": 1 revoked, 0 already gone, 0 failed.",
		"caller system and reason lease_ended",
		`"agent-nightly-job" [scoped] tags proj-search, revoked`,
		"rotate_key {\"id\":",
		`("agent-reader") was revoked; it stops working at once.`,
		`Created scoped read key "agent-reader-`,
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if n := strings.Count(stdout, "characters masked in this transcript"); n != 5 {
		t.Errorf("%d masked secrets in the transcript, want 5 (four creates and a rotation)", n)
	}
	// The secret is masked: no full key (sm_<org>_<32+ chars>) in the transcript.
	for _, f := range strings.Fields(stdout) {
		if strings.HasPrefix(f, "sm_") && len(f) > 30 && !strings.Contains(f, "…") {
			t.Errorf("unmasked key-like token in transcript (len %d)", len(f))
		}
	}
}

func TestDoctor(t *testing.T) {
	stdout, _, code := runCmd(t, baseEnv("MCP_KEYS_ALLOWED_TAGS=proj-*"), "", "doctor", "--sandbox")
	if code != 0 || !strings.Contains(stdout, "Full Access") || strings.Contains(stdout, "FAIL") {
		t.Errorf("doctor --sandbox exit %d:\n%s", code, stdout)
	}
	stdout, _, code = runCmd(t, baseEnv("SUPERMEMORY_API_KEY=sm_bad_key", "SUPERMEMORY_BASE_URL=http://127.0.0.1:1"), "", "doctor", "--timeout", "2s")
	if code != 1 || !strings.Contains(stdout, "FAIL") {
		t.Errorf("doctor against nothing exit %d:\n%s", code, stdout)
	}
	if strings.Contains(stdout, "sm_bad_key") {
		t.Error("doctor printed the key")
	}
}

func TestVersionAndUsage(t *testing.T) {
	stdout, _, code := runCmd(t, baseEnv(), "", "version")
	if code != 0 || !strings.HasPrefix(stdout, "mcp-keys ") || !strings.Contains(stdout, "commit") {
		t.Errorf("version: %d %q", code, stdout)
	}
	_, stderr, code := runCmd(t, baseEnv(), "", "frobnicate")
	if code != exitConfig || !strings.Contains(stderr, "unknown command") {
		t.Errorf("unknown command: %d %q", code, stderr)
	}
}

func TestSandboxCommand(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state.json")
	cmd := exec.Command(binary, "sandbox", "--addr", "127.0.0.1:0", "--state", state)
	cmd.Env = baseEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &safeBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	sc := bufio.NewScanner(stdout)
	var lines []string
	for len(lines) < 2 && sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "SUPERMEMORY_BASE_URL=http://127.0.0.1:") || !strings.HasPrefix(lines[1], "SUPERMEMORY_API_KEY=sm_") {
		t.Fatalf("sandbox printed %d lines; want the base URL and the key", len(lines))
	}
	// The printed key works against the printed URL, through doctor.
	out, _, code := runCmd(t, baseEnv(lines...), "", "doctor")
	if code != 0 || !strings.Contains(out, "Full Access") {
		t.Errorf("doctor against the sandbox command: exit %d\n%s", code, out)
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("sandbox exit on SIGINT: %v; stderr:\n%s", err, stderr.String())
	}
	if sc.Scan() {
		t.Errorf("sandbox wrote more to stdout: %q", sc.Text())
	}
	if !strings.Contains(stderr.String(), `"path":"/v3/session"`) {
		t.Errorf("sandbox did not log the request on stderr:\n%s", stderr.String())
	}
}

func TestConnectConfiguration(t *testing.T) {
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("mcpk_secretsecretsecretsecret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"no URL", nil, []string{"connect"}, "want `mcp-keys connect URL`"},
		{"no token", nil, []string{"connect", "https://keys.example.com/mcp"}, "token"},
		{"plain http off loopback", []string{"MCP_KEYS_TOKEN_FILE=" + tokenFile}, []string{"connect", "http://keys.example.com/mcp"}, "https"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCmd(t, baseEnv(tc.env...), "", tc.args...)
			if code != exitConfig || !strings.Contains(stdout+stderr, tc.want) {
				t.Errorf("exit %d (want %d), output does not contain %q:\n%s%s", code, exitConfig, tc.want, stdout, stderr)
			}
			if strings.Contains(stdout+stderr, "mcpk_secret") {
				t.Error("the token reached the output")
			}
		})
	}
}

// TestOpenAuditDirWarns covers the review's finding that an existing 0755
// audit directory was accepted silently: it is used, with a warning.
func TestOpenAuditDirWarns(t *testing.T) {
	for _, tc := range []struct {
		mode os.FileMode
		warn bool
	}{{0o755, true}, {0o700, false}} {
		dir := filepath.Join(t.TempDir(), "audit")
		if err := os.Mkdir(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := runCmd(t, baseEnv("MCP_KEYS_AUDIT_LOG="+filepath.Join(dir, "audit.jsonl")), "", "serve", "--sandbox")
		if code != 0 {
			t.Fatalf("serve exit %d: %s", code, stderr)
		}
		if got := strings.Contains(stderr, "readable by group or others"); got != tc.warn {
			t.Errorf("mode %o: warning %t, want %t:\n%s", tc.mode, got, tc.warn, stderr)
		}
	}
}
