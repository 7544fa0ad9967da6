package sandbox

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAuthHeaders checks every endpoint with the key in Authorization:
// Bearer, in x-api-key, in both, and with the two headers disagreeing or
// malformed.
func TestAuthHeaders(t *testing.T) {
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	_, other, err := e.sb.AddKey(NewKey{Name: "second full key"})
	if err != nil {
		t.Fatal(err)
	}
	_, revoked, err := e.sb.AddKey(NewKey{Name: "revoked", Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	_, expired, err := e.sb.AddKey(NewKey{Name: "expired", ExpiresAt: testEpoch})
	if err != nil {
		t.Fatal(err)
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	auths := []struct {
		name    string
		header  http.Header
		ok      bool
		details string // for a 401
	}{
		{"bearer", hdr("Authorization", "Bearer "+op), true, ""},
		{"x-api-key", hdr("x-api-key", op), true, ""},
		{"X-API-KEY spelling", hdr("X-API-KEY", op), true, ""},
		{"both, same key", hdr("Authorization", "Bearer "+op, "x-api-key", op), true, ""},
		{"both, different keys", hdr("Authorization", "Bearer "+op, "x-api-key", other), false, "different keys"},
		{"both, x-api-key unknown", hdr("Authorization", "Bearer "+op, "x-api-key", op+"x"), false, "different keys"},
		{"both, bearer malformed", hdr("Authorization", "Basic "+op, "x-api-key", op), false, "Bearer"},
		{"x-api-key empty", hdr("x-api-key", ""), false, "x-api-key"},
		{"x-api-key with a space", hdr("x-api-key", op+" x"), false, "x-api-key"},
		{"x-api-key Bearer-prefixed", hdr("x-api-key", "Bearer "+op), false, "x-api-key"},
		{"x-api-key twice", hdr("x-api-key", op, "x-api-key", op), false, "one"},
		{"Authorization twice", hdr("Authorization", "Bearer "+op, "Authorization", "Bearer "+op), false, "one"},
		{"x-api-key unknown", hdr("x-api-key", "sm_org_sandbox_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), false, "invalid"},
		{"x-api-key revoked", hdr("x-api-key", revoked), false, "revoked"},
		{"x-api-key expired", hdr("x-api-key", expired), false, "expired"},
		{"neither", hdr(), false, "missing"},
	}
	endpoints := []struct {
		name, method, path, body string
		status                   int // with a good key
	}{
		{"session", "GET", "/v3/session", "", http.StatusOK},
		{"list keys", "GET", "/v3/auth/keys", "", http.StatusOK},
		{"list tags", "GET", "/v3/container-tags/list", "", http.StatusOK},
		{"create", "POST", "/v3/auth/scoped-key", `{"containerTag":"demo-project"}`, http.StatusOK},
		{"revoke", "DELETE", "/v3/auth/scoped-key/", "", http.StatusOK}, // a fresh id is appended
		{"add document", "POST", "/v3/documents", `{"content":"c","containerTag":"demo-project"}`, http.StatusOK},
		{"search", "POST", "/v3/search", `{"q":"x"}`, http.StatusOK},
	}
	for _, a := range auths {
		for _, ep := range endpoints {
			t.Run(a.name+"/"+ep.name, func(t *testing.T) {
				path := ep.path
				var target string
				if ep.name == "revoke" {
					id, _, err := e.sb.AddKey(NewKey{Name: "target", Tags: []string{"demo-project"}})
					if err != nil {
						t.Fatal(err)
					}
					target, path = id, path+id
				}
				keys := e.sb.KeyCount()
				r := e.send(ep.method, path, a.header, ep.body)
				if a.ok {
					if r.status != ep.status {
						t.Fatalf("status %d, want %d: %s", r.status, ep.status, r.body)
					}
					return
				}
				var body errorBody
				decode(t, r.body, &body)
				if r.status != http.StatusUnauthorized || body.Error != "Unauthorized" || !strings.Contains(body.Details, a.details) {
					t.Errorf("status %d body %+v, want 401 with details about %q", r.status, body, a.details)
				}
				if strings.Contains(string(r.body), "sm_") {
					t.Error("the 401 quotes a key")
				}
				if e.sb.KeyCount() != keys {
					t.Error("a refused call minted a key")
				}
				if target != "" && !findKey(e.listKeys(), "id", target).boolean("enabled") {
					t.Error("a refused call revoked a key")
				}
			})
		}
	}
}

// TestAuthScopedKeyViaXAPIKey checks that a scoped key sent as x-api-key is
// held to its scope like one sent as a bearer token.
func TestAuthScopedKeyViaXAPIKey(t *testing.T) {
	e := newEnv(t, Options{})
	scoped := e.mint(`{"containerTag":"demo-project","expiresInDays":1}`).Key
	tests := []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/v3/session", "", http.StatusOK},
		{"POST", "/v3/search", `{"q":"x"}`, http.StatusOK},
		{"POST", "/v3/documents", `{"content":"c"}`, http.StatusOK},
		{"POST", "/v3/documents", `{"content":"c","containerTag":"proj-search"}`, http.StatusForbidden},
		{"GET", "/v3/auth/keys", "", http.StatusForbidden},
		{"POST", "/v3/auth/scoped-key", `{"containerTag":"demo-project"}`, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := e.send(tt.method, tt.path, http.Header{"X-Api-Key": {scoped}}, tt.body)
			if r.status != tt.want {
				t.Errorf("status %d, want %d: %s", r.status, tt.want, r.body)
			}
		})
	}
	// The key expires after one day by the sandbox's clock, whatever header
	// carries it.
	e.clock.Advance(24 * time.Hour)
	if r := e.send("GET", "/v3/session", http.Header{"X-Api-Key": {scoped}}, ""); r.status != http.StatusUnauthorized {
		t.Errorf("expired key as x-api-key: status %d, want 401", r.status)
	}
}
