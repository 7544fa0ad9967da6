//go:build linux

package main

// One machine, two accounts: the server runs in remote mode under its own
// uid, which alone can read the operator key; the agent runs under another
// uid and reaches it only through `mcp-keys connect` with its own caller
// token. The agent cannot read the key file, the callers file, the policy,
// the audit log or /proc/<server pid>/environ, and can still mint what the
// policy allows (and nothing else).

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The two accounts: the server's (nobody) and the agent's.
const (
	serverUID = 65534
	agentUID  = 65533
)

// asUID returns setpriv and its flags to run a program as uid (and the
// same gid) with no supplementary groups.
func asUID(setpriv string, uid int) []string {
	return []string{setpriv, fmt.Sprintf("--reuid=%d", uid), fmt.Sprintf("--regid=%d", uid), "--clear-groups"}
}

// runAs runs argv as uid and reports whether it succeeded; its output is
// returned, never logged.
func runAs(t *testing.T, setpriv string, uid int, argv ...string) ([]byte, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	full := append(asUID(setpriv, uid), argv...)
	cmd := exec.CommandContext(ctx, full[0], full[1:]...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var out bytes.Buffer
	cmd.Stdout = &out
	err := cmd.Run()
	return out.Bytes(), err == nil
}

// ownedDir makes a directory of mode 0700 owned by uid.
func ownedDir(t *testing.T, path string, uid int) string {
	t.Helper()
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
	return path
}

// ownedFile writes a file of mode 0600 owned by uid.
func ownedFile(t *testing.T, dir, name, body string, uid int) string {
	t.Helper()
	path := writeFile(t, dir, name, body, 0o600)
	if err := os.Chown(path, uid, uid); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestServerUnderAnotherUIDKeepsTheKeyFromTheAgent(t *testing.T) {
	if os.Geteuid() != 0 {
		requireOrSkip(t, "the test needs root to run processes as uids %d and %d (euid is %d)", serverUID, agentUID, os.Geteuid())
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		requireOrSkip(t, "setpriv (util-linux) is not installed: %v", err)
	}

	// A directory both can traverse, holding a copy of the binary; in it,
	// one private directory per account.
	root, bin := sharedBinary(t, "mcp-keys-otheruid")
	srvDir := ownedDir(t, filepath.Join(root, "server"), serverUID)
	agentDir := ownedDir(t, filepath.Join(root, "agent"), agentUID)

	// The server's files, all 0600 and its own.
	sb, _ := startUpstream(t)
	operatorKey := sb.Sandbox.OperatorKey()
	keyFile := ownedFile(t, srvDir, "operator-key", operatorKey+"\n", serverUID)
	policyFile := ownedFile(t, srvDir, "policy.yaml", designPolicy, serverUID)
	callersFile := filepath.Join(srvDir, "callers")
	auditLog := filepath.Join(srvDir, "audit.jsonl")
	serverProg := append(asUID(setpriv, serverUID), bin)
	serverEnv := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + srvDir, "XDG_STATE_HOME=" + srvDir,
		"SUPERMEMORY_API_KEY_FILE=" + keyFile, "SUPERMEMORY_BASE_URL=" + sb.URL,
		"MCP_KEYS_POLICY=" + policyFile, "MCP_KEYS_CALLERS_FILE=" + callersFile, "MCP_KEYS_AUDIT_LOG=" + auditLog,
	}

	// The operator makes the agent's token as the server's account and
	// hands it over: the agent keeps it in a file of its own.
	token := addCaller(t, serverEnv, serverProg, "agent", "keys:read,keys:write")
	tokenFile := ownedFile(t, agentDir, "token", token+"\n", agentUID)
	if fi, err := os.Stat(callersFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("callers file: %v %v", fi, err)
	}

	s := startHTTPServer(t, serverEnv, serverProg)
	pid := s.cmd.Process.Pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil || !strings.Contains(string(status), fmt.Sprintf("\nUid:\t%d\t%d\t%d\t%d\n", serverUID, serverUID, serverUID, serverUID)) {
		t.Fatalf("the server (pid %d) does not run as uid %d: %v", pid, serverUID, err)
	}

	// Baselines: the agent's account can run cat, read its own environment
	// and its own token file; so a failure below is a refusal.
	if _, ok := runAs(t, setpriv, agentUID, "cat", "/proc/self/environ"); !ok {
		t.Fatalf("baseline: uid %d cannot read its own /proc/self/environ: the test would prove nothing", agentUID)
	}
	if got, ok := runAs(t, setpriv, agentUID, "cat", tokenFile); !ok || strings.TrimSpace(string(got)) != token {
		t.Fatalf("baseline: uid %d cannot read its own token file (ok=%v)", agentUID, ok)
	}

	// What the agent's account cannot read.
	for _, path := range []string{keyFile, callersFile, policyFile, auditLog, fmt.Sprintf("/proc/%d/environ", pid)} {
		got, ok := runAs(t, setpriv, agentUID, "cat", path)
		if ok || bytes.Contains(got, []byte(operatorKey)) {
			t.Errorf("uid %d read %s (%d bytes, holds the key: %v)", agentUID, path, len(got), bytes.Contains(got, []byte(operatorKey)))
		}
	}

	// What it can do: mint within the policy, through connect, as itself.
	agentProg := append(asUID(setpriv, agentUID), bin)
	agentEnv := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + agentDir, "MCP_KEYS_TOKEN_FILE=" + tokenFile}
	c := startConnect(t, agentEnv, agentProg, s.url)
	if err := c.initialize("2025-11-25"); err != nil {
		t.Fatalf("initialize through connect as uid %d: %v; server stderr:\n%s", agentUID, err, s.stderr.String())
	}
	before := sb.Sandbox.KeyCount()
	created := mustCall(t, c.c, "create_scoped_key", map[string]any{"tag": "proj-agent"})
	if created["tag"] != "proj-agent" {
		t.Errorf("create: tag %v", created["tag"])
	}
	minted, _ := created["key"].(string)
	if !strings.HasPrefix(minted, "sm_") || minted == operatorKey {
		t.Errorf("the agent did not get a scoped key of its own (%d bytes)", len(minted))
	}
	res, err := callTool(c.c, "create_scoped_key", map[string]any{"tag": "proj-prod-eu"})
	if err != nil || !res.IsError {
		t.Errorf("a denied tag was not refused as an isError result: err %v", err)
	}
	if n := sb.Sandbox.KeyCount(); n != before+1 {
		t.Errorf("upstream keys %d → %d, want exactly one more", before, n)
	}

	// The record names the agent's caller; nothing printed holds a secret.
	records := readAudit(t, auditLog)
	if got := auditCallers(records, "create_result"); len(got) != 1 || got[0] != "token:agent" {
		t.Errorf("create_result callers = %v, want [token:agent]", got)
	}
	raw, _ := os.ReadFile(auditLog)
	noSecrets(t, "the audit log", string(raw), operatorKey, token, minted)
	noSecrets(t, "the server's stderr", s.stderr.String(), operatorKey, token, minted)
	noSecrets(t, "connect's stderr", c.stderr.String(), operatorKey, token, minted)
}
