package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name      string
		opts      Options
		wantErr   bool
		wantOrg   string
		wantName  string
		wantSlug  string
		wantKeys  int
		wantTags  int
		keyPrefix string
	}{
		{name: "defaults", wantOrg: "org_sandbox", wantName: "Sandbox Org", wantSlug: "sandbox-org", wantKeys: 6, wantTags: 5, keyPrefix: "sm_org_sandbox_"},
		{name: "custom org", opts: Options{OrgID: "acme-1", OrgName: "Acme & Co."}, wantOrg: "acme-1", wantName: "Acme & Co.", wantSlug: "acme-co", wantKeys: 6, wantTags: 5, keyPrefix: "sm_acme-1_"},
		{name: "unseeded", opts: Options{Unseeded: true}, wantOrg: "org_sandbox", wantName: "Sandbox Org", wantSlug: "sandbox-org", wantKeys: 1, wantTags: 0, keyPrefix: "sm_org_sandbox_"},
		{name: "org id with a space", opts: Options{OrgID: "org x"}, wantErr: true},
		{name: "org id too long", opts: Options{OrgID: strings.Repeat("a", 65)}, wantErr: true},
		{name: "state in a missing directory", opts: Options{StatePath: "/nonexistent-dir-for-sandbox-test/state.json"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wantErr {
				if _, err := New(tt.opts); err == nil {
					t.Fatal("New succeeded, want an error")
				}
				return
			}
			e := newEnv(t, tt.opts)
			if got := e.sb.KeyCount(); got != tt.wantKeys {
				t.Errorf("KeyCount = %d, want %d", got, tt.wantKeys)
			}
			if got := len(e.listTags()); got != tt.wantTags {
				t.Errorf("%d tags, want %d", got, tt.wantTags)
			}
			op := e.sb.OperatorKey()
			random, ok := strings.CutPrefix(op, tt.keyPrefix)
			if !ok || len(random) < 32 || strings.Trim(random, base62) != "" {
				t.Errorf("operator key is not %s<32+ base62 chars> (length %d)", tt.keyPrefix, len(op))
			}
			var sess struct {
				Org struct{ ID, Name, Slug string } `json:"org"`
			}
			decode(t, e.do("GET", "/v3/session", op, "").body, &sess)
			if sess.Org.ID != tt.wantOrg || sess.Org.Name != tt.wantName || sess.Org.Slug != tt.wantSlug {
				t.Errorf("org = %+v, want %s %q %s", sess.Org, tt.wantOrg, tt.wantName, tt.wantSlug)
			}
		})
	}
}

