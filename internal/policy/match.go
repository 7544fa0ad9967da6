package policy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on patterns.
const (
	// MaxPatternLength is the longest pattern accepted, wildcards included.
	MaxPatternLength = 200
	// MaxPatterns is the largest number of patterns in one list (tags.allow or
	// tags.deny).
	MaxPatterns = 10000
)

// tagCharsText names the characters a tag may contain, for refusal texts.
const tagCharsText = "letters A-Z and a-z, digits, '-', '_', ':' and '.'"

// isTagChar reports whether c may appear in a tag: an ASCII letter or digit,
// '-', '_', ':' or '.'.
func isTagChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	case c == '-', c == '_', c == ':', c == '.':
		return true
	}
	return false
}

// ValidTag checks tag against the API's character rules: 1 to MaxTagLength
// characters, each an ASCII letter or digit, '-', '_', ':' or '.'. Nothing is
// trimmed or normalised: a tag that would need it is refused. The error names
// the first offending character and quotes at most MaxQuoted characters of
// the tag.
func ValidTag(tag string) error {
	if tag == "" {
		return errors.New("tag is empty")
	}
	for i := 0; i < len(tag); i++ {
		if !isTagChar(tag[i]) {
			return badChar("tag", tag, i, "a tag may contain only "+tagCharsText)
		}
	}
	if len(tag) > MaxTagLength {
		return fmt.Errorf("tag %s is %d characters long; the maximum is %d", Quote(tag), len(tag), MaxTagLength)
	}
	return nil
}

// ValidPattern checks a tag pattern: 1 to MaxPatternLength characters, each a
// tag character (see ValidTag) or one of the wildcards '*' (any run of tag
// characters, including none) and '?' (exactly one tag character). A pattern
// that needs more than MaxTagLength characters can never match and is refused.
func ValidPattern(p string) error {
	if p == "" {
		return errors.New("pattern is empty")
	}
	fixed := 0
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c == '*' {
			continue
		}
		if c != '?' && !isTagChar(c) {
			return badChar("pattern", p, i, "a pattern may contain only tag characters ("+tagCharsText+") and the wildcards '*' and '?'")
		}
		fixed++
	}
	if len(p) > MaxPatternLength {
		return fmt.Errorf("pattern %s is %d characters long; the maximum is %d", Quote(p), len(p), MaxPatternLength)
	}
	if fixed > MaxTagLength {
		return fmt.Errorf("pattern %s needs at least %d characters and can never match a tag (at most %d)", Quote(p), fixed, MaxTagLength)
	}
	return nil
}

// badChar describes the character of s that starts at byte offset i.
func badChar(what, s string, i int, rule string) error {
	pos := utf8.RuneCountInString(s[:i]) + 1
	r, size := utf8.DecodeRuneInString(s[i:])
	var ch string
	if r == utf8.RuneError && size <= 1 {
		ch = fmt.Sprintf("the invalid UTF-8 byte 0x%02x", s[i])
	} else {
		ch = fmt.Sprintf("%s (U+%04X)", strconv.QuoteRuneToASCII(r), r)
	}
	return fmt.Errorf("%s %s has a character that is not allowed at position %d: %s; %s", what, Quote(s), pos, ch, rule)
}

// Quote returns s quoted like strconv.Quote, cut to at most MaxQuoted
// characters (runes; each invalid UTF-8 byte counts as one). A cut string is
// followed, outside the quotes, by a marker such as …(+120 chars) that says how
// many characters were left out. Refusal texts use it so that they never echo
// a long input in full.
func Quote(s string) string {
	n := 0
	for i := range s {
		if n == MaxQuoted {
			return strconv.Quote(s[:i]) + "…(+" + strconv.Itoa(utf8.RuneCountInString(s[i:])) + " chars)"
		}
		n++
	}
	return strconv.Quote(s)
}

// matchKind selects a matcher's fast path.
type matchKind uint8

const (
	kindExact  matchKind = iota // no wildcard
	kindPrefix                  // literal followed by a single trailing '*', no '?'
	kindAny                     // only '*'
	kindGlob                    // anything else
)

// matcher is a compiled pattern. It matches only tags that passed ValidTag,
// so every byte of the tag is an ASCII tag character.
type matcher struct {
	src    string   // the pattern as written
	text   string   // src, lowercased when fold
	prefix string   // literal text before the first wildcard (lowercased when fold)
	segs   []string // text split on '*' (kindGlob only)
	kind   matchKind
	fold   bool // match ignoring ASCII case (deny patterns)
	detail string
}

// newMatcher compiles a pattern that passed ValidPattern.
func newMatcher(p string, fold bool) matcher {
	m := matcher{src: p, text: p, fold: fold}
	if fold {
		m.text = strings.ToLower(p) // ASCII only, by ValidPattern
	}
	first := strings.IndexAny(m.text, "*?")
	switch {
	case first < 0:
		m.kind = kindExact
		m.prefix = m.text
	case strings.Trim(m.text, "*") == "":
		m.kind = kindAny
	case first == len(m.text)-1 && m.text[first] == '*':
		m.kind = kindPrefix
		m.prefix = m.text[:first]
	default:
		m.kind = kindGlob
		m.prefix = m.text[:first]
		m.segs = strings.Split(m.text, "*")
	}
	return m
}

