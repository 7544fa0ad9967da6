package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// manyTags returns n distinct tags t0, t1, ...
func manyTags(n int) []string {
	tags := make([]string, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("t%d", i)
	}
	return tags
}

// jsonArray encodes tags as a JSON array.
func jsonArray(tags []string) string {
	b, _ := json.Marshal(tags)
	return string(b)
}

// sessionScope is the scope of GET /v3/session.
type sessionScope struct {
	Type       string   `json:"type"`
	Permission string   `json:"permission"`
	Tag        string   `json:"tag"`
	Tags       []string `json:"tags"`
}

// session returns the access type and scope of key's session.
func (e *env) session(key string) (int, string, sessionScope) {
	e.t.Helper()
	r := e.do("GET", "/v3/session", key, "")
	var s struct {
		AccessType string       `json:"accessType"`
		Scope      sessionScope `json:"scope"`
	}
	if r.status == http.StatusOK {
		decode(e.t, r.body, &s)
	}
	return r.status, s.AccessType, s.Scope
}

// TestCreateTagsAndPermission mints keys with containerTags and permission
// and checks the answer, the listing and the session agree.
func TestCreateTagsAndPermission(t *testing.T) {
	fifty := manyTags(50)
	tests := []struct {
		name     string
		body     string
		wantTags []string
		wantPerm string
		wantName string
	}{
		{"one containerTag, default write", `{"containerTag":"demo-project"}`, []string{"demo-project"}, "write", "scoped_demo-project"},
		{"one containerTag, read", `{"containerTag":"demo-project","permission":"read"}`, []string{"demo-project"}, "read", "scoped_demo-project"},
		{"one containerTag, write", `{"containerTag":"demo-project","permission":"write"}`, []string{"demo-project"}, "write", "scoped_demo-project"},
		{"null permission is the default", `{"containerTag":"demo-project","permission":null}`, []string{"demo-project"}, "write", "scoped_demo-project"},
		{"containerTags of one", `{"containerTags":["proj-search"]}`, []string{"proj-search"}, "write", "scoped_proj-search"},
		{"containerTags of two, read", `{"containerTags":["proj-search","demo-project"],"permission":"read","name":"agent-two"}`, []string{"proj-search", "demo-project"}, "read", "agent-two"},
		{"containerTags of 50, new tags", `{"containerTags":` + jsonArray(fifty) + `}`, fifty, "write", "scoped_t0"},
		{"tags differing in case are distinct", `{"containerTags":["Tag","tag"]}`, []string{"Tag", "tag"}, "write", "scoped_Tag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			// The raw answer: containerTag only for one tag, containerTags
			// and permission always.
			r := e.do("POST", "/v3/auth/scoped-key", e.sb.OperatorKey(), tt.body)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var raw map[string]json.RawMessage
			decode(t, r.body, &raw)
			var c createResp
			decode(t, r.body, &c)
			if _, has := raw["containerTag"]; has != (len(tt.wantTags) == 1) {
				t.Errorf("containerTag present = %v with %d tags", has, len(tt.wantTags))
			}
			if len(tt.wantTags) == 1 && c.ContainerTag != tt.wantTags[0] {
				t.Errorf("containerTag %q, want %q", c.ContainerTag, tt.wantTags[0])
			}
			if !slices.Equal(c.ContainerTags, tt.wantTags) || c.Permission != tt.wantPerm || c.Name != tt.wantName {
				t.Errorf("answer tags %v permission %q name %q, want %v %q %q", c.ContainerTags, c.Permission, c.Name, tt.wantTags, tt.wantPerm, tt.wantName)
			}

			k := findKey(e.listKeys(), "id", c.ID)
			var listed []string
			_ = json.Unmarshal(k["containerTags"], &listed)
			if !slices.Equal(listed, tt.wantTags) || k.str("containerTag") != tt.wantTags[0] || k.str("permission") != tt.wantPerm || !k.boolean("isScoped") {
				t.Errorf("listed as containerTag %s containerTags %s permission %s isScoped %s",
					k["containerTag"], k["containerTags"], k["permission"], k["isScoped"])
			}

			status, access, scope := e.session(c.Key)
			want := sessionScope{Type: "scoped", Permission: tt.wantPerm, Tag: tt.wantTags[0], Tags: tt.wantTags}
			if status != http.StatusOK || access != "scoped" || !equalJSON(scope, want) {
				t.Errorf("session: status %d access %q scope %+v, want %+v", status, access, scope, want)
			}

			// Every tag of the key is on the tag list.
			names := tagNames(e.listTags())
			for _, tag := range tt.wantTags {
				if !slices.Contains(names, tag) {
					t.Errorf("tag %s not listed after the create", tag)
				}
			}
		})
	}
}

