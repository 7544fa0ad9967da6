package policy

import (
	"regexp"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

// Match reports whether tag matches pattern, case-sensitively, as a policy
// does: '*' matches any run of tag characters, including none, and '?'
// exactly one; every other character matches itself. It is false when the
// pattern is not valid (ValidPattern) or the tag is not valid (ValidTag).
// The tests' entry to the matcher, which production code reaches through a
// compiled policy.
func Match(pattern, tag string) bool {
	if ValidPattern(pattern) != nil || ValidTag(tag) != nil {
		return false
	}
	m := newMatcher(pattern, false)
	return m.match(tag)
}

// refRegexp is the reference matcher: the pattern turned into an anchored
// regular expression, '*' and '?' into runs of tag characters.
func refRegexp(pattern string, fold bool) *regexp.Regexp {
	var b strings.Builder
	if fold {
		b.WriteString("(?i)")
	}
	b.WriteString("^")
	for _, r := range pattern {
		switch r {
		case '*':
			b.WriteString(`[A-Za-z0-9_:.\-]*`)
		case '?':
			b.WriteString(`[A-Za-z0-9_:.\-]`)
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String())
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, tag string
		want         bool
	}{
		{"proj-*", "proj-search", true},
		{"proj-*", "proj-", true},
		{"proj-*", "proj", false},
		{"proj-*", "Proj-search", false}, // allow is case-sensitive
		{"user_*", "user_", true},        // '*' matches none
		{"user_*", "user_alex", true},
		{"team:search", "team:search", true},
		{"team:search", "team:searc", false},
		{"team:search", "team:searchx", false},
		{"team:search", "TEAM:search", false},
		{"*", "a", true},
		{"**", "anything.at-all", true},
		{"?", "a", true},
		{"?", "ab", false},
		{"proj-?", "proj-", false},
		{"proj-?", "proj-a", true},
		{"proj-?", "proj-ab", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXXbYYc", true},
		{"a*b*c", "aXXcYYb", false},
		{"a*ab", "aab", true},
		{"a*ab", "ab", false},
		{"*a?c*", "xxabcyy", true},
		{"*a?c*", "xxacyy", false},
		{"*.eu", "proj-prod.eu", true},
		{"*.eu", "proj-prod-eu", false}, // '.' is literal
		{"a.c", "abc", false},
		{"*-*-*", "a-b-c", true},
		{"*-*-*", "a-b", false},
		{"a**b", "ab", true},
		{"?*?", "ab", true},
		{"?*?", "a", false},
		// Invalid input never matches.
		{"proj-*", "proj- x", false},
		{"proj-*", "proj-\u200b", false},
		{"*", "", false},
		{"*", "*", false},
		{"*", strings.Repeat("a", 101), false},
		{"", "a", false},
		{"a b", "a b", false},
		{"proj-[a]", "proj-[a]", false},
	}
	for _, tt := range tests {
		if got := Match(tt.pattern, tt.tag); got != tt.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tt.pattern, tt.tag, got, tt.want)
		}
		if ValidPattern(tt.pattern) == nil && ValidTag(tt.tag) == nil {
			if ref := refRegexp(tt.pattern, false).MatchString(tt.tag); ref != tt.want {
				t.Errorf("reference disagrees with the table on (%q, %q): %v", tt.pattern, tt.tag, ref)
			}
		}
	}
}

func TestMatchFold(t *testing.T) {
	tests := []struct {
		pattern, tag string
		want         bool
	}{
		{"proj-prod*", "proj-prod-eu", true},
		{"proj-prod*", "Proj-PROD-eu", true},
		{"PROJ-prod*", "proj-prod", true},
		{"Team:Search", "team:search", true},
		{"team:search", "TEAM:SEARCH", true},
		{"a?C*z", "AbcZZ", true},
		{"a?C*z", "Acz", false},
		{"*PROD*", "x-prod-y", true},
		{"proj-prod*", "proj-pro", false},
	}
	for _, tt := range tests {
		m := newMatcher(tt.pattern, true)
		if got := m.match(tt.tag); got != tt.want {
			t.Errorf("fold match(%q, %q) = %v, want %v", tt.pattern, tt.tag, got, tt.want)
		}
		if ref := refRegexp(tt.pattern, true).MatchString(tt.tag); ref != tt.want {
			t.Errorf("reference disagrees with the table on (%q, %q): %v", tt.pattern, tt.tag, ref)
		}
	}
}

const tagRule = "a tag may contain only letters A-Z and a-z, digits, '-', '_', ':' and '.'"

