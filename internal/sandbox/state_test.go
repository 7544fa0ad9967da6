package sandbox

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestStatePersistence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	first := newEnv(t, Options{StatePath: path})
	op := first.sb.OperatorKey()
	minted := first.mint(`{"containerTag":"tenant:persisted","name":"agent-kept","expiresInDays":30}`)
	revoked := first.mint(`{"containerTag":"demo-project"}`)
	first.do("DELETE", "/v3/auth/scoped-key/"+revoked.ID, op, "")
	_, seeded, err := first.sb.AddKey(NewKey{Name: "seeded-full"})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.sb.AddTag("added-tag", 4, 2); err != nil {
		t.Fatal(err)
	}
	wantKeys := first.sb.KeyCount()

	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("state file mode %o, want 600", perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range []string{minted.Key, revoked.Key, seeded} {
		if strings.Contains(string(data), s) {
			t.Errorf("state file holds minted secret #%d in clear", i)
		}
	}
	if strings.Contains(string(data), ".tmp") {
		t.Error("state file mentions a temporary file")
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("%d files beside the state, want none (temporary files left?)", len(entries)-1)
	}

	// Restart: same path, same organisation.
	second := newEnv(t, Options{StatePath: path, Unseeded: true})
	if second.sb.OperatorKey() != op {
		t.Error("operator key changed across a restart")
	}
	if second.sb.KeyCount() != wantKeys {
		t.Errorf("KeyCount %d after restart, want %d", second.sb.KeyCount(), wantKeys)
	}
	tests := []struct {
		name string
		key  string
		want int
	}{
		{"operator key", op, http.StatusOK},
		{"minted key", minted.Key, http.StatusOK},
		{"AddKey key", seeded, http.StatusOK},
		{"revoked key", revoked.Key, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		if r := second.do("GET", "/v3/session", tt.key, ""); r.status != tt.want {
			t.Errorf("%s after restart: status %d, want %d", tt.name, r.status, tt.want)
		}
	}
	k := findKey(second.listKeys(), "id", minted.ID)
	if k == nil || k.str("name") != "agent-kept" || k.str("expiresAt") != "2026-03-31T12:00:00.000Z" || k.str("containerTag") != "tenant:persisted" {
		t.Errorf("minted key after restart: %v", k)
	}
	tags := tagNames(second.listTags())
	for _, want := range []string{"demo-project", "tenant:persisted", "added-tag"} {
		if !slices.Contains(tags, want) {
			t.Errorf("tag %s lost across restart: %v", want, tags)
		}
	}
}

func TestStateLoadErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	if _, err := New(Options{StatePath: good, OrgID: "org_a"}); err != nil {
		t.Fatal(err)
	}
	valid, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(st map[string]any)) string {
		var st map[string]any
		if err := json.Unmarshal(valid, &st); err != nil {
			t.Fatal(err)
		}
		f(st)
		out, _ := json.Marshal(st)
		return string(out)
	}
	tests := []struct {
		name    string
		content string
		opts    Options
		errHas  string
	}{
		{"not JSON", "{", Options{}, "read state"},
		{"unknown field", edit(func(st map[string]any) { st["extra"] = 1 }), Options{}, "unknown field"},
		{"wrong version", edit(func(st map[string]any) { st["version"] = 2 }), Options{}, "version"},
		{"bad org", edit(func(st map[string]any) { st["orgId"] = "a b" }), Options{}, "orgId"},
		{"operator secret changed", edit(func(st map[string]any) { st["operatorSecret"] = "sm_x" }), Options{}, "operator"},
		{"duplicate key", edit(func(st map[string]any) {
			keys := st["keys"].([]any)
			st["keys"] = append(keys, keys[0])
		}), Options{}, "duplicate"},
		{"key without hash", edit(func(st map[string]any) {
			st["keys"].([]any)[1].(map[string]any)["hash"] = ""
		}), Options{}, "missing"},
		{"bad tag", edit(func(st map[string]any) {
			st["tags"].([]any)[0].(map[string]any)["containerTag"] = "a b"
		}), Options{}, "tag 0"},
		{"other org", string(valid), Options{OrgID: "org_b"}, "belongs to org"},
		{"bad permission", edit(func(st map[string]any) {
			st["keys"].([]any)[0].(map[string]any)["permission"] = "admin"
		}), Options{}, "permission"},
		{"permission not a string", edit(func(st map[string]any) {
			st["keys"].([]any)[0].(map[string]any)["permission"] = true
		}), Options{}, "permission"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".json")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			tt.opts.StatePath = path
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("New: %v, want an error about %q", err, tt.errHas)
			}
		})
	}
	// The same org id, or none, loads the file.
	for _, org := range []string{"", "org_a"} {
		if _, err := New(Options{StatePath: good, OrgID: org}); err != nil {
			t.Errorf("load with org %q: %v", org, err)
		}
	}
}

