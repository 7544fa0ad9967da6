package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// TestParseErrorsNewFields covers every field of the least-privilege,
// lease, rotate and callers settings: positions, messages and suggestions.
func TestParseErrorsNewFields(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		// keys: least privilege and leases.
		{"max_tags zero", "keys:\n  max_tags: 0\n", `f.yaml:2:13: keys.max_tags: 0 is out of range; it must be 1..50`},
		{"max_tags over", "keys: {max_tags: 51}\n", `f.yaml:1:18: keys.max_tags: 51 is out of range; it must be 1..50`},
		{"max_tags string", "keys: {max_tags: \"3\"}\n", `f.yaml:1:18: keys.max_tags: expected an integer, got the string "3"`},
		{"max_tags typo", "keys:\n  max_tag: 3\n", `f.yaml:2:3: unknown field "max_tag" in keys (did you mean "max_tags"?)`},
		{"default_permission bad", "keys: {default_permission: admin}\n", `f.yaml:1:28: keys.default_permission: "admin" is not one of read, write`},
		{"default_permission case", "keys:\n  default_permission: Read\n", `f.yaml:2:23: keys.default_permission: "Read" is not one of read, write (did you mean "read"?)`},
		{"default_permission bool", "keys: {default_permission: true}\n", `f.yaml:1:28: keys.default_permission: expected one of read, write, got the boolean true`},
		{"default_permission typo", "keys: {default_permissions: read}\n", `f.yaml:1:8: unknown field "default_permissions" in keys (did you mean "default_permission"?)`},
		{"max_lease zero", "keys:\n  max_lease_minutes: 0\n", `f.yaml:2:22: keys.max_lease_minutes: 0 is out of range; it must be 1..1440`},
		{"max_lease over", "keys: {max_lease_minutes: 1441}\n", `f.yaml:1:27: keys.max_lease_minutes: 1441 is out of range; it must be 1..1440`},
		{"max_lease float", "keys: {max_lease_minutes: 1.5}\n", `f.yaml:1:27: keys.max_lease_minutes: expected a whole number written in decimal digits, got the number 1.5`},
		{"max_lease typo", "keys: {max_lease_minute: 5}\n", `f.yaml:1:8: unknown field "max_lease_minute" in keys (did you mean "max_lease_minutes"?)`},
		{"require_lease yes", "keys:\n  require_lease: yes\n", `f.yaml:2:18: keys.require_lease: expected true or false, got the string "yes"`},
		{"require_lease typo", "keys: {requires_lease: true}\n", `f.yaml:1:8: unknown field "requires_lease" in keys (did you mean "require_lease"?)`},
		// tags.read_only.
		{"read_only bad pattern", "tags:\n  read_only: [\"a b\"]\n", `f.yaml:2:15: tags.read_only: pattern "a b" has a character that is not allowed at position 2: ' ' (U+0020); ` + patternRule},
		{"read_only string", "tags: {read_only: team:*}\n", `f.yaml:1:19: tags.read_only: expected a list of patterns, got the string "team:*"`},
		{"read_only typo", "tags: {readonly: []}\n", `f.yaml:1:8: unknown field "readonly" in tags (did you mean "read_only"?)`},
		// rotate.
		{"rotate typo", "rotat: {}\n", `f.yaml:1:1: unknown field "rotat" (did you mean "rotate"?)`},
		{"rotate unknown", "rotate:\n  grace: 5\n", `f.yaml:2:3: unknown field "grace" in rotate (known: enabled, max_grace_minutes)`},
		{"rotate grace over", "rotate: {max_grace_minutes: 1441}\n", `f.yaml:1:29: rotate.max_grace_minutes: 1441 is out of range; it must be 0..1440`},
		{"rotate grace negative", "rotate:\n  max_grace_minutes: -1\n", `f.yaml:2:22: rotate.max_grace_minutes: -1 is out of range; it must be 0..1440`},
		{"rotate enabled string", "rotate: {enabled: \"no\"}\n", `f.yaml:1:19: rotate.enabled: expected true or false, got the string "no"`},
		{"rotate without revoke", "revoke: {enabled: false}\nrotate:\n  enabled: true\n", `f.yaml:3:12: rotate.enabled: true needs revoke.enabled: true (a rotation revokes the old key)`},
		{"rotate null", "rotate:\n", `f.yaml:1:8: rotate: expected a mapping of fields, got an empty value (null) (write {} for an empty section)`},
		// callers: the section.
		{"callers typo", "caller: []\n", `f.yaml:1:1: unknown field "caller" (did you mean "callers"?)`},
		{"callers null", "callers:\n", `f.yaml:1:9: callers: expected a list of rules (each with match and optional tags, keys, quota, revoke), got an empty value (null) (remove the section when there are no rules)`},
		{"callers empty", "callers: []\n", `f.yaml:1:10: callers: an empty list refuses every remote caller; add a rule, or remove the section`},
		{"callers mapping", "callers: {match: {any: true}}\n", `f.yaml:1:10: callers: expected a list of rules (each with match and optional tags, keys, quota, revoke), got a mapping`},
		{"callers item scalar", "callers:\n  - ci-bot\n", `f.yaml:2:5: callers[0]: expected a rule (a mapping with match and optional tags, keys, quota, revoke), got the string "ci-bot"`},
		{"rule without match", "callers:\n  - tags: {allow: [a]}\n", `f.yaml:2:5: callers[0]: match is required (any of sub, email, group, token, or any: true)`},
		{"rule unknown field", "callers:\n  - match: {any: true}\n    matches: {}\n", `f.yaml:3:5: unknown field "matches" in callers[0] (did you mean "match"?)`},
		{"rule unknown field, no suggestion", "callers:\n  - match: {any: true}\n    colour: red\n", `f.yaml:3:5: unknown field "colour" in callers[0] (known: keys, match, quota, revoke, tags)`},
		{"rule duplicate field", "callers:\n  - match: {any: true}\n    match: {sub: a}\n", `f.yaml:3:5: duplicate field "match" in callers[0] (first at line 2)`},
		// callers: match.
		{"match empty", "callers:\n  - match: {}\n", `f.yaml:2:12: callers[0].match: give at least one of sub, email, group, token, or any: true`},
		{"match null", "callers:\n  - match:\n", `f.yaml:2:11: callers[0].match: expected a mapping of fields, got an empty value (null) (write {} for an empty section)`},
		{"match typo", "callers:\n  - match: {grup: search}\n", `f.yaml:2:13: unknown field "grup" in callers[0].match (did you mean "group"?)`},
		{"match any false", "callers:\n  - match: {any: false}\n", `f.yaml:2:18: callers[0].match.any: false matches no one; remove it, or write any: true to match every caller`},
		{"match any string", "callers:\n  - match: {any: \"true\"}\n", `f.yaml:2:18: callers[0].match.any: expected true or false, got the string "true"`},
		{"match any combined", "callers:\n  - match: {any: true, sub: a}\n", `f.yaml:2:12: callers[0].match: any: true matches every caller and cannot be combined with other conditions`},
		{"match empty value", "callers:\n  - match: {sub: \"\"}\n", `f.yaml:2:18: callers[0].match.sub: the value is empty; leave the condition out instead`},
		{"match int", "callers:\n  - match: {group: 5}\n", `f.yaml:2:20: callers[0].match.group: expected a string, got the integer 5`},
		{"match control", "callers:\n  - match: {email: \"a\\tb\"}\n", `f.yaml:2:20: callers[0].match.email: "a\tb" has a control character at position 2: '\t' (U+0009)`},
		{"match too long", "callers:\n  - match: {token: " + strings.Repeat("t", 257) + "}\n", `f.yaml:2:20: callers[0].match.token: "` + strings.Repeat("t", 80) + `"…(+177 chars) is 257 characters long; the maximum is 256`},
		{"same match twice", "callers:\n  - match: {group: g}\n  - match: {group: g}\n    tags: {allow: [a]}\n", `f.yaml:3:12: callers[1].match: the same as callers[0].match, so this rule can never apply`},
		{"rule after any", "callers:\n  - match: {any: true}\n  - match: {token: ci}\n", `f.yaml:3:12: callers[1].match: callers[0] matches every caller (any: true), so this rule can never apply`},
		// callers: tags.
		{"rule tags typo", "callers:\n  - match: {any: true}\n    tags: {alow: [a]}\n", `f.yaml:3:12: unknown field "alow" in callers[0].tags (did you mean "allow"?)`},
		{"rule bad pattern", "callers:\n  - match: {any: true}\n    tags: {deny: [\"x/y\"]}\n", `f.yaml:3:19: callers[0].tags.deny: pattern "x/y" has a character that is not allowed at position 2: '/' (U+002F); ` + patternRule},
		{"rule read_only null", "callers:\n  - match: {any: true}\n    tags: {read_only: }\n", `f.yaml:3:23: callers[0].tags.read_only: expected a list of patterns, got an empty value (null) (write [] for none)`},
		// callers: keys.
		{"rule keys typo", "callers:\n  - match: {any: true}\n    keys: {max_expiry_day: 7}\n", `f.yaml:3:12: unknown field "max_expiry_day" in callers[0].keys (did you mean "max_expiry_days"?)`},
		{"rule keys unknown", "callers:\n  - match: {any: true}\n    keys: {name_prefix: x}\n", `f.yaml:3:12: unknown field "name_prefix" in callers[0].keys (known: default_permission, max_expiry_days, max_lease_minutes, max_rate_limit, max_rate_window_ms, max_tags, require_lease)`},
		{"rule max_expiry over", "callers:\n  - match: {any: true}\n    keys: {max_expiry_days: 400}\n", `f.yaml:3:29: callers[0].keys.max_expiry_days: 400 is out of range; it must be 1..365`},
		{"rule max_lease zero", "callers:\n  - match: {any: true}\n    keys: {max_lease_minutes: 0}\n", `f.yaml:3:31: callers[0].keys.max_lease_minutes: 0 is out of range; it must be 1..1440`},
		{"rule max_tags over", "callers:\n  - match: {any: true}\n    keys: {max_tags: 51}\n", `f.yaml:3:22: callers[0].keys.max_tags: 51 is out of range; it must be 1..50`},
		{"rule max_rate_limit over", "callers:\n  - match: {any: true}\n    keys: {max_rate_limit: 10001}\n", `f.yaml:3:28: callers[0].keys.max_rate_limit: 10001 is out of range; it must be 1..10000`},
		{"rule max_rate_window zero", "callers:\n  - match: {any: true}\n    keys: {max_rate_window_ms: 0}\n", `f.yaml:3:32: callers[0].keys.max_rate_window_ms: 0 is out of range; it must be 1..3600000`},
		{"rule default_permission", "callers:\n  - match: {any: true}\n    keys: {default_permission: full}\n", `f.yaml:3:32: callers[0].keys.default_permission: "full" is not one of read, write`},
		{"rule require_lease", "callers:\n  - match: {any: true}\n    keys: {require_lease: 1}\n", `f.yaml:3:27: callers[0].keys.require_lease: expected true or false, got the integer 1`},
		// callers: quota and revoke.
		{"rule quota typo", "callers:\n  - match: {any: true}\n    quota: {max_keys_per_hours: 3}\n", `f.yaml:3:13: unknown field "max_keys_per_hours" in callers[0].quota (did you mean "max_keys_per_hour"?)`},
		{"rule quota zero", "callers:\n  - match: {any: true}\n    quota: {max_keys_per_day: 0}\n", `f.yaml:3:31: callers[0].quota.max_keys_per_day: 0 is out of range; it must be 1..100000`},
		{"rule quota order", "callers:\n  - match: {any: true}\n    quota: {max_keys_per_hour: 5, max_keys_per_day: 4}\n", `f.yaml:3:53: callers[0].quota.max_keys_per_day: 4 is below callers[0].quota.max_keys_per_hour (5)`},
		{"rule scope bad", "callers:\n  - match: {any: true}\n    revoke: {scope: everyone}\n", `f.yaml:3:21: callers[0].revoke.scope: "everyone" is not one of own, team`},
		{"rule scope case", "callers:\n  - match: {any: true}\n    revoke: {scope: Team}\n", `f.yaml:3:21: callers[0].revoke.scope: "Team" is not one of own, team (did you mean "team"?)`},
		{"rule revoke unknown", "callers:\n  - match: {any: true}\n    revoke: {enabled: false}\n", `f.yaml:3:14: unknown field "enabled" in callers[0].revoke (known: scope)`},
		{"second rule position", "callers:\n  - match: {token: a}\n  - match: {token: b}\n    keys: {max_tags: 0}\n", `f.yaml:4:22: callers[1].keys.max_tags: 0 is out of range; it must be 1..50`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("f.yaml", []byte(tt.src))
			if err == nil {
				t.Fatalf("Parse succeeded (%+v), want error %s", p.Callers, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse error\n got %s\nwant %s", err, tt.want)
			}
			var le *LoadError
			if !errors.As(err, &le) || le.File != "f.yaml" || le.Line == 0 {
				t.Errorf("error is not a positioned *LoadError for f.yaml: %#v", err)
			}
		})
	}
}

