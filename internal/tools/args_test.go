package tools

import (
	"bytes"
	"encoding/json"
	"math/big"
	"slices"
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
		{name: "fraction hidden by float rounding", raw: `{"limit":89.99999999999999999}`, specs: listTagsArgs, wantErr: "whole number"},
		{name: "tiny fraction hidden by float rounding", raw: `{"limit":1.00000000000000000001}`, specs: listTagsArgs, wantErr: "whole number"},
		{name: "exponent makes an integer", raw: `{"limit":1.5e1}`, specs: listTagsArgs, check: func(t *testing.T, a args) {
			if a.intOr("limit", 0) != 15 {
				t.Errorf("limit = %d, want 15", a.intOr("limit", 0))
			}
		}},
		{name: "exponent leaves a fraction", raw: `{"limit":1.25e1}`, specs: listTagsArgs, wantErr: "whole number"},
		{name: "out-of-range marker as an integer", raw: `{"limit":` + string(OutOfRangeNumber([]byte("1e400"))) + `}`, specs: listTagsArgs, wantErr: `must be a whole number from -2147483648 to 2147483647, got "1e400"`},
		{name: "out-of-range marker as a string", raw: `{"query":` + string(OutOfRangeNumber([]byte("-1e400"))) + `}`, specs: listTagsArgs, wantErr: `"query" must be a string, got a number`},
		{name: "out-of-range marker as a boolean", raw: `{"include_disabled":` + string(OutOfRangeNumber([]byte("1e400"))) + `}`, specs: listKeysArgs, wantErr: "true or false, got a number"},
		{name: "out-of-range marker as the tag is a full access shape", raw: `{"tag":` + string(OutOfRangeNumber([]byte("1e400"))) + `}`, specs: createArgs, fullAccess: true, wantFull: []string{"tag (a number)"}},
		{name: "out-of-range marker escaped differently", raw: `{"name":"\u0000\u006dcp-keys: number out of float64 range: 1e400"}`, specs: createArgs, fullAccess: true, wantErr: "must be a string, got a number"},
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
		{name: "full access argument collected", raw: `{"tag":"a","permission":"full","fullAccess":true}`, specs: createArgs, fullAccess: true, wantFull: []string{"fullAccess"}},
		{name: "permission null is a full access shape", raw: `{"tag":"a","permission":null}`, specs: createArgs, fullAccess: true, wantFull: []string{"permission (null)"}},
		{name: "permission not a string is a full access shape", raw: `{"tag":"a","permission":true}`, specs: createArgs, fullAccess: true, wantFull: []string{"permission (a boolean)"}},
		{name: "tags not a list is a full access shape", raw: `{"tags":"a"}`, specs: createArgs, fullAccess: true, wantFull: []string{"tags (a string)"}},
		{name: "tags with a number", raw: `{"tags":["a",1]}`, specs: createArgs, fullAccess: true, wantErr: "must hold only strings"},
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

// TestIntegerValue: whether a JSON number is an integer is decided on its
// decimal text, never after a conversion to float64 that could round a
// fraction away.
func TestIntegerValue(t *testing.T) {
	tests := []struct {
		text string
		want int64
		ok   bool
	}{
		{"90", 90, true},
		{"-3", -3, true},
		{"0", 0, true},
		{"-0", 0, true},
		{"-0.0", 0, true},
		{"5.0", 5, true},
		{"5.000", 5, true},
		{"1e2", 100, true},
		{"1E2", 100, true},
		{"1e+2", 100, true},
		{"1.5e1", 15, true},
		{"100e-2", 1, true},
		{"0.0000000000000000000001e22", 1, true},
		{"12345678900000000000e-10", 1234567890, true},
		{"1e9", 1000000000, true},
		{"2147483647", 2147483647, true},
		{"2.147483647e9", 2147483647, true},
		{"-2147483648", -2147483648, true},
		{"0e999999999999999999999", 0, true},
		{"0.000e-99999999999999999999", 0, true},

		{"89.99999999999999999", 0, false},
		{"1.00000000000000000001", 0, false},
		{"2147483646.9999999999", 0, false},
		{"30.00000000000000000000000001", 0, false},
		{"1.25e1", 0, false},
		{"150e-2", 0, false},
		{"123456789012345678901234567890e-20", 0, false},
		{"0.5", 0, false},
		{"-0.5", 0, false},
		{"1e-400", 0, false},
		{"1e400", 0, false},
		{"1e10", 0, false},
		{"2147483648", 0, false},
		{"2.147483648e9", 0, false},
		{"-2147483649", 0, false},
		{"99999999999999999999", 0, false},
		{"1e99999999999999999999", 0, false},
		{"1e-99999999999999999999", 0, false},
		{"4294967296e-1", 0, false},
		// Not JSON numbers at all: refused, never guessed at.
		{"", 0, false},
		{"-", 0, false},
		{"+1", 0, false},
		{"01", 0, false},
		{"1.", 0, false},
		{".5", 0, false},
		{"1e", 0, false},
		{"0x10", 0, false},
		{"Infinity", 0, false},
		{"NaN", 0, false},
		{"1_000", 0, false},
	}
	for _, tc := range tests {
		n, ok := integerValue(tc.text)
		if ok != tc.ok || (ok && n != tc.want) {
			t.Errorf("integerValue(%q) = %d, %v; want %d, %v", tc.text, n, ok, tc.want, tc.ok)
		}
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
		`{"expires_in_days":89.99999999999999999}`, `{"rate_limit_max":1.25e1}`, `{"rate_limit_max":1.5e1}`,
		`{"expires_in_days":` + string(OutOfRangeNumber([]byte("1e400"))) + `}`,
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
			if i := slices.IndexFunc(createArgs, func(s argSpec) bool { return s.name == name }); v.set && createArgs[i].typ == argInteger {
				// An accepted integer is exactly the number written.
				r, ok := new(big.Rat).SetString(string(m[name]))
				if !ok || !r.IsInt() || r.Num().Int64() != v.num || !r.Num().IsInt64() {
					t.Fatalf("%s = %s accepted as %d", name, m[name], v.num)
				}
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
