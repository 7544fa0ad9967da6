package client

// This file is the hand-written JSON reader that reader.go replaced, kept
// for tests only: BenchmarkDecoders compares the two (the new reader must be
// no slower), and FuzzDecodeKeys requires them to agree. Only the listing
// path is kept; rawKey and its conversion are shared, and permission is
// read by the current rules.

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// oldReader is a small, strict, single-pass JSON reader. The answers of the
// key API are decoded with it rather than with encoding/json's reflection:
// it is several times faster (a listing of 10,000 keys must decode in a few
// milliseconds), and it makes each field's leniency explicit. It accepts
// exactly the JSON that encoding/json accepts (checked by a fuzz test), up
// to a nesting depth of maxDepth.
//
// Errors are sticky: after the first one, every method returns zero values
// and consumes nothing.
type oldReader struct {
	data  []byte
	pos   int
	depth int
	err   error
}

// oldSyntaxError is malformed JSON. It gives the offset, never the content:
// a create answer holds a secret.
type oldSyntaxError struct {
	off   int
	depth bool
}

func (e *oldSyntaxError) Error() string {
	if e.depth {
		return "JSON nested deeper than " + strconv.Itoa(maxDepth) + " levels at byte " + strconv.Itoa(e.off)
	}
	return "malformed JSON at byte " + strconv.Itoa(e.off)
}

func newOldReader(data []byte) *oldReader { return &oldReader{data: data} }

func (r *oldReader) fail() {
	if r.err == nil {
		r.err = &oldSyntaxError{off: r.pos}
	}
	r.pos = len(r.data)
}

// shape records valid JSON of an unexpected shape.
func (r *oldReader) shape() {
	if r.err == nil {
		r.err = errShape
	}
	r.pos = len(r.data)
}

// peek skips white space and returns the next byte, 0 at the end.
func (r *oldReader) peek() byte {
	for r.pos < len(r.data) {
		switch c := r.data[r.pos]; c {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return c
		}
	}
	return 0
}

// end checks that nothing but white space follows the value. (peek's 0 is
// ambiguous: it is also a NUL byte.)
func (r *oldReader) end() {
	r.peek()
	if r.pos < len(r.data) {
		r.fail()
	}
}

// scanString reads the string literal at r.pos (a '"') and returns its raw
// content and whether it holds escapes.
func (r *oldReader) scanString() (raw []byte, escaped, ok bool) {
	d := r.data
	start := r.pos
	for i := start + 1; i < len(d); {
		c := d[i]
		switch {
		case c == '"':
			r.pos = i + 1
			return d[start+1 : i], escaped, true
		case c == '\\':
			escaped = true
			if i+1 >= len(d) {
				r.pos = i
				r.fail()
				return nil, false, false
			}
			switch d[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(d) || !oldIsHex4(d[i+2:i+6]) {
					r.pos = i
					r.fail()
					return nil, false, false
				}
				i += 6
			default:
				r.pos = i
				r.fail()
				return nil, false, false
			}
		case c < 0x20:
			r.pos = i
			r.fail()
			return nil, false, false
		default:
			i++
		}
	}
	r.fail() // unterminated
	return nil, false, false
}

