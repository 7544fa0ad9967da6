//go:build linux

package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// nobody is the unprivileged uid and gid both the server and the reader run
// as in TestOperatorKeyNotReadableBySameUser.
const nobody = "65534"

// requireOrSkip skips the test outside CI; under CI=true a missing
// prerequisite fails it instead, so that the property is always checked
// there.
func requireOrSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but "+format, args...)
	}
	t.Skipf(format, args...)
}

// asNobody returns setpriv's arguments to run argv as uid/gid 65534 with no
// supplementary groups.
func asNobody(argv ...string) []string {
	return append([]string{"--reuid=" + nobody, "--regid=" + nobody, "--clear-groups"}, argv...)
}

// readEnviron reads /proc/<pid>/environ as uid 65534 with cat, and returns
// what it printed and whether it succeeded. The content is never logged.
func readEnviron(t *testing.T, setpriv string, pid int) ([]byte, bool) {
	t.Helper()
	return runAsNobody(t, setpriv, "cat", fmt.Sprintf("/proc/%d/environ", pid))
}

// openMem opens /proc/<pid>/mem as uid 65534 (dd reading nothing: offset 0
// is unmapped, so only the open, which needs ptrace access, is tested) and
// reports whether it succeeded.
func openMem(t *testing.T, setpriv string, pid int) bool {
	t.Helper()
	_, ok := runAsNobody(t, setpriv, "dd", fmt.Sprintf("if=/proc/%d/mem", pid), "count=0", "status=none")
	return ok
}

// runAsNobody runs argv as uid 65534 and returns its stdout and whether it
// succeeded. The output is never logged.
func runAsNobody(t *testing.T, setpriv string, argv ...string) ([]byte, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, setpriv, asNobody(argv...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		t.Logf("%s as uid %s: %v (%s)", argv[0], nobody, err, strings.TrimSpace(errb.String()))
	}
	return out.Bytes(), err == nil
}

// TestOperatorKeyNotReadableBySameUser: the operator key given in
// SUPERMEMORY_API_KEY stays in the kernel's copy of the environment, but a
// process of the same unprivileged uid cannot read the server's
// /proc/<pid>/environ, because the server makes itself non-dumpable before
// anything else; nor open its /proc/<pid>/mem. The baseline — the same
// readers, as the same uid, on a plain `sleep` started with the same
// environment — must succeed, so the test fails whenever the server is
// readable.
func TestOperatorKeyNotReadableBySameUser(t *testing.T) {
	if os.Geteuid() != 0 {
		requireOrSkip(t, "the test needs root to run processes as uid %s (euid is %d)", nobody, os.Geteuid())
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		requireOrSkip(t, "setpriv (util-linux) is not installed: %v", err)
	}
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Fatalf("sleep: %v", err)
	}

	// A copy of the binary, and a state directory, that uid 65534 can use.
	dir, bin := sharedBinary(t, "mcp-keys-dumpable")
	state := filepath.Join(dir, "state")
	if err := os.Mkdir(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(state, 65534, 65534); err != nil {
		t.Fatal(err)
	}

	secret := make([]byte, 16)
	_, _ = rand.Read(secret)
	key := "sm_dumpable_" + hex.EncodeToString(secret)
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + state, "XDG_STATE_HOME=" + state,
		"SUPERMEMORY_API_KEY=" + key, "SUPERMEMORY_BASE_URL=http://127.0.0.1:9",
		"MCP_KEYS_ALLOWED_TAGS=proj-*", "MCP_KEYS_AUDIT_LOG=" + filepath.Join(state, "audit.jsonl"),
	}

	// Baseline: the same uid reads a plain process's environment.
	base := exec.Command(setpriv, asNobody(sleep, "60")...)
	base.Env = env
	if err := base.Start(); err != nil {
		t.Fatalf("start sleep as uid %s: %v", nobody, err)
	}
	t.Cleanup(func() { _ = base.Process.Kill(); _ = base.Wait() })
	var got []byte
	var ok bool
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		// Until setpriv has exec'd sleep, environ is setpriv's (the same).
		if got, ok = readEnviron(t, setpriv, base.Process.Pid); ok && bytes.Contains(got, []byte(key)) {
			break
		}
	}
	if !ok || !bytes.Contains(got, []byte(key)) {
		t.Fatalf("baseline: uid %s cannot read the environment of its own `sleep` (read ok=%v): the test would prove nothing", nobody, ok)
	}
	if !openMem(t, setpriv, base.Process.Pid) {
		t.Fatalf("baseline: uid %s cannot open the memory of its own `sleep`: the test would prove nothing", nobody)
	}

	// The server, as the same uid, with the key in its environment.
	s := startSession(t, env, setpriv, asNobody(bin, "serve")...)
	if res := s.initialize("2025-11-25"); res["result"] == nil {
		t.Fatalf("initialize failed: %v; stderr:\n%s", res["error"], s.stderr.String())
	}
	got, ok = readEnviron(t, setpriv, s.cmd.Process.Pid)
	if ok || bytes.Contains(got, []byte(key)) {
		t.Errorf("uid %s read the server's /proc/<pid>/environ (%d bytes, holds the key: %v)", nobody, len(got), bytes.Contains(got, []byte(key)))
	}
	if openMem(t, setpriv, s.cmd.Process.Pid) {
		t.Errorf("uid %s opened the server's /proc/<pid>/mem", nobody)
	}
	if _, code := s.drainAndWait(); code != 0 {
		t.Errorf("exit code on EOF = %d, want 0; stderr:\n%s", code, s.stderr.String())
	}
	if strings.Contains(s.stderr.String(), key) {
		t.Error("the key appeared on stderr")
	}
}

// sharedBinary makes a temporary directory any uid can traverse (removed
// after the test) holding a copy of the binary any uid can run, and
// returns both paths.
func sharedBinary(t *testing.T, prefix string) (dir, bin string) {
	t.Helper()
	dir, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin = filepath.Join(dir, "mcp-keys")
	data, err := os.ReadFile(binary)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, bin
}
