package client

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/strictjson"
)

// createFields are the only members a create body may have.
var createFields = []string{"containerTag", "containerTags", "permission", "name", "expiresInDays", "rateLimitMax", "rateLimitTimeWindow"}

func TestCreateRequestBody(t *testing.T) {
	t.Parallel()
	fifty := make([]string, 50)
	for i := range fifty {
		fifty[i] = fmt.Sprintf("t%d", i)
	}
	tests := []struct {
		name string
		req  CreateScopedKeyRequest
		want string // the body, byte for byte
	}{
		{
			name: "one tag, all fields",
			req: CreateScopedKeyRequest{Tags: []string{"proj-a"}, Permission: "write", Name: "agent-a", ExpiresInDays: 30,
				RateLimitMax: 100, RateLimitWindowMs: 60000},
			want: `{"containerTag":"proj-a","permission":"write","name":"agent-a","expiresInDays":30,"rateLimitMax":100,"rateLimitTimeWindow":60000}`,
		},
		{
			name: "one tag, only what is required, read",
			req:  CreateScopedKeyRequest{Tags: []string{"team:search.x"}, Permission: "read", ExpiresInDays: 1},
			want: `{"containerTag":"team:search.x","permission":"read","expiresInDays":1}`,
		},
		{
			name: "several tags, in order",
			req:  CreateScopedKeyRequest{Tags: []string{"proj-b", "proj-a", "Proj-A"}, Permission: "read", Name: "n", ExpiresInDays: 7},
			want: `{"containerTags":["proj-b","proj-a","Proj-A"],"permission":"read","name":"n","expiresInDays":7}`,
		},
		{
			name: "two tags, write",
			req:  CreateScopedKeyRequest{Tags: []string{"a", "b"}, Permission: "write", ExpiresInDays: 365, RateLimitMax: 1},
			want: `{"containerTags":["a","b"],"permission":"write","expiresInDays":365,"rateLimitMax":1}`,
		},
		{
			name: "fifty tags",
			req:  CreateScopedKeyRequest{Tags: fifty, Permission: "read", ExpiresInDays: 1},
			want: `{"containerTags":["` + strings.Join(fifty, `","`) + `"],"permission":"read","expiresInDays":1}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv, rec := newServer(t, reply(200, `{"key":"sm_x_MINTED","id":"k"}`))
			c, _ := newClient(t, srv.URL)
			if _, err := c.CreateScopedKey(context.Background(), tt.req); err != nil {
				t.Fatalf("create: %v", err)
			}
			body := rec.all()[0].Body
			if body != tt.want {
				t.Errorf("body\n got %s\nwant %s", body, tt.want)
			}
			// Read back strictly: one object, known names only, none twice,
			// and exactly one of containerTag and containerTags.
			obj, err := strictjson.Decode([]byte(body), strictjson.Spec{Known: createFields, MaxDepth: 2})
			if err != nil {
				t.Fatalf("the body is not a strict create body: %v", err)
			}
			members := make(map[string]string)
			for _, m := range obj {
				members[m.Name] = string(m.Value)
			}
			_, one := members["containerTag"]
			_, several := members["containerTags"]
			if one == several || one != (len(tt.req.Tags) == 1) {
				t.Errorf("containerTag sent: %v, containerTags sent: %v, for %d tags", one, several, len(tt.req.Tags))
			}
			if p, ok := members["permission"]; !ok || p != `"`+tt.req.Permission+`"` {
				t.Errorf("permission = %s, want %q", p, tt.req.Permission)
			}
		})
	}
}

func TestCreateRefusedBeforeSending(t *testing.T) {
	t.Parallel()
	srv, rec := newServer(t, reply(200, `{"key":"sm_x_MINTED","id":"k"}`))
	c, _ := newClient(t, srv.URL)
	many := make([]string, 51)
	for i := range many {
		many[i] = fmt.Sprintf("t%d", i)
	}
	ok := func(f func(*CreateScopedKeyRequest)) CreateScopedKeyRequest {
		r := CreateScopedKeyRequest{Tags: []string{"proj-a"}, Permission: "write", ExpiresInDays: 30}
		f(&r)
		return r
	}
	tests := []struct {
		name   string
		req    CreateScopedKeyRequest
		reason string
	}{
		{"no tags", ok(func(r *CreateScopedKeyRequest) { r.Tags = nil }), "no container tag"},
		{"empty tag list", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{} }), "no container tag"},
		{"51 tags", ok(func(r *CreateScopedKeyRequest) { r.Tags = many }), "51 container tags"},
		{"empty tag", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{""} }), "tag 1 is empty"},
		{"empty tag among others", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{"a", ""} }), "tag 2 is empty"},
		{"tag of 101 bytes", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{strings.Repeat("a", 101)} }), "longer than 100"},
		{"tag with a slash", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{"a/b"} }), "at byte 1"},
		{"tag with a space", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{"a", "proj a"} }), "tag 2 has a character"},
		{"tag with a wildcard", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{"proj-*"} }), "has a character"},
		{"tag not ASCII", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{"projé"} }), "has a character"},
		{"tag with a NUL", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{"a\x00"} }), "has a character"},
		{"tag twice", ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{"a", "b", "a"} }), "tag 3 repeats tag 1"},
		{"no permission", ok(func(r *CreateScopedKeyRequest) { r.Permission = "" }), "permission"},
		{"permission admin", ok(func(r *CreateScopedKeyRequest) { r.Permission = "admin" }), "permission"},
		{"permission in capitals", ok(func(r *CreateScopedKeyRequest) { r.Permission = "WRITE" }), "permission"},
		{"permission with a space", ok(func(r *CreateScopedKeyRequest) { r.Permission = "read " }), "permission"},
		{"no expiry", ok(func(r *CreateScopedKeyRequest) { r.ExpiresInDays = 0 }), "expiresInDays"},
		{"negative expiry", ok(func(r *CreateScopedKeyRequest) { r.ExpiresInDays = -1 }), "expiresInDays"},
		{"negative rate limit", ok(func(r *CreateScopedKeyRequest) { r.RateLimitMax = -1 }), "rate limits"},
		{"negative window", ok(func(r *CreateScopedKeyRequest) { r.RateLimitWindowMs = -5 }), "rate limits"},
	}
	for _, tt := range tests {
		_, err := c.CreateScopedKey(context.Background(), tt.req)
		e := asError(t, err)
		if !errors.Is(err, ErrInvalidRequest) || e.Attempts != 0 || e.Status != 0 || !strings.Contains(e.Message, tt.reason) {
			t.Errorf("%s: got %v (attempts %d), want a refusal before sending saying %q", tt.name, err, e.Attempts, tt.reason)
		}
		for _, tag := range tt.req.Tags {
			if len(tag) > 2 && strings.Contains(err.Error(), tag) {
				t.Errorf("%s: the error quotes a tag", tt.name)
			}
		}
	}
	if n := rec.count(); n != 0 {
		t.Errorf("server saw %d requests, want 0", n)
	}
	// The boundaries are sent: 100 bytes, 50 tags, every tag character.
	many = many[:50]
	for _, req := range []CreateScopedKeyRequest{
		ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{strings.Repeat("a", 100)} }),
		ok(func(r *CreateScopedKeyRequest) { r.Tags = many }),
		ok(func(r *CreateScopedKeyRequest) { r.Tags = []string{"AZaz09-_:.", "a", "A"}; r.Permission = "read" }),
	} {
		if _, err := c.CreateScopedKey(context.Background(), req); err != nil {
			t.Errorf("%d tags: %v", len(req.Tags), err)
		}
	}
	if n := rec.count(); n != 3 {
		t.Errorf("server saw %d requests, want 3", n)
	}
}

func TestDecodeCreatedScope(t *testing.T) {
	t.Parallel()
	const u, up = UnreadableTag, UnreadablePermission
	tests := []struct {
		name string
		body string // the members after "key"
		tags []string
		perm string
	}{
		{"one tag", `"containerTag":"a","permission":"read"`, []string{"a"}, "read"},
		{"several tags", `"containerTags":["a","b"],"permission":"write"`, []string{"a", "b"}, "write"},
		{"neither: nil, no permission", `"name":"n"`, nil, ""},
		{"null fields", `"containerTag":null,"containerTags":null,"permission":null,"scope":null`, nil, ""},
		{"empty list", `"containerTags":[]`, nil, ""},
		{"union, containerTags first, de-duplicated", `"containerTag":"c","containerTags":["a","c","b","a"]`, []string{"a", "c", "b"}, ""},
		{"containerTag twice", `"containerTag":"a","containerTag":"b"`, []string{"a", "b"}, ""},
		{"the same containerTag twice", `"containerTag":"a","containerTag":"a"`, []string{"a"}, ""},
		{"containerTags twice", `"containerTags":["a"],"containerTags":["b"]`, []string{"a", "b"}, ""},
		{"unreadable entries", `"containerTags":["a",5,null,""]`, []string{"a", u}, ""},
		{"unreadable containerTag", `"containerTag":{"tag":"a"}`, []string{u}, ""},
		{"containerTags not a list", `"containerTags":"a"`, []string{u}, ""},
		{"tags kept exactly", `"containerTag":"Proj-A "`, []string{"Proj-A "}, ""},
		{"permission from scope", `"scope":{"type":"scoped","permission":"read"}`, nil, "read"},
		{"read twice", `"permission":"read","scope":{"permission":"read"}`, nil, "read"},
		{"duplicate: read and write gives write", `"permission":"read","permission":"write"`, nil, "write"},
		{"duplicate: write and read gives write", `"permission":"write","permission":"read"`, nil, "write"},
		{"conflict with scope gives write", `"permission":"read","scope":{"permission":"write"}`, nil, "write"},
		{"conflict inside scope gives write", `"scope":{"permission":"read","permission":"write"}`, nil, "write"},
		{"scope read, top write", `"scope":{"permission":"read"},"permission":"write"`, nil, "write"},
		{"null does not undo write", `"permission":"write","permission":null`, nil, "write"},
		{"unknown value kept as sent", `"permission":"admin"`, nil, "admin"},
		{"unknown value wider than write", `"permission":"write","permission":"admin"`, nil, "admin"},
		{"two unknown values", `"permission":"admin","scope":{"permission":"owner"}`, nil, up},
		{"not a string", `"permission":1`, nil, up},
		{"a list", `"permission":["read"]`, nil, up},
		{"empty string", `"permission":""`, nil, up},
		{"read and a number", `"permission":"read","permission":true`, nil, up},
		{"case kept", `"permission":"Read"`, nil, "Read"},
		{"escaped", `"permission":"r\u0065ad"`, nil, "read"},
		{"scope not an object", `"scope":"read","permission":"write"`, nil, "write"},
		{"Permission in capitals is another member", `"Permission":"read","permission":"write"`, nil, "write"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ck, err := decodeCreated([]byte(`{"key":"sm_x_MINTED",` + tt.body + `}`))
			if err != nil {
				t.Fatalf("decodeCreated: %v", err)
			}
			if !reflect.DeepEqual(ck.Tags, tt.tags) || ck.Permission != tt.perm {
				t.Errorf("tags %q, permission %q; want %q, %q", ck.Tags, ck.Permission, tt.tags, tt.perm)
			}
		})
	}
}

func TestDecodeKeysPermission(t *testing.T) {
	t.Parallel()
	tests := []struct {
		item string
		want string
	}{
		{`"id":"k"`, ""},
		{`"permission":null`, ""},
		{`"permission":"read"`, "read"},
		{`"permission":"write"`, "write"},
		{`"permission":"read","permission":"write"`, "write"},
		{`"permission":"write","permission":"read"`, "write"},
		{`"permission":"read","permission":"read"`, "read"},
		{`"permission":"write","permission":null`, "write"},
		{`"permission":"admin"`, "admin"},
		{`"permission":"read","permission":"admin"`, "admin"},
		{`"permission":"admin","permission":"root"`, UnreadablePermission},
		{`"permission":5`, UnreadablePermission},
		{`"permission":""`, UnreadablePermission},
		{`"permission":{"level":"read"}`, UnreadablePermission},
		{`"scope":{"permission":"read"}`, ""}, // a listing has no scope member
	}
	for _, tt := range tests {
		keys, err := decodeKeys([]byte(`{"keys":[{"id":"k",` + tt.item + `}]}`))
		if err != nil || len(keys) != 1 || keys[0].Permission != tt.want {
			t.Errorf("{%s}: %+v, %v; want permission %q", tt.item, keys, err, tt.want)
		}
	}
}
