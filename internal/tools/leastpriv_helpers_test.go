package tools_test

// Helpers for the least-privilege tests (leastpriv_test.go,
// leastpriv_property_test.go): a server whose sandbox keeps a state file, so
// that a test can read the sandbox's own record of every key (its real
// tags, permission and whether it is enabled, even where the answer and the
// listing hide the permission), and the audit log's create_result records.

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// leastPrivPolicy is the design's example with a read-only tag family, a
// small max_tags and the policy's keys.* extras filled in by fmt verbs:
// default_permission and assume_write_permission.
const leastPrivPolicy = `version: 1
tags:
  allow: ["demo-project", "proj-*", "user_*", "team:*"]
  deny:  ["proj-prod*"]
  read_only: ["team:*"]
  allow_new: true
keys:
  name_prefix: "agent-"
  max_tags: 3
  default_permission: %s
  assume_write_permission: %t
revoke:
  enabled: true
  only_prefixed: true
`

// sbKey is the sandbox's own record of a key, as its state file holds it.
type sbKey struct {
	ID             string   `json:"id"`
	Name           string   `json:"name"`
	Enabled        bool     `json:"enabled"`
	Tags           []string `json:"tags"`
	Permission     string   `json:"permission"`
	HidePermission bool     `json:"hidePermission"`
}

// perm is the key's permission as the sandbox enforces it: write unless read.
func (k sbKey) perm() string {
	if k.Permission == "read" {
		return "read"
	}
	return "write"
}

// lpEnv is a testEnv whose sandbox writes its state to statePath.
type lpEnv struct {
	*testEnv
	statePath string
}

// newLPEnv starts a server under policyYAML with a sandbox that keeps a
// state file.
func newLPEnv(t *testing.T, policyYAML string) *lpEnv {
	t.Helper()
	state := filepath.Join(t.TempDir(), "sandbox-state.json")
	e := newEnv(t, envOptions{policyYAML: policyYAML, sandbox: sandbox.Options{StatePath: state}})
	return &lpEnv{testEnv: e, statePath: state}
}

// fatalfer is a *testing.T or a *rapid.T.
type fatalfer interface {
	Fatalf(format string, args ...any)
}

// helperOf marks the caller as a test helper when t can say so.
func helperOf(t any) {
	if h, ok := t.(interface{ Helper() }); ok {
		h.Helper()
	}
}

// sandboxKeys reads the sandbox's record of every key, by id.
func (e *lpEnv) sandboxKeys(t fatalfer) map[string]sbKey {
	helperOf(t)
	data, err := os.ReadFile(e.statePath)
	if err != nil {
		t.Fatalf("sandbox state: %v", err)
	}
	var st struct {
		Keys []sbKey `json:"keys"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("sandbox state: %v", err)
	}
	out := make(map[string]sbKey, len(st.Keys))
	for _, k := range st.Keys {
		out[k.ID] = k
	}
	return out
}

// newKeys returns the keys of the sandbox that are not in before.
func (e *lpEnv) newKeys(t fatalfer, before map[string]sbKey) []sbKey {
	helperOf(t)
	var out []sbKey
	for id, k := range e.sandboxKeys(t) {
		if _, ok := before[id]; !ok {
			out = append(out, k)
		}
	}
	return out
}

// auditEntry is the part of an audit record these tests read.
type auditEntry struct {
	Event      string   `json:"event"`
	Phase      string   `json:"phase"`
	Decision   string   `json:"decision"`
	Outcome    string   `json:"outcome"`
	Reason     string   `json:"reason"`
	KeyID      string   `json:"key_id"`
	Tag        string   `json:"tag"`
	Tags       []string `json:"tags"`
	Permission string   `json:"permission"`
}

// auditEntries reads the audit log, in order.
func auditEntries(t fatalfer, path string) []auditEntry {
	helperOf(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("audit log: %v", err)
	}
	defer f.Close()
	var out []auditEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<22)
	for sc.Scan() {
		var r auditEntry
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line is not JSON (%d bytes): %v", len(sc.Bytes()), err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("audit log: %v", err)
	}
	return out
}

// createResultFor returns the create_result record of a key id, failing
// the test when there is not exactly one.
func createResultFor(t fatalfer, path, id string) auditEntry {
	helperOf(t)
	var found []auditEntry
	for _, r := range auditEntries(t, path) {
		if r.Event == "create_result" && r.KeyID == id {
			found = append(found, r)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d create_result records for key %s, want 1", len(found), id)
	}
	return found[0]
}

// sameSet reports whether a and b hold the same strings (each once).
func sameSet(a, b []string) bool {
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}

// anyStrings turns a tag list into the []any a JSON array decodes to.
func anyStrings(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// noSecretIn fails if text holds something shaped like a Supermemory secret.
func noSecretIn(t interface{ Errorf(string, ...any) }, where, text string) {
	helperOf(t)
	if m := secretPattern.FindString(text); m != "" {
		t.Errorf("%s holds a secret-shaped string (%d bytes)", where, len(m))
	}
	if strings.Contains(text, "sm_org_sandbox_") {
		t.Errorf("%s holds a sandbox secret prefix", where)
	}
}
