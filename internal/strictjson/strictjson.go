// Package strictjson decodes a JSON object exactly, for inputs that must
// mean one thing only: a request body, a policy fragment, a tool argument.
//
// [Decode] accepts one JSON object and nothing else: valid UTF-8, member
// names matched exactly (case-sensitively, after JSON unescaping), no name
// twice (in the object or in any object nested in it), every name on the
// caller's list (the first one that is not is reported), and nesting
// bounded. It is built on jsontext (github.com/go-json-experiment/json),
// the tokenizer of encoding/json/v2.
//
// The caller bounds the size of the input (an http.MaxBytesReader, say);
// the values returned alias it.
package strictjson

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// DefaultMaxDepth bounds nesting when [Spec].MaxDepth is 0. The object
// itself is at depth 1.
const DefaultMaxDepth = 32

// The kinds of [Error], matched with [errors.Is].
var (
	// ErrSyntax: the input is not valid JSON (invalid UTF-8 included), or
	// something follows the object.
	ErrSyntax = errors.New("malformed JSON")
	// ErrNotObject: the input is valid JSON but not an object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrDuplicate: a member name appears twice in one object.
	ErrDuplicate = errors.New("duplicate member")
	// ErrUnknown: a member of the object is not in [Spec].Known.
	ErrUnknown = errors.New("unknown member")
	// ErrTooDeep: the input is nested deeper than [Spec].MaxDepth.
	ErrTooDeep = errors.New("JSON nested too deeply")
	// ErrTrailing: something follows the object.
	ErrTrailing = errors.New("data after the JSON object")
)

// Error is why [Decode] refused its input.
type Error struct {
	// Kind is one of the Err* values of this package.
	Kind error
	// Name is the member name, for ErrDuplicate and ErrUnknown.
	Name string
	// Offset is the byte offset at which the problem was found.
	Offset int64
}

// maxQuotedName caps the part of a name that Error quotes.
const maxQuotedName = 64

// Error describes the problem: its kind, the name (quoted in ASCII and cut
// to 64 characters, so that no control or bidi character reaches a log),
// and the offset. It never quotes a value.
func (e *Error) Error() string {
	s := e.Kind.Error()
	if e.Kind == ErrDuplicate || e.Kind == ErrUnknown {
		name := e.Name
		if utf8.RuneCountInString(name) > maxQuotedName {
			name = string([]rune(name)[:maxQuotedName]) + "…"
		}
		s += " " + strconv.QuoteToASCII(name)
	}
	return s + " at byte " + strconv.FormatInt(e.Offset, 10)
}

// Unwrap returns the kind, so that errors.Is(err, ErrUnknown) works.
func (e *Error) Unwrap() error { return e.Kind }

// Spec says what Decode accepts.
type Spec struct {
	// Known lists every member name the object may have, exactly as
	// written. A name not listed is ErrUnknown; an empty list accepts
	// only {}.
	Known []string
	// MaxDepth bounds nesting (the object itself is depth 1); 0 means
	// DefaultMaxDepth.
	MaxDepth int
	// AllowUnknown returns members whose names are not in Known instead of
	// refusing them, for a caller that judges them itself (a tool that
	// refuses a Full Access argument with its own explanation).
	AllowUnknown bool
}

// Member is one member of a decoded object.
type Member struct {
	Name string
	// Value is the member's value exactly as written (valid JSON, no
	// surrounding white space); it aliases the input.
	Value jsontext.Value
}

// Object is a decoded object: its members in input order, each name once.
type Object []Member

// Decode reads data as exactly one JSON object that spec allows, and
// returns its members. Any failure is an [*Error].
func Decode(data []byte, spec Spec) (Object, error) {
	maxDepth := spec.MaxDepth
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	// The decoder reads a bytes.Buffer in place, so its offsets index data.
	dec := jsontext.NewDecoder(bytes.NewBuffer(data))
	d := decoder{dec: dec}

	switch dec.PeekKind() {
	case '{':
	case jsontext.KindInvalid:
		_, err := dec.ReadToken()
		return nil, d.syntax(err)
	default:
		// Valid JSON of another kind, or not: say which.
		if _, err := dec.ReadValue(); err != nil {
			return nil, d.syntax(err)
		}
		if _, err := dec.ReadToken(); err != io.EOF {
			return nil, d.syntax(err)
		}
		return nil, &Error{Kind: ErrNotObject}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, d.syntax(err)
	}
	if maxDepth < 1 {
		return nil, &Error{Kind: ErrTooDeep}
	}
	var obj Object
	for dec.PeekKind() != '}' {
		lit, err := dec.ReadValue() // a name; the decoder refuses a duplicate
		if err != nil {
			return nil, d.syntax(err)
		}
		name, err := jsontext.AppendUnquote(nil, lit)
		if err != nil {
			return nil, d.syntax(err)
		}
		if !spec.AllowUnknown && !known(spec.Known, string(name)) {
			return nil, &Error{Kind: ErrUnknown, Name: string(name), Offset: dec.InputOffset() - int64(len(lit))}
		}
		v, err := d.value(data, maxDepth)
		if err != nil {
			return nil, err
		}
		obj = append(obj, Member{Name: string(name), Value: v})
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, d.syntax(err)
	}
	if len(bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n")) > 0 { // JSON's white space only
		return nil, &Error{Kind: ErrTrailing, Offset: dec.InputOffset()}
	}
	return obj, nil
}

// decoder is the state of one Decode.
type decoder struct {
	dec *jsontext.Decoder
}

// syntax turns a decoder's error into an *Error.
func (d decoder) syntax(err error) error {
	var se *jsontext.SyntacticError
	switch {
	case !errors.As(err, &se):
		return &Error{Kind: ErrSyntax, Offset: d.dec.InputOffset()}
	case errors.Is(se.Err, jsontext.ErrDuplicateName):
		return &Error{Kind: ErrDuplicate, Name: se.JSONPointer.LastToken(), Offset: se.ByteOffset}
	}
	return &Error{Kind: ErrSyntax, Offset: se.ByteOffset}
}

// value reads the next value, token by token if it is an object or array
// so that the depth bound holds at every level, and returns it as written.
func (d decoder) value(data []byte, maxDepth int) (jsontext.Value, error) {
	switch d.dec.PeekKind() {
	case '{', '[':
	default:
		v, err := d.dec.ReadValue()
		if err != nil {
			return nil, d.syntax(err)
		}
		return v, nil
	}
	base := d.dec.StackDepth()
	if _, err := d.dec.ReadToken(); err != nil {
		return nil, d.syntax(err)
	}
	start := d.dec.InputOffset() - 1
	for d.dec.StackDepth() > base {
		if d.dec.StackDepth() > maxDepth {
			return nil, &Error{Kind: ErrTooDeep, Offset: d.dec.InputOffset() - 1}
		}
		if _, err := d.dec.ReadToken(); err != nil {
			return nil, d.syntax(err)
		}
	}
	end := d.dec.InputOffset()
	return jsontext.Value(data[start:end:end]), nil
}

// known reports whether name is in list.
func known(list []string, name string) bool {
	for _, k := range list {
		if k == name {
			return true
		}
	}
	return false
}