func TestSeed(t *testing.T) {
	e := newEnv(t, Options{})
	keys := e.listKeys()
	want := map[string]struct {
		scoped  bool
		tag     string
		enabled bool
		expired bool
	}{
		"operator (Full Access)":      {false, "", true, false},
		"ci-deploy":                   {false, "", true, false},
		"agent-demo-project-20261101": {true, "demo-project", true, false},
		"console-proj-search":         {true, "proj-search", true, false},
		"agent-old-user_alex":         {true, "user_alex", false, false},
		"agent-expired-team":          {true, "team:search", true, true},
	}
	if len(keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(keys), len(want))
	}
	var onlyTag int
	for _, k := range keys {
		name := k.str("name")
		w, ok := want[name]
		if !ok {
			t.Errorf("unexpected seeded key %q", name)
			continue
		}
		if k.boolean("isScoped") != w.scoped || k.boolean("enabled") != w.enabled {
			t.Errorf("%s: isScoped=%v enabled=%v, want %v %v", name, k.boolean("isScoped"), k.boolean("enabled"), w.scoped, w.enabled)
		}
		_, hasTag := k["containerTag"]
		_, hasTags := k["containerTags"]
		switch {
		case w.scoped && (!hasTag || !hasTags):
			t.Errorf("%s: scoped key lacks containerTag or containerTags", name)
		case hasTag && !hasTags:
			onlyTag++
		case hasTags && !hasTag:
			t.Errorf("%s: containerTags without containerTag", name)
		case !hasTag && !hasTags:
			t.Errorf("%s: neither containerTag nor containerTags", name)
		}
		if got := k.str("permission"); got != "write" {
			t.Errorf("%s: permission %q, want write", name, got)
		}
		var tags []string
		_ = json.Unmarshal(k["containerTags"], &tags)
		if got := k.str("containerTag"); hasTag && got != w.tag || hasTags && w.scoped && !slices.Equal(tags, []string{w.tag}) {
			t.Errorf("%s: containerTag %q containerTags %v, want %q", name, got, tags, w.tag)
		}
		if !w.scoped && hasTag && string(k["containerTag"]) != "null" {
			t.Errorf("%s: Full Access key has containerTag %s, want null", name, k["containerTag"])
		}
		expired := false
		if exp := k.str("expiresAt"); exp != "" {
			at, err := time.Parse(time.RFC3339, exp)
			if err != nil {
				t.Fatalf("%s: expiresAt %q: %v", name, exp, err)
			}
			expired = !at.After(testEpoch)
		}
		if expired != w.expired {
			t.Errorf("%s: expired = %v, want %v", name, expired, w.expired)
		}
	}
	if onlyTag == 0 {
		t.Error("seeded keys do not vary: no Full Access key is listed with only containerTag")
	}

	tags := e.listTags()
	if got, want := tagNames(tags), []string{"demo-project", "proj-search", "proj-prod-eu", "user_alex", "team:search"}; !slices.Equal(got, want) {
		t.Errorf("tags = %v, want %v", got, want)
	}
	nullActivity := 0
	for _, tg := range tags {
		if string(tg["lastActivityAt"]) == "null" {
			nullActivity++
		}
	}
	if nullActivity != 1 {
		t.Errorf("%d tags with lastActivityAt null, want 1", nullActivity)
	}
}