// TestParseNewFields checks the values of the new settings.
func TestParseNewFields(t *testing.T) {
	p := mustParse(t, `
tags: {allow: ["*"], read_only: ["team:*"]}
keys: {max_tags: 50, default_permission: read, max_lease_minutes: 1, require_lease: true}
callers:
  - match: {group: "search-team", email: "a@b.c"}
    tags: {allow: [], deny: ["x*"], read_only: ["y*"]}
    keys: {max_expiry_days: 7, max_lease_minutes: 240, default_permission: write, max_tags: 3, max_rate_limit: 10, max_rate_window_ms: 1000, require_lease: true}
    quota: {max_keys_per_hour: 3, max_keys_per_day: 10}
    revoke: {scope: team}
  - match: {token: "ci-bot"}
  - match: {sub: "u-1"}
    tags: {deny: []}
  - match: {any: true}
`)
	if want := (AccessRules{MaxTags: 50, DefaultPermission: PermissionRead, MaxLeaseMinutes: 1, RequireLease: true}); p.Access != want {
		t.Errorf("Access = %+v, want %+v", p.Access, want)
	}
	if !reflect.DeepEqual(p.Tags.ReadOnly, []string{"team:*"}) {
		t.Errorf("ReadOnly = %q", p.Tags.ReadOnly)
	}
	want := []CallerRule{
		{
			Match: CallerCondition{Group: "search-team", Email: "a@b.c"},
			Tags:  CallerTagRules{Allow: []string{}, AllowSet: true, Deny: []string{"x*"}, ReadOnly: []string{"y*"}},
			Keys: CallerKeyRules{MaxExpiryDays: 7, MaxLeaseMinutes: 240, DefaultPermission: PermissionWrite, MaxTags: 3, MaxRateLimit: 10,
				MaxRateWindowMs: 1000, RequireLease: true},
			Quota: QuotaRules{MaxKeysPerHour: 3, MaxKeysPerDay: 10},
			Scope: ScopeTeam,
		},
		{Match: CallerCondition{Token: "ci-bot"}, Scope: ScopeOwn},
		{Match: CallerCondition{Sub: "u-1"}, Tags: CallerTagRules{Deny: []string{}}, Scope: ScopeOwn},
		{Match: CallerCondition{Any: true}, Scope: ScopeOwn},
	}
	if len(p.Callers) != len(want) {
		t.Fatalf("%d rules, want %d", len(p.Callers), len(want))
	}
	for i := range want {
		if !sameSettings(&Policy{Callers: p.Callers[i : i+1]}, &Policy{Callers: want[i : i+1]}) {
			t.Errorf("rule %d = %+v, want %+v", i, p.Callers[i], want[i])
		}
	}
	if !p.HasCallers() || mustParse(t, "").HasCallers() {
		t.Error("HasCallers is wrong")
	}
}

