package client

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"strconv"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// reader reads the answers of the key API with a [jsontext.Decoder], value
// by value, rather than with reflection: a listing of 10,000 keys must
// decode in a few milliseconds, and each field's leniency is explicit.
//
// The decoder parses the body in place (it is handed a [bytes.Buffer],
// which jsontext reads without copying, and never writes), so a value is
// copied only when it is kept: a create answer's secret is copied once,
// into the [Secret].
//
// It accepts exactly the JSON that encoding/json accepts (checked by a fuzz
// test): invalid UTF-8 in strings reads as U+FFFD, and a member name may
// appear twice (the decoders in decode.go say which one wins). Nesting is
// bounded by maxDepth.
//
// Errors are sticky: after the first one, every method returns zero values
// and consumes nothing.
type reader struct {
	dec jsontext.Decoder
	src bytes.Buffer
	err error
	// inner and buf read the metadata strings of a listing one after the
	// other; both are reused, so that a key costs no new decoder. metas
	// maps a metadata value, as written, to what it gave: the keys of one
	// organisation tend to carry the same few, each of which is then
	// decoded once and its map cloned (at most maxMetas are kept).
	inner *reader
	buf   []byte
	metas map[string]map[string]string
}

// maxMetas bounds reader.metas.
const maxMetas = 16

// maxDepth bounds nesting, so that a hostile body cannot make the
// recursive decoders exhaust the stack.
const maxDepth = 512

// syntaxError is malformed JSON. It gives the offset, never the content:
// a create answer holds a secret.
type syntaxError struct {
	off   int64
	depth bool
}

func (e *syntaxError) Error() string {
	if e.depth {
		return "JSON nested deeper than " + strconv.Itoa(maxDepth) + " levels at byte " + strconv.FormatInt(e.off, 10)
	}
	return "malformed JSON at byte " + strconv.FormatInt(e.off, 10)
}

func newReader(data []byte) *reader {
	r := &reader{}
	r.reset(data)
	return r
}

// reset makes r read data from the start.
func (r *reader) reset(data []byte) {
	r.src = *bytes.NewBuffer(data)
	r.err = nil
	r.dec.Reset(&r.src, jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
}

// fail records err (from the decoder, or nil for a token of the wrong
// kind) as a syntaxError at the offset it names.
func (r *reader) fail(err error) {
	if r.err != nil {
		return
	}
	off := r.dec.InputOffset()
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		off = se.ByteOffset
	}
	r.err = &syntaxError{off: off}
}

// tooDeep records nesting beyond maxDepth at offset off.
func (r *reader) tooDeep(off int64) {
	if r.err == nil {
		r.err = &syntaxError{off: off, depth: true}
	}
}

// shape records valid JSON of an unexpected shape.
func (r *reader) shape() {
	if r.err == nil {
		r.err = errShape
	}
}

// peek returns the kind of the next token, or 0 if there is none or the
// reader has failed. The decoder keeps what it found for the read that
// follows.
func (r *reader) peek() jsontext.Kind {
	if r.err != nil {
		return 0
	}
	k := r.dec.PeekKind()
	if k == jsontext.KindInvalid {
		_, err := r.dec.ReadToken() // the cached error
		if err == nil || err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		r.fail(err)
	}
	return k
}

// kindOf returns the kind of the token that v starts with ('0' for a
// number), or 0 if none does.
func kindOf(v []byte) jsontext.Kind {
	if len(v) == 0 {
		return 0
	}
	switch c := v[0]; c {
	case '"', '{', '}', '[', ']', 'n', 't', 'f':
		return jsontext.Kind(c)
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return '0'
	}
	return 0
}

// end checks that nothing but white space follows the value.
func (r *reader) end() {
	if r.err != nil {
		return
	}
	if _, err := r.dec.ReadToken(); err != io.EOF {
		r.fail(err) // an error, or a second value
	}
}

// token reads a delimiter, or a null, true or false.
func (r *reader) token() {
	if r.err != nil {
		return
	}
	if _, err := r.dec.ReadToken(); err != nil {
		r.fail(err)
	}
}

// next reads the next value and returns it as written; it aliases the input
// and is valid until the next read. An object or array is read whole and
// checked against maxDepth.
func (r *reader) next() []byte {
	if r.err != nil {
		return nil
	}
	v, err := r.dec.ReadValue()
	if err != nil {
		r.fail(err)
		return nil
	}
	if (v[0] == '{' || v[0] == '[') && !r.shallow(v) {
		return nil
	}
	return v
}

