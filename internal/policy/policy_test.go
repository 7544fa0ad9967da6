package policy

import (
	"strings"
	"testing"
	"time"
)

// sections returns the built-in settings with tags, keys and revoke replaced.
func sections(tags TagRules, keys KeyRules, revoke RevokeRules) settings {
	s := defaultSettings()
	s.tags, s.keys, s.revoke = tags, keys, revoke
	return s
}

// settingsOf returns the settings of p, to build a changed copy.
func settingsOf(p *Policy) settings {
	return settings{tags: p.Tags, keys: p.Keys, revoke: p.Revoke, quota: p.Quota, confirm: p.Confirm, secrets: p.Secrets, audit: p.Audit,
		access: p.Access, rotate: p.Rotate, callers: p.Callers}
}

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
		_, err := newPolicy("x", sections(tt.tags, tt.keys, defaultRevoke()))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: newPolicy error = %v, want prefix %q", tt.name, err, tt.want)
		}
	}
}

// TestNewPolicyEnforcesGuardrails checks the same for the quota, confirm and
// secrets sections.
func TestNewPolicyEnforcesGuardrails(t *testing.T) {
	tests := []struct {
		name string
		edit func(*settings)
		want string
	}{
		{"hour negative", func(s *settings) { s.quota.MaxKeysPerHour = -1 }, "max_keys_per_hour -1 is out of range 0..10000"},
		{"hour over", func(s *settings) { s.quota.MaxKeysPerHour = 10001 }, "max_keys_per_hour 10001 is out of range 0..10000"},
		{"day over", func(s *settings) { s.quota.MaxKeysPerDay = 100001 }, "max_keys_per_day 100001 is out of range 0..100000"},
		{"day below hour", func(s *settings) { s.quota = QuotaRules{MaxKeysPerHour: 5, MaxKeysPerDay: 4} }, "max_keys_per_day 4 is below max_keys_per_hour 5"},
		{"empty confirm", func(s *settings) { s.confirm.Revoke = "" }, `confirm mode "" is not one of never, if-supported, always`},
		{"bad confirm", func(s *settings) { s.confirm.Create = "sometimes" }, `confirm mode "sometimes" is not one of never, if-supported, always`},
		{"bad deliver", func(s *settings) { s.secrets.Deliver = "" }, `secrets.deliver "" is not one of chat, file`},
		{"dir with chat", func(s *settings) { s.secrets.Dir = "/x" }, "secrets.dir is only used with deliver: file"},
		{"file without dir", func(s *settings) { s.secrets.Deliver = DeliverFile }, "secrets.dir is required when deliver is file"},
		{"relative dir", func(s *settings) { s.secrets = SecretsRules{Deliver: DeliverFile, Dir: "keys"} }, `path "keys" is not absolute; give the full path`},
		{"NUL in dir", func(s *settings) { s.secrets = SecretsRules{Deliver: DeliverFile, Dir: "/a\x00"} }, `path "/a\x00" has a control character at position 3: '\x00' (U+0000)`},
		{"long dir", func(s *settings) {
			s.secrets = SecretsRules{Deliver: DeliverFile, Dir: "/" + strings.Repeat("d", MaxSecretsDirLength)}
		}, "path \"/" + strings.Repeat("d", MaxQuoted-1) + "\"…(+4017 chars) is 4097 bytes long; the maximum is 4096"},
	}
	for _, tt := range tests {
		s := defaultSettings()
		s.tags.Allow = []string{"*"}
		tt.edit(&s)
		_, err := newPolicy("x", s)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: newPolicy error\n got %v\nwant %s", tt.name, err, tt.want)
		}
	}
	s := defaultSettings()
	s.quota = QuotaRules{MaxKeysPerHour: CeilingKeysPerHour, MaxKeysPerDay: CeilingKeysPerHour}
	s.secrets = SecretsRules{Deliver: DeliverFile, Dir: "/" + strings.Repeat("d", MaxSecretsDirLength-1)}
	s.confirm = ConfirmRules{Create: ConfirmAlways, Revoke: ConfirmIfSupported}
	if _, err := newPolicy("x", s); err != nil {
		t.Errorf("limits at the edge refused: %v", err)
	}
}

func TestFormatFreesAt(t *testing.T) {
	for _, tt := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 25, 22, 14, 3, 0, time.UTC), "2026-11-25T22:14:03Z"},
		{time.Date(2026, 11, 25, 22, 14, 3, 1, time.UTC), "2026-11-25T22:14:04Z"},
		{time.Date(2026, 11, 25, 23, 59, 59, 500e6, time.FixedZone("CET", 3600)), "2026-11-25T23:00:00Z"},
	} {
		if got := formatFreesAt(tt.t); got != tt.want {
			t.Errorf("formatFreesAt(%v) = %s, want %s", tt.t, got, tt.want)
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

func TestFromAllowedTagsNeedsAPattern(t *testing.T) {
	for _, list := range []string{",", " , ,", " "} {
		if _, err := FromAllowedTags(list); err == nil || !strings.Contains(err.Error(), "no pattern given") {
			t.Errorf("FromAllowedTags(%q) = %v, want an error", list, err)
		}
	}
}
