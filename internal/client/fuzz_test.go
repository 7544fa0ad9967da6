package client

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"reflect"
	"slices"
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
		`{"keys":[{"isScoped":false,"containerTag":"p","containerTags":["a",5,null,"",{},["x"],true,"a"]}]}`,
		`[{"containerTag":"","containerTags":{}},{"isScoped":"yes","containerTag":3},{"isScoped":null,"containerTags":[]}]`,
		`{"keys":[{"isScoped":true,"isScoped":0,"containerTag":"a","containerTag":"b","containerTags":"c"}]}`,
		`{"keys":[],"keys":null}`, `{"keys":[{"containerTag":""},{"containerTag":{}},{"containerTags":[null]}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := decodeKeys(data)
		// The decoder it replaced (oldreader_test.go) reads every listing
		// the same way.
		old, oerr := oldDecodeKeys(data)
		if (err == nil) != (oerr == nil) || errors.Is(err, errShape) != errors.Is(oerr, errShape) {
			t.Fatalf("decodeKeys error %v, the old decoder's %v", err, oerr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(keys, old) {
			t.Fatalf("decodeKeys = %+v, the old decoder %+v", keys, old)
		}
		if !json.Valid(data) {
			t.Fatal("decodeKeys accepted invalid JSON")
		}
		want, ok := expectKeys(data)
		if !ok {
			t.Fatal("decodeKeys accepted a listing with two key lists")
		}
		if len(keys) != len(want) {
			t.Fatalf("%d keys, encoding/json finds %d", len(keys), len(want))
		}
		for i, k := range keys {
			w := want[i]
			if k.Kind != KindScoped && k.Kind != KindFull {
				t.Fatalf("kind %q", k.Kind)
			}
			// Ambiguity makes a key less revocable, never more.
			if w.notTrue && k.Kind == KindScoped {
				t.Fatalf("a key with isScoped false or not a boolean is scoped (tags %q)", k.Tags)
			}
			if w.unreadable && !slices.Contains(k.Tags, UnreadableTag) {
				t.Fatalf("an unreadable tag is dropped: tags %q", k.Tags)
			}
			for _, tag := range w.tags {
				if !slices.Contains(k.Tags, tag) {
					t.Fatalf("tag %q is dropped: tags %q", tag, k.Tags)
				}
			}
			if !slices.Equal(k.Tags, w.tags) || (k.Kind == KindScoped) != w.scoped() {
				t.Fatalf("kind %s, tags %q; want scoped=%v, tags %q", k.Kind, k.Tags, w.scoped(), w.tags)
			}
			seen := make(map[string]bool, len(k.Tags))
			for _, tag := range k.Tags {
				if tag == "" || seen[tag] {
					t.Fatalf("an empty or repeated tag in %q", k.Tags)
				}
				seen[tag] = true
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

// wantKey is what an independent reading of one key object with
// encoding/json says about its kind and tags.
type wantKey struct {
	tags            []string // the union, in order, without duplicates
	unreadable      bool     // some tag could not be read
	isTrue, notTrue bool
}

func (w wantKey) scoped() bool { return !w.notTrue && (w.isTrue || len(w.tags) > 0) }

// expectKeys reads a listing with encoding/json and returns, for each
// non-null item, what its kind and tags must be. ok is false for a listing
// with two "keys" members.
func expectKeys(data []byte) (keys []wantKey, ok bool) {
	list := data
	if d := bytes.TrimSpace(data); len(d) > 0 && d[0] == '{' {
		list = nil
		n := 0
		walkObject(d, func(name string, v json.RawMessage) {
			if name == "keys" {
				n++
				list = v
			}
		})
		if n > 1 {
			return nil, false
		}
	}
	var items []json.RawMessage
	_ = json.Unmarshal(list, &items) // null or absent: none
	for _, item := range items {
		if string(item) == "null" {
			continue
		}
		var w wantKey
		var tagsFirst, tagLater []string
		addTag := func(dst *[]string, v json.RawMessage) {
			var s string
			if json.Unmarshal(v, &s) != nil || s == "" {
				w.unreadable = true
				s = UnreadableTag
			}
			*dst = append(*dst, s)
		}
		walkObject(item, func(name string, v json.RawMessage) {
			isNull := string(v) == "null"
			switch name {
			case "isScoped":
				var s string
				_ = json.Unmarshal(v, &s)
				switch {
				case string(v) == "true" || string(v) == "1" || v[0] == '"' && s == "true":
					w.isTrue = true
				case !isNull:
					w.notTrue = true
				}
			case "containerTag":
				if !isNull {
					addTag(&tagLater, v)
				}
			case "containerTags":
				var elems []json.RawMessage
				switch {
				case isNull:
				case json.Unmarshal(v, &elems) == nil:
					for _, e := range elems {
						addTag(&tagsFirst, e)
					}
				default: // not an array, even a string
					w.unreadable = true
					tagsFirst = append(tagsFirst, UnreadableTag)
				}
			}
		})
		for _, tag := range append(tagsFirst, tagLater...) {
			if !slices.Contains(w.tags, tag) {
				w.tags = append(w.tags, tag)
			}
		}
		keys = append(keys, w)
	}
	return keys, true
}

// walkObject calls member for each member of the JSON object data, in
// order, duplicates included.
func walkObject(data []byte, member func(name string, v json.RawMessage)) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return
	}
	for dec.More() {
		tok, err := dec.Token()
		name, isName := tok.(string)
		var v json.RawMessage
		if err != nil || !isName || dec.Decode(&v) != nil {
			return
		}
		member(name, v)
	}
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
		`{"error":"` + strings.ToUpper(testKey[3:]) + `"}`, `{"message":"` + spaced(testKey, `\n`, 5) + `"}`,
		`{"error":{"k":"` + escaped(testKey) + `"}}`, `"Bearer ` + base64.StdEncoding.EncodeToString([]byte("Bearer "+testKey)) + `"`,
	} {
		f.Add([]byte(s), 400)
	}
	f.Fuzz(func(t *testing.T, body []byte, status int) {
		msg := cleanMessage(upstreamMessage(body, status), newRedactor(testKey))
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
		if tr := keyTraces(msg, testKey); len(tr) > 0 {
			t.Fatalf("message holds traces of the key: %v", tr)
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
// exactly the valid documents (up to maxDepth), whether it reads a value
// whole or walks it token by token as the decoders do, and reads a string
// literal to the same value.
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
		valid := json.Valid(data)
		r := newReader(data)
		r.skip()
		r.end()
		var syn *syntaxError
		tooDeep := errors.As(r.err, &syn) && syn.depth
		if (r.err == nil) != valid && !tooDeep {
			t.Fatalf("reader error %v, json.Valid %v", r.err, valid)
		}
		w := newReader(data)
		var walk func()
		walk = func() {
			switch w.peek() {
			case '{':
				w.object(func([]byte) { walk() })
			case '[':
				w.array(walk)
			default:
				w.skip()
			}
		}
		walk()
		w.end()
		// A document both malformed and too deep may fail either way.
		if (w.err == nil) != (r.err == nil) || valid && (errors.As(w.err, &syn) && syn.depth) != tooDeep {
			t.Fatalf("walking gives %v, reading whole %v", w.err, r.err)
		}
		// encoding/json also accepts null into a string (leaving it ""),
		// which is not a string literal: compare string literals only.
		var want string
		if lit := bytes.TrimLeft(data, " \t\r\n"); len(lit) > 0 && lit[0] == '"' && json.Unmarshal(data, &want) == nil {
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

// FuzzParseRFC3339Z checks the fast timestamp parser against parseTime:
// wherever it succeeds, it gives the same instant.
func FuzzParseRFC3339Z(f *testing.F) {
	for _, s := range []string{
		"2025-01-02T03:04:05Z", "2025-01-02T03:04:05.123Z", "2025-01-02T03:04:05.123456789Z", "2025-01-02T03:04:05.1234567890Z",
		"2024-02-29T00:00:00Z", "2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z", "2025-01-02T24:00:00Z", "2025-01-02T03:04:60Z",
		"2025-01-02T03:04:05.Z", "2025-01-02T03:04:05+00:00", "0000-01-01T00:00:00Z", "2025-01-02t03:04:05z", "+025-01-02T03:04:05Z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339Z([]byte(s))
		if !ok {
			return
		}
		if want := parseTime(s); !got.Equal(want) || got.Location() != want.Location() {
			t.Fatalf("parseRFC3339Z(%q) = %v, parseTime gives %v", s, got, want)
		}
	})
}

// FuzzDecodeCreated checks the create answer's tags and permission against
// an independent encoding/json reading: the same union of tags as a
// listing, and the widest permission, never a narrower one.
func FuzzDecodeCreated(f *testing.F) {
	for _, s := range []string{
		`{"key":"sm_x_MINTED","containerTag":"a","permission":"read"}`,
		`{"key":"sm_x_MINTED","containerTags":["a","b",5],"containerTag":"c","permission":"write","scope":{"permission":"read"}}`,
		`{"key":"sm_x_MINTED","permission":"read","permission":"write"}`, `{"key":"sm_x_MINTED","permission":"admin","permission":1}`,
		`{"key":"sm_x_MINTED","scope":{"permission":"read","permission":"r\u0065ad"},"permission":null}`, `{"key":1}`, `{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ck, err := decodeCreated(data)
		if err != nil {
			return
		}
		if !json.Valid(data) || ck.Key == "" {
			t.Fatal("decodeCreated accepted invalid JSON or an answer without a key")
		}
		want, _ := expectKeys(append(append([]byte("["), data...), ']'))
		if len(want) != 1 || !slices.Equal(ck.Tags, want[0].tags) {
			t.Fatalf("tags %q; encoding/json reads %+v", ck.Tags, want)
		}
		if len(ck.Tags) == 0 && ck.Tags != nil {
			t.Fatalf("no tags, but Tags %#v", ck.Tags)
		}
		if got, want := ck.Permission, expectPermission(data); got != want {
			t.Fatalf("permission %q, encoding/json reads %q", got, want)
		}
	})
}