func TestStateWriteFailureRollsBack(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Options{StatePath: filepath.Join(dir, "state.json")})
	op := e.sb.OperatorKey()
	scoped := e.mint(`{"containerTag":"demo-project"}`)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	keys, tags := e.sb.KeyCount(), len(e.listTags())

	status := func(method, path, body string) func() error {
		return func() error {
			if r := e.do(method, path, op, body); r.status != http.StatusInternalServerError {
				return nil
			}
			return errors.New("500")
		}
	}
	tests := []struct {
		name string
		do   func() error // must fail
	}{
		{"create of a new tag", status("POST", "/v3/auth/scoped-key", `{"containerTag":"brand-new"}`)},
		{"create of a known tag", status("POST", "/v3/auth/scoped-key", `{"containerTag":"demo-project"}`)},
		{"revoke", status("DELETE", "/v3/auth/scoped-key/"+scoped.ID, "")},
		{"AddKey", func() error { _, _, err := e.sb.AddKey(NewKey{Name: "x"}); return err }},
		{"AddTag new", func() error { return e.sb.AddTag("new-tag", 1, 1) }},
		{"AddTag existing", func() error { return e.sb.AddTag("demo-project", 1, 1) }},
	}
	for _, tt := range tests {
		if err := tt.do(); err == nil {
			t.Errorf("%s succeeded although the state cannot be written", tt.name)
		}
	}
	if e.sb.KeyCount() != keys {
		t.Errorf("KeyCount %d, want %d: a failed write was not rolled back", e.sb.KeyCount(), keys)
	}
	if n := len(e.listTags()); n != tags {
		t.Errorf("%d tags, want %d", n, tags)
	}
	for _, tg := range e.listTags() {
		if string(tg["containerTag"]) == `"demo-project"` && string(tg["documentCount"]) == "1" {
			t.Error("AddTag update not rolled back")
		}
	}
	if r := e.do("GET", "/v3/session", scoped.Key, ""); r.status != http.StatusOK {
		t.Errorf("key whose revoke failed to persist: status %d, want it still enabled", r.status)
	}
}

func TestServerCloseFlushesLastRequest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	c := NewClock(testEpoch)
	srv, err := Start(Options{StatePath: path, Now: c.Now}, "")
	if err != nil {
		t.Fatal(err)
	}
	c.Advance(time.Hour)
	req, _ := http.NewRequest("GET", srv.URL+"/v3/session", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Sandbox.OperatorKey())
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.CloseIdleConnections()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	sb, err := New(Options{StatePath: path})
	if err != nil {
		t.Fatal(err)
	}
	sb.mu.Lock()
	last := sb.byID[sb.st.OperatorKey].LastRequest
	sb.mu.Unlock()
	if last == nil || !last.Equal(testEpoch.Add(time.Hour)) {
		t.Errorf("operator lastRequest after restart = %v, want %v", last, testEpoch.Add(time.Hour))
	}
}

func TestServerCloseReportsFlushFailure(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "gone")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	srv, err := Start(Options{StatePath: filepath.Join(dir, "state.json")}, "")
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	req, _ := http.NewRequest("GET", srv.URL+"/v3/session", nil)
	req.Header.Set("Authorization", "Bearer "+srv.Sandbox.OperatorKey())
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tr.CloseIdleConnections()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err == nil || !strings.Contains(err.Error(), "write state") {
		t.Errorf("Close: %v, want a write state error", err)
	}
}
