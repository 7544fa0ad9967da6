package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestCreate(t *testing.T) {
	tag100 := strings.Repeat("t", 100)
	tests := []struct {
		name        string
		body        string
		wantName    string
		wantTag     string
		wantExpires string // "" = never
		wantRate    int
	}{
		{"defaults", `{"containerTag":"demo-project"}`, "scoped_demo-project", "demo-project", "", 500},
		{"the new user's call", `{"containerTag":"demo-project","expiresInDays":30}`, "scoped_demo-project", "demo-project", "2026-03-31T12:00:00.000Z", 500},
		{"every field", `{"containerTag":"proj-search","name":"agent-proj-search-20260301","expiresInDays":1,"rateLimitMax":10000,"rateLimitTimeWindow":3600000}`, "agent-proj-search-20260301", "proj-search", "2026-03-02T12:00:00.000Z", 10000},
		{"lowest limits", `{"containerTag":"a","expiresInDays":365,"rateLimitMax":1,"rateLimitTimeWindow":1}`, "scoped_a", "a", "2027-03-01T12:00:00.000Z", 1},
		{"every tag character", `{"containerTag":"A.b:c_d-9"}`, "scoped_A.b:c_d-9", "A.b:c_d-9", "", 500},
		{"tag of 100", `{"containerTag":"` + tag100 + `"}`, "scoped_" + tag100, tag100, "", 500},
		{"null optionals", `{"containerTag":"x","name":null,"expiresInDays":null,"rateLimitMax":null,"rateLimitTimeWindow":null}`, "scoped_x", "x", "", 500},
		{"empty name", `{"containerTag":"x","name":""}`, "scoped_x", "x", "", 500},
		{"name of 200 characters", `{"containerTag":"x","name":"` + strings.Repeat("é", 200) + `"}`, strings.Repeat("é", 200), "x", "", 500},
		{"whitespace around", " \n{ \"containerTag\" : \"x\" }\n", "scoped_x", "x", "", 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			before := e.sb.KeyCount()
			c := e.mint(tt.body)
			random, ok := strings.CutPrefix(c.Key, "sm_org_sandbox_")
			if !ok || len(random) < 32 || strings.Trim(random, base62) != "" {
				t.Errorf("key is not sm_org_sandbox_<32+ base62> (length %d)", len(c.Key))
			}
			if c.ID == "" || c.Name != tt.wantName || c.ContainerTag != tt.wantTag {
				t.Errorf("got id %q name %q tag %q, want name %q tag %q", c.ID, c.Name, c.ContainerTag, tt.wantName, tt.wantTag)
			}
			gotExp := ""
			if c.ExpiresAt != nil {
				gotExp = *c.ExpiresAt
			}
			if gotExp != tt.wantExpires {
				t.Errorf("expiresAt %q, want %q", gotExp, tt.wantExpires)
			}
			if want := []string{"/v3/documents", "/v3/memories", "/v4/memories", "/v3/search", "/v4/search", "/v4/profile"}; !slices.Equal(c.AllowedEndpoints, want) {
				t.Errorf("allowedEndpoints = %v", c.AllowedEndpoints)
			}
			if e.sb.KeyCount() != before+1 {
				t.Errorf("KeyCount %d, want %d", e.sb.KeyCount(), before+1)
			}
			// The new key is listed (without its secret) and works as a
			// scoped key for its tag.
			k := findKey(e.listKeys(), "id", c.ID)
			if k == nil || k.str("name") != tt.wantName || !k.boolean("isScoped") || !strings.HasPrefix(c.Key, k.str("start")) {
				t.Errorf("listed as %v", k)
			}
			var sess struct {
				Scope struct {
					Type      string `json:"type"`
					Tag       string `json:"tag"`
					RateLimit int    `json:"rateLimit"`
				} `json:"scope"`
			}
			r := e.do("GET", "/v3/session", c.Key, "")
			decode(t, r.body, &sess)
			if r.status != http.StatusOK || sess.Scope.Type != "scoped" || sess.Scope.Tag != tt.wantTag || sess.Scope.RateLimit != tt.wantRate {
				t.Errorf("session of the new key: status %d scope %+v", r.status, sess.Scope)
			}
		})
	}
}

func TestCreateNewTagJoinsTagList(t *testing.T) {
	e := newEnv(t, Options{})
	if slices.Contains(tagNames(e.listTags()), "tenant:new") {
		t.Fatal("tag listed before any key was minted for it")
	}
	e.mint(`{"containerTag":"tenant:new"}`)
	e.mint(`{"containerTag":"tenant:new"}`)
	e.mint(`{"containerTag":"demo-project"}`)
	tags := e.listTags()
	names := tagNames(tags)
	if n := len(names); n != 6 {
		t.Errorf("%d tags, want the 5 seeded and tenant:new once: %v", n, names)
	}
	last := tags[len(tags)-1]
	if string(last["containerTag"]) != `"tenant:new"` || string(last["documentCount"]) != "0" || string(last["memoryCount"]) != "0" || string(last["lastActivityAt"]) != "null" {
		t.Errorf("new tag listed as %v", last)
	}
}

