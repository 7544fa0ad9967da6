package sandbox

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestStateKeepsTagsAndPermission checks that keys minted with several tags,
// a read permission or a hidden permission come back the same after a
// restart.
func TestStateKeepsTagsAndPermission(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	first := newEnv(t, Options{StatePath: path})
	multi := first.mint(`{"containerTags":["tenant:a","tenant:b"],"permission":"read"}`)
	first.sb.Inject(Fault{Endpoint: EndpointCreate, OmitPermission: true})
	hidden := first.mint(`{"containerTag":"demo-project","permission":"read"}`)
	_, seeded, err := first.sb.AddKey(NewKey{Name: "seeded-read", Tags: []string{"x", "y"}, Permission: "read"})
	if err != nil {
		t.Fatal(err)
	}

	second := newEnv(t, Options{StatePath: path})
	keys := second.listKeys()
	tests := []struct {
		name      string
		id, key   string
		tags      []string
		permShown bool
	}{
		{"multi-tag read", multi.ID, multi.Key, []string{"tenant:a", "tenant:b"}, true},
		{"hidden permission", hidden.ID, hidden.Key, []string{"demo-project"}, false},
		{"seeded read", "", seeded, []string{"x", "y"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.id != "" {
				k := findKey(keys, "id", tt.id)
				var tags []string
				_ = json.Unmarshal(k["containerTags"], &tags)
				_, shown := k["permission"]
				if !slices.Equal(tags, tt.tags) || shown != tt.permShown || shown && k.str("permission") != "read" {
					t.Errorf("listed after restart: containerTags %s permission %s", k["containerTags"], k["permission"])
				}
			}
			_, _, scope := second.session(tt.key)
			if !slices.Equal(scope.Tags, tt.tags) || scope.Permission != "read" {
				t.Errorf("session after restart: %+v", scope)
			}
			if r := second.do("POST", "/v3/documents", tt.key, `{"content":"c","containerTag":"`+tt.tags[0]+`"}`); r.status != http.StatusForbidden {
				t.Errorf("read key wrote a document after restart: status %d", r.status)
			}
		})
	}
}

// TestStateWithoutPermissionLoads checks that a state file written before
// keys had a permission loads, every key then being a write key.
func TestStateWithoutPermissionLoads(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "old.json")
	first := newEnv(t, Options{StatePath: path})
	minted := first.mint(`{"containerTag":"demo-project"}`)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	for _, k := range st["keys"].([]any) {
		delete(k.(map[string]any), "permission")
		delete(k.(map[string]any), "hidePermission")
	}
	old, _ := json.Marshal(st)
	if err := os.WriteFile(path, old, 0o600); err != nil {
		t.Fatal(err)
	}

	second := newEnv(t, Options{StatePath: path})
	for _, k := range second.listKeys() {
		if k.str("permission") != "write" {
			t.Errorf("key %s of an old state listed with permission %s", k.str("name"), k["permission"])
		}
	}
	if _, _, scope := second.session(minted.Key); scope.Permission != "write" || scope.Tag != "demo-project" {
		t.Errorf("session of an old key: %+v", scope)
	}
	if r := second.do("POST", "/v3/documents", minted.Key, `{"content":"c"}`); r.status != http.StatusOK {
		t.Errorf("old key may not write: status %d", r.status)
	}
	// The next write of the state gives every key its permission.
	second.mint(`{"containerTag":"demo-project"}`)
	data, _ = os.ReadFile(path)
	var rewritten struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(data, &rewritten); err != nil {
		t.Fatal(err)
	}
	for _, k := range rewritten.Keys {
		if k["permission"] != "write" {
			t.Errorf("rewritten key %v has permission %v", k["name"], k["permission"])
		}
	}
}