// expectPermission reads the permission of a create answer with
// encoding/json: every permission member, top-level or in a scope object;
// the widest wins (read < write < anything else); two different others, or
// one that is not a non-empty string, are UnreadablePermission.
func expectPermission(data []byte) string {
	var values []json.RawMessage
	walkObject(bytes.TrimSpace(data), func(name string, v json.RawMessage) {
		switch name {
		case "permission":
			values = append(values, v)
		case "scope":
			if bytes.HasPrefix(v, []byte("{")) {
				walkObject(v, func(name string, v json.RawMessage) {
					if name == "permission" {
						values = append(values, v)
					}
				})
			}
		}
	})
	rank := func(s string) int {
		switch s {
		case "read":
			return 1
		case "write":
			return 2
		}
		return 3
	}
	best, bestRank, mixed := "", 0, false
	for _, v := range values {
		if string(v) == "null" {
			continue
		}
		var s string
		if v[0] != '"' || json.Unmarshal(v, &s) != nil || s == "" {
			bestRank, mixed = 3, true
			continue
		}
		switch r := rank(s); {
		case r > bestRank:
			best, bestRank = s, r
		case r == 3 && s != best:
			mixed = true
		}
	}
	switch {
	case bestRank == 0:
		return ""
	case mixed:
		return UnreadablePermission
	}
	return best
}
