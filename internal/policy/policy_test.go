package policy

import (
	"strings"
	"testing"
)

// TestNewPolicyEnforcesRanges checks that no path can build a policy beyond
// the compiled-in ceilings, whatever settings it is handed.
func TestNewPolicyEnforcesRanges(t *testing.T) {
	ok := defaultKeys()
	tests := []struct {
		name string
		keys KeyRules
		tags TagRules
		want string
	}{
		{"expiry over ceiling", KeyRules{NamePrefix: "a", DefaultExpiryDays: 30, MaxExpiryDays: 366, MaxRateLimit: 1, MaxRateWindowMs: 1}, TagRules{}, "max_expiry_days 366 is out of range 1..365"},
		{"default over max", KeyRules{NamePrefix: "a", DefaultExpiryDays: 31, MaxExpiryDays: 30, MaxRateLimit: 1, MaxRateWindowMs: 1}, TagRules{}, "default_expiry_days 31 is out of range 1..max_expiry_days (30)"},
		{"rate zero", KeyRules{NamePrefix: "a", DefaultExpiryDays: 1, MaxExpiryDays: 1, MaxRateLimit: 0, MaxRateWindowMs: 1}, TagRules{}, "max_rate_limit 0 is out of range 1..10000"},
		{"window over", KeyRules{NamePrefix: "a", DefaultExpiryDays: 1, MaxExpiryDays: 1, MaxRateLimit: 1, MaxRateWindowMs: 3600001}, TagRules{}, "max_rate_window_ms 3600001 is out of range 1..3600000"},
		{"prefix control", KeyRules{NamePrefix: "a\x00", DefaultExpiryDays: 1, MaxExpiryDays: 1, MaxRateLimit: 1, MaxRateWindowMs: 1}, TagRules{}, `name_prefix "a\x00" has a control character at position 2: '\x00' (U+0000)`},
		{"bad allow", ok, TagRules{Allow: []string{"a b"}}, `pattern "a b" has a character`},
		{"bad deny", ok, TagRules{Deny: []string{""}}, "pattern is empty"},
	}
	for _, tt := range tests {
		_, err := newPolicy("x", tt.tags, tt.keys, defaultRevoke())
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: newPolicy error = %v, want prefix %q", tt.name, err, tt.want)
		}
	}
}

func TestFullAccessArgsListIsCut(t *testing.T) {
	p := mustParse(t, "tags: {allow: ['*']}\n")
	args := []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7"}
	d := p.EvaluateCreate(CreateRequest{Tag: "x", FullAccessArgs: args, Now: now})
	want := `asked for Full Access through "a1", "a2", "a3", "a4", "a5": ` + FullAccessRefusal
	if d.Allowed || d.Rules[0].Detail != want {
		t.Errorf("scoped_only = %+v, want %s", d.Rules[0], want)
	}
}

func TestParseIntegerTooLarge(t *testing.T) {
	_, err := Parse("f.yaml", []byte("keys:\n  max_rate_limit: 9999999999999999999\n"))
	const want = `f.yaml:2:19: keys.max_rate_limit: "9999999999999999999" is too large`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestFromAllowedTagsTooMany(t *testing.T) {
	_, err := FromAllowedTags(strings.Repeat("a,", MaxPatterns+1))
	const want = "MCP_KEYS_ALLOWED_TAGS: 10001 patterns; at most 10000 are allowed"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
