package main

// Binary tests of the guardrails that span processes: a quota shared by two
// servers through one audit log, and `audit verify`/`audit tail` on a real
// log.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestQuotaAcrossTwoServerProcesses(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "audit.jsonl")
	pol := writePolicy(t, designPolicy+"quota:\n  max_keys_per_hour: 2\n")
	env := baseEnv("MCP_KEYS_POLICY="+pol, "MCP_KEYS_AUDIT_LOG="+log)
	a := startServe(t, env, "--sandbox")
	b := startServe(t, env, "--sandbox")
	a.initialize("2025-11-25")
	b.initialize("2025-06-18")
	create := func(s *stdioSession, tag string) map[string]any {
		resp := s.request("tools/call", map[string]any{"name": "create_scoped_key", "arguments": map[string]any{"tag": tag}})
		if resp["error"] != nil {
			t.Fatalf("protocol error: %v", resp["error"])
		}
		return resp["result"].(map[string]any)
	}
	if r := create(a, "proj-search"); r["isError"] == true {
		t.Fatalf("first create refused: %v", r["content"])
	}
	if r := create(b, "user_alex"); r["isError"] == true {
		t.Fatalf("second create refused: %v", r["content"])
	}
	for _, s := range []*stdioSession{a, b} {
		r := create(s, "proj-search")
		if r["isError"] != true || !strings.Contains(fmtContent(r), "quota.max_keys_per_hour") {
			t.Errorf("third create was not refused by the quota: %v", r["content"])
		}
	}
	a.stdin.Close()
	b.stdin.Close()
	if a.wait() != 0 || b.wait() != 0 {
		t.Fatal("servers did not exit cleanly")
	}

	out, _, code := runCmd(t, baseEnv(), "", "audit", "verify", log)
	if code != 0 || !strings.Contains(out, "hash chain intact") {
		t.Fatalf("audit verify on a real log: exit %d %s", code, out)
	}
	out, _, code = runCmd(t, baseEnv("MCP_KEYS_AUDIT_LOG="+log), "", "audit", "tail", "-n", "3")
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 2 || !strings.Contains(out, "quota") {
		t.Errorf("audit tail -n 3: exit %d\n%s", code, out)
	}

	// Change one byte of the second record: verify names the third line.
	raw, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(raw), "\n")
	second := strings.Replace(lines[1], "proj-search", "proj-searcH", 1)
	if second == lines[1] {
		second = strings.Replace(lines[1], "user_alex", "user_alеx", 1)
	}
	lines[1] = second
	if err := os.WriteFile(log, []byte(strings.Join(lines, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	out, _, code = runCmd(t, baseEnv(), "", "audit", "verify", log)
	if code != 1 || !strings.Contains(out, log+":3:") {
		t.Errorf("audit verify after tampering: exit %d %q, want line 3 named", code, out)
	}
}

// fmtContent is the text content of a raw tools/call result.
func fmtContent(r map[string]any) string {
	var b strings.Builder
	items, _ := r["content"].([]any)
	for _, it := range items {
		if m, ok := it.(map[string]any); ok {
			s, _ := m["text"].(string)
			b.WriteString(s)
		}
	}
	return b.String()
}

func TestPolicyExplainCountsTheQuota(t *testing.T) {
	pol := writePolicy(t, designPolicy+"quota:\n  max_keys_per_hour: 5\n")
	log := filepath.Join(t.TempDir(), "audit.jsonl")
	out, _, code := runCmd(t, baseEnv("MCP_KEYS_AUDIT_LOG="+log), "", "policy", "explain", "--policy", pol, "--tag", "proj-search")
	if code != 0 || !strings.Contains(out, "0 of 5") {
		t.Errorf("explain with a quota and no log yet: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(log); err == nil {
		t.Error("explain created the audit log")
	}
}
