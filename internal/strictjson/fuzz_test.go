package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"testing"
	"unicode/utf8"
)

// fuzzSpec is the Spec every fuzz input is decoded with.
var fuzzSpec = Spec{Known: []string{"a", "b", "name", "containerTag"}, MaxDepth: 4}

// FuzzDecode checks Decode against encoding/json: whatever it accepts is a
// valid object whose names (in order), values, uniqueness and depth an
// independent reading confirms; and it accepts every such object.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":[true,null,{"x":"y"}]}`, `{}`, ` {"name":"n\u0061"} `, `{"a":1,"a":2}`, `{"a":{"x":1,"x":2}}`,
		`{"A":1}`, `{"c":1}`, `[1]`, `"a"`, `{"a":[[[[1]]]]}`, `{"a":[[[1]]]}`, `{"a":1}x`, `{"a":1}{}`, `{"a":"\ud800"}`,
		"{\"a\":\"\xff\"}", `{"a":1,}`, `{"a"}`, ``, `{"n\u0061me":1,"name":2}`, `{"b":"\u0000\"\\"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, err := Decode(data, fuzzSpec)
		if err == nil && !json.Valid(data) {
			t.Fatalf("Decode accepted invalid JSON")
		}
		if surrogateEscape.Match(data) {
			return // encoding/json and jsontext differ on purpose (see surrogateEscape)
		}
		want, ok := expect(data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind == nil {
				t.Fatalf("error %v is not an *Error", err)
			}
			if ok {
				t.Fatalf("Decode refused an object encoding/json reads as allowed: %v", err)
			}
			if errors.Is(err, ErrNotObject) && utf8.Valid(data) && !json.Valid(data) {
				t.Fatalf("ErrNotObject for invalid JSON")
			}
			return
		}
		if !ok {
			t.Fatalf("Decode accepted what encoding/json does not read as an allowed object: %q", obj)
		}
		if len(obj) != len(want) {
			t.Fatalf("%d members, encoding/json finds %d", len(obj), len(want))
		}
		for i, m := range obj {
			if m.Name != want[i].name || !bytes.Equal(m.Value, want[i].value) {
				t.Fatalf("member %d = %q:%s, encoding/json reads %q:%s", i, m.Name, m.Value, want[i].name, want[i].value)
			}
		}
	})
}

type member struct {
	name  string
	value []byte
}

// surrogateEscape finds what may be an escaped UTF-16 surrogate, which
// encoding/json accepts alone and jsontext does not: inputs with one are
// only checked to be valid JSON when accepted.
var surrogateEscape = regexp.MustCompile(`(?i)\\ud[89a-f]`)

// expect reads data with encoding/json and says whether it is one object
// that fuzzSpec allows (ok), and its members.
func expect(data []byte) (members []member, ok bool) {
	if !json.Valid(data) || !utf8.Valid(data) {
		return nil, false
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		name, isName := tok.(string)
		var raw json.RawMessage
		if err != nil || !isName || seen[name] || !known(fuzzSpec.Known, name) || dec.Decode(&raw) != nil {
			return nil, false
		}
		seen[name] = true
		if depth, unique := shape(raw); !unique || 1+depth > fuzzSpec.MaxDepth {
			return nil, false
		}
		members = append(members, member{name, raw})
	}
	return members, true
}

// shape returns the nesting depth of the valid JSON value raw and whether
// no object in it has a name twice.
func shape(raw []byte) (depth int, unique bool) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	type frame struct {
		object bool
		names  map[string]bool
		name   bool // the next token of an object is a name
	}
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return depth, true
		}
		if n := len(stack); n > 0 && stack[n-1].object {
			top := &stack[n-1]
			if d, isDelim := tok.(json.Delim); !isDelim || d != '}' {
				if top.name {
					name := tok.(string)
					if top.names[name] {
						return depth, false
					}
					top.names[name] = true
					top.name = false
					continue
				}
				top.name = true
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, frame{object: true, names: map[string]bool{}, name: true})
		case json.Delim('['):
			stack = append(stack, frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		depth = max(depth, len(stack))
	}
}

func TestExpectAgreesOnTheSeeds(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		`{"a":{"x":1,"x":2}}`: false, `{"a":{"x":1,"y":{"x":2}}}`: true, `{"a":[{"x":1},{"x":2}]}`: true,
		`{"a":[[[1]]]}`: true, `{"a":[[[[1]]]]}`: false, `{"a":"\\uD800"}`: true, `{"b":"\u00e9"}`: true,
	} {
		if _, ok := expect([]byte(in)); ok != want {
			t.Errorf("expect(%s) ok = %v, want %v", in, ok, want)
		}
		if _, err := Decode([]byte(in), fuzzSpec); (err == nil) != want {
			t.Errorf("Decode(%s) = %v, want ok %v", in, err, want)
		}
	}
}