func oldIsHex4(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// readString reads a string literal. Invalid UTF-8 becomes U+FFFD, as with
// encoding/json.
func (r *oldReader) readString() string {
	raw, escaped, ok := r.scanString()
	switch {
	case !ok:
		return ""
	case !escaped && utf8.Valid(raw):
		return string(raw)
	}
	return string(oldUnescape(raw))
}

// readStringBytes is readString without the copy when the literal has no
// escapes: the result may alias the input.
func (r *oldReader) readStringBytes() []byte {
	raw, escaped, ok := r.scanString()
	switch {
	case !ok:
		return nil
	case !escaped && utf8.Valid(raw):
		return raw
	}
	return oldUnescape(raw)
}

// oldUnescape decodes the content of a string literal that scanString has
// checked, exactly as encoding/json does: escapes are decoded, a valid
// surrogate pair becomes one rune, and a lone surrogate or a byte of invalid
// UTF-8 becomes U+FFFD.
func oldUnescape(raw []byte) []byte {
	b := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			e := raw[i+1]
			i += 2
			switch e {
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := oldHex4(raw[i : i+4])
				i += 4
				if utf16.IsSurrogate(r) {
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' && oldIsHex4(raw[i+2:i+6]) {
						if dec := utf16.DecodeRune(r, oldHex4(raw[i+2:i+6])); dec != unicode.ReplacementChar {
							b = utf8.AppendRune(b, dec)
							i += 6
							continue
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
			default: // '"', '\\', '/'
				b = append(b, e)
			}
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(raw[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, unicode.ReplacementChar)
			} else {
				b = append(b, raw[i:i+size]...)
			}
			i += size
		}
	}
	return b
}

// oldHex4 decodes four hex digits that oldIsHex4 has accepted.
func oldHex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}

// readKey reads an object key; without escapes it does not allocate.
func (r *oldReader) readKey() []byte { return r.readStringBytes() }

// scanNumber reads a number literal and returns it as written.
func (r *oldReader) scanNumber() []byte {
	d := r.data
	start, i := r.pos, r.pos
	digits := func() bool {
		j := i
		for i < len(d) && d[i] >= '0' && d[i] <= '9' {
			i++
		}
		return i > j
	}
	if i < len(d) && d[i] == '-' {
		i++
	}
	switch {
	case i < len(d) && d[i] == '0':
		i++
	case !digits():
		r.pos = i
		r.fail()
		return nil
	}
	if i < len(d) && d[i] == '.' {
		i++
		if !digits() {
			r.pos = i
			r.fail()
			return nil
		}
	}
	if i < len(d) && (d[i] == 'e' || d[i] == 'E') {
		i++
		if i < len(d) && (d[i] == '+' || d[i] == '-') {
			i++
		}
		if !digits() {
			r.pos = i
			r.fail()
			return nil
		}
	}
	r.pos = i
	return d[start:i]
}

// literal reads true, false or null.
func (r *oldReader) literal(word string) {
	if len(r.data)-r.pos < len(word) || string(r.data[r.pos:r.pos+len(word)]) != word {
		r.fail()
		return
	}
	r.pos += len(word)
}

// skip reads and discards any value.
func (r *oldReader) skip() {
	switch c := r.peek(); {
	case c == '{':
		r.object(func([]byte) { r.skip() })
	case c == '[':
		r.array(r.skip)
	case c == '"':
		r.scanString()
	case c == '-' || c >= '0' && c <= '9':
		r.scanNumber()
	case c == 't':
		r.literal("true")
	case c == 'f':
		r.literal("false")
	case c == 'n':
		r.literal("null")
	default:
		r.fail()
	}
}

func (r *oldReader) enter() bool {
	if r.depth >= maxDepth {
		if r.err == nil {
			r.err = &oldSyntaxError{off: r.pos, depth: true}
		}
		r.pos = len(r.data)
		return false
	}
	r.depth++
	return true
}

// object reads an object, calling field for each member with the oldReader on
// its value; field must read or skip that value. The key slice is only
// valid during the call.
func (r *oldReader) object(field func(key []byte)) {
	if r.peek() != '{' {
		r.fail()
		return
	}
	if !r.enter() {
		return
	}
	defer func() { r.depth-- }()
	r.pos++
	if r.peek() == '}' {
		r.pos++
		return
	}
	for r.err == nil {
		if r.peek() != '"' {
			r.fail()
			return
		}
		key := r.readKey()
		if r.peek() != ':' {
			r.fail()
			return
		}
		r.pos++
		field(key)
		switch r.peek() {
		case ',':
			r.pos++
		case '}':
			r.pos++
			return
		default:
			r.fail()
		}
	}
}