func TestCreateRejects(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		status int
		errHas string
	}{
		{"the new user's bad tag", `{"containerTag":"bad tag!"}`, 400, "may contain only"},
		{"slash in tag", `{"containerTag":"a/b"}`, 400, "may contain only"},
		{"unicode tag", `{"containerTag":"café"}`, 400, "may contain only"},
		{"star tag", `{"containerTag":"*"}`, 400, "may contain only"},
		{"empty tag", `{"containerTag":""}`, 400, "1 to 100"},
		{"tag of 101", `{"containerTag":"` + strings.Repeat("t", 101) + `"}`, 400, "1 to 100"},
		{"missing tag", `{"name":"x"}`, 400, "containerTag is required"},
		{"null tag", `{"containerTag":null}`, 400, "containerTag is required"},
		{"number tag", `{"containerTag":5}`, 400, "must be a string"},
		{"expires 0", `{"containerTag":"x","expiresInDays":0}`, 400, "expiresInDays must be an integer from 1 to 365"},
		{"expires 366", `{"containerTag":"x","expiresInDays":366}`, 400, "expiresInDays"},
		{"expires negative", `{"containerTag":"x","expiresInDays":-1}`, 400, "expiresInDays"},
		{"expires fractional", `{"containerTag":"x","expiresInDays":1.5}`, 400, "expiresInDays"},
		{"expires 30.0", `{"containerTag":"x","expiresInDays":30.0}`, 400, "expiresInDays"},
		{"expires exponent", `{"containerTag":"x","expiresInDays":3e1}`, 400, "expiresInDays"},
		{"expires string", `{"containerTag":"x","expiresInDays":"30"}`, 400, "expiresInDays"},
		{"expires bool", `{"containerTag":"x","expiresInDays":true}`, 400, "expiresInDays"},
		{"expires huge", `{"containerTag":"x","expiresInDays":99999999999999999999999}`, 400, "expiresInDays"},
		{"rate max 0", `{"containerTag":"x","rateLimitMax":0}`, 400, "rateLimitMax must be an integer from 1 to 10000"},
		{"rate max 10001", `{"containerTag":"x","rateLimitMax":10001}`, 400, "rateLimitMax"},
		{"rate max string", `{"containerTag":"x","rateLimitMax":"5"}`, 400, "rateLimitMax"},
		{"window 0", `{"containerTag":"x","rateLimitTimeWindow":0}`, 400, "rateLimitTimeWindow must be an integer from 1 to 3600000"},
		{"window 3600001", `{"containerTag":"x","rateLimitTimeWindow":3600001}`, 400, "rateLimitTimeWindow"},
		{"containerTags", `{"containerTag":"x","containerTags":["x"]}`, 400, `"containerTags" is not supported`},
		{"null containerTags", `{"containerTag":"x","containerTags":null}`, 400, `"containerTags" is not supported`},
		{"permission read", `{"containerTag":"x","permission":"read"}`, 400, `"permission" supports only "write"`},
		{"unknown field", `{"containerTag":"x","scope":"full"}`, 400, `unknown field "scope"`},
		{"case variant", `{"ContainerTag":"x"}`, 400, `unknown field "ContainerTag"`},
		{"case variant smuggling", `{"containerTag":"proj-a","ContainerTag":"proj-prod"}`, 400, "unknown field"},
		{"duplicate", `{"containerTag":"proj-a","containerTag":"proj-prod"}`, 400, `duplicate field "containerTag"`},
		{"name number", `{"containerTag":"x","name":1}`, 400, "name must be a string"},
		{"name of 201", `{"containerTag":"x","name":"` + strings.Repeat("n", 201) + `"}`, 400, "at most 200"},
		{"array", `[{"containerTag":"x"}]`, 400, "must be a JSON object"},
		{"string", `"x"`, 400, "must be a JSON object"},
		{"empty", ``, 400, "empty"},
		{"blank", "  \n", 400, "empty"},
		{"truncated", `{"containerTag":"x"`, 400, "not valid JSON"},
		{"bad value", `{"containerTag":x}`, 400, "not valid JSON"},
		{"missing colon", `{"containerTag" "x"}`, 400, "not valid JSON"},
		{"trailing data", `{"containerTag":"x"} {}`, 400, "unexpected data"},
		{"trailing garbage", `{"containerTag":"x"}x`, 400, "unexpected data"},
		{"invalid utf-8", "{\"containerTag\":\"x\",\"name\":\"\xff\"}", 400, "UTF-8"},
		{"too large", `{"containerTag":"x","name":"` + strings.Repeat("n", 64<<10) + `"}`, 413, "64 KiB"},
		{"long unknown field is quoted short", `{"` + strings.Repeat("f", 500) + `":1}`, 400, "…"},
	}
	e := newEnv(t, Options{})
	op := e.sb.OperatorKey()
	before := e.sb.KeyCount()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do("POST", "/v3/auth/scoped-key", op, tt.body)
			var body errorBody
			decode(t, r.body, &body)
			if r.status != tt.status || !strings.Contains(body.Error, tt.errHas) {
				t.Errorf("status %d error %q, want %d with %q", r.status, body.Error, tt.status, tt.errHas)
			}
			if utf8.RuneCountInString(body.Error) > 300 {
				t.Errorf("error message is %d characters long", utf8.RuneCountInString(body.Error))
			}
		})
	}
	if e.sb.KeyCount() != before {
		t.Errorf("rejected creates minted %d keys", e.sb.KeyCount()-before)
	}
}