// TestNewPolicyEnforcesNewRanges checks that no path builds a policy with
// new settings out of range.
func TestNewPolicyEnforcesNewRanges(t *testing.T) {
	tests := []struct {
		name string
		edit func(*settings)
		want string
	}{
		{"max_tags zero", func(s *settings) { s.access.MaxTags = 0 }, "max_tags 0 is out of range 1..50"},
		{"max_tags over", func(s *settings) { s.access.MaxTags = 51 }, "max_tags 51 is out of range 1..50"},
		{"permission", func(s *settings) { s.access.DefaultPermission = "admin" }, `default_permission "admin" is not one of read, write`},
		{"permission empty", func(s *settings) { s.access.DefaultPermission = "" }, `default_permission "" is not one of read, write`},
		{"lease zero", func(s *settings) { s.access.MaxLeaseMinutes = 0 }, "max_lease_minutes 0 is out of range 1..1440"},
		{"lease over", func(s *settings) { s.access.MaxLeaseMinutes = 1441 }, "max_lease_minutes 1441 is out of range 1..1440"},
		{"grace over", func(s *settings) { s.rotate.MaxGraceMinutes = 1441 }, "max_grace_minutes 1441 is out of range 0..1440"},
		{"grace negative", func(s *settings) { s.rotate.MaxGraceMinutes = -1 }, "max_grace_minutes -1 is out of range 0..1440"},
		{"bad read_only", func(s *settings) { s.tags.ReadOnly = []string{"a b"} }, `pattern "a b" has a character`},
		{"empty match", func(s *settings) { s.callers = []CallerRule{{}} }, "callers[0]: match: give at least one of sub, email, group, token, or any: true"},
		{"any combined", func(s *settings) { s.callers = []CallerRule{{Match: CallerCondition{Any: true, Sub: "a"}}} }, "callers[0]: match: any: true cannot be combined with other conditions"},
		{"match control", func(s *settings) { s.callers = []CallerRule{{Match: CallerCondition{Sub: "a\n"}}} }, `callers[0]: match.sub: "a\n" has a control character`},
		{"rule lease", func(s *settings) {
			s.callers = []CallerRule{{Match: CallerCondition{Any: true}, Keys: CallerKeyRules{MaxLeaseMinutes: 1441}}}
		}, "callers[0]: keys.max_lease_minutes 1441 is out of range 1..1440"},
		{"rule negative", func(s *settings) {
			s.callers = []CallerRule{{Match: CallerCondition{Any: true}, Keys: CallerKeyRules{MaxTags: -1}}}
		}, "callers[0]: keys.max_tags -1 is out of range 1..50"},
		{"rule permission", func(s *settings) {
			s.callers = []CallerRule{{Match: CallerCondition{Any: true}, Keys: CallerKeyRules{DefaultPermission: "all"}}}
		}, `callers[0]: keys.default_permission "all" is not one of read, write`},
		{"rule quota", func(s *settings) {
			s.callers = []CallerRule{{Match: CallerCondition{Any: true}, Quota: QuotaRules{MaxKeysPerHour: 5, MaxKeysPerDay: 1}}}
		}, "callers[0]: quota: max_keys_per_day 1 is below max_keys_per_hour 5"},
		{"rule scope", func(s *settings) {
			s.callers = []CallerRule{{Match: CallerCondition{Any: true}, Scope: "all"}}
		}, `callers[0]: revoke.scope "all" is not one of own, team`},
		{"rule allow without AllowSet", func(s *settings) {
			s.callers = []CallerRule{{Match: CallerCondition{Any: true}, Tags: CallerTagRules{Allow: []string{"a"}}}}
		}, "callers[0]: tags.allow is given but AllowSet is false"},
		{"rule bad pattern", func(s *settings) {
			s.callers = []CallerRule{{Match: CallerCondition{Any: true}, Tags: CallerTagRules{ReadOnly: []string{""}}}}
		}, "callers[0]: pattern is empty"},
		{"too many rules", func(s *settings) {
			s.callers = make([]CallerRule, MaxCallerRules+1)
		}, "callers: 1001 rules; at most 1000 are allowed"},
	}
	for _, tt := range tests {
		s := defaultSettings()
		s.tags.Allow = []string{"*"}
		tt.edit(&s)
		_, err := newPolicy("x", s)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%s: newPolicy error\n got %v\nwant prefix %s", tt.name, err, tt.want)
		}
	}
	// A scope left empty is own; rotate follows a disabled revoke.
	s := defaultSettings()
	s.revoke.Enabled = false
	s.callers = []CallerRule{{Match: CallerCondition{Token: "t"}}}
	p, err := newPolicy("x", s)
	if err != nil {
		t.Fatal(err)
	}
	if p.Callers[0].Scope != ScopeOwn || p.Rotate.Enabled {
		t.Errorf("scope %q, rotate %+v", p.Callers[0].Scope, p.Rotate)
	}
}