func TestSession(t *testing.T) {
	e := newEnv(t, Options{})
	expires := testEpoch.Add(72 * time.Hour)
	_, scoped, err := e.sb.AddKey(NewKey{Name: "s", Tags: []string{"proj-search"}, ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	_, multi, err := e.sb.AddKey(NewKey{Name: "m", Tags: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	type scope struct {
		Type       string   `json:"type"`
		Permission string   `json:"permission"`
		Tag        string   `json:"tag"`
		Tags       []string `json:"tags"`
		RateLimit  int      `json:"rateLimit"`
		Expires    *string  `json:"expires"`
	}
	tests := []struct {
		name    string
		key     string
		access  string
		scope   scope
		expires string
	}{
		{"operator", e.sb.OperatorKey(), "full", scope{Type: "full", Permission: "write"}, ""},
		{"scoped", scoped, "scoped", scope{Type: "scoped", Permission: "write", Tag: "proj-search", Tags: []string{"proj-search"}, RateLimit: 500}, "2026-03-04T12:00:00.000Z"},
		{"multi-tag", multi, "scoped", scope{Type: "scoped", Permission: "write", Tag: "a", Tags: []string{"a", "b"}, RateLimit: 500}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("GET", "/v3/session", tt.key, "")
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var got struct {
				User       struct{ ID, Email, Name string } `json:"user"`
				Plan       string                           `json:"plan"`
				Role       string                           `json:"role"`
				AccessType string                           `json:"accessType"`
				Scope      scope                            `json:"scope"`
			}
			decode(t, r.body, &got)
			if got.AccessType != tt.access || got.User.ID == "" || got.Plan == "" || got.Role == "" {
				t.Errorf("session = %+v", got)
			}
			gotExp := ""
			if got.Scope.Expires != nil {
				gotExp = *got.Scope.Expires
			}
			got.Scope.Expires = nil
			if !equalJSON(got.Scope, tt.scope) || gotExp != tt.expires {
				t.Errorf("scope = %+v expires %q, want %+v expires %q", got.Scope, gotExp, tt.scope, tt.expires)
			}
		})
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestListKeysFields(t *testing.T) {
	e := newEnv(t, Options{})
	e.clock.Advance(time.Minute)
	c := e.mint(`{"containerTag":"demo-project","name":"agent-x","expiresInDays":30}`)
	keys := e.listKeys()
	k := findKey(keys, "id", c.ID)
	if k == nil {
		t.Fatal("minted key not listed")
	}
	want := map[string]string{
		"id":            `"` + c.ID + `"`,
		"name":          `"agent-x"`,
		"start":         `"sm_org_san"`,
		"createdAt":     `"2026-03-01T12:01:00.000Z"`,
		"expiresAt":     `"2026-03-31T12:01:00.000Z"`,
		"lastRequest":   `null`,
		"enabled":       `true`,
		"isScoped":      `true`,
		"containerTag":  `"demo-project"`,
		"containerTags": `["demo-project"]`,
		"permission":    `"write"`,
		"metadata":      `"{\"organizationId\":\"org_sandbox\"}"`,
	}
	for field, w := range want {
		if got := string(k[field]); got != w {
			t.Errorf("%s = %s, want %s", field, got, w)
		}
	}
	if len(k) != len(want) {
		t.Errorf("key item has %d fields, want %d", len(k), len(want))
	}
	// The listing authenticated with the operator key: its lastRequest is now.
	if got := string(findKey(keys, "name", operatorName)["lastRequest"]); got != `"2026-03-01T12:01:00.000Z"` {
		t.Errorf("operator lastRequest = %s, want the time of the listing", got)
	}
	// A key that authenticates gets a lastRequest.
	e.clock.Advance(time.Hour)
	e.do("GET", "/v3/session", c.Key, "")
	if got := string(findKey(e.listKeys(), "id", c.ID)["lastRequest"]); got != `"2026-03-01T13:01:00.000Z"` {
		t.Errorf("minted key lastRequest = %s after use", got)
	}
}

func TestListingsNeverShowSecrets(t *testing.T) {
	e := newEnv(t, Options{})
	secrets := []string{e.sb.OperatorKey()}
	for _, tags := range [][]string{nil, {"user_alex"}} {
		_, s, err := e.sb.AddKey(NewKey{Name: "seeded", Tags: tags})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	for _, body := range []string{`{"containerTag":"demo-project"}`, `{"containerTag":"brand-new","expiresInDays":1}`} {
		secrets = append(secrets, e.mint(body).Key)
	}
	op := e.sb.OperatorKey()
	for _, path := range []string{"/v3/auth/keys", "/v3/container-tags/list", "/v3/session"} {
		body := string(e.do("GET", path, op, "").body)
		for i, s := range secrets {
			// Look for the whole secret and for any 16-character run of its
			// random part.
			random := s[strings.LastIndexByte(s, '_')+1:]
			for j := 0; j+16 <= len(random); j++ {
				if strings.Contains(body, random[j:j+16]) {
					t.Errorf("%s shows part of secret #%d", path, i)
					break
				}
			}
		}
	}
	for _, k := range e.listKeys() {
		if _, ok := k["key"]; ok {
			t.Errorf("key %s has a key field", k.str("id"))
		}
		if start := k.str("start"); len(start) != startLen {
			t.Errorf("start of %s has %d characters, want %d", k.str("id"), len(start), startLen)
		}
	}
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t, Options{})
	_, revoked, err := e.sb.AddKey(NewKey{Name: "r", Tags: []string{"demo-project"}, Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	_, expired, err := e.sb.AddKey(NewKey{Name: "e", ExpiresAt: testEpoch.Add(-time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	_, expiresNow, err := e.sb.AddKey(NewKey{Name: "n", ExpiresAt: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	op := e.sb.OperatorKey()
	auths := []struct {
		name    string
		header  string
		details string
	}{
		{"missing", "", "missing"},
		{"basic scheme", "Basic " + op, "Bearer"},
		{"empty token", "Bearer ", "Bearer"},
		{"no scheme", op, "Bearer"},
		{"two tokens", "Bearer " + op + " x", "Bearer"},
		{"unknown key", "Bearer sm_org_sandbox_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "invalid"},
		{"operator key changed", "Bearer " + op + "x", "invalid"},
		{"revoked", "Bearer " + revoked, "revoked"},
		{"expired", "Bearer " + expired, "expired"},
		{"expiring this instant", "Bearer " + expiresNow, "expired"},
	}
	endpoints := []struct{ method, path, body string }{
		{"GET", "/v3/session", ""},
		{"GET", "/v3/auth/keys", ""},
		{"GET", "/v3/container-tags/list", ""},
		{"POST", "/v3/auth/scoped-key", `{"containerTag":"demo-project"}`},
		{"DELETE", "/v3/auth/scoped-key/key_x", ""},
	}
	before := e.sb.KeyCount()
	for _, a := range auths {
		for _, ep := range endpoints {
			t.Run(a.name+" "+ep.path, func(t *testing.T) {
				req, _ := http.NewRequest(ep.method, e.url+ep.path, strings.NewReader(ep.body))
				if a.header != "" {
					req.Header.Set("Authorization", a.header)
				}
				resp, err := e.client.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var body errorBody
				if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
					t.Fatal(err)
				}
				if resp.StatusCode != http.StatusUnauthorized || body.Error != "Unauthorized" || !strings.Contains(body.Details, a.details) {
					t.Errorf("status %d, body %+v; want 401 Unauthorized with details about %q", resp.StatusCode, body, a.details)
				}
				if strings.Contains(body.Details, "sm_") {
					t.Error("401 details quote the token")
				}
			})
		}
	}
	if e.sb.KeyCount() != before {
		t.Errorf("unauthorised creates minted %d keys", e.sb.KeyCount()-before)
	}
	// The scheme is case-insensitive.
	req, _ := http.NewRequest("GET", e.url+"/v3/session", nil)
	req.Header.Set("Authorization", "bearer "+op)
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer: status %d", resp.StatusCode)
	}
}

func TestScopedKeyCannotManage(t *testing.T) {
	e := newEnv(t, Options{})
	target, _, err := e.sb.AddKey(NewKey{Name: "target", Tags: []string{"demo-project"}})
	if err != nil {
		t.Fatal(err)
	}
	scoped := e.mint(`{"containerTag":"demo-project"}`).Key
	before := e.sb.KeyCount()
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v3/session", "", http.StatusOK},
		{"GET", "/v3/auth/keys", "", http.StatusForbidden},
		{"GET", "/v3/container-tags/list", "", http.StatusForbidden},
		{"POST", "/v3/auth/scoped-key", `{"containerTag":"demo-project"}`, http.StatusForbidden},
		{"DELETE", "/v3/auth/scoped-key/" + target, "", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(tt.method, tt.path, scoped, tt.body)
			if r.status != tt.want {
				t.Fatalf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
			if tt.want == http.StatusForbidden {
				var body errorBody
				decode(t, r.body, &body)
				if body.Error != "Forbidden" {
					t.Errorf("error = %q, want Forbidden", body.Error)
				}
			}
		})
	}
	if e.sb.KeyCount() != before {
		t.Error("a scoped key minted a key")
	}
	if !findKey(e.listKeys(), "id", target).boolean("enabled") {
		t.Error("a scoped key revoked a key")
	}
}

func TestRevoke(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	c := e.mint(`{"containerTag":"demo-project","expiresInDays":30}`)
	if r := e.do("GET", "/v3/session", c.Key, ""); r.status != http.StatusOK {
		t.Fatalf("minted key: status %d before revoke", r.status)
	}
	ci := findKey(e.listKeys(), "name", "ci-deploy").str("id")
	tests := []struct {
		name    string
		id      string
		status  int
		success bool
	}{
		{"scoped key", c.ID, http.StatusOK, true},
		{"already revoked", c.ID, http.StatusOK, true},
		{"unknown id", "key_doesnotexist", http.StatusNotFound, false},
		{"full access key is revoked too, as upstream does", ci, http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("DELETE", "/v3/auth/scoped-key/"+tt.id, op, "")
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if !tt.success {
				var body errorBody
				decode(t, r.body, &body)
				if body.Error != "Key not found" {
					t.Errorf("error = %q", body.Error)
				}
				return
			}
			var body struct {
				Success bool   `json:"success"`
				ID      string `json:"id"`
			}
			decode(t, r.body, &body)
			if !body.Success || body.ID != tt.id {
				t.Errorf("body = %+v", body)
			}
			if findKey(e.listKeys(), "id", tt.id).boolean("enabled") {
				t.Error("key still enabled in the listing")
			}
		})
	}
	if r := e.do("GET", "/v3/session", c.Key, ""); r.status != http.StatusUnauthorized {
		t.Errorf("revoked key: status %d, want 401 at once", r.status)
	}
	// Revoking the operator key locks the operator out, as upstream would.
	opID := findKey(e.listKeys(), "name", operatorName).str("id")
	if r := e.do("DELETE", "/v3/auth/scoped-key/"+opID, op, ""); r.status != http.StatusOK {
		t.Fatalf("revoke operator: status %d", r.status)
	}
	if r := e.do("GET", "/v3/session", op, ""); r.status != http.StatusUnauthorized {
		t.Errorf("operator after self-revoke: status %d, want 401", r.status)
	}
}

func TestForbiddenAndUnknownEndpoints(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	tests := []struct {
		method, path string
		forbidden    bool
	}{
		{"POST", "/v3/auth/agent-key", true},
		{"GET", "/v3/auth/key", true},
		{"POST", "/v3/auth/key", true},
		{"POST", "/api/auth/api-key/create", true},
		{"GET", "/api/auth/session", true},
		{"GET", "/api/auth", true},
		{"PUT", "/v3/auth/keys/key_1/toggle", true},
		{"DELETE", "/v3/container-tags/demo-project", true},
		{"PATCH", "/v3/container-tags/demo-project", true},
		{"DELETE", "/v3/container-tags/list", true},
		{"GET", "/V3/Auth/Agent-Key", true},
		{"POST", "/v3/x/../auth/agent-key", true},
		{"GET", "/v3/container-tags/demo-project", false},
		{"POST", "/v3/auth/keys", false},
		{"GET", "/v3/session/", false},
		{"DELETE", "/v3/auth/scoped-key/", false},
		{"DELETE", "/v3/auth/scoped-key/a/b", false},
		{"PUT", "/v3/auth/scoped-key", false},
		{"GET", "/", false},
		{"GET", "/v3/documents", false},
		{"POST", "/v3/documents/x", false},
		{"GET", "/v3/search", false},
	}
	before := e.sb.KeyCount()
	var wantForbidden []string
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.do(tt.method, tt.path, op, `{"containerTag":"demo-project"}`)
			var body errorBody
			decode(t, r.body, &body)
			if tt.forbidden {
				if r.status != http.StatusForbidden || body.Error != "this endpoint is not available in the sandbox" {
					t.Errorf("status %d body %+v, want 403", r.status, body)
				}
			} else if r.status != http.StatusNotFound || body.Error == "" {
				t.Errorf("status %d body %+v, want 404 with an error", r.status, body)
			}
		})
		if tt.forbidden {
			wantForbidden = append(wantForbidden, tt.method+" "+tt.path)
		}
	}
	var got []string
	for _, r := range e.sb.ForbiddenRequests() {
		if !r.Forbidden || r.Endpoint != EndpointForbidden || r.Status != http.StatusForbidden {
			t.Errorf("forbidden request recorded as %+v", r)
		}
		got = append(got, r.Method+" "+r.Path)
	}
	if !slices.Equal(got, wantForbidden) {
		t.Errorf("ForbiddenRequests = %v\nwant %v", got, wantForbidden)
	}
	if n := e.sb.Count(EndpointForbidden); n != len(wantForbidden) {
		t.Errorf("Count(forbidden) = %d, want %d", n, len(wantForbidden))
	}
	if n := e.sb.Count(EndpointUnknown); n != len(tests)-len(wantForbidden) {
		t.Errorf("Count(unknown) = %d, want %d", n, len(tests)-len(wantForbidden))
	}
	if e.sb.KeyCount() != before {
		t.Error("a forbidden endpoint minted a key")
	}
	if !slices.Contains(tagNames(e.listTags()), "demo-project") {
		t.Error("a forbidden DELETE removed a tag")
	}
}

func TestRequestsLog(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	e.do("GET", "/v3/session", op, "")
	e.clock.Advance(time.Second)
	e.do("GET", "/v3/auth/keys", "", "")
	e.do("POST", "/v3/auth/agent-key", op, "")
	e.do("GET", "/nope", op, "")
	e.do("DELETE", "/v3/auth/scoped-key/key_abc", op, "")
	want := []Request{
		{Method: "GET", Path: "/v3/session", Endpoint: EndpointSession, Status: 200, Time: testEpoch},
		{Method: "GET", Path: "/v3/auth/keys", Endpoint: EndpointListKeys, Status: 401, Time: testEpoch.Add(time.Second)},
		{Method: "POST", Path: "/v3/auth/agent-key", Endpoint: EndpointForbidden, Status: 403, Forbidden: true, Time: testEpoch.Add(time.Second)},
		{Method: "GET", Path: "/nope", Endpoint: EndpointUnknown, Status: 404, Time: testEpoch.Add(time.Second)},
		{Method: "DELETE", Path: "/v3/auth/scoped-key/key_abc", Endpoint: EndpointRevoke, Status: 404, Time: testEpoch.Add(time.Second)},
	}
	got := e.sb.Requests()
	if len(got) != len(want) {
		t.Fatalf("Requests() has %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	counts := map[Endpoint]int{EndpointSession: 1, EndpointListKeys: 1, EndpointForbidden: 1, EndpointUnknown: 1, EndpointRevoke: 1, EndpointCreate: 0, EndpointListTags: 0}
	for ep, n := range counts {
		if got := e.sb.Count(ep); got != n {
			t.Errorf("Count(%s) = %d, want %d", ep, got, n)
		}
	}
}

func TestRequestsLogIsBounded(t *testing.T) {
	sb, err := New(Options{Unseeded: true})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "/nope", nil)
	for range 2*maxRecorded + 5 {
		seq, _ := sb.begin(req, EndpointUnknown)
		sb.finish(seq, 404)
	}
	got := sb.Requests()
	if len(got) < maxRecorded || len(got) > 2*maxRecorded {
		t.Errorf("%d requests kept, want between %d and %d", len(got), maxRecorded, 2*maxRecorded)
	}
	if got[len(got)-1].Status != 404 {
		t.Errorf("last request status %d", got[len(got)-1].Status)
	}
	if sb.Count(EndpointUnknown) != 2*maxRecorded+5 {
		t.Errorf("Count = %d, counts must not be bounded", sb.Count(EndpointUnknown))
	}
}

func TestAddKeyAndTag(t *testing.T) {
	e := newEnv(t, Options{Unseeded: true})
	if _, _, err := e.sb.AddKey(NewKey{Name: "x", Tags: []string{""}}); err == nil {
		t.Error("AddKey with an empty tag succeeded")
	}
	created := testEpoch.Add(-48 * time.Hour)
	id, secret, err := e.sb.AddKey(NewKey{Name: "odd * name", Tags: []string{"weird tag*"}, CreatedAt: created})
	if err != nil {
		t.Fatal(err)
	}
	k := findKey(e.listKeys(), "id", id)
	if k == nil || k.str("name") != "odd * name" || k.str("containerTag") != "weird tag*" || k.str("createdAt") != "2026-02-27T12:00:00.000Z" {
		t.Errorf("seeded key listed as %v", k)
	}
	if !strings.HasPrefix(secret, k.str("start")) {
		t.Error("start is not a prefix of the secret")
	}
	if slices.Contains(tagNames(e.listTags()), "weird tag*") {
		t.Error("AddKey added its tag to the tag list")
	}

	tagTests := []struct {
		tag        string
		docs, mems int64
		wantErr    bool
		active     bool
	}{
		{"fresh", 0, 0, false, false},
		{"busy", 3, 7, false, true},
		{"fresh", 2, 0, false, true}, // updates the existing tag
		{"bad tag", 0, 0, true, false},
		{"", 0, 0, true, false},
		{"neg", -1, 0, true, false},
	}
	for _, tt := range tagTests {
		err := e.sb.AddTag(tt.tag, tt.docs, tt.mems)
		if (err != nil) != tt.wantErr {
			t.Errorf("AddTag(%q) error = %v, want error %v", tt.tag, err, tt.wantErr)
		}
		if tt.wantErr {
			continue
		}
		var found tagItem
		for _, tg := range e.listTags() {
			if string(tg["containerTag"]) == `"`+tt.tag+`"` {
				found = tg
			}
		}
		if found == nil {
			t.Fatalf("tag %q not listed", tt.tag)
		}
		var docs, mems int64
		_ = json.Unmarshal(found["documentCount"], &docs)
		_ = json.Unmarshal(found["memoryCount"], &mems)
		if docs != tt.docs || mems != tt.mems || (string(found["lastActivityAt"]) != "null") != tt.active {
			t.Errorf("tag %q listed as docs=%d mems=%d lastActivityAt=%s", tt.tag, docs, mems, found["lastActivityAt"])
		}
		for _, f := range []string{"id", "name", "description", "createdAt", "updatedAt", "isExperimental", "isNova"} {
			if _, ok := found[f]; !ok {
				t.Errorf("tag %q lacks %s", tt.tag, f)
			}
		}
	}
	if got := tagNames(e.listTags()); !slices.Equal(got, []string{"fresh", "busy"}) {
		t.Errorf("tags = %v", got)
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		method, path string
		want         Endpoint
	}{
		{"GET", "/v3/session", EndpointSession},
		{"HEAD", "/v3/session", EndpointUnknown},
		{"GET", "/v3/auth/keys", EndpointListKeys},
		{"GET", "/v3/container-tags/list", EndpointListTags},
		{"POST", "/v3/auth/scoped-key", EndpointCreate},
		{"DELETE", "/v3/auth/scoped-key/key_1", EndpointRevoke},
		{"DELETE", "/v3/auth/scoped-key/", EndpointUnknown},
		{"GET", "/v3/auth/keys/k/toggle", EndpointForbidden},
		{"GET", "/v3/auth/keys/k/toggle/", EndpointForbidden},
		{"GET", "//api//auth/x", EndpointForbidden},
		{"GET", "/api/authx", EndpointUnknown},
		{"delete", "/v3/container-tags/t", EndpointForbidden},
		{"PUT", "/v3/container-tags/t", EndpointUnknown},
		{"GET", "/v3/auth/keys/k", EndpointUnknown},
		{"POST", "/v3/documents", EndpointAddDocument},
		{"POST", "/v3/search", EndpointSearch},
		{"GET", "/v3/documents", EndpointUnknown},
		{"POST", "/v3/Search", EndpointUnknown},
		{"POST", "/v3/documents/", EndpointUnknown},
	}
	for _, tt := range tests {
		if got := classify(tt.method, tt.path); got != tt.want {
			t.Errorf("classify(%s %s) = %s, want %s", tt.method, tt.path, got, tt.want)
		}
	}
}

func TestHelpers(t *testing.T) {
	for _, n := range []int{1, 32, 40, 200} {
		s, err := randomString(n)
		if err != nil {
			t.Fatal(err)
		}
		if len(s) != n || strings.Trim(s, base62) != "" {
			t.Errorf("randomString(%d) has length %d or a non-base62 character", n, len(s))
		}
	}
	a, _ := randomString(40)
	b, _ := randomString(40)
	if a == b {
		t.Error("two random strings are equal")
	}
	long := strings.Repeat("é", 100)
	if q := quote(long); !strings.HasSuffix(q, "…") || strings.Count(q, "é") != maxQuoted {
		t.Errorf("quote of a long string: %d characters kept", strings.Count(q, "é"))
	}
	if q := quote("a\nb"); q != `"a\nb"` {
		t.Errorf("quote = %s", q)
	}
	slugs := map[string]string{"Sandbox Org": "sandbox-org", "  Acme!! Co  ": "acme-co", "ÄÖ": ""}
	for in, want := range slugs {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOnRequestSeesEveryAnsweredRequest(t *testing.T) {
	seen := make(chan Request, 10)
	srv, err := Start(Options{OnRequest: func(r Request) { seen <- r }}, "")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, path := range []string{"/v3/session", "/v3/auth/agent-key"} {
		resp, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var got []Request
	for len(got) < 2 {
		select {
		case r := <-seen:
			got = append(got, r)
		case <-time.After(10 * time.Second):
			t.Fatalf("OnRequest saw only %+v", got)
		}
	}
	if got[0].Endpoint != EndpointSession || got[0].Status != http.StatusUnauthorized || !got[1].Forbidden || got[1].Status != http.StatusForbidden {
		t.Errorf("OnRequest saw %+v", got)
	}
}