// shallow checks that the object or array v, just read, keeps within
// maxDepth.
func (r *reader) shallow(v []byte) bool {
	if r.dec.StackDepth()+depthOf(v) > maxDepth {
		r.tooDeep(r.dec.InputOffset() - int64(len(v)))
		return false
	}
	return true
}

// scalar reads the next value and returns its kind and what it holds: a
// string's content (an alias of the input unless it has escapes or invalid
// UTF-8), a number as written, nil for anything else. It is next and
// unquote in one, for the hot paths of a listing.
func (r *reader) scalar() (jsontext.Kind, []byte) {
	if r.err != nil {
		return 0, nil
	}
	v, err := r.dec.ReadValue()
	if err != nil {
		r.fail(err)
		return 0, nil
	}
	switch c := v[0]; c {
	case '"':
		const (
			ones  = 0x0101010101010101
			highs = 0x8080808080808080
			backs = '\\' * ones
		)
		raw := v[1 : len(v)-1]
		i := 0
		for ; i+8 <= len(raw); i += 8 {
			w := binary.LittleEndian.Uint64(raw[i:])
			x := w ^ backs // a zero byte where w has a backslash
			if (w|(x-ones)&^x)&highs != 0 {
				break
			}
		}
		for ; i < len(raw); i++ {
			if c := raw[i]; c == '\\' || c >= utf8.RuneSelf {
				s, _ := unquoteFrom(v, i)
				return '"', s
			}
		}
		return '"', raw
	case '{', '[':
		r.shallow(v)
		return jsontext.Kind(c), nil
	case 'n', 't', 'f':
		return jsontext.Kind(c), nil
	}
	return '0', v
}

// depthOf returns the nesting depth of v, a valid JSON value.
func depthOf(v []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

// skip reads and discards any value.
func (r *reader) skip() { r.next() }

// unquote returns the content of the string literal lit: an alias of it
// when it has no escapes and is valid UTF-8 (fresh is false), else a new
// slice with its unescaped form (escapes decoded and invalid UTF-8
// replaced by U+FFFD, as encoding/json does).
func unquote(lit []byte) (s []byte, fresh bool) {
	if len(lit) < 2 {
		return nil, false
	}
	return unquoteFrom(lit, 0)
}

// unquoteFrom is unquote for a literal whose content is known to be plain
// ASCII without escapes before index i.
func unquoteFrom(lit []byte, i int) (s []byte, fresh bool) {
	raw := lit[1 : len(lit)-1]
	if rest := raw[i:]; bytes.IndexByte(rest, '\\') < 0 && utf8.Valid(rest) {
		return raw, false
	}
	// The decoder has checked the literal; an error here only says that
	// something was replaced by U+FFFD.
	s, _ = jsontext.AppendUnquote(nil, lit)
	return s, true
}

// nameOf returns the content of a member name's literal for matching
// against the names the decoders know (all ASCII): an alias of it unless it
// has escapes. A name that is not valid UTF-8 matches none of them, as it
// would not once its bad bytes were replaced.
func nameOf(lit []byte) []byte {
	if len(lit) < 2 {
		return nil
	}
	if raw := lit[1 : len(lit)-1]; bytes.IndexByte(raw, '\\') < 0 {
		return raw
	}
	s, _ := jsontext.AppendUnquote(nil, lit)
	return s
}

// validString returns b as a string, each byte of invalid UTF-8 replaced
// by U+FFFD as encoding/json does.
func validString(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for len(b) > 0 {
		c, n := utf8.DecodeRune(b)
		if c == utf8.RuneError && n == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:n]...)
		}
		b = b[n:]
	}
	return string(out)
}

// readString reads a string literal (the caller has peeked one).
func (r *reader) readString() string { return string(r.readStringBytes()) }

// readStringBytes is readString without a copy: the result may alias the
// input.
func (r *reader) readStringBytes() []byte {
	s, _ := unquote(r.next())
	return s
}

// rawScalar reads a string or a number and returns it as written, quotes
// included; it aliases the input. Other values give nil.
func (r *reader) rawScalar() []byte {
	switch v := r.next(); kindOf(v) {
	case '"', '0':
		return v
	}
	return nil
}

// secretOf returns the Secret held by lit, a string or number literal from
// rawScalar (nil gives ""). The secret's bytes are copied once, into the
// result: an unescaped intermediate form is cleared.
func secretOf(lit []byte) Secret {
	if len(lit) == 0 || lit[0] != '"' {
		return Secret(lit)
	}
	b, fresh := unquote(lit)
	s := Secret(b)
	if fresh {
		clear(b)
	}
	return s
}