// match reports whether the valid tag matches.
func (m *matcher) match(tag string) bool {
	switch m.kind {
	case kindExact:
		if m.fold {
			return len(tag) == len(m.text) && segEqual(m.text, tag, true)
		}
		return tag == m.text
	case kindPrefix:
		if len(tag) < len(m.prefix) {
			return false
		}
		if m.fold {
			return segEqual(m.prefix, tag[:len(m.prefix)], true)
		}
		return tag[:len(m.prefix)] == m.prefix
	case kindAny:
		return true
	}
	return globMatch(m.segs, tag, m.fold)
}

// globMatch matches s against a pattern split on '*'. Each segment has a
// fixed length ('?' matches one byte), so taking the leftmost occurrence of
// each middle segment is optimal and the match runs without backtracking.
func globMatch(segs []string, s string, fold bool) bool {
	if len(segs) == 1 {
		return len(s) == len(segs[0]) && segEqual(segs[0], s, fold)
	}
	first, last := segs[0], segs[len(segs)-1]
	if len(s) < len(first)+len(last) {
		return false
	}
	if !segEqual(first, s[:len(first)], fold) || !segEqual(last, s[len(s)-len(last):], fold) {
		return false
	}
	s = s[len(first) : len(s)-len(last)]
	for _, seg := range segs[1 : len(segs)-1] {
		i := segIndex(s, seg, fold)
		if i < 0 {
			return false
		}
		s = s[i+len(seg):]
	}
	return true
}

// segIndex returns the first offset in s where seg matches, or -1.
func segIndex(s, seg string, fold bool) int {
	for i := 0; i+len(seg) <= len(s); i++ {
		if segEqual(seg, s[i:i+len(seg)], fold) {
			return i
		}
	}
	return -1
}

// segEqual reports whether s (same length as seg) matches seg, where '?' in
// seg matches any byte. With fold, s is lowercased (ASCII) before comparing;
// seg is already lowercase.
func segEqual(seg, s string, fold bool) bool {
	for i := 0; i < len(seg); i++ {
		c := s[i]
		if fold && 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if seg[i] != c && seg[i] != '?' {
			return false
		}
	}
	return true
}

// indexThreshold is the list size from which a patternSet builds a prefix
// index; below it a linear scan is faster.
const indexThreshold = 16

// patternSet is a compiled list of patterns.
type patternSet struct {
	ms  []matcher
	idx *prefixIndex // nil for short lists
}

// prefixIndex finds the candidate patterns for a tag by the literal text
// before each pattern's first wildcard.
type prefixIndex struct {
	lens     []int              // distinct non-zero prefix lengths, ascending
	byPrefix map[string][]int32 // prefix → pattern indexes, ascending
	wild     []int32            // patterns that start with a wildcard, ascending
}

// compilePatterns compiles patterns that passed ValidPattern.
func compilePatterns(list []string, fold bool, detail func(p string) string) patternSet {
	ps := patternSet{ms: make([]matcher, len(list))}
	for i, p := range list {
		ps.ms[i] = newMatcher(p, fold)
		ps.ms[i].detail = detail(p)
	}
	if len(list) >= indexThreshold {
		ps.idx = buildIndex(ps.ms)
	}
	return ps
}

func buildIndex(ms []matcher) *prefixIndex {
	x := &prefixIndex{byPrefix: make(map[string][]int32)}
	seen := make(map[int]bool)
	for i := range ms {
		pre := ms[i].prefix
		if pre == "" {
			x.wild = append(x.wild, int32(i))
			continue
		}
		x.byPrefix[pre] = append(x.byPrefix[pre], int32(i))
		if !seen[len(pre)] {
			seen[len(pre)] = true
			x.lens = append(x.lens, len(pre))
		}
	}
	for i := 1; i < len(x.lens); i++ { // insertion sort: few distinct lengths
		for j := i; j > 0 && x.lens[j] < x.lens[j-1]; j-- {
			x.lens[j], x.lens[j-1] = x.lens[j-1], x.lens[j]
		}
	}
	return x
}

// first returns the index of the first pattern (in list order) that matches
// the valid tag, or -1.
func (ps *patternSet) first(tag string) int {
	if ps.idx == nil {
		for i := range ps.ms {
			if ps.ms[i].match(tag) {
				return i
			}
		}
		return -1
	}
	return ps.idx.first(ps.ms, tag)
}

func (x *prefixIndex) first(ms []matcher, tag string) int {
	best := -1
	for _, i := range x.wild {
		if ms[i].match(tag) {
			best = int(i)
			break
		}
	}
	fold := len(ms) > 0 && ms[0].fold
	var lower [MaxTagLength]byte
	if fold {
		for i := 0; i < len(tag) && i < len(lower); i++ {
			c := tag[i]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			lower[i] = c
		}
	}
	for _, n := range x.lens {
		if n > len(tag) {
			break
		}
		var cand []int32
		if fold {
			cand = x.byPrefix[string(lower[:n])]
		} else {
			cand = x.byPrefix[tag[:n]]
		}
		for _, i := range cand {
			if best >= 0 && int(i) > best {
				break
			}
			if ms[i].match(tag) {
				best = int(i)
				break
			}
		}
	}
	return best
}