func TestCreateTagsAndPermissionRejects(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		errHas string
	}{
		{"both fields", `{"containerTag":"x","containerTags":["x"]}`, "not both"},
		{"both fields, tags null", `{"containerTag":"x","containerTags":null}`, "not both"},
		{"both fields, tag null", `{"containerTag":null,"containerTags":["x"]}`, "not both"},
		{"null containerTags alone", `{"containerTags":null}`, "containerTag is required"},
		{"empty containerTags", `{"containerTags":[]}`, "1 to 50 tags, not 0"},
		{"51 tags", `{"containerTags":` + jsonArray(manyTags(51)) + `}`, "1 to 50 tags, not 51"},
		{"repeated tag", `{"containerTags":["a","b","a"]}`, `lists "a" twice`},
		{"invalid tag in the array", `{"containerTags":["ok","bad tag!"]}`, `containerTags[1] "bad tag!" may contain only`},
		{"empty tag in the array", `{"containerTags":["ok",""]}`, "containerTags[1] must be 1 to 100"},
		{"tag of 101 in the array", `{"containerTags":["` + strings.Repeat("t", 101) + `"]}`, "containerTags[0] must be 1 to 100"},
		{"number in the array", `{"containerTags":["ok",5]}`, "containerTags[1] must be a string"},
		{"null in the array", `{"containerTags":[null]}`, "containerTags[0] must be a string"},
		{"nested array", `{"containerTags":[["a"]]}`, "containerTags[0] must be a string"},
		{"string instead of array", `{"containerTags":"a"}`, "must be an array"},
		{"object instead of array", `{"containerTags":{"a":1}}`, "must be an array"},
		{"permission admin", `{"containerTag":"x","permission":"admin"}`, `permission "admin" is not one of`},
		{"permission upper case", `{"containerTag":"x","permission":"READ"}`, `permission "READ" is not one of`},
		{"permission empty", `{"containerTag":"x","permission":""}`, "is not one of"},
		{"permission number", `{"containerTag":"x","permission":1}`, "permission must be a string"},
		{"permission array", `{"containerTag":"x","permission":["read"]}`, "permission must be a string"},
		{"duplicate permission", `{"containerTag":"x","permission":"read","permission":"write"}`, `duplicate field "permission"`},
		{"case variant of permission", `{"containerTag":"x","Permission":"read"}`, `unknown field "Permission"`},
		{"case variant of containerTags", `{"containerTag":"x","ContainerTags":["y"]}`, `unknown field "ContainerTags"`},
	}
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	before := e.sb.KeyCount()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v3/auth/scoped-key", op, tt.body)
			var body errorBody
			decode(t, r.body, &body)
			if r.status != http.StatusBadRequest || !strings.Contains(body.Error, tt.errHas) {
				t.Errorf("status %d error %q, want 400 with %q", r.status, body.Error, tt.errHas)
			}
		})
	}
	if e.sb.KeyCount() != before {
		t.Errorf("rejected creates minted %d keys", e.sb.KeyCount()-before)
	}
}

// TestReadKeyMayNotManage checks that a Full Access key with read
// permission may look but not mint or revoke.
func TestReadKeyMayNotManage(t *testing.T) {
	e := newEnv(t, Options{})
	_, reader, err := e.sb.AddKey(NewKey{Name: "full reader", Permission: "read"})
	if err != nil {
		t.Fatal(err)
	}
	target := e.mint(`{"containerTag":"demo-project"}`).ID
	before := e.sb.KeyCount()
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v3/session", "", http.StatusOK},
		{"GET", "/v3/auth/keys", "", http.StatusOK},
		{"GET", "/v3/container-tags/list", "", http.StatusOK},
		{"POST", "/v3/search", `{"q":"x"}`, http.StatusOK},
		{"POST", "/v3/auth/scoped-key", `{"containerTag":"demo-project"}`, http.StatusForbidden},
		{"DELETE", "/v3/auth/scoped-key/" + target, "", http.StatusForbidden},
		{"POST", "/v3/documents", `{"content":"c","containerTag":"demo-project"}`, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			if r := e.do(tt.method, tt.path, reader, tt.body); r.status != tt.want {
				t.Errorf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
		})
	}
	if e.sb.KeyCount() != before || !findKey(e.listKeys(), "id", target).boolean("enabled") {
		t.Error("a read key minted or revoked a key")
	}
	if _, access, scope := e.session(reader); access != "full" || scope.Permission != "read" {
		t.Errorf("session of a full read key: %q %+v", access, scope)
	}
	if _, _, err := e.sb.AddKey(NewKey{Name: "x", Permission: "admin"}); err == nil {
		t.Error("AddKey accepted permission admin")
	}
}