// open reads the opening delimiter of an object or array and checks the
// depth.
func (r *reader) open(kind jsontext.Kind) bool {
	if r.peek() != kind {
		r.fail(nil)
		return false
	}
	r.token()
	if r.err == nil && r.dec.StackDepth() > maxDepth {
		r.tooDeep(r.dec.InputOffset() - 1)
	}
	return r.err == nil
}

// object reads an object, calling field for each member with the reader on
// its value; field must read or skip that value. The name may alias the
// input.
func (r *reader) object(field func(name []byte)) {
	if !r.open('{') {
		return
	}
	for r.err == nil {
		switch r.peek() {
		case '}':
			r.token()
			return
		case '"':
			v, err := r.dec.ReadValue()
			if err != nil {
				r.fail(err)
				return
			}
			field(nameOf(v))
		default:
			r.fail(nil)
		}
	}
}

// array reads an array, calling elem for each element; elem must read or
// skip it.
func (r *reader) array(elem func()) {
	if !r.open('[') {
		return
	}
	for r.err == nil {
		if r.peek() == ']' {
			r.token()
			return
		}
		if r.err == nil {
			elem()
		}
	}
}

// The lenient readers below accept a value of any JSON type: one of an
// unexpected type is read as missing.

// flexString reads a string, or a number as written; else "".
func (r *reader) flexString() string {
	_, b := r.scalar()
	return string(b)
}

// flexBytes is flexString without a copy: the result may alias the input.
func (r *reader) flexBytes() []byte {
	_, b := r.scalar()
	return b
}

// optBool is a boolean that may be absent.
type optBool struct{ set, v bool }

// flexBool reads true/false, "true"/"false" or 1/0; else unset.
func (r *reader) flexBool() optBool { return boolOf(r.scalar()) }

// boolOf reads what scalar returned as flexBool does.
func boolOf(kind jsontext.Kind, b []byte) optBool {
	switch kind {
	case 't':
		return optBool{true, true}
	case 'f':
		return optBool{true, false}
	case '"':
		switch string(b) {
		case "true", "false":
			return optBool{true, string(b) == "true"}
		}
	case '0':
		switch string(b) {
		case "1", "0":
			return optBool{true, string(b) == "1"}
		}
	}
	return optBool{}
}

// flexInt reads an integral number or a string holding one; else 0.
func (r *reader) flexInt() int64 {
	_, b := r.scalar()
	s := string(b)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		return v
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int64(f)) && f > -1<<62 && f < 1<<62 {
		return int64(f)
	}
	return 0
}

// flexStrings reads an array of strings (other and empty elements are
// skipped) or one non-empty string; else nil.
func (r *reader) flexStrings() []string {
	switch r.peek() {
	case '"':
		if s := r.readString(); s != "" {
			return []string{s}
		}
		return nil
	case '[':
		var out []string
		r.array(func() {
			if k, s := r.scalar(); k == '"' && len(s) > 0 {
				out = append(out, string(s))
			}
		})
		return out
	}
	r.skip()
	return nil
}

// flexMeta reads metadata: an object, or a string holding a JSON object.
// It keeps the string values; anything else is nil. A malformed metadata
// string is not the answer's fault and reads as nil.
func (r *reader) flexMeta() map[string]string {
	v := r.next()
	if m, ok := r.metas[string(v)]; ok {
		return maps.Clone(m)
	}
	m := r.decodeMeta(v)
	if m != nil && len(r.metas) < maxMetas {
		if r.metas == nil {
			r.metas = make(map[string]map[string]string, 4)
		}
		r.metas[string(v)] = maps.Clone(m)
	}
	return m
}

// decodeMeta decodes the metadata value v, as written.
func (r *reader) decodeMeta(v []byte) map[string]string {
	var doc []byte
	switch kindOf(v) {
	case '{':
		doc = v
	case '"':
		// Unescaped into r.buf, which the map's strings do not alias.
		r.buf, _ = jsontext.AppendUnquote(r.buf[:0], v)
		doc = r.buf
	default:
		return nil
	}
	if r.inner == nil {
		r.inner = &reader{}
	}
	inner := r.inner
	inner.reset(doc)
	if inner.peek() != '{' {
		return nil
	}
	m := inner.stringMap()
	inner.end()
	if inner.err != nil {
		return nil
	}
	return m
}

func (r *reader) stringMap() map[string]string {
	var m map[string]string
	r.object(func(key []byte) {
		k, s := r.scalar()
		if k != '"' {
			return
		}
		if m == nil {
			m = make(map[string]string, 4)
		}
		m[validString(key)] = string(s)
	})
	return m
}
