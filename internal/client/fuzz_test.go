package client

import (
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func FuzzDecodeKeys(f *testing.F) {
	for _, s := range []string{
		`{"keys":[{"id":"k1","name":"a","start":"sm_o_ab","isScoped":true,"containerTag":"t","containerTags":["t","u"],
			"enabled":false,"createdAt":"2025-01-02T03:04:05Z","expiresAt":null,"lastRequest":1735787045123,
			"metadata":"{\"organizationId\":\"org1\"}"}]}`,
		`{"keys":null}`, `[{"id":5,"key":"sm_org1_SECRETSECRETSECRET"}]`, `{"keys":[{"metadata":{"a":"b"}}]}`,
		`{"keys":[{"containerTags":"x","isScoped":"true","enabled":"0"}]}`, `{"keys":"x"}`, `{`, `[]`, ``, `null`,
		`{"keys":[{"start":"\u202e\u0000abc","createdAt":"1e400"}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := decodeKeys(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatal("decodeKeys accepted invalid JSON")
		}
		for _, k := range keys {
			if k.Kind != KindScoped && k.Kind != KindFull {
				t.Fatalf("kind %q", k.Kind)
			}
			if len(k.Tags) > 0 && k.Kind != KindScoped {
				t.Fatalf("a key with tags %q is not scoped", k.Tags)
			}
			for _, tag := range k.Tags {
				if tag == "" {
					t.Fatal("an empty tag")
				}
			}
			if utf8.RuneCountInString(k.Prefix) > maxListedPrefix || !utf8.ValidString(k.Prefix) {
				t.Fatalf("prefix %q is too long or invalid", k.Prefix)
			}
			for _, r := range k.Prefix {
				if !unicode.IsPrint(r) {
					t.Fatalf("prefix %q holds %U", k.Prefix, r)
				}
			}
		}
	})
}

func FuzzDecodeTags(f *testing.F) {
	for _, s := range []string{
		`[{"id":"t1","name":"N","containerTag":"demo","description":null,"documentCount":3,"memoryCount":"4","lastActivityAt":null}]`,
		`{"tags":["a","b"]}`, `{"containerTags":[{"tag":"x"}]}`, `[null,1,"",{}]`, `{"tags":5}`, `[`, `"x"`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tags, err := decodeTags(data)
		if err != nil {
			return
		}
		if !json.Valid(data) {
			t.Fatal("decodeTags accepted invalid JSON")
		}
		for _, tag := range tags {
			if tag.Tag == "" {
				t.Fatal("a tag without a name")
			}
		}
	})
}

func FuzzDecodeError(f *testing.F) {
	for _, s := range []string{
		`{"error":"Invalid key","details":"expired"}`, `{"error":{"message":"nested"}}`, `{"error":[1,{"a":null}]}`,
		`{"message":"m"}`, `"str"`, `<html>`, ``, `{"error":"a\u202eb\u200bc\nd"}`,
		`{"error":"` + testKey + `"}`, `{"error":"` + testKey[:8] + `\u200b` + testKey[8:] + `"}`,
		`{"error":"` + strings.Repeat("x", 500) + `"}`, "{\"error\":\"\xff\xfe\"}",
	} {
		f.Add([]byte(s), 400)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		msg := cleanMessage(upstreamMessage(body, status), testKey)
		if msg == "" && status >= 100 && status <= 999 {
			t.Fatal("empty message")
		}
		if !utf8.ValidString(msg) {
			t.Fatalf("invalid UTF-8: %q", msg)
		}
		if n := utf8.RuneCountInString(msg); n > maxMessageRunes {
			t.Fatalf("message of %d runes", n)
		}
		if strings.Contains(msg, testKey) {
			t.Fatal("message holds the key")
		}
		for _, r := range msg {
			if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("message %q holds %U", msg, r)
			}
		}
		if strings.HasPrefix(msg, " ") || strings.HasSuffix(msg, " ") || strings.Contains(msg, "  ") {
			t.Fatalf("message %q has stray spaces", msg)
		}
	})
}

func FuzzValidKeyID(f *testing.F) {
	for _, s := range []string{"key_123", "../auth/agent-key", "x?y=1", "%2e%2e", "a/b", "", "..", "a b", "ключ", "a\x00b",
		strings.Repeat("a", 128), strings.Repeat("a", 129)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		if ValidKeyID(id) != nil {
			return
		}
		if id == "" || len(id) > maxKeyIDLen {
			t.Fatalf("accepted an id of %d bytes", len(id))
		}
		for i := 0; i < len(id); i++ {
			if !isIDChar(id[i]) {
				t.Fatalf("accepted %q with byte %#x", id, id[i])
			}
		}
		if url.PathEscape(id) != id {
			t.Fatalf("%q does not escape to itself", id)
		}
		p, err := epRevokeScopedKey.path(id)
		if err != nil || p != "/v3/auth/scoped-key/"+id {
			t.Fatalf("path(%q) = %q, %v", id, p, err)
		}
		if u, err := url.Parse("https://h" + p); err != nil || u.Path != p || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("path %q does not parse back to itself", p)
		}
	})
}

// FuzzReader checks the JSON reader against encoding/json: it accepts
// exactly the valid documents (up to maxDepth), and reads a string literal
// to the same value.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,-0,1.5e+3,true,false,null,"x\u00e9\n"]}`, `[]`, `{}`, ` 0 `, `-`, `01`, `1.`, `.5`, `1e`, `1E+2`, `-0.0e-0`,
		`[1,]`, `{"a":1,}`, `{"a" 1}`, `{"a":}`, `{1:2}`, `nul`, `truex`, `tru`, `"abc`, `"a\qb"`, `"\u12"`, `"\u12G4"`,
		`"\ud800"`, `"\ud800\udc00"`, `"\ud800\u0041"`, `"\udc00\ud800"`, "\"\xff\xfe\"", "\"a\x01b\"", `"\/\b\f\r\t\\\""`,
		strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth), strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1),
		``, ` `, `[1 2]`, `{"a":1 "b":2}`, `"a"x`, `{"a":{"b":{"c":[{"d":null}]}}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := newReader(data)
		r.skip()
		r.end()
		var syn *syntaxError
		tooDeep := errors.As(r.err, &syn) && syn.depth
		if valid := json.Valid(data); (r.err == nil) != valid && !tooDeep {
			t.Fatalf("reader error %v, json.Valid %v", r.err, valid)
		}
		var want string
		if json.Unmarshal(data, &want) == nil {
			r := newReader(data)
			r.peek() // as every caller does: skip white space to the '"'
			got := r.readString()
			r.end()
			if r.err != nil || got != want {
				t.Fatalf("readString = %q, %v; encoding/json gives %q", got, r.err, want)
			}
		}
	})
}