// array reads an array, calling elem for each element; elem must read or
// skip it.
func (r *oldReader) array(elem func()) {
	if r.peek() != '[' {
		r.fail()
		return
	}
	if !r.enter() {
		return
	}
	defer func() { r.depth-- }()
	r.pos++
	if r.peek() == ']' {
		r.pos++
		return
	}
	for r.err == nil {
		elem()
		switch r.peek() {
		case ',':
			r.pos++
		case ']':
			r.pos++
			return
		default:
			r.fail()
		}
	}
}

// The lenient readers below accept a value of any JSON type: one of an
// unexpected type is skipped and read as missing.

// flexString reads a string, or a number as written; else "".
func (r *oldReader) flexString() string {
	switch c := r.peek(); {
	case c == '"':
		return r.readString()
	case c == '-' || c >= '0' && c <= '9':
		return string(r.scanNumber())
	}
	r.skip()
	return ""
}

// flexBytes is flexString without a copy: the result may alias the input.
func (r *oldReader) flexBytes() []byte {
	switch c := r.peek(); {
	case c == '"':
		return r.readStringBytes()
	case c == '-' || c >= '0' && c <= '9':
		return r.scanNumber()
	}
	r.skip()
	return nil
}

// flexBool reads true/false, "true"/"false" or 1/0; else unset.
func (r *oldReader) flexBool() optBool {
	switch c := r.peek(); {
	case c == 't':
		r.literal("true")
		return optBool{true, true}
	case c == 'f':
		r.literal("false")
		return optBool{true, false}
	case c == '"':
		switch r.readString() {
		case "true":
			return optBool{true, true}
		case "false":
			return optBool{true, false}
		}
	case c == '-' || c >= '0' && c <= '9':
		switch string(r.scanNumber()) {
		case "1":
			return optBool{true, true}
		case "0":
			return optBool{true, false}
		}
	default:
		r.skip()
	}
	return optBool{}
}

