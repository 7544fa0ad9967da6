package tools

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

func TestDecodeArgs(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		specs      []argSpec
		fullAccess bool
		wantErr    string // "" = accepted
		wantFull   []string
		check      func(t *testing.T, a args)
	}{
		{name: "empty object", raw: `{}`, specs: listTagsArgs},
		{name: "null", raw: `null`, specs: listTagsArgs},
		{name: "empty", raw: ``, specs: listTagsArgs},
		{name: "not an object", raw: `[1]`, specs: listTagsArgs, wantErr: "must be a JSON object"},
		{name: "string", raw: `"x"`, specs: listTagsArgs, wantErr: "must be a JSON object"},
		{name: "trailing data", raw: `{} {}`, specs: listTagsArgs, wantErr: "single JSON object"},
		{name: "broken", raw: `{"query":`, specs: listTagsArgs, wantErr: "not valid JSON"},
		{name: "duplicate key", raw: `{"query":"a","query":"b"}`, specs: listTagsArgs, wantErr: "given twice"},
		{name: "case variant is unknown", raw: `{"Query":"a"}`, specs: listTagsArgs, wantErr: "unknown argument"},
		{name: "tag and Tag", raw: `{"tag":"proj-a","Tag":"proj-prod"}`, specs: createArgs, fullAccess: true, wantErr: "unknown argument"},
		{name: "unicode escape of a known name is the same name", raw: `{"t\u0061g":"a","tag":"b"}`, specs: createArgs, fullAccess: true, wantErr: "given twice"},
		{name: "integer", raw: `{"limit":5}`, specs: listTagsArgs, check: func(t *testing.T, a args) {
			if a.intOr("limit", 0) != 5 {
				t.Errorf("limit = %d", a.intOr("limit", 0))
			}
		}},
		{name: "integral float", raw: `{"limit":5.0}`, specs: listTagsArgs},
		{name: "fraction", raw: `{"limit":5.5}`, specs: listTagsArgs, wantErr: "whole number"},
		{name: "exponent overflow", raw: `{"limit":1e400}`, specs: listTagsArgs, wantErr: "whole number"},
		{name: "huge integer", raw: `{"expires_in_days":99999999999999999999}`, specs: createArgs, fullAccess: true, wantErr: "whole number"},
		{name: "string number", raw: `{"limit":"5"}`, specs: listTagsArgs, wantErr: "whole number"},
		{name: "bool number", raw: `{"limit":true}`, specs: listTagsArgs, wantErr: "whole number"},
		{name: "over max", raw: `{"limit":501}`, specs: listTagsArgs, wantErr: "between 1 and 500"},
		{name: "null is absent", raw: `{"limit":null}`, specs: listTagsArgs, check: func(t *testing.T, a args) {
			if a.has("limit") || a.intPtr("limit") != nil {
				t.Error("null limit treated as given")
			}
		}},
		{name: "string too long", raw: `{"query":"` + strings.Repeat("a", 101) + `"}`, specs: listTagsArgs, wantErr: "at most 100"},
		{name: "enum", raw: `{"kind":"admin"}`, specs: listKeysArgs, wantErr: "must be one of"},
		{name: "bool", raw: `{"include_disabled":"true"}`, specs: listKeysArgs, wantErr: "true or false"},
		{name: "required", raw: `{}`, specs: revokeArgs, wantErr: "required"},
		{name: "full access argument collected", raw: `{"tag":"a","permission":"full","fullAccess":true}`, specs: createArgs, fullAccess: true, wantFull: []string{"permission", "fullAccess"}},
		{name: "full access argument refused when not collecting", raw: `{"permission":"full"}`, specs: listTagsArgs, wantErr: "unknown argument"},
		{name: "array tag is a full access shape", raw: `{"tag":["a","b"]}`, specs: createArgs, fullAccess: true, wantFull: []string{"tag (an array)"}},
		{name: "missing tag left to the policy", raw: `{}`, specs: createArgs, fullAccess: true},
		{name: "tag kept exactly", raw: `{"tag":" proj-a\u200b"}`, specs: createArgs, fullAccess: true, check: func(t *testing.T, a args) {
			if a.str("tag") != " proj-a\u200b" {
				t.Errorf("tag changed to %q", a.str("tag"))
			}
		}},
		{name: "too large", raw: `{"query":"` + strings.Repeat("a", maxArgumentBytes) + `"}`, specs: listTagsArgs, wantErr: "bytes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := decodeArgs([]byte(tc.raw), tc.specs, tc.fullAccess)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if strings.Join(a.fullAccess, ",") != strings.Join(tc.wantFull, ",") {
				t.Errorf("fullAccess = %v, want %v", a.fullAccess, tc.wantFull)
			}
			if tc.check != nil {
				tc.check(t, a)
			}
		})
	}
}

func TestErrorQuotesAreBounded(t *testing.T) {
	long := strings.Repeat("x", 5000)
	_, err := decodeArgs([]byte(`{"`+long+`":1}`), listTagsArgs, false)
	if err == nil || len(err.Error()) > 400 {
		t.Fatalf("error for a long argument name is %d bytes", len(err.Error()))
	}
}

// FuzzDecodeCreateArgs feeds arbitrary argument objects to the decoder of
// create_scoped_key: it must never panic, and what it accepts must be
// exactly typed and known.
func FuzzDecodeCreateArgs(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"tag":"proj-a"}`, `{"tag":"proj-a","name":"n","expires_in_days":30,"rate_limit_max":10,"rate_limit_window_ms":1000}`,
		`{"tag":"*"}`, `{"tag":["a"]}`, `{"tag":"a","permission":"full"}`, `{"tag":"a","Tag":"b"}`, `{"tag":"a","tag":"b"}`,
		`{"expires_in_days":1e3}`, `{"expires_in_days":-0}`, `[]`, `null`, `{"tag":"\u0000"}`, `{"name":"\ud800"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		a, err := decodeArgs(raw, createArgs, true)
		if err != nil {
			if _, ok := err.(*argError); !ok {
				t.Fatalf("non-argError %T: %v", err, err)
			}
			return
		}
		// Everything accepted must come from a JSON object whose known
		// keys decode to the same values with the standard library.
		var m map[string]json.RawMessage
		trimmed := bytes.TrimSpace(raw)
		if len(trimmed) == 0 || string(trimmed) == "null" {
			return
		}
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("accepted input the standard library rejects: %v", err)
		}
		for name, v := range a.values {
			if _, ok := m[name]; !ok {
				t.Fatalf("decoded %q which is not in the input", name)
			}
			if v.set && name == "tag" {
				var s string
				if err := json.Unmarshal(m[name], &s); err != nil || s != v.str {
					t.Fatalf("tag decoded as %q, standard library says %q (%v)", v.str, s, err)
				}
			}
		}
		for name := range m {
			known := false
			for _, s := range createArgs {
				known = known || s.name == name
			}
			if !known && !keys.IsFullAccessArgument(name) {
				t.Fatalf("unknown argument %q accepted", name)
			}
		}
	})
}

func TestListSome(t *testing.T) {
	many := make([]string, 30)
	for i := range many {
		many[i] = "p" + strings.Repeat("x", i)
	}
	if got := listSome(many); !strings.HasSuffix(got, "and 18 more") || strings.Count(got, ",") != maxListed-1 {
		t.Errorf("listSome(30) = %q", got)
	}
	if got := listSome([]string{"a", "b"}); got != "a, b" {
		t.Errorf("listSome(2) = %q", got)
	}
}