func TestValidTag(t *testing.T) {
	long := strings.Repeat("a", 101)
	tests := []struct {
		tag  string
		want string // "" means valid
	}{
		{"proj-search", ""},
		{"user_alex", ""},
		{"team:search", ""},
		{"a.b-c_d:E9", ""},
		{strings.Repeat("x", 100), ""},
		{"", "tag is empty"},
		{"proj search", `tag "proj search" has a character that is not allowed at position 5: ' ' (U+0020); ` + tagRule},
		{" proj", `tag " proj" has a character that is not allowed at position 1: ' ' (U+0020); ` + tagRule},
		{"proj\u200b", `tag "proj\u200b" has a character that is not allowed at position 5: '\u200b' (U+200B); ` + tagRule},
		{"pr\u043ej", `tag "prоj" has a character that is not allowed at position 3: '\u043e' (U+043E); ` + tagRule}, // Cyrillic o
		{"*", `tag "*" has a character that is not allowed at position 1: '*' (U+002A); ` + tagRule},
		{"proj-?", `tag "proj-?" has a character that is not allowed at position 6: '?' (U+003F); ` + tagRule},
		{"a\tb", `tag "a\tb" has a character that is not allowed at position 2: '\t' (U+0009); ` + tagRule},
		{"a/b", `tag "a/b" has a character that is not allowed at position 2: '/' (U+002F); ` + tagRule},
		{"é\xffx", `tag "é\xffx" has a character that is not allowed at position 1: '\u00e9' (U+00E9); ` + tagRule},
		{"ab\xff", `tag "ab\xff" has a character that is not allowed at position 3: the invalid UTF-8 byte 0xff; ` + tagRule},
		{long, `tag "` + strings.Repeat("a", 80) + `"…(+21 chars) is 101 characters long; the maximum is 100`},
		{strings.Repeat("a", 90) + " ", `tag "` + strings.Repeat("a", 80) + `"…(+11 chars) has a character that is not allowed at position 91: ' ' (U+0020); ` + tagRule},
	}
	for _, tt := range tests {
		err := ValidTag(tt.tag)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidTag(%q) = %v, want nil", tt.tag, err)
		case tt.want != "" && err == nil:
			t.Errorf("ValidTag(%q) = nil, want %q", tt.tag, tt.want)
		case tt.want != "" && err.Error() != tt.want:
			t.Errorf("ValidTag(%q)\n got %s\nwant %s", tt.tag, err, tt.want)
		}
	}
}

const patternRule = "a pattern may contain only tag characters (letters A-Z and a-z, digits, '-', '_', ':' and '.') and the wildcards '*' and '?'"

func TestValidPattern(t *testing.T) {
	tests := []struct {
		pattern string
		want    string
	}{
		{"proj-*", ""},
		{"*", ""},
		{"?", ""},
		{"a*b?c**", ""},
		{strings.Repeat("?", 100) + strings.Repeat("*", 100), ""},
		{"", "pattern is empty"},
		{"proj prod", `pattern "proj prod" has a character that is not allowed at position 5: ' ' (U+0020); ` + patternRule},
		{"proj-[a]", `pattern "proj-[a]" has a character that is not allowed at position 6: '[' (U+005B); ` + patternRule},
		{"proj\\*", `pattern "proj\\*" has a character that is not allowed at position 5: '\\' (U+005C); ` + patternRule},
		{"\u200b*", `pattern "\u200b*" has a character that is not allowed at position 1: '\u200b' (U+200B); ` + patternRule},
		{strings.Repeat("*", 201), `pattern "` + strings.Repeat("*", 80) + `"…(+121 chars) is 201 characters long; the maximum is 200`},
		{strings.Repeat("?", 101), `pattern "` + strings.Repeat("?", 80) + `"…(+21 chars) needs at least 101 characters and can never match a tag (at most 100)`},
	}
	for _, tt := range tests {
		err := ValidPattern(tt.pattern)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("ValidPattern(%q) = %v, want nil", tt.pattern, err)
		case tt.want != "" && err == nil:
			t.Errorf("ValidPattern(%q) = nil, want %q", tt.pattern, tt.want)
		case tt.want != "" && err.Error() != tt.want:
			t.Errorf("ValidPattern(%q)\n got %s\nwant %s", tt.pattern, err, tt.want)
		}
	}
}

func TestQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"proj-a", `"proj-a"`},
		{"a\"b\\c", `"a\"b\\c"`},
		{"x\ny\u200b\x00", `"x\ny\u200b\x00"`},
		{"héllo", `"héllo"`},
		{strings.Repeat("é", 80), `"` + strings.Repeat("é", 80) + `"`},
		{strings.Repeat("é", 81), `"` + strings.Repeat("é", 80) + `"…(+1 chars)`},
		{strings.Repeat("a", 79) + "\xff\xfe", `"` + strings.Repeat("a", 79) + `\xff"…(+1 chars)`},
		{strings.Repeat("b", 1000), `"` + strings.Repeat("b", 80) + `"…(+920 chars)`},
	}
	for _, tt := range tests {
		if got := Quote(tt.in); got != tt.want {
			t.Errorf("Quote(%.20q…)\n got %s\nwant %s", tt.in, got, tt.want)
		}
	}
}

// TestPatternSetIndex checks that the prefix index finds the same first
// pattern as a linear scan, for allow (exact) and deny (ignoring case) lists.
func TestPatternSetIndex(t *testing.T) {
	patGen := rapid.StringOfN(rapid.RuneFrom([]rune("abAB-:*?")), 1, 6, -1)
	tagGen := rapid.StringOfN(rapid.RuneFrom([]rune("abAB-:")), 1, 8, -1)
	rapid.Check(t, func(t *rapid.T) {
		list := rapid.SliceOfN(patGen, indexThreshold, 60).Draw(t, "patterns")
		fold := rapid.Bool().Draw(t, "fold")
		ps := compilePatterns(list, fold, func(string) string { return "" })
		if ps.idx == nil {
			t.Fatalf("no index for %d patterns", len(list))
		}
		for range 20 {
			tag := tagGen.Draw(t, "tag")
			want := -1
			for i, p := range list {
				if refRegexp(p, fold).MatchString(tag) {
					want = i
					break
				}
			}
			if got := ps.first(tag); got != want {
				t.Fatalf("first(%q) = %d, want %d (fold=%v)", tag, got, want, fold)
			}
		}
	})
}
