package keys

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestClean(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"a\u202eb", "ab"},         // right-to-left override
		{"a\u200bb\u2060c", "abc"}, // zero-width space, word joiner
		{"line\nbreak\ttab", "linebreaktab"},
		{"a\u2028b", "ab"},
		{"bad\xffutf8", "bad\uFFFDutf8"},
		{"é ok 日本", "é ok 日本"},
	}
	for _, tc := range tests {
		if got := clean(tc.in); got != tc.want {
			t.Errorf("clean(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	if got := clean(strings.Repeat("é", 500)); utf8.RuneCountInString(got) != maxDisplayLen+1 {
		t.Errorf("long input cleaned to %d runes", utf8.RuneCountInString(got))
	}
}
