package sandbox

import (
	"encoding/json"
	"maps"
	"net/http"
	"strings"
	"testing"
)

// docCounts returns the documentCount of every listed tag.
func (e *env) docCounts() map[string]int64 {
	e.t.Helper()
	counts := map[string]int64{}
	for _, tg := range e.listTags() {
		var tag string
		var n int64
		_ = json.Unmarshal(tg["containerTag"], &tag)
		_ = json.Unmarshal(tg["documentCount"], &n)
		counts[tag] = n
	}
	return counts
}

func TestDataEndpoints(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	add := func(k NewKey) string {
		t.Helper()
		_, secret, err := e.sb.AddKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return secret
	}
	keys := map[string]string{
		"operator":    op,
		"scoped":      e.mint(`{"containerTag":"demo-project"}`).Key,
		"scoped read": e.mint(`{"containerTag":"demo-project","permission":"read"}`).Key,
		"multi":       e.mint(`{"containerTags":["demo-project","proj-search"]}`).Key,
		"multi read":  e.mint(`{"containerTags":["demo-project","proj-search"],"permission":"read"}`).Key,
		"revoked":     add(NewKey{Name: "r", Tags: []string{"demo-project"}, Disabled: true}),
		"expired":     add(NewKey{Name: "e", Tags: []string{"demo-project"}, ExpiresAt: testEpoch}),
	}
	const doc, search = "/v3/documents", "/v3/search"
	tests := []struct {
		key, path, body string
		want            int
		wrote           []string // tags whose documentCount grows by one
		errHas          string
	}{
		{"operator", doc, `{"content":"c","containerTag":"demo-project"}`, 200, []string{"demo-project"}, ""},
		{"operator", doc, `{"content":"c","containerTags":["tenant:new","proj-search"]}`, 200, []string{"tenant:new", "proj-search"}, ""},
		{"operator", doc, `{"content":"c"}`, 400, nil, "containerTag is required"},
		{"operator", search, `{"q":"x"}`, 200, nil, ""},
		{"operator", search, `{"q":"x","containerTags":["proj-prod-eu"]}`, 200, nil, ""},

		{"scoped", doc, `{"content":"c"}`, 200, []string{"demo-project"}, ""},
		{"scoped", doc, `{"content":"c","containerTag":"demo-project","metadata":{"k":"v"}}`, 200, []string{"demo-project"}, ""},
		{"scoped", doc, `{"content":"c","containerTag":"proj-search"}`, 403, nil, ""},
		{"scoped", doc, `{"content":"c","containerTags":["demo-project","proj-search"]}`, 403, nil, ""},
		{"scoped", doc, `{"content":"c","containerTag":"Demo-Project"}`, 403, nil, ""},
		{"scoped", search, `{"q":"x"}`, 200, nil, ""},
		{"scoped", search, `{"q":"x","containerTag":"demo-project"}`, 200, nil, ""},
		{"scoped", search, `{"q":"x","containerTags":["proj-search"]}`, 403, nil, ""},

		{"scoped read", doc, `{"content":"c"}`, 403, nil, "read permission only"},
		{"scoped read", doc, `{"content":"c","containerTag":"demo-project"}`, 403, nil, "read permission only"},
		{"scoped read", search, `{"q":"x"}`, 200, nil, ""},
		{"scoped read", search, `{"q":"x","containerTag":"demo-project"}`, 200, nil, ""},
		{"scoped read", search, `{"q":"x","containerTag":"proj-search"}`, 403, nil, "outside this key's scope"},

		{"multi", doc, `{"content":"c"}`, 400, nil, "several tags"},
		{"multi", doc, `{"content":"c","containerTag":"proj-search"}`, 200, []string{"proj-search"}, ""},
		{"multi", doc, `{"content":"c","containerTags":["demo-project","proj-search"]}`, 200, []string{"demo-project", "proj-search"}, ""},
		{"multi", doc, `{"content":"c","containerTags":["demo-project","proj-prod-eu"]}`, 403, nil, "is outside this key"},
		{"multi", search, `{"q":"x"}`, 200, nil, ""},
		{"multi", search, `{"q":"x","containerTags":["proj-search","demo-project"]}`, 200, nil, ""},
		{"multi", search, `{"q":"x","containerTags":["proj-search","user_alex"]}`, 403, nil, ""},

		{"multi read", doc, `{"content":"c","containerTag":"proj-search"}`, 403, nil, "read permission only"},
		{"multi read", search, `{"q":"x","containerTag":"proj-search"}`, 200, nil, ""},

		{"revoked", doc, `{"content":"c"}`, 401, nil, "revoked"},
		{"revoked", search, `{"q":"x"}`, 401, nil, "revoked"},
		{"expired", doc, `{"content":"c"}`, 401, nil, "expired"},
		{"expired", search, `{"q":"x"}`, 401, nil, "expired"},

		{"scoped", doc, `{}`, 400, nil, "content is required"},
		{"scoped", doc, `{"content":""}`, 400, nil, "content must not be empty"},
		{"scoped", doc, `{"content":5}`, 400, nil, "content must be a string"},
		{"scoped", search, `{"query":"x"}`, 400, nil, "q is required"},
		{"scoped", doc, `{"content":"c","containerTag":"demo-project","containerTags":["demo-project"]}`, 400, nil, "not both"},
		{"scoped", doc, `{"content":"c","containerTag":"demo-project","containerTag":"proj-search"}`, 400, nil, "duplicate field"},
		{"scoped", doc, `{"content":"c","containerTag":"bad tag!"}`, 400, nil, "may contain only"},
		{"scoped", search, `{"q":"x","containerTags":[]}`, 400, nil, "1 to 50"},
		{"scoped", search, `[{"q":"x"}]`, 400, nil, "JSON object"},
		{"scoped", search, `{"q":"x"`, 400, nil, "not valid JSON"},
		{"scoped", doc, `{"content":"` + strings.Repeat("c", 64<<10) + `"}`, 413, nil, "64 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.key+" "+tt.path+" "+tt.body[:min(len(tt.body), 60)], func(t *testing.T) {
			before := e.docCounts()
			r := e.do("POST", tt.path, keys[tt.key], tt.body)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %.200s", r.status, tt.want, r.body)
			}
			if tt.errHas != "" && !strings.Contains(string(r.body), tt.errHas) {
				t.Errorf("body %.200s does not say %q", r.body, tt.errHas)
			}
			if tt.want == http.StatusOK {
				var ok map[string]any
				decode(t, r.body, &ok)
				if tt.path == doc && (!strings.HasPrefix(ok["id"].(string), "doc_") || ok["status"] != "queued") {
					t.Errorf("document answer %s", r.body)
				}
				if tt.path == search && ok["total"] != float64(0) {
					t.Errorf("search answer %s", r.body)
				}
			}
			want := maps.Clone(before)
			for _, tag := range tt.wrote {
				want[tag]++
			}
			if got := e.docCounts(); !maps.Equal(got, want) {
				t.Errorf("document counts %v, want %v", got, want)
			}
		})
	}
	if n := e.sb.Count(EndpointAddDocument); n == 0 || e.sb.Count(EndpointSearch) == 0 {
		t.Errorf("data calls not counted: %d documents", n)
	}
	for _, r := range e.sb.Requests() {
		if r.Path == doc && r.Endpoint != EndpointAddDocument || r.Path == search && r.Endpoint != EndpointSearch {
			t.Errorf("recorded as %+v", r)
		}
	}
}

// TestDataEndpointsRecordActivity checks that a document marks its tag
// active by the sandbox's clock, and survives in the state file.
func TestDataEndpointsRecordActivity(t *testing.T) {
	path := t.TempDir() + "/state.json"
	e := newEnv(t, Options{StatePath: path})
	key := e.mint(`{"containerTag":"team:search"}`).Key
	if r := e.do("POST", "/v3/documents", key, `{"content":"c"}`); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	second := newEnv(t, Options{StatePath: path})
	for _, tg := range second.listTags() {
		if string(tg["containerTag"]) == `"team:search"` {
			if string(tg["documentCount"]) != "1" || string(tg["lastActivityAt"]) != `"2026-03-01T12:00:00.000Z"` {
				t.Errorf("team:search after a document and a restart: %s %s", tg["documentCount"], tg["lastActivityAt"])
			}
			return
		}
	}
	t.Error("team:search not listed")
}
