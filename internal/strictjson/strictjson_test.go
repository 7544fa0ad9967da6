package strictjson

import (
	"errors"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// Get returns the value of the member called name, and whether there is one
// (for the tests: callers range over the members in order).
func (o Object) Get(name string) (jsontext.Value, bool) {
	for _, m := range o {
		if m.Name == name {
			return m.Value, true
		}
	}
	return nil, false
}

func TestDecode(t *testing.T) {
	t.Parallel()
	spec := Spec{Known: []string{"containerTag", "name", "nested", "n"}}
	tests := []struct {
		name   string
		in     string
		spec   Spec
		want   []string // name=value pairs, in order
		kind   error
		errMsg string // a substring of the error text
	}{
		{name: "members in order", in: ` {"name":"a","containerTag":"t","n":1.5e3} `, spec: spec,
			want: []string{`name="a"`, `containerTag="t"`, `n=1.5e3`}},
		{name: "empty object", in: `{}`, spec: Spec{}, want: nil},
		{name: "nested value kept as written", in: `{"nested":{"a":[1,{"b":null}]}}`, spec: spec,
			want: []string{`nested={"a":[1,{"b":null}]}`}},
		{name: "escaped name is the same name", in: `{"n\u0061me":"x"}`, spec: spec, want: []string{`name="x"`}},
		{name: "case variant is unknown", in: `{"ContainerTag":"x"}`, spec: spec, kind: ErrUnknown, errMsg: `unknown member "ContainerTag" at byte 1`},
		{name: "case variant smuggled beside the real one", in: `{"containerTag":"a","ContainerTag":"b"}`, spec: spec, kind: ErrUnknown},
		{name: "unknown with no list", in: `{"a":1}`, spec: Spec{}, kind: ErrUnknown},
		{name: "duplicate", in: `{"name":"a","name":"b"}`, spec: spec, kind: ErrDuplicate, errMsg: `duplicate member "name"`},
		{name: "duplicate through an escape", in: `{"name":"a","n\u0061me":"b"}`, spec: spec, kind: ErrDuplicate},
		{name: "duplicate in a nested object", in: `{"nested":{"a":1,"a":2}}`, spec: spec, kind: ErrDuplicate},
		{name: "array", in: `["name"]`, spec: spec, kind: ErrNotObject},
		{name: "string", in: `"x"`, spec: spec, kind: ErrNotObject},
		{name: "null", in: `null`, spec: spec, kind: ErrNotObject},
		{name: "empty", in: ``, spec: spec, kind: ErrSyntax},
		{name: "white space", in: `  `, spec: spec, kind: ErrSyntax},
		{name: "truncated", in: `{"name":"a"`, spec: spec, kind: ErrSyntax},
		{name: "trailing comma", in: `{"name":"a",}`, spec: spec, kind: ErrSyntax},
		{name: "second value", in: `{"name":"a"} {}`, spec: spec, kind: ErrTrailing},
		{name: "trailing garbage", in: `{"name":"a"}x`, spec: spec, kind: ErrTrailing},
		{name: "unknown allowed", in: `{"name":"a","other":1}`, spec: Spec{Known: []string{"name"}, AllowUnknown: true}, want: []string{`name="a"`, `other=1`}},
		{name: "not an object and trailing garbage", in: `[1] x`, spec: spec, kind: ErrSyntax},
		{name: "invalid UTF-8 in a value", in: "{\"name\":\"\xff\"}", spec: spec, kind: ErrSyntax},
		{name: "invalid UTF-8 in a name", in: "{\"na\xffme\":1}", spec: spec, kind: ErrSyntax},
		{name: "lone surrogate", in: `{"name":"\ud800"}`, spec: spec, kind: ErrSyntax},
		{name: "depth 2 allowed", in: `{"nested":[1]}`, spec: Spec{Known: []string{"nested"}, MaxDepth: 2}, want: []string{`nested=[1]`}},
		{name: "depth 3 refused", in: `{"nested":[[1]]}`, spec: Spec{Known: []string{"nested"}, MaxDepth: 2}, kind: ErrTooDeep},
		{name: "depth 1: scalars only", in: `{"nested":{}}`, spec: Spec{Known: []string{"nested"}, MaxDepth: 1}, kind: ErrTooDeep},
		{name: "default depth", in: `{"nested":` + strings.Repeat("[", DefaultMaxDepth) + strings.Repeat("]", DefaultMaxDepth) + `}`, spec: spec, kind: ErrTooDeep},
		{name: "default depth boundary", in: `{"nested":` + strings.Repeat("[", DefaultMaxDepth-1) + strings.Repeat("]", DefaultMaxDepth-1) + `}`, spec: spec,
			want: []string{`nested=` + strings.Repeat("[", DefaultMaxDepth-1) + strings.Repeat("]", DefaultMaxDepth-1)}},
		{name: "very deep", in: `{"nested":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, spec: spec, kind: ErrTooDeep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj, err := Decode([]byte(tt.in), tt.spec)
			if tt.kind != nil {
				var e *Error
				if !errors.Is(err, tt.kind) || !errors.As(err, &e) || obj != nil {
					t.Fatalf("Decode = %v, %v; want an *Error of kind %v", obj, err, tt.kind)
				}
				if !strings.Contains(err.Error(), tt.errMsg) {
					t.Errorf("error %q does not say %q", err, tt.errMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			var got []string
			for _, m := range obj {
				got = append(got, m.Name+"="+string(m.Value))
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGetAndValuesDoNotGrowIntoInput(t *testing.T) {
	t.Parallel()
	in := []byte(`{"a":[1],"b":"x"}`)
	obj, err := Decode(in, Spec{Known: []string{"a", "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := obj.Get("b"); !ok || string(v) != `"x"` {
		t.Errorf(`Get("b") = %s, %v`, v, ok)
	}
	if _, ok := obj.Get("c"); ok {
		t.Error(`Get("c") found a member`)
	}
	a, _ := obj.Get("a")
	_ = append(a, '!') // must not write into the input
	if string(in) != `{"a":[1],"b":"x"}` {
		t.Errorf("the input was changed: %s", in)
	}
}

func TestErrorTextIsSafe(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 200)
	_, err := Decode([]byte(`{"`+long+`\u202e\u0007":1}`), Spec{})
	var e *Error
	if !errors.As(err, &e) || e.Name != long+"\u202e\u0007" {
		t.Fatalf("got %v", err)
	}
	if msg := err.Error(); len(msg) > 120 || strings.ContainsAny(msg, "\u202e\u0007") {
		t.Errorf("error text %q is long or holds control characters", msg)
	}
	_, err = Decode([]byte(`{"secretValue":"sm_org_SECRETSECRETSECRET"}`), Spec{Known: []string{"secretValue"}, MaxDepth: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Decode([]byte(`{"secretValue":"sm_org_SECRETSECRETSECRET",}`), Spec{Known: []string{"secretValue"}})
	if err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Errorf("error %v quotes a value", err)
	}
}