// FuzzCreateBody checks that the create body parser never panics and that
// every body it accepts satisfies the API's rules.
func FuzzCreateBody(f *testing.F) {
	seeds := []string{
		`{"containerTag":"demo-project","expiresInDays":30}`,
		`{"containerTag":"a","name":"n","expiresInDays":365,"rateLimitMax":10000,"rateLimitTimeWindow":3600000}`,
		`{"containerTag":"bad tag!"}`,
		`{"containerTag":"x","expiresInDays":1.5}`,
		`{"containerTag":"x","ContainerTag":"y"}`,
		`{"containerTag":"x","containerTag":"y"}`,
		`{"containerTag":"x","containerTags":["x"]}`,
		`{"containerTag":"x"}{}`,
		`[1,2]`,
		`{"containerTag":"x","name":null,"rateLimitMax":-0}`,
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := parseCreateBody(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if checkTag(req.ContainerTag) != nil {
			t.Fatalf("accepted tag %q", req.ContainerTag)
		}
		if req.Name == "" || utf8.RuneCountInString(req.Name) > maxNameLen {
			t.Fatalf("accepted name of %d characters", utf8.RuneCountInString(req.Name))
		}
		if req.ExpiresInDays != 0 && (req.ExpiresInDays < 1 || req.ExpiresInDays > 365) {
			t.Fatalf("accepted expiresInDays %d", req.ExpiresInDays)
		}
		if req.RateLimitMax < 1 || req.RateLimitMax > 10000 || req.RateLimitTimeWindow < 1 || req.RateLimitTimeWindow > 3600000 {
			t.Fatalf("accepted rate limit %d/%d", req.RateLimitMax, req.RateLimitTimeWindow)
		}
		// An accepted body is a JSON object whose containerTag is what was
		// parsed, and which has only the documented fields.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatalf("accepted a body encoding/json rejects: %v", err)
		}
		var tag string
		if err := json.Unmarshal(m["containerTag"], &tag); err != nil || tag != req.ContainerTag {
			t.Fatalf("containerTag parsed as %q, encoding/json reads %q", req.ContainerTag, tag)
		}
		for k := range m {
			switch k {
			case "containerTag", "name", "expiresInDays", "rateLimitMax", "rateLimitTimeWindow", "permission":
			default:
				t.Fatalf("accepted field %q", k)
			}
		}
	})
}

func TestCreateExpiryUsesClock(t *testing.T) {
	e := newEnv(t, Options{})
	c := e.mint(`{"containerTag":"demo-project","expiresInDays":2}`)
	e.clock.Advance(48*time.Hour - time.Millisecond)
	if r := e.do("GET", "/v3/session", c.Key, ""); r.status != http.StatusOK {
		t.Fatalf("key before expiry: status %d", r.status)
	}
	e.clock.Advance(time.Millisecond)
	if r := e.do("GET", "/v3/session", c.Key, ""); r.status != http.StatusUnauthorized {
		t.Errorf("key at expiry: status %d, want 401", r.status)
	}
}

// TestCreateSlowUploadDoesNotBlock checks that a create whose body is still
// arriving holds no lock (other calls proceed) and that a key revoked
// meanwhile cannot finish the create.
func TestCreateSlowUploadDoesNotBlock(t *testing.T) {
	e := newEnv(t, Options{})
	callerID, caller, err := e.sb.AddKey(NewKey{Name: "second full key"})
	if err != nil {
		t.Fatal(err)
	}
	before := e.sb.KeyCount()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("POST", e.url+"/v3/auth/scoped-key", pr)
	req.Header.Set("Authorization", "Bearer "+caller)
	done := make(chan int, 1)
	go func() {
		resp, err := e.client.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if _, err := io.WriteString(pw, `{"containerTag":`); err != nil {
		t.Fatal(err)
	}
	waitCount(t, e.sb, EndpointCreate, 1)
	if r := e.do("DELETE", "/v3/auth/scoped-key/"+callerID, e.sb.OperatorKey(), ""); r.status != http.StatusOK {
		t.Fatalf("revoke during the upload: status %d", r.status)
	}
	_, _ = io.WriteString(pw, `"demo-project"}`)
	pw.Close()
	if status := <-done; status != http.StatusUnauthorized {
		t.Errorf("create by a key revoked during its upload: status %d, want 401", status)
	}
	if e.sb.KeyCount() != before {
		t.Error("a key revoked during its upload minted a key")
	}
}