// flexInt reads an integral number or a string holding one; else 0.
func (r *oldReader) flexInt() int64 {
	var s string
	switch c := r.peek(); {
	case c == '"':
		s = r.readString()
	case c == '-' || c >= '0' && c <= '9':
		s = string(r.scanNumber())
	default:
		r.skip()
		return 0
	}
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
func (r *oldReader) flexStrings() []string {
	switch r.peek() {
	case '"':
		if s := r.readString(); s != "" {
			return []string{s}
		}
		return nil
	case '[':
		var out []string
		r.array(func() {
			if r.peek() != '"' {
				r.skip()
				return
			}
			if s := r.readString(); s != "" {
				out = append(out, s)
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
func (r *oldReader) flexMeta() map[string]string {
	switch r.peek() {
	case '{':
		return r.stringMap()
	case '"':
		inner := newOldReader(r.readStringBytes())
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
	r.skip()
	return nil
}

func (r *oldReader) stringMap() map[string]string {
	var m map[string]string
	r.object(func(key []byte) {
		if r.peek() != '"' {
			r.skip()
			return
		}
		v := r.readString()
		if m == nil {
			m = make(map[string]string, 4)
		}
		m[string(key)] = v
	})
	return m
}

// flexTime reads RFC 3339 (and a few close variants) or epoch milliseconds;
// anything else, including null, is the zero time.
func (r *oldReader) flexTime() time.Time {
	switch c := r.peek(); {
	case c == '"':
		return parseTime(r.readString())
	case c == '-' || c >= '0' && c <= '9':
		return parseEpoch(string(r.scanNumber()))
	}
	r.skip()
	return time.Time{}
}

// readKeyItem reads one key object.
func (r *oldReader) readKeyItem() Key {
	var k rawKey
	r.object(func(name []byte) {
		switch string(name) {
		case "id":
			k.id = r.flexString()
		case "name":
			k.name = r.flexString()
		case "start":
			k.start = r.flexBytes()
		case "key":
			k.key = r.flexBytes()
		case "createdAt":
			k.createdAt = r.flexTime()
		case "expiresAt":
			k.expiresAt = r.flexTime()
		case "lastRequest":
			k.lastRequest = r.flexTime()
		case "enabled":
			k.enabled = r.flexBool()
		case "isScoped":
			null := r.peek() == 'n'
			switch b := r.flexBool(); {
			case b.set && b.v:
				k.scopedTrue = true
			case b.set || !null:
				k.scopedNotTrue = true
			}
		case "containerTag":
			switch t := r.readTagBytes(); {
			case len(t) == 0:
			case k.tags.first == nil:
				k.tags.first = t
			default:
				k.tags.more = append(k.tags.more, string(t))
			}
		case "containerTags":
			k.tags.list = r.readTagList(k.tags.list)
		case "permission":
			// As the new decoder reads it (the rules changed with
			// least-privilege keys), so that both can be compared.
			switch c := r.peek(); {
			case c == '"':
				k.perm.add('"', r.readStringBytes())
			case c == 'n':
				r.literal("null")
			default:
				r.skip()
				k.perm.add('0', nil)
			}
		case "metadata":
			k.metadata = r.flexMeta()
		default:
			r.skip()
		}
	})
	return k.toKey()
}

// readTagBytes reads containerTag: a non-empty string is the tag and null is
// no tag; anything else (an empty string, a number, ...) is UnreadableTag.
// The result may alias the input.
func (r *oldReader) readTagBytes() []byte {
	switch r.peek() {
	case 'n':
		r.literal("null")
		return nil
	case '"':
		if b := r.readStringBytes(); len(b) > 0 || r.err != nil {
			return b
		}
		return unreadableTagBytes
	}
	r.skip()
	return unreadableTagBytes
}

// readTagList reads containerTags and appends it to out: an array (each
// element that is not a non-empty string is read as UnreadableTag, at most
// once) or null (no tags); any other value is one UnreadableTag.
func (r *oldReader) readTagList(out []string) []string {
	switch r.peek() {
	case 'n':
		r.literal("null")
		return out
	case '[':
		odd := false
		r.array(func() {
			if r.peek() == '"' {
				if s := r.readString(); s != "" {
					out = append(out, s)
					return
				}
			} else {
				r.skip()
			}
			if !odd {
				odd = true
				out = append(out, UnreadableTag)
			}
		})
		return out
	}
	r.skip()
	return append(out, UnreadableTag)
}

// oldDecodeKeys decodes GET /v3/auth/keys: {"keys":[...]} (null keys means
// none), or defensively a bare array. Null items are skipped. An object with
// two "keys" members is refused.
func oldDecodeKeys(data []byte) ([]Key, error) {
	r := newOldReader(data)
	var keys []Key
	found := false
	list := func() {
		found = true
		switch r.peek() {
		case 'n':
			r.literal("null")
		case '[':
			keys = make([]Key, 0, 16)
			r.array(func() {
				switch r.peek() {
				case '{':
					keys = append(keys, r.readKeyItem())
				case 'n':
					r.literal("null")
				default:
					r.skip()
					r.shape()
				}
			})
		default:
			r.skip()
			r.shape()
		}
	}
	switch r.peek() {
	case '{':
		r.object(func(name []byte) {
			switch {
			case string(name) != "keys":
				r.skip()
			case found:
				// Two lists: which one the API meant is ambiguous.
				r.skip()
				r.shape()
			default:
				list()
			}
		})
	case '[':
		list()
	default:
		r.skip()
		r.shape()
	}
	r.end()
	switch {
	case r.err != nil:
		return nil, r.err
	case !found:
		return nil, errShape // no "keys" field: not a listing
	case keys == nil:
		keys = []Key{}
	}
	return keys, nil
}
