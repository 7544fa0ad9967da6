package keys

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxDisplayLen caps any string that came from the API before it reaches
// the model.
const maxDisplayLen = 200

// clean makes text that came back from the API safe to show the model: it
// drops control, format (bidirectional overrides, zero-width characters),
// line and paragraph separator and private-use characters, replaces invalid
// UTF-8, and caps the length. Names, tags and messages from the API are data,
// never instructions, and must not be able to hide or reorder text.
func clean(s string) string {
	if isClean(s) {
		return s
	}
	var b strings.Builder
	b.Grow(min(len(s), maxDisplayLen))
	n := 0
	for _, r := range strings.ToValidUTF8(s, "\uFFFD") {
		if dropRune(r) {
			continue
		}
		if n == maxDisplayLen {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// isClean is the fast path of clean: short printable ASCII needs no copy.
func isClean(s string) bool {
	if len(s) > maxDisplayLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// dropRune reports whether a rune must not reach the model.
func dropRune(r rune) bool {
	if r == utf8.RuneError {
		return false // kept as a visible replacement character
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zl, unicode.Zp) ||
		(r >= 0xFE00 && r <= 0xFE0F) // variation selectors
}

// cleanAll applies clean to each element.
func cleanAll(in []string) []string {
	out := make([]string, len(in))
	for i, s := range in {
		out[i] = clean(s)
	}
	return out
}
