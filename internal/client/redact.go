package client

import (
	"encoding/base64"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// minKeyRun is the length of a run of the operator key's characters that
// is redacted wherever it shows, ignoring case and white space.
const minKeyRun = 8

// minSecretTail is the length of the token after "sm_" from which text
// of a key's shape is redacted, whoever's key it is.
const minSecretTail = 16

// minBearerToken is the length from which the token after "Bearer" is
// redacted.
const minBearerToken = 8

// redactor removes the operator key, and anything shaped like a credential,
// from text that came from upstream before it is kept in an error: an API
// that echoes a key may echo it cut, re-cased, wrapped or encoded. It
// redacts:
//
//   - every run of minKeyRun or more consecutive characters of the operator
//     key, compared without case and white space (the whole key if it is
//     shorter);
//   - every base64 word (standard or URL alphabet, padded or not) that
//     decodes to text holding such a run, such as "Bearer <key>" encoded;
//   - text of a key's shape, "sm_" and at least minSecretTail characters
//     of [A-Za-z0-9_-], whoever's key it is;
//   - the token after "Bearer", and after "x-api-key:" or "x-api-key=".
//
// It is built once per client and is safe for concurrent use.
type redactor struct {
	n     int      // window length: minKeyRun, or the key's length if shorter
	table []uint64 // open-addressing set of the key's windows; 0 is empty
	shift uint     // 64 - log2(len(table))
	// inKey holds the normalised bytes of the key: a window that takes any
	// other byte cannot match, and starts again after it.
	inKey [256]bool
}

// newRedactor returns a redactor for the operator key (nil for none).
func newRedactor(key string) *redactor {
	rd := &redactor{}
	if key == "" {
		return rd
	}
	norm := make([]byte, 0, len(key))
	for _, r := range key {
		if c := foldByte(r); c != 0 {
			norm = append(norm, c)
		}
	}
	rd.n = min(minKeyRun, len(norm))
	if rd.n == 0 {
		return rd
	}
	size, bits := 16, uint(4)
	for size < 2*(len(norm)-rd.n+1) {
		size, bits = size*2, bits+1
	}
	rd.table, rd.shift = make([]uint64, size), 64-bits
	var w window
	for _, c := range norm {
		rd.inKey[c] = true
		if w.push(c, rd.n) {
			rd.add(w.v)
		}
	}
	return rd
}

// window is the last n bytes of normalised text, the oldest in the lowest
// byte.
type window struct {
	v     uint64
	count int
}

// push adds c and reports whether the window is full.
func (w *window) push(c byte, n int) bool {
	w.v = w.v>>8 | uint64(c)<<(8*(n-1))
	w.count++
	return w.count >= n
}

func (rd *redactor) slot(v uint64) uint64 { return (v * 0x9E3779B97F4A7C15) >> rd.shift }

func (rd *redactor) add(v uint64) {
	for i := rd.slot(v); ; i = (i + 1) & uint64(len(rd.table)-1) {
		switch rd.table[i] {
		case v:
			return
		case 0:
			rd.table[i] = v
			return
		}
	}
}

// has reports whether v is a window of the key. A window holding a 0 byte
// (text that is not part of any key) never is.
func (rd *redactor) has(v uint64) bool {
	if rd.table == nil || v == 0 {
		return false
	}
	for i := rd.slot(v); ; i = (i + 1) & uint64(len(rd.table)-1) {
		switch rd.table[i] {
		case v:
			return true
		case 0:
			return false
		}
	}
}

// foldByte normalises one character for comparison with the key: ASCII
// lowercased, a character that folds to an ASCII letter (the Kelvin sign,
// the long s) as that letter, white space as 0 (skipped), and anything
// else as 0xFF, which no key holds.
func foldByte(r rune) byte {
	switch {
	case r < utf8.RuneSelf:
		c := byte(r)
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			return 0
		case 'A' <= c && c <= 'Z':
			return c + 'a' - 'A'
		}
		return c
	case unicode.IsSpace(r) || unicode.Is(unicode.Zs, r):
		return 0
	}
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f < utf8.RuneSelf {
			return foldByte(f)
		}
	}
	return 0xFF
}

// span is a range of bytes to redact.
type span struct{ start, end int }

// redact returns s with every match replaced by the redaction marker;
// adjacent and overlapping matches become one marker. A nil redactor
// knows no key: it redacts credential shapes only.
func (rd *redactor) redact(s string) string {
	var spans []span
	if rd != nil {
		spans = rd.keyRuns(s, spans)
		spans = rd.base64Words(s, spans)
	}
	spans = secretShapes(s, spans)
	if len(spans) == 0 {
		return s
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	var b strings.Builder
	b.Grow(len(s))
	last := 0
	for i := 0; i < len(spans); {
		cur := spans[i]
		for i++; i < len(spans) && spans[i].start <= cur.end; i++ {
			cur.end = max(cur.end, spans[i].end)
		}
		b.WriteString(s[last:cur.start])
		b.WriteString(redacted)
		last = cur.end
	}
	b.WriteString(s[last:])
	return b.String()
}

// keyRuns appends the spans of s that hold runs of the key.
func (rd *redactor) keyRuns(s string, spans []span) []span {
	if rd.table == nil || len(s) < rd.n {
		return spans
	}
	var (
		w      window
		starts [minKeyRun]int // start offsets of the characters in w
		cur    = span{-1, -1}
	)
	for i := 0; i < len(s); {
		start, c := i, s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' || c == 0:
				continue // white space: the window goes on across it
			}
		} else {
			r, size := utf8.DecodeRuneInString(s[i:])
			i += size
			if c = foldByte(r); c == 0 {
				continue
			}
		}
		if !rd.inKey[c] {
			w = window{} // no window holding c is the key's
			continue
		}
		starts[w.count%minKeyRun] = start
		if !w.push(c, rd.n) || !rd.has(w.v) {
			continue
		}
		from := starts[(w.count-rd.n)%minKeyRun]
		if cur.end >= from {
			cur.end = i
			continue
		}
		if cur.start >= 0 {
			spans = append(spans, cur)
		}
		cur = span{from, i}
	}
	if cur.start >= 0 {
		spans = append(spans, cur)
	}
	return spans
}

