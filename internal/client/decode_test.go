package client

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestDecodeKeys(t *testing.T) {
	t.Parallel()
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tsMilli := time.Date(2025, 1, 2, 3, 4, 5, 123_000_000, time.UTC)
	tests := []struct {
		name string
		body string
		want []Key
	}{
		{
			name: "full item",
			body: `{"keys":[{"id":"k1","name":"agent-a","start":"sm_org1_ab","key":"sm_org1_abXXXX","createdAt":"2025-01-02T03:04:05Z",
				"expiresAt":"2025-01-02T03:04:05.123Z","lastRequest":1735787045123,"enabled":false,"isScoped":true,
				"containerTag":"proj-a","containerTags":["proj-a","proj-b"],"permission":"write",
				"metadata":"{\"organizationId\":\"org1\",\"sm_type\":\"plugin_auth\",\"n\":5,\"o\":{}}"}]}`,
			want: []Key{{ID: "k1", Name: "agent-a", Kind: KindScoped, Tags: []string{"proj-a", "proj-b"}, Prefix: "sm_org1_ab",
				Permission: "write", CreatedAt: ts, ExpiresAt: tsMilli, LastUsedAt: tsMilli, Enabled: false,
				Metadata: map[string]string{"organizationId": "org1", "sm_type": "plugin_auth"}}},
		},
		{
			name: "full access: nothing scoped, all optional fields missing",
			body: `{"keys":[{"id":"k2"}]}`,
			want: []Key{{ID: "k2", Kind: KindFull, Enabled: true}},
		},
		{
			name: "nulls everywhere",
			body: `{"keys":[{"id":"k3","name":null,"start":null,"key":null,"createdAt":null,"expiresAt":null,"lastRequest":null,
				"enabled":null,"isScoped":null,"containerTag":null,"containerTags":null,"permission":null,"metadata":null}]}`,
			want: []Key{{ID: "k3", Kind: KindFull, Enabled: true}},
		},
		{
			name: "isScoped false wins over a containerTag: full, tag kept",
			body: `{"keys":[{"id":"k4","isScoped":false,"containerTag":"user_alex"}]}`,
			want: []Key{{ID: "k4", Kind: KindFull, Tags: []string{"user_alex"}, Enabled: true}},
		},
		{
			name: "scoped by containerTags alone; empty and non-string elements are one unreadable tag",
			body: `{"keys":[{"id":"k5","containerTags":["", "a", 5, null, "b"]}]}`,
			want: []Key{{ID: "k5", Kind: KindScoped, Tags: []string{UnreadableTag, "a", "b"}, Enabled: true}},
		},
		{
			name: "empty containerTags and a containerTag",
			body: `{"keys":[{"id":"k6","containerTags":[],"containerTag":"t"}]}`,
			want: []Key{{ID: "k6", Kind: KindScoped, Tags: []string{"t"}, Enabled: true}},
		},
		{
			name: "isScoped true and an empty containerTag: unreadable",
			body: `{"keys":[{"id":"k7","isScoped":"true","containerTag":""}]}`,
			want: []Key{{ID: "k7", Kind: KindScoped, Tags: []string{UnreadableTag}, Enabled: true}},
		},
		{
			name: "scoped by isScoped alone (no tag known)",
			body: `{"keys":[{"id":"k7b","isScoped":true}]}`,
			want: []Key{{ID: "k7b", Kind: KindScoped, Enabled: true}},
		},
		{
			name: "prefix from a whole key is cut to 12 chars",
			body: `{"keys":[{"id":"k8","key":"sm_org1_SECRETSECRETSECRET"}]}`,
			want: []Key{{ID: "k8", Kind: KindFull, Prefix: "sm_org1_SECR", Enabled: true}},
		},
		{
			name: "a long start is cut too, control chars dropped",
			body: `{"keys":[{"id":"k9","start":"sm\u0000_\u202eorg1_abcdefghijkl"}]}`,
			want: []Key{{ID: "k9", Kind: KindFull, Prefix: "sm_org1_abcd", Enabled: true}},
		},
		{
			name: "numbers as ids, strings as booleans, metadata as an object, unknown fields",
			body: `{"keys":[{"id":42,"name":7,"enabled":"false","isScoped":0,"metadata":{"a":"b","c":1},"extra":{"x":[1,2]},
				"createdAt":"2025-01-02 03:04:05","expiresAt":"not a date","lastRequest":true}],"total":1}`,
			want: []Key{{ID: "42", Name: "7", Kind: KindFull, Enabled: false, CreatedAt: ts, Metadata: map[string]string{"a": "b"}}},
		},
		{
			name: "odd metadata: malformed string, array, number",
			body: `{"keys":[{"id":"a","metadata":"{bad"},{"id":"b","metadata":"[1]"},{"id":"c","metadata":5},{"id":"d","metadata":"{\"n\":1}"}]}`,
			want: []Key{{ID: "a", Kind: KindFull, Enabled: true}, {ID: "b", Kind: KindFull, Enabled: true},
				{ID: "c", Kind: KindFull, Enabled: true}, {ID: "d", Kind: KindFull, Enabled: true}},
		},
		{
			name: "tags and names kept exactly, not trimmed or folded",
			body: `{"keys":[{"id":"k10","name":" Agent\u200b ","containerTag":"Proj-A "}]}`,
			want: []Key{{ID: "k10", Name: " Agent\u200b ", Kind: KindScoped, Tags: []string{"Proj-A "}, Enabled: true}},
		},
		{
			name: "escaped strings",
			body: `{"keys":[{"id":"k\u0031","name":"a\"b\\c"}]}`,
			want: []Key{{ID: "k1", Name: `a"b\c`, Kind: KindFull, Enabled: true}},
		},
		{
			name: "epoch seconds and numeric strings",
			body: `{"keys":[{"id":"k","createdAt":1735787045,"expiresAt":"1735787045123","lastRequest":-5}]}`,
			want: []Key{{ID: "k", Kind: KindFull, Enabled: true, CreatedAt: ts, ExpiresAt: tsMilli}},
		},
		{name: "null keys", body: `{"keys":null}`, want: []Key{}},
		{name: "empty keys", body: ` {"keys":[]} `, want: []Key{}},
		{name: "bare array", body: `[{"id":"k"}]`, want: []Key{{ID: "k", Kind: KindFull, Enabled: true}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeKeys([]byte(tt.body))
			if err != nil {
				t.Fatalf("decodeKeys: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseTime(t *testing.T) {
	t.Parallel()
	want := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time
	}{
		{"2025-01-02T03:04:05Z", want},
		{"2025-01-02T04:04:05+01:00", want},
		{"2025-01-02T03:04:05.000000Z", want},
		{"2025-01-02T03:04:05", want},
		{"2025-01-02 03:04:05+00:00", want},
		{"2025-01-02 03:04:05", want},
		{"2025-01-02", time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)},
		{"1735787045000", want},
		{"", time.Time{}},
		{"  ", time.Time{}},
		{"yesterday", time.Time{}},
		{"2025-13-40T00:00:00Z", time.Time{}},
		{"0", time.Time{}},
		{"99999999999999999999", time.Time{}},
	}
	for _, tt := range tests {
		if got := parseTime(tt.in); !got.Equal(tt.want) {
			t.Errorf("parseTime(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestDecodeTags(t *testing.T) {
	t.Parallel()
	ts := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	full := `{"id":"t1","name":"Demo","containerTag":"demo-project","description":"d","createdAt":"2025-01-02T03:04:05Z",
		"updatedAt":"x","isExperimental":false,"isNova":true,"documentCount":"12","memoryCount":3.0,"lastActivityAt":null,"emoji":"🙂"}`
	fullTag := Tag{Tag: "demo-project", Name: "Demo", Description: "d", DocumentCount: 12, MemoryCount: 3, CreatedAt: ts}
	tests := []struct {
		name string
		body string
		want []Tag
	}{
		{"bare array", `[` + full + `]`, []Tag{fullTag}},
		{"tags envelope", `{"tags":[` + full + `]}`, []Tag{fullTag}},
		{"containerTags envelope", `{"containerTags":[` + full + `]}`, []Tag{fullTag}},
		{"strings", `["a","",null,5,"b"]`, []Tag{{Tag: "a"}, {Tag: "b"}}},
		{"tag field and dropped items", `[{"tag":"t"},{"name":"no tag"},{"containerTag":null}]`, []Tag{{Tag: "t"}}},
		{"bad counts", `[{"containerTag":"x","documentCount":"many","memoryCount":1.5,"lastActivityAt":1735787045000}]`,
			[]Tag{{Tag: "x", LastActivityAt: ts}}},
		{"empty", `[]`, []Tag{}},
		{"null envelope", `{"tags":null}`, []Tag{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeTags([]byte(tt.body))
			if err != nil {
				t.Fatalf("decodeTags: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeSessionAndFullAccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		want     *Session
		fullKind bool
	}{
		{
			name: "scoped key",
			body: `{"user":{"id":"u1"},"org":{"id":"org1"},"accessType":"scoped",
				"scope":{"type":"scoped","permission":"write","tag":"x","tags":["x","y"],"rateLimit":500,"expires":"2026-01-01"}}`,
			want: &Session{UserID: "u1", OrgID: "org1", AccessType: "scoped", ScopeType: "scoped", ScopePermission: "write", ScopeTags: []string{"x", "y"}},
		},
		{
			name:     "full by accessType only",
			body:     `{"accessType":"full"}`,
			want:     &Session{AccessType: "full"},
			fullKind: true,
		},
		{
			name:     "full by scope type only, organization spelled out, scope as string",
			body:     `{"organization":{"id":"o","name":"N","slug":"n"},"scope":"FULL"}`,
			want:     &Session{OrgID: "o", OrgName: "N", OrgSlug: "n", ScopeType: "FULL"},
			fullKind: true,
		},
		{
			name: "full type but a scope tag: not full",
			body: `{"accessType":"full","scope":{"type":"full","tag":"x"}}`,
			want: &Session{AccessType: "full", ScopeType: "full", ScopeTags: []string{"x"}},
		},
		{
			name: "full access type but scoped scope: not full",
			body: `{"accessType":"full","scope":{"type":"scoped"}}`,
			want: &Session{AccessType: "full", ScopeType: "scoped"},
		},
		{
			name: "nothing known",
			body: `{"user":null,"scope":null,"plan":5}`,
			want: &Session{Plan: "5"},
		},
		{
			name: "scope of an odd type",
			body: `{"scope":[1]}`,
			want: &Session{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeSession([]byte(tt.body))
			if err != nil {
				t.Fatalf("decodeSession: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %+v\nwant %+v", got, tt.want)
			}
			if got.IsFullAccess() != tt.fullKind {
				t.Errorf("IsFullAccess = %v, want %v", got.IsFullAccess(), tt.fullKind)
			}
		})
	}
	var nilSession *Session
	if nilSession.IsFullAccess() {
		t.Error("a nil session is Full Access")
	}
}

func TestDecodeRevoke(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want RevokeResult
	}{
		{`{"success":true}`, RevokeResult{ID: "req", Success: true}},
		{`{"success":false,"id":"other"}`, RevokeResult{ID: "other", Success: false}},
		{`{"id":"req"}`, RevokeResult{ID: "req", Success: true}},
		{``, RevokeResult{ID: "req", Success: true}},
		{`OK`, RevokeResult{ID: "req", Success: true}},
		{`{"success":`, RevokeResult{ID: "req", Success: true}},
	}
	for _, tt := range tests {
		if got := decodeRevoke([]byte(tt.body), "req"); *got != tt.want {
			t.Errorf("decodeRevoke(%q) = %+v, want %+v", tt.body, *got, tt.want)
		}
	}
}

func TestUpstreamMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body   string
		status int
		want   string
	}{
		{`{"error":"Invalid key"}`, 401, "Invalid key"},
		{`{"error":"Bad","details":"containerTag too long"}`, 400, "Bad: containerTag too long"},
		{`{"error":"Same","details":"Same"}`, 400, "Same"},
		{`{"details":"only details"}`, 400, "only details"},
		{`{"error":{"message":"nested"}}`, 400, "nested"},
		{`{"error":{"code": 1, "list": [1, 2]}}`, 400, `{"code":1,"list":[1,2]}`},
		{`{"error":true}`, 400, "true"},
		{`{"error":null,"message":"from message"}`, 400, "from message"},
		{`{"error":"","message":"from message"}`, 400, "from message"},
		{`{"message":{"text":"x"}}`, 400, `{"text":"x"}`},
		{`{"error":"   "}`, 403, "Forbidden"},
		{`{}`, 404, "Not Found"},
		{`{"error":`, 500, "Internal Server Error"},
		{`"plain"`, 500, "plain"},
		{`<html></html>`, 502, "Bad Gateway"},
		{``, 599, "HTTP 599"},
	}
	for _, tt := range tests {
		if got := upstreamMessage([]byte(tt.body), tt.status); got != tt.want {
			t.Errorf("upstreamMessage(%q, %d) = %q, want %q", tt.body, tt.status, got, tt.want)
		}
	}
}

func TestCleanMessage(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("é", 400)
	tests := []struct {
		name, in, want string
	}{
		{"plain", "Invalid key", "Invalid key"},
		{"control chars", "a\x00b\x07c\x1b[31md\x7f", "abc[31md"},
		{"line breaks and tabs collapse", "  line1\r\n\tline2\u2028line3  ", "line1 line2 line3"},
		{"bidi and zero-width", "abc\u202edef\u2066g\u200bh\u200di\ufeffj\u00adk", "abcdefghijk"},
		{"invalid UTF-8", "a\xffb", "a\uFFFDb"},
		{"secret redacted", "bad key " + testKey + " given", "bad key [REDACTED] given"},
		{"bearer header redacted", "Authorization: Bearer " + testKey, "Authorization: Bearer [REDACTED]"},
		{"secret split by zero-width chars", "k=" + testKey[:10] + "\u200b" + testKey[10:], "k=[REDACTED]"},
		{"long cut to 300", long, strings.Repeat("é", 299) + "…"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		got := cleanMessage(tt.in, newRedactor(testKey))
		if got != tt.want {
			t.Errorf("%s: cleanMessage = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestDecodeKeysAmbiguity checks that an ambiguous listing makes a key less
// revocable, never more: tags are the union of containerTags and
// containerTag, an unreadable tag is kept as UnreadableTag, and isScoped
// false (or not a boolean) makes the key Full whatever the tags say.
func TestDecodeKeysAmbiguity(t *testing.T) {
	t.Parallel()
	const u = UnreadableTag
	tests := []struct {
		name string
		item string // the members of one key object
		kind Kind
		tags []string
	}{
		// Rule 1: union, containerTags first, no duplicates.
		{"union: containerTag not in containerTags", `"isScoped":true,"containerTag":"proj-prod-eu","containerTags":["proj-a"]`,
			KindScoped, []string{"proj-a", "proj-prod-eu"}},
		{"union: containerTag before containerTags in the object", `"containerTag":"proj-prod-eu","containerTags":["proj-a"]`,
			KindScoped, []string{"proj-a", "proj-prod-eu"}},
		{"union: containerTag already listed", `"containerTags":["a","b"],"containerTag":"b"`, KindScoped, []string{"a", "b"}},
		{"union: duplicates in containerTags", `"containerTags":["a","b","a","b"]`, KindScoped, []string{"a", "b"}},
		{"union: exact, not folded", `"containerTags":["a"],"containerTag":"A"`, KindScoped, []string{"a", "A"}},
		{"union: containerTag sent twice", `"containerTag":"a","containerTag":"b","containerTag":null`, KindScoped, []string{"a", "b"}},
		{"union: containerTags sent twice", `"containerTags":["a"],"containerTag":"c","containerTags":["b","a"]`,
			KindScoped, []string{"a", "b", "c"}},
		// Rule 2: unreadable entries are kept as UnreadableTag.
		{"entry: number", `"containerTags":["a",5]`, KindScoped, []string{"a", u}},
		{"entry: object", `"containerTags":[{"tag":"a"}]`, KindScoped, []string{u}},
		{"entry: array", `"containerTags":[["a"]]`, KindScoped, []string{u}},
		{"entry: null", `"containerTags":[null,"a"]`, KindScoped, []string{u, "a"}},
		{"entry: boolean", `"containerTags":[true]`, KindScoped, []string{u}},
		{"entry: empty string", `"containerTags":[""]`, KindScoped, []string{u}},
		{"entries: several unreadable give one", `"containerTags":[1,"a",{},false,""]`, KindScoped, []string{u, "a"}},
		{"containerTag: number", `"containerTag":5`, KindScoped, []string{u}},
		{"containerTag: empty string", `"containerTag":""`, KindScoped, []string{u}},
		{"containerTag: object", `"containerTag":{"tag":"a"}`, KindScoped, []string{u}},
		{"containerTag: array", `"containerTag":["a"]`, KindScoped, []string{u}},
		{"containerTag: boolean", `"containerTag":false`, KindScoped, []string{u}},
		{"containerTag: unreadable besides readable containerTags", `"containerTags":["a"],"containerTag":7`,
			KindScoped, []string{"a", u}},
		{"containerTags: string", `"containerTags":"solo"`, KindScoped, []string{u}},
		{"containerTags: empty string", `"containerTags":""`, KindScoped, []string{u}},
		{"containerTags: object", `"containerTags":{"0":"a"}`, KindScoped, []string{u}},
		{"containerTags: number", `"containerTags":1`, KindScoped, []string{u}},
		{"containerTags: boolean", `"containerTags":true`, KindScoped, []string{u}},
		{"unreadable in both fields gives one", `"containerTags":[1],"containerTag":2`, KindScoped, []string{u}},
		{"null fields add no tag", `"containerTags":null,"containerTag":null`, KindFull, nil},
		{"empty containerTags adds no tag", `"containerTags":[]`, KindFull, nil},
		// Rule 3: isScoped false (or not a boolean) is Full; true is Scoped.
		{"isScoped false with containerTags", `"isScoped":false,"containerTags":["a"]`, KindFull, []string{"a"}},
		{"isScoped \"false\" with both fields", `"isScoped":"false","containerTags":["a"],"containerTag":"b"`,
			KindFull, []string{"a", "b"}},
		{"isScoped 0 with a tag", `"isScoped":0,"containerTag":"a"`, KindFull, []string{"a"}},
		{"isScoped false after the tags", `"containerTag":"a","isScoped":false`, KindFull, []string{"a"}},
		{"isScoped false with an unreadable tag", `"isScoped":false,"containerTags":[5]`, KindFull, []string{u}},
		{"isScoped true without tags", `"isScoped":true`, KindScoped, nil},
		{"isScoped 1 without tags", `"isScoped":1`, KindScoped, nil},
		{"isScoped true with an unreadable tag", `"isScoped":true,"containerTags":"a"`, KindScoped, []string{u}},
		{"isScoped absent, no tags", `"name":"n"`, KindFull, nil},
		{"isScoped absent, a tag", `"containerTag":"a"`, KindScoped, []string{"a"}},
		{"isScoped absent, only an unreadable tag", `"containerTags":[null]`, KindScoped, []string{u}},
		{"isScoped null counts as absent", `"isScoped":null,"containerTag":"a"`, KindScoped, []string{"a"}},
		{"isScoped not a boolean: string", `"isScoped":"yes","containerTag":"a"`, KindFull, []string{"a"}},
		{"isScoped not a boolean: number", `"isScoped":2,"containerTag":"a"`, KindFull, []string{"a"}},
		{"isScoped not a boolean: array", `"isScoped":[true],"containerTag":"a"`, KindFull, []string{"a"}},
		{"isScoped not a boolean: object", `"isScoped":{},"containerTag":"a"`, KindFull, []string{"a"}},
		{"isScoped sent twice: false wins (false first)", `"isScoped":false,"isScoped":true,"containerTag":"a"`, KindFull, []string{"a"}},
		{"isScoped sent twice: false wins (false last)", `"isScoped":true,"isScoped":false,"containerTag":"a"`, KindFull, []string{"a"}},
		{"isScoped sent twice: null does not undo false", `"isScoped":false,"isScoped":null,"containerTag":"a"`, KindFull, []string{"a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			keys, err := decodeKeys([]byte(`{"keys":[{"id":"k",` + tt.item + `}]}`))
			if err != nil {
				t.Fatalf("decodeKeys: %v", err)
			}
			if len(keys) != 1 || keys[0].Kind != tt.kind || !reflect.DeepEqual(keys[0].Tags, tt.tags) {
				t.Errorf("got %+v, want kind %s, tags %q", keys, tt.kind, tt.tags)
			}
		})
	}
}

func TestDecodeKeysTwoLists(t *testing.T) {
	t.Parallel()
	for _, body := range []string{
		`{"keys":[{"id":"k","isScoped":false}],"keys":[{"id":"k","isScoped":true,"containerTag":"a"}]}`,
		`{"keys":null,"keys":[]}`,
		`{"keys":[],"k\u0065ys":null}`,
	} {
		if keys, err := decodeKeys([]byte(body)); !errors.Is(err, errShape) {
			t.Errorf("decodeKeys(%s) = %+v, %v; want errShape", body, keys, err)
		}
	}
}

func TestDedupTags(t *testing.T) {
	t.Parallel()
	var long, want []string
	for i := range 40 {
		long = append(long, strconv.Itoa(i%25))
		if i < 25 {
			want = append(want, strconv.Itoa(i))
		}
	}
	tests := []struct{ in, want []string }{
		{nil, nil},
		{[]string{"a"}, []string{"a"}},
		{[]string{"a", "a"}, []string{"a"}},
		{[]string{"b", "a", "b", "c", "a"}, []string{"b", "a", "c"}},
		{long, want},
	}
	for _, tt := range tests {
		if got := dedupTags(slices.Clone(tt.in)); !slices.Equal(got, tt.want) {
			t.Errorf("dedupTags(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestDecodeKeysMetadataNotShared checks that keys with the same metadata
// string (decoded once) still get maps of their own.
func TestDecodeKeysMetadataNotShared(t *testing.T) {
	t.Parallel()
	meta := `"{\"organizationId\":\"org1\",\"sm_type\":\"scoped\"}"`
	keys, err := decodeKeys([]byte(`{"keys":[{"id":"a","metadata":` + meta + `},{"id":"b","metadata":` + meta + `},` +
		`{"id":"c","metadata":{"organizationId":"org1"}},{"id":"d","metadata":` + meta + `}]}`))
	if err != nil || len(keys) != 4 {
		t.Fatalf("decodeKeys: %v, %d keys", err, len(keys))
	}
	want := map[string]string{"organizationId": "org1", "sm_type": "scoped"}
	keys[0].Metadata["sm_type"] = "changed"
	delete(keys[1].Metadata, "organizationId")
	if !reflect.DeepEqual(keys[3].Metadata, want) || !reflect.DeepEqual(keys[2].Metadata, map[string]string{"organizationId": "org1"}) {
		t.Errorf("a change to one key's metadata shows in another: %v, %v", keys[2].Metadata, keys[3].Metadata)
	}
}