// TestEffectiveYAMLRoundTripNew checks that the new sections survive a round
// trip through the effective YAML.
func TestEffectiveYAMLRoundTripNew(t *testing.T) {
	for name, src := range map[string]string{
		"least privilege": "tags: {allow: ['*'], read_only: ['team:*', 'a?c']}\nkeys: {max_tags: 1, default_permission: read, max_lease_minutes: 5, require_lease: true}\n",
		"rotate":          "rotate: {enabled: false, max_grace_minutes: 0}\n",
		"revoke off":      "revoke: {enabled: false}\n",
		"callers": `tags: {allow: ["*"]}
callers:
  - match: {group: "g é \"q\" \\ x", email: "a@b"}
    tags: {allow: [], deny: ["x*"], read_only: ["y*"]}
    keys: {max_expiry_days: 7, max_lease_minutes: 240, default_permission: write, max_tags: 3, max_rate_limit: 10, max_rate_window_ms: 1000, require_lease: true}
    quota: {max_keys_per_day: 10}
    revoke: {scope: team}
  - match: {token: "ci-bot"}
    tags: {allow: ["ci-*"]}
  - match: {sub: "u"}
    quota: {max_keys_per_hour: 1}
  - match: {any: true}
`,
	} {
		t.Run(name, func(t *testing.T) {
			p := mustParse(t, src)
			doc := p.EffectiveYAML()
			q, err := Parse("effective.yaml", doc)
			if err != nil {
				t.Fatalf("Parse(EffectiveYAML): %v\n%s", err, doc)
			}
			if !sameSettings(p, q) {
				t.Errorf("round trip changed the policy:\n%+v\n%+v\n%s", p, q, doc)
			}
		})
	}
}