// holdsKeyRun reports whether b, decoded text, holds a run of the key.
func (rd *redactor) holdsKeyRun(b []byte) bool {
	var w window
	for _, c := range b {
		if c >= utf8.RuneSelf {
			c = 0xFF
		} else if c = foldByte(rune(c)); c == 0 {
			continue
		}
		if !rd.inKey[c] {
			w = window{}
			continue
		}
		if w.push(c, rd.n) && rd.has(w.v) {
			return true
		}
	}
	return false
}

// minBase64Word is the shortest base64 word that can encode minKeyRun
// bytes, whatever its alignment.
const minBase64Word = (minKeyRun*4+2)/3 + 1

func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
}

// base64Words appends the spans of s that are base64 words decoding to text
// that holds a run of the key. A word is read in both alphabets at once, and
// from each of its first four characters, so that a prefix glued to it does
// not hide it.
func (rd *redactor) base64Words(s string, spans []span) []span {
	if rd.table == nil {
		return spans
	}
	var srcArr, bufArr [256]byte // enough for the usual word, on the stack
	src, buf := srcArr[:0], bufArr[:0]
	for i := 0; i < len(s); {
		if !isBase64Char(s[i]) {
			i++
			continue
		}
		start := i
		for i < len(s) && isBase64Char(s[i]) {
			i++
		}
		word := s[start:i]
		for i < len(s) && s[i] == '=' {
			i++ // padding belongs to the word
		}
		if len(word) < minBase64Word {
			continue
		}
		// Both alphabets at once: a character of one glued to a word of
		// the other must not hide it.
		src = append(src[:0], word...)
		for j, c := range src {
			switch c {
			case '-':
				src[j] = '+'
			case '_':
				src[j] = '/'
			}
		}
		enc := base64.RawStdEncoding
		for k := 0; k < 4 && len(src)-k >= minBase64Word; k++ {
			w := src[k:]
			if len(w)%4 == 1 {
				w = w[:len(w)-1]
			}
			buf = slices.Grow(buf[:0], enc.DecodedLen(len(w)))[:enc.DecodedLen(len(w))]
			n, err := enc.Decode(buf, w)
			if err == nil && rd.holdsKeyRun(buf[:n]) {
				spans = append(spans, span{start, i})
				break
			}
		}
	}
	clear(src)
	clear(buf)
	return spans
}

// secretShapes appends the spans of s that look like a credential whatever
// key it is: "sm_" and a long token, and the token after "Bearer" or
// "x-api-key:".
func secretShapes(s string, spans []span) []span {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case 's', 'S':
			if i+3 <= len(s) && (s[i+1] == 'm' || s[i+1] == 'M') && s[i+2] == '_' && (i == 0 || !isWordByte(s[i-1])) {
				end := i + 3
				for end < len(s) && (isWordByte(s[end]) || s[end] == '-') {
					end++
				}
				if end-(i+3) >= minSecretTail {
					spans = append(spans, span{i, end})
					i = end - 1
				}
			}
		case 'b', 'B':
			if (i == 0 || !isWordByte(s[i-1])) && hasPrefixFold(s[i:], "bearer") {
				spans = tokenAfter(s, i+len("bearer"), false, spans)
			}
		case 'x', 'X':
			if (i == 0 || !isWordByte(s[i-1])) && hasPrefixFold(s[i:], "x-api-key") {
				spans = tokenAfter(s, i+len("x-api-key"), true, spans)
			}
		}
	}
	return spans
}

// tokenAfter appends the span of the token that follows s[:i] after white
// space (and, if sep, a ':' or '=' and an opening quote), when it is at least
// minBearerToken characters of a credential's alphabet.
func tokenAfter(s string, i int, sep bool, spans []span) []span {
	j := i
	for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
		j++
	}
	if sep {
		if j >= len(s) || s[j] != ':' && s[j] != '=' {
			return spans
		}
		for j++; j < len(s) && (s[j] == ' ' || s[j] == '\t' || s[j] == '"' || s[j] == '\''); j++ {
		}
	} else if j == i {
		return spans // "Bearer" must be followed by white space
	}
	end := j
	for end < len(s) && (isWordByte(s[end]) || strings.IndexByte("-._~+/=", s[end]) >= 0) {
		end++
	}
	if end-j >= minBearerToken {
		spans = append(spans, span{j, end})
	}
	return spans
}

func isWordByte(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_'
}

// hasPrefixFold reports whether s starts with the lowercase ASCII prefix,
// ignoring case.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
