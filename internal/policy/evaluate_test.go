package policy

import (
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 8, 12, 0, 0, 0, time.UTC)

func ip(n int) *int { return &n }

func designPolicy(t testing.TB) *Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/design.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("design.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var createOrder = []string{RuleScopedOnly, RuleCaller, RuleTagCount, RuleTagSyntax, RuleTagDeny, RuleTagAllow, RuleTagNew, RulePermission, RuleTagReadOnly,
	RuleExpiry, RuleLease, RuleRateLimit, RuleRateWindow, RuleName, RuleQuotaCaller, RuleQuota}
var revokeOrder = []string{RuleRevokeEnabled, RuleCaller, RuleTargetFound, RuleTargetScoped, RuleTargetTags, RuleTargetPrefix, RuleTargetMinted, RuleTargetScope}

// sameEffective compares effective requests. A want without Tags expects
// the one tag of Tag (none when Tag is empty), and one without Permission
// expects write, the built-in default.
func sameEffective(got, want Effective) bool {
	if want.Tags == nil && want.Tag != "" {
		want.Tags = []string{want.Tag}
	}
	if want.Permission == "" {
		want.Permission = PermissionWrite
	}
	return reflect.DeepEqual(got, want)
}

// checkDecision asserts the rule order, that every rule not in want passed,
// the outcomes and details in want/details, and that Allowed is "no fail".
func checkDecision(t *testing.T, d Decision, order []string, want map[string]Outcome, details map[string]string) {
	t.Helper()
	if len(d.Rules) != len(order) {
		t.Fatalf("got %d rules, want %d: %+v", len(d.Rules), len(order), d.Rules)
	}
	anyFail := false
	for i, r := range d.Rules {
		if r.Rule != order[i] {
			t.Errorf("rule %d = %q, want %q", i, r.Rule, order[i])
		}
		wantOut, ok := want[r.Rule]
		if !ok {
			wantOut = Pass
		}
		if r.Outcome != wantOut {
			t.Errorf("%s = %s (%s), want %s", r.Rule, r.Outcome, r.Detail, wantOut)
		}
		if wd, ok := details[r.Rule]; ok && r.Detail != wd {
			t.Errorf("%s detail\n got %s\nwant %s", r.Rule, r.Detail, wd)
		}
		if r.Detail == "" || strings.ContainsAny(r.Detail, "\n\r") {
			t.Errorf("%s detail %q is not one line", r.Rule, r.Detail)
		}
		anyFail = anyFail || r.Outcome == Fail
	}
	if d.Allowed == anyFail {
		t.Errorf("Allowed = %v with a failing rule = %v", d.Allowed, anyFail)
	}
}

const notAllowed = "a tag may contain only letters A-Z and a-z, digits, '-', '_', ':' and '.'"

func TestEvaluateCreate(t *testing.T) {
	design := designPolicy(t)
	strict := mustParse(t, `
tags: {allow: ["proj-*"], allow_new: false}
keys: {name_prefix: "bot-", default_expiry_days: 7, max_expiry_days: 14, max_rate_limit: 100, max_rate_window_ms: 1000}
`)
	noAllow := mustParse(t, "tags: {deny: [x]}\n")
	fa := "Full Access keys are never granted by mcp-keys; only a person can create one in the Supermemory console"
	skipTag := map[string]Outcome{RuleTagDeny: Skip, RuleTagAllow: Skip, RuleTagNew: Skip}
	with := func(base map[string]Outcome, more map[string]Outcome) map[string]Outcome {
		out := map[string]Outcome{}
		for k, v := range base {
			out[k] = v
		}
		for k, v := range more {
			out[k] = v
		}
		return out
	}
	tests := []struct {
		name    string
		p       *Policy
		req     CreateRequest
		want    map[string]Outcome
		details map[string]string
		eff     *Effective
	}{
		{
			name: "allowed with defaults",
			p:    design, req: CreateRequest{Tag: "proj-search"},
			details: map[string]string{
				RuleScopedOnly: "a scoped key for one tag",
				RuleTagSyntax:  "valid tag",
				RuleTagDeny:    "no deny pattern matches",
				RuleTagAllow:   `allowed by pattern "proj-*"`,
				RuleTagNew:     "new tags allowed (tags.allow_new: true)",
				RuleExpiry:     "not given: default_expiry_days 30 (max_expiry_days 90)",
				RuleRateLimit:  "not given: 500, the API default (max_rate_limit 1000)",
				RuleRateWindow: "not given: 60000 ms, the API default (max_rate_window_ms 3600000)",
				RuleName:       `not given: <name_prefix><tag>-<yyyymmdd>, name_prefix "agent-"`,
				RuleQuota:      "no quota",
			},
			eff: &Effective{Tag: "proj-search", Name: "agent-proj-search-20260308", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000},
		},
		{
			name: "user_* allows user_",
			p:    design, req: CreateRequest{Tag: "user_"},
			details: map[string]string{RuleTagAllow: `allowed by pattern "user_*"`},
		},
		{
			name: "first allow pattern named",
			p:    mustParse(t, "tags: {allow: [team:*, '*:search']}\n"), req: CreateRequest{Tag: "team:search"},
			details: map[string]string{RuleTagAllow: `allowed by pattern "team:*"`, RuleTagDeny: "no deny patterns"},
		},
		{
			name: "given values within limits, prefix prepended",
			p:    design, req: CreateRequest{Tag: "team:search", Name: "ci runner", ExpiresInDays: ip(90), RateLimitMax: ip(1000), RateLimitWindowMs: ip(3600000)},
			details: map[string]string{
				RuleExpiry:     "within max_expiry_days 90",
				RuleRateLimit:  "within max_rate_limit 1000",
				RuleRateWindow: "within max_rate_window_ms 3600000",
				RuleName:       `printable; name_prefix "agent-" prepended`,
			},
			eff: &Effective{Tag: "team:search", Name: "agent-ci runner", ExpiresInDays: 90, RateLimitMax: 1000, RateLimitWindowMs: 3600000},
		},
		{
			name: "name already prefixed",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: "agent-ci", ExpiresInDays: ip(1), RateLimitMax: ip(1), RateLimitWindowMs: ip(1)},
			details: map[string]string{RuleName: `printable; already starts with name_prefix "agent-"`},
			eff:     &Effective{Tag: "proj-a", Name: "agent-ci", ExpiresInDays: 1, RateLimitMax: 1, RateLimitWindowMs: 1},
		},
		{
			name: "prefix check is exact",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: "Agent-ci"},
			eff: &Effective{Tag: "proj-a", Name: "agent-Agent-ci", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000},
		},
		{
			name: "printable unicode name",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: "café ☕ 東京"},
		},
		{
			name: "full access argument",
			p:    design, req: CreateRequest{Tag: "proj-a", FullAccessArgs: []string{"permission", "scope"}},
			want:    map[string]Outcome{RuleScopedOnly: Fail},
			details: map[string]string{RuleScopedOnly: `asked for Full Access through "permission", "scope": ` + fa},
		},
		{
			name: "full access argument with an allow-all policy",
			p:    mustParse(t, "tags: {allow: ['*']}\n"), req: CreateRequest{Tag: "anything", FullAccessArgs: []string{"full_access"}},
			want: map[string]Outcome{RuleScopedOnly: Fail},
		},
		{
			name: "empty tag",
			p:    mustParse(t, "tags: {allow: ['*']}\n"), req: CreateRequest{Tag: ""},
			want:    with(skipTag, map[string]Outcome{RuleScopedOnly: Fail, RuleTagCount: Fail, RuleTagSyntax: Fail, RuleName: Skip}),
			details: map[string]string{RuleScopedOnly: "no tag given (a key without a tag is a Full Access key): " + fa, RuleTagSyntax: "tag is empty", RuleName: "no default name: the tag is invalid"},
			eff:     &Effective{Tag: "", Name: "", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000},
		},
		{
			name: "wildcard tag",
			p:    mustParse(t, "tags: {allow: ['*']}\n"), req: CreateRequest{Tag: "*", Name: "x"},
			want: with(skipTag, map[string]Outcome{RuleScopedOnly: Fail, RuleTagSyntax: Fail}),
			details: map[string]string{
				RuleScopedOnly: `tag "*" contains a wildcard (a key for every tag is a Full Access key): ` + fa,
				RuleTagSyntax:  `tag "*" has a character that is not allowed at position 1: '*' (U+002A); ` + notAllowed,
			},
		},
		{
			name: "pattern-like tag",
			p:    design, req: CreateRequest{Tag: "proj-?"},
			want: with(skipTag, map[string]Outcome{RuleScopedOnly: Fail, RuleTagSyntax: Fail, RuleName: Skip}),
		},
		{
			name: "deny",
			p:    design, req: CreateRequest{Tag: "proj-prod-eu"},
			want:    map[string]Outcome{RuleTagDeny: Fail},
			details: map[string]string{RuleTagDeny: `tag "proj-prod-eu" is denied by pattern "proj-prod*" (deny patterns ignore case)`, RuleTagAllow: `allowed by pattern "proj-*"`},
		},
		{
			name: "deny ignores case",
			p:    mustParse(t, "tags: {allow: ['*'], deny: [proj-prod*]}\n"), req: CreateRequest{Tag: "Proj-PROD-eu"},
			want:    map[string]Outcome{RuleTagDeny: Fail},
			details: map[string]string{RuleTagDeny: `tag "Proj-PROD-eu" is denied by pattern "proj-prod*" (deny patterns ignore case)`},
		},
		{
			name: "allow is case-sensitive",
			p:    design, req: CreateRequest{Tag: "Proj-search"},
			want:    map[string]Outcome{RuleTagAllow: Fail},
			details: map[string]string{RuleTagAllow: `tag "Proj-search" matches no allow pattern (allowed: "proj-*", "user_*", "team:search")`},
		},
		{
			name: "no policy",
			p:    Default(), req: CreateRequest{Tag: "proj-a"},
			want:    map[string]Outcome{RuleTagAllow: Fail},
			details: map[string]string{RuleTagAllow: "no tags are allowed: set MCP_KEYS_POLICY or MCP_KEYS_ALLOWED_TAGS", RuleTagDeny: "no deny patterns"},
		},
		{
			name: "policy file without allow",
			p:    noAllow, req: CreateRequest{Tag: "proj-a"},
			want:    map[string]Outcome{RuleTagAllow: Fail},
			details: map[string]string{RuleTagAllow: `no tags are allowed: the policy "test.yaml" has no tags.allow patterns`},
		},
		{
			name: "invalid tag",
			p:    design, req: CreateRequest{Tag: "proj-\u200bsearch", Name: "n"},
			want:    with(skipTag, map[string]Outcome{RuleTagSyntax: Fail}),
			details: map[string]string{RuleTagSyntax: `tag "proj-\u200bsearch" has a character that is not allowed at position 6: '\u200b' (U+200B); ` + notAllowed},
			eff:     &Effective{Tag: "proj-\u200bsearch", Name: "agent-n", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000},
		},
		{
			name: "tag not trimmed",
			p:    design, req: CreateRequest{Tag: "proj-a "},
			want: with(skipTag, map[string]Outcome{RuleTagSyntax: Fail, RuleName: Skip}),
		},
		{
			name: "existing tag when allow_new is false",
			p:    strict, req: CreateRequest{Tag: "proj-a", TagExists: Yes},
			details: map[string]string{RuleTagNew: "tag exists"},
		},
		{
			name: "new tag when allow_new is false",
			p:    strict, req: CreateRequest{Tag: "proj-a", TagExists: No},
			want:    map[string]Outcome{RuleTagNew: Fail},
			details: map[string]string{RuleTagNew: `tag "proj-a" does not exist and tags.allow_new is false`},
		},
		{
			name: "unchecked tag when allow_new is false",
			p:    strict, req: CreateRequest{Tag: "proj-a"},
			want:    map[string]Outcome{RuleTagNew: Fail},
			details: map[string]string{RuleTagNew: `tags.allow_new is false and whether tag "proj-a" exists was not checked`},
		},
		{
			name: "defaults capped by the policy",
			p:    strict, req: CreateRequest{Tag: "proj-a", TagExists: Yes},
			details: map[string]string{
				RuleExpiry:     "not given: default_expiry_days 7 (max_expiry_days 14)",
				RuleRateLimit:  "not given: 100, the API default 500 capped by max_rate_limit",
				RuleRateWindow: "not given: 1000 ms, the API default 60000 capped by max_rate_window_ms",
				RuleName:       `not given: <name_prefix><tag>-<yyyymmdd>, name_prefix "bot-"`,
			},
			eff: &Effective{Tag: "proj-a", Name: "bot-proj-a-20260308", ExpiresInDays: 7, RateLimitMax: 100, RateLimitWindowMs: 1000},
		},
		{
			name: "never expires",
			p:    design, req: CreateRequest{Tag: "proj-a", ExpiresInDays: ip(0)},
			want:    map[string]Outcome{RuleExpiry: Fail},
			details: map[string]string{RuleExpiry: "expires_in_days 0: keys that never expire cannot be minted; give 1..90"},
			eff:     &Effective{Tag: "proj-a", Name: "agent-proj-a-20260308", ExpiresInDays: 0, RateLimitMax: 500, RateLimitWindowMs: 60000},
		},
		{
			name: "negative expiry",
			p:    design, req: CreateRequest{Tag: "proj-a", ExpiresInDays: ip(-1)},
			want:    map[string]Outcome{RuleExpiry: Fail},
			details: map[string]string{RuleExpiry: "expires_in_days -1: keys that never expire cannot be minted; give 1..90"},
		},
		{
			name: "expiry over the cap",
			p:    design, req: CreateRequest{Tag: "proj-a", ExpiresInDays: ip(91)},
			want:    map[string]Outcome{RuleExpiry: Fail},
			details: map[string]string{RuleExpiry: "expires_in_days 91 is over max_expiry_days 90"},
		},
		{
			name: "rate limit zero",
			p:    design, req: CreateRequest{Tag: "proj-a", RateLimitMax: ip(0)},
			want:    map[string]Outcome{RuleRateLimit: Fail},
			details: map[string]string{RuleRateLimit: "rate_limit_max 0 is below 1; give 1..1000 (max_rate_limit)"},
		},
		{
			name: "rate limit over the cap",
			p:    strict, req: CreateRequest{Tag: "proj-a", TagExists: Yes, RateLimitMax: ip(101)},
			want:    map[string]Outcome{RuleRateLimit: Fail},
			details: map[string]string{RuleRateLimit: "rate_limit_max 101 is over max_rate_limit 100"},
			eff:     &Effective{Tag: "proj-a", Name: "bot-proj-a-20260308", ExpiresInDays: 7, RateLimitMax: 101, RateLimitWindowMs: 1000},
		},
		{
			name: "rate window zero",
			p:    design, req: CreateRequest{Tag: "proj-a", RateLimitWindowMs: ip(0)},
			want:    map[string]Outcome{RuleRateWindow: Fail},
			details: map[string]string{RuleRateWindow: "rate_limit_window_ms 0 is below 1; give 1..3600000 (max_rate_window_ms)"},
		},
		{
			name: "rate window over the cap",
			p:    strict, req: CreateRequest{Tag: "proj-a", TagExists: Yes, RateLimitWindowMs: ip(1001)},
			want:    map[string]Outcome{RuleRateWindow: Fail},
			details: map[string]string{RuleRateWindow: "rate_limit_window_ms 1001 is over max_rate_window_ms 1000"},
		},
		{
			name: "name too long",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: strings.Repeat("n", 95)},
			want:    map[string]Outcome{RuleName: Fail},
			details: map[string]string{RuleName: `name "agent-` + strings.Repeat("n", 74) + `"…(+21 chars) is 101 characters long (prefix included); the maximum is 100`},
		},
		{
			name: "name of exactly 100 characters",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: strings.Repeat("é", 94)},
		},
		{
			name: "name with a control character",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: "ci\nrunner"},
			want:    map[string]Outcome{RuleName: Fail},
			details: map[string]string{RuleName: `name "agent-ci\nrunner" has a control character at position 9: '\n' (U+000A)`},
		},
		{
			name: "name with DEL",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: "a\x7f"},
			want:    map[string]Outcome{RuleName: Fail},
			details: map[string]string{RuleName: `name "agent-a\x7f" has a control character at position 8: '\x7f' (U+007F)`},
		},
		{
			name: "name with a C1 control",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: "a\u0085"},
			want:    map[string]Outcome{RuleName: Fail},
			details: map[string]string{RuleName: `name "agent-a\u0085" has a control character at position 8: '\u0085' (U+0085)`},
		},
		{
			name: "name with a bidi override",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: "ab\u202ecd"},
			want:    map[string]Outcome{RuleName: Fail},
			details: map[string]string{RuleName: `name "agent-ab\u202ecd" has a format (invisible) character at position 9: '\u202e' (U+202E)`},
		},
		{
			name: "name with a line separator",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: "a\u2028"},
			want:    map[string]Outcome{RuleName: Fail},
			details: map[string]string{RuleName: `name "agent-a\u2028" has a character that is not printable at position 8: '\u2028' (U+2028)`},
		},
		{
			name: "name with invalid UTF-8",
			p:    design, req: CreateRequest{Tag: "proj-a", Name: "a\xffb"},
			want:    map[string]Outcome{RuleName: Fail},
			details: map[string]string{RuleName: `name "agent-a\xffb" is not valid UTF-8 (byte 0xff at position 8)`},
		},
		{
			name: "everything wrong at once",
			p:    design, req: CreateRequest{Tag: "", FullAccessArgs: []string{"permission"}, ExpiresInDays: ip(0), RateLimitMax: ip(-1), RateLimitWindowMs: ip(1 << 40), Name: "\x00"},
			want: with(skipTag, map[string]Outcome{RuleScopedOnly: Fail, RuleTagCount: Fail, RuleTagSyntax: Fail, RuleExpiry: Fail, RuleRateLimit: Fail, RuleRateWindow: Fail, RuleName: Fail}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Now = now
			d := tt.p.EvaluateCreate(tt.req)
			if d.Action != ActionCreate {
				t.Errorf("Action = %q", d.Action)
			}
			checkDecision(t, d, createOrder, tt.want, tt.details)
			if tt.eff != nil && !sameEffective(d.Effective, *tt.eff) {
				t.Errorf("Effective\n got %+v\nwant %+v", d.Effective, *tt.eff)
			}
			if d.Effective.Tag != tt.req.Tag {
				t.Errorf("Effective.Tag = %q, want the exact input %q", d.Effective.Tag, tt.req.Tag)
			}
		})
	}
}

func TestDefaultName(t *testing.T) {
	longPrefix := strings.Repeat("ä", MaxNamePrefixLength)
	tests := []struct {
		prefix string
		tag    string
		now    time.Time
		want   string
	}{
		{"agent-", "proj-a", now, "agent-proj-a-20260308"},
		{"", "proj-a", now, "proj-a-20260308"},
		{"agent-", "proj-a", time.Date(2026, 12, 31, 23, 30, 0, 0, time.FixedZone("x", -5*3600)), "agent-proj-a-20270101"},
		{"agent-", "proj-a", time.Time{}, "agent-proj-a-00010101"},
		{"agent-", "t", time.Date(12345, 6, 7, 0, 0, 0, 0, time.UTC), "agent-t-123450607"},
		{"agent-", strings.Repeat("t", 100), now, "agent-" + strings.Repeat("t", 85) + "-20260308"},
		{longPrefix, strings.Repeat("t", 100), now, longPrefix + strings.Repeat("t", 41) + "-20260308"},
	}
	for _, tt := range tests {
		p, err := newPolicy("x", sections(TagRules{Allow: []string{"*"}, AllowNew: true}, KeyRules{NamePrefix: tt.prefix, DefaultExpiryDays: 1, MaxExpiryDays: 1, MaxRateLimit: 1, MaxRateWindowMs: 1}, defaultRevoke()))
		if err != nil {
			t.Fatal(err)
		}
		d := p.EvaluateCreate(CreateRequest{Tag: tt.tag, Now: tt.now})
		if d.Effective.Name != tt.want {
			t.Errorf("default name for (%q, %q, %v)\n got %q\nwant %q", tt.prefix, tt.tag, tt.now, d.Effective.Name, tt.want)
		}
		if !d.Allowed {
			t.Errorf("default name %q refused: %s", d.Effective.Name, d.Reason())
		}
	}
}

func TestEvaluateRevoke(t *testing.T) {
	design := designPolicy(t)
	fa := "mcp-keys never revokes Full Access keys"
	scoped := func(name string, tags ...string) *RevokeTarget {
		return &RevokeTarget{ID: "k1", Name: name, Scoped: true, Tags: tags, Enabled: true, Minted: Yes}
	}
	minted := func(m Tristate) *RevokeTarget {
		t := scoped("agent-ci", "proj-a")
		t.Minted = m
		return t
	}
	skipRest := map[string]Outcome{RuleTargetScoped: Skip, RuleTargetTags: Skip, RuleTargetPrefix: Skip, RuleTargetMinted: Skip}
	notMinted := `key "k1" was not minted through mcp-keys according to the audit log (revoke.only_minted); a person can revoke it in the Supermemory console`
	unchecked := `whether key "k1" was minted through mcp-keys could not be checked: the audit log is unavailable (revoke.only_minted)`
	tests := []struct {
		name    string
		p       *Policy
		req     RevokeRequest
		want    map[string]Outcome
		details map[string]string
	}{
		{
			name: "allowed",
			p:    design, req: RevokeRequest{ID: "k1", Target: scoped("agent-ci", "proj-search")},
			details: map[string]string{
				RuleRevokeEnabled: "revoke is enabled",
				RuleTargetFound:   "found in a fresh listing",
				RuleTargetScoped:  "a scoped key",
				RuleTargetTags:    `allowed by pattern "proj-*"`,
				RuleTargetPrefix:  `name starts with name_prefix "agent-"`,
				RuleTargetMinted:  "minted through mcp-keys (audit log)",
			},
		},
		{
			name: "already disabled is still allowed",
			p:    design, req: RevokeRequest{ID: "k1", Target: &RevokeTarget{ID: "k1", Name: "agent-x", Scoped: true, Tags: []string{"user_a"}, Minted: Yes}},
		},
		{
			name: "several tags all allowed",
			p:    design, req: RevokeRequest{ID: "k1", Target: scoped("agent-ci", "proj-search", "team:search")},
			details: map[string]string{RuleTargetTags: "every tag is allowed"},
		},
		{
			name: "revoke disabled",
			p:    mustParse(t, "tags: {allow: ['*']}\nrevoke: {enabled: false}\n"), req: RevokeRequest{ID: "k1", Target: scoped("agent-ci", "a")},
			want:    map[string]Outcome{RuleRevokeEnabled: Fail},
			details: map[string]string{RuleRevokeEnabled: "revoke is disabled by the policy (revoke.enabled: false)"},
		},
		{
			name: "not found",
			p:    design, req: RevokeRequest{ID: "k9"},
			want:    map[string]Outcome{RuleTargetFound: Fail, RuleTargetScoped: Skip, RuleTargetTags: Skip, RuleTargetPrefix: Skip, RuleTargetMinted: Skip},
			details: map[string]string{RuleTargetFound: `no key with id "k9" in a fresh listing`, RuleTargetMinted: "no target"},
		},
		{
			name: "listing gave another key",
			p:    design, req: RevokeRequest{ID: "k9", Target: scoped("agent-ci", "proj-a")},
			want:    map[string]Outcome{RuleTargetFound: Fail, RuleTargetScoped: Skip, RuleTargetTags: Skip, RuleTargetPrefix: Skip, RuleTargetMinted: Skip},
			details: map[string]string{RuleTargetFound: `the listing gave key "k1" for id "k9"`},
		},
		{
			name: "full access key",
			p:    design, req: RevokeRequest{ID: "k1", Target: &RevokeTarget{ID: "k1", Name: "operator", Enabled: true, Minted: No}},
			want:    map[string]Outcome{RuleTargetScoped: Fail, RuleTargetTags: Skip, RuleTargetPrefix: Fail, RuleTargetMinted: Fail},
			details: map[string]string{RuleTargetScoped: `key "k1" ("operator") is a Full Access key; ` + fa, RuleTargetTags: "not a scoped key"},
		},
		{
			name: "full access key that looks like ours, under an allow-all policy",
			p:    mustParse(t, "tags: {allow: ['*']}\nrevoke: {only_prefixed: false}\n"),
			req:  RevokeRequest{ID: "k1", Target: &RevokeTarget{ID: "k1", Name: "agent-x", Tags: []string{"proj-a"}, Enabled: true, Minted: Yes}},
			want: map[string]Outcome{RuleTargetScoped: Fail, RuleTargetTags: Skip, RuleTargetPrefix: Skip},
		},
		{
			name: "scoped key without tags",
			p:    design, req: RevokeRequest{ID: "k1", Target: scoped("agent-ci")},
			want:    map[string]Outcome{RuleTargetTags: Fail},
			details: map[string]string{RuleTargetTags: `key "k1" has no tags; only keys whose every tag is allowed can be revoked`},
		},
		{
			name: "denied tag",
			p:    design, req: RevokeRequest{ID: "k1", Target: scoped("agent-ci", "proj-search", "PROJ-prod-eu")},
			want:    map[string]Outcome{RuleTargetTags: Fail},
			details: map[string]string{RuleTargetTags: `key "k1": tag "PROJ-prod-eu" is denied by pattern "proj-prod*" (deny patterns ignore case)`},
		},
		{
			name: "several refused tags",
			p:    design, req: RevokeRequest{ID: "k1", Target: scoped("agent-ci", "other", "a b")},
			want:    map[string]Outcome{RuleTargetTags: Fail},
			details: map[string]string{RuleTargetTags: `key "k1": tag "other" matches no allow pattern (allowed: "proj-*", "user_*", "team:search") (and 1 more tags refused)`},
		},
		{
			name: "invalid tag",
			p:    design, req: RevokeRequest{ID: "k1", Target: scoped("agent-ci", "proj-a\u200b")},
			want:    map[string]Outcome{RuleTargetTags: Fail},
			details: map[string]string{RuleTargetTags: `key "k1": tag "proj-a\u200b" has a character that is not allowed at position 7: '\u200b' (U+200B); ` + notAllowed},
		},
		{
			name: "not made through mcp-keys",
			p:    design, req: RevokeRequest{ID: "k1", Target: scoped("Agent-ci", "proj-a")},
			want:    map[string]Outcome{RuleTargetPrefix: Fail},
			details: map[string]string{RuleTargetPrefix: `name "Agent-ci" does not start with name_prefix "agent-" (revoke.only_prefixed: only keys made through mcp-keys)`},
		},
		{
			name: "only_prefixed false",
			p:    mustParse(t, "tags: {allow: ['*']}\nrevoke: {only_prefixed: false}\n"), req: RevokeRequest{ID: "k1", Target: scoped("manual", "a")},
			want:    map[string]Outcome{RuleTargetPrefix: Skip},
			details: map[string]string{RuleTargetPrefix: "revoke.only_prefixed is false"},
		},
		{
			name: "not minted through mcp-keys",
			p:    design, req: RevokeRequest{ID: "k1", Target: minted(No)},
			want:    map[string]Outcome{RuleTargetMinted: Fail},
			details: map[string]string{RuleTargetMinted: notMinted},
		},
		{
			name: "prefix alone proves nothing",
			p:    design, req: RevokeRequest{ID: "k1", Target: &RevokeTarget{ID: "k1", Name: "agent-typed-in-console", Scoped: true, Tags: []string{"proj-a"}, Enabled: true, Minted: No}},
			want:    map[string]Outcome{RuleTargetMinted: Fail},
			details: map[string]string{RuleTargetPrefix: `name starts with name_prefix "agent-"`, RuleTargetMinted: notMinted},
		},
		{
			name: "audit log unavailable",
			p:    design, req: RevokeRequest{ID: "k1", Target: minted(Unknown)},
			want:    map[string]Outcome{RuleTargetMinted: Fail},
			details: map[string]string{RuleTargetMinted: unchecked},
		},
		{
			name: "out-of-range tristate fails closed",
			p:    design, req: RevokeRequest{ID: "k1", Target: minted(Tristate(7))},
			want:    map[string]Outcome{RuleTargetMinted: Fail},
			details: map[string]string{RuleTargetMinted: unchecked},
		},
		{
			name: "only_minted false",
			p:    mustParse(t, "tags: {allow: ['*']}\nrevoke: {only_minted: false}\n"), req: RevokeRequest{ID: "k1", Target: minted(No)},
			want:    map[string]Outcome{RuleTargetMinted: Skip},
			details: map[string]string{RuleTargetMinted: "revoke.only_minted is false"},
		},
		{
			name: "only_minted false, audit log unavailable",
			p:    mustParse(t, "tags: {allow: ['*']}\nrevoke: {only_minted: false}\naudit: {required: false}\n"), req: RevokeRequest{ID: "k1", Target: minted(Unknown)},
			want: map[string]Outcome{RuleTargetMinted: Skip},
		},
		{
			name: "long id quoted short",
			p:    design, req: RevokeRequest{ID: strings.Repeat("k", 200), Target: &RevokeTarget{ID: strings.Repeat("k", 200), Name: "agent-x", Scoped: true, Tags: []string{"proj-a"}}},
			want:    map[string]Outcome{RuleTargetMinted: Fail},
			details: map[string]string{RuleTargetMinted: `whether key "` + strings.Repeat("k", 80) + `"…(+120 chars) was minted through mcp-keys could not be checked: the audit log is unavailable (revoke.only_minted)`},
		},
		{
			name: "no policy",
			p:    Default(), req: RevokeRequest{ID: "k1", Target: scoped("agent-ci", "proj-a")},
			want:    map[string]Outcome{RuleTargetTags: Fail},
			details: map[string]string{RuleTargetTags: `key "k1": no tags are allowed: set MCP_KEYS_POLICY or MCP_KEYS_ALLOWED_TAGS`},
		},
		{
			name: "not found and disabled",
			p:    mustParse(t, "revoke: {enabled: false}\n"), req: RevokeRequest{ID: "x"},
			want: func() map[string]Outcome {
				m := map[string]Outcome{RuleRevokeEnabled: Fail, RuleTargetFound: Fail}
				for k, v := range skipRest {
					m[k] = v
				}
				return m
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.p.EvaluateRevoke(tt.req)
			if d.Action != ActionRevoke {
				t.Errorf("Action = %q", d.Action)
			}
			checkDecision(t, d, revokeOrder, tt.want, tt.details)
			if !reflect.DeepEqual(d.Effective, Effective{}) {
				t.Errorf("Effective = %+v, want zero", d.Effective)
			}
		})
	}
}

func TestCheckTag(t *testing.T) {
	design := designPolicy(t)
	tests := []struct {
		p      *Policy
		tag    string
		ok     bool
		reason string
	}{
		{design, "proj-search", true, `allowed by pattern "proj-*"`},
		{design, "team:search", true, `allowed by pattern "team:search"`},
		{design, "proj-prod-eu", false, `tag "proj-prod-eu" is denied by pattern "proj-prod*" (deny patterns ignore case)`},
		{design, "demo-project", false, `tag "demo-project" matches no allow pattern (allowed: "proj-*", "user_*", "team:search")`},
		{design, "a b", false, `tag "a b" has a character that is not allowed at position 2: ' ' (U+0020); ` + notAllowed},
		{design, "*", false, `tag "*" has a character that is not allowed at position 1: '*' (U+002A); ` + notAllowed},
		{Default(), "proj-search", false, "no tags are allowed: set MCP_KEYS_POLICY or MCP_KEYS_ALLOWED_TAGS"},
	}
	for _, tt := range tests {
		ok, reason := tt.p.CheckTag(tt.tag)
		if ok != tt.ok || reason != tt.reason {
			t.Errorf("CheckTag(%q) = %v, %q; want %v, %q", tt.tag, ok, reason, tt.ok, tt.reason)
		}
	}
}

func TestDecisionReasonAndFailed(t *testing.T) {
	p := designPolicy(t)
	ok := p.EvaluateCreate(CreateRequest{Tag: "proj-a", Now: now})
	if got := ok.Reason(); got != "allowed" {
		t.Errorf("Reason() = %q, want allowed", got)
	}
	if f := ok.Failed(); len(f) != 0 {
		t.Errorf("Failed() = %+v, want none", f)
	}
	bad := p.EvaluateCreate(CreateRequest{Tag: "proj-prod", ExpiresInDays: ip(400), Now: now})
	want := `tag "proj-prod" is denied by pattern "proj-prod*" (deny patterns ignore case); expires_in_days 400 is over max_expiry_days 90`
	if got := bad.Reason(); got != want {
		t.Errorf("Reason()\n got %s\nwant %s", got, want)
	}
	f := bad.Failed()
	if len(f) != 2 || f[0].Rule != RuleTagDeny || f[1].Rule != RuleExpiry {
		t.Errorf("Failed() = %+v", f)
	}
	if got := (Decision{}).Reason(); got != "denied" {
		t.Errorf("zero Decision Reason() = %q, want denied", got)
	}
}

// TestDoneWhen walks the acceptance list of the issue through the API that
// the CLI uses.
func TestDoneWhen(t *testing.T) {
	p := designPolicy(t) // the design.md example passes
	d := p.EvaluateCreate(CreateRequest{Tag: "proj-prod-eu", Now: now})
	if d.Allowed || !strings.Contains(d.Reason(), `"proj-prod*"`) {
		t.Errorf("proj-prod-eu: allowed=%v reason=%s", d.Allowed, d.Reason())
	}
	d = p.EvaluateCreate(CreateRequest{Tag: "proj-search", ExpiresInDays: ip(30), Now: now})
	if !d.Allowed || d.Effective.ExpiresInDays != 30 {
		t.Errorf("proj-search 30 days: allowed=%v reason=%s", d.Allowed, d.Reason())
	}
	d = p.EvaluateCreate(CreateRequest{Tag: "proj-search", ExpiresInDays: ip(400), Now: now})
	if d.Allowed || !strings.Contains(d.Reason(), "max_expiry_days") {
		t.Errorf("400 days: allowed=%v reason=%s", d.Allowed, d.Reason())
	}
	d = p.EvaluateCreate(CreateRequest{Tag: "*", Now: now})
	if d.Allowed || !strings.Contains(d.Reason(), "Full Access keys are never granted") {
		t.Errorf("tag *: allowed=%v reason=%s", d.Allowed, d.Reason())
	}
}

func TestNilAndZeroPolicy(t *testing.T) {
	for name, p := range map[string]*Policy{"nil": nil, "zero": {}, "hand-built": {Tags: TagRules{Allow: []string{"*"}}, Keys: defaultKeys()}} {
		d := p.EvaluateCreate(CreateRequest{Tag: "proj-a", Now: now})
		if d.Allowed {
			t.Errorf("%s policy allowed a create", name)
		}
		r := p.EvaluateRevoke(RevokeRequest{ID: "k", Target: &RevokeTarget{ID: "k", Name: "agent-k", Scoped: true, Tags: []string{"proj-a"}}})
		if r.Allowed {
			t.Errorf("%s policy allowed a revoke", name)
		}
		if !p.DeniesAllWrites() || p.Summary() != noPolicyText {
			t.Errorf("%s policy: DeniesAllWrites=%v Summary=%q", name, p.DeniesAllWrites(), p.Summary())
		}
	}
}

// TestExportedFieldsDoNotWiden checks that evaluation uses what was
// validated, not the exported fields a caller might change.
func TestExportedFieldsDoNotWiden(t *testing.T) {
	p := designPolicy(t)
	p.Tags.Allow[0] = "*"
	p.Tags.Deny = nil
	p.Keys.MaxExpiryDays = 10000
	p.Keys.NamePrefix = ""
	p.Revoke.OnlyPrefixed = false
	p.Revoke.OnlyMinted = false
	for _, req := range []CreateRequest{
		{Tag: "other", Now: now},
		{Tag: "proj-prod", Now: now},
		{Tag: "proj-a", ExpiresInDays: ip(366), Now: now},
	} {
		if d := p.EvaluateCreate(req); d.Allowed {
			t.Errorf("%+v allowed after changing exported fields", req)
		}
	}
	if d := p.EvaluateCreate(CreateRequest{Tag: "proj-a", Name: "x", Now: now}); d.Effective.Name != "agent-x" {
		t.Errorf("name = %q, want agent-x", d.Effective.Name)
	}
	if d := p.EvaluateRevoke(RevokeRequest{ID: "k", Target: &RevokeTarget{ID: "k", Name: "x", Scoped: true, Tags: []string{"proj-a"}, Minted: Yes}}); d.Allowed {
		t.Error("revoke of an unprefixed key allowed after changing exported fields")
	}
	if d := p.EvaluateRevoke(RevokeRequest{ID: "k", Target: &RevokeTarget{ID: "k", Name: "agent-x", Scoped: true, Tags: []string{"proj-a"}, Minted: No}}); d.Allowed {
		t.Error("revoke of a key not minted through mcp-keys allowed after changing exported fields")
	}
	q := mustParse(t, "tags: {allow: ['*']}\nquota: {max_keys_per_hour: 1}\n")
	q.Quota = QuotaRules{}
	if d := q.EvaluateCreate(CreateRequest{Tag: "a", Now: now, Recent: CreateCounts{LastHour: 1, Known: true}}); d.Allowed {
		t.Error("create over the quota allowed after changing exported fields")
	}
}

func TestEvaluateConcurrent(t *testing.T) {
	p := designPolicy(t)
	reqs := []CreateRequest{
		{Tag: "proj-a", Now: now},
		{Tag: "proj-prod-eu", Now: now},
		{Tag: "user_x", Name: "n", ExpiresInDays: ip(5), Now: now},
		{Tag: "*", Now: now},
	}
	want := make([]Decision, len(reqs))
	for i, r := range reqs {
		want[i] = p.EvaluateCreate(r)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for range 8 {
		wg.Go(func() {
			for range 200 {
				for i, r := range reqs {
					if got := p.EvaluateCreate(r); !reflect.DeepEqual(got, want[i]) {
						select {
						case errs <- r.Tag:
						default:
						}
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for tag := range errs {
		t.Errorf("concurrent evaluation of %q differs", tag)
	}
}

func TestEvaluateQuota(t *testing.T) {
	hour := mustParse(t, "tags: {allow: ['proj-*']}\nquota: {max_keys_per_hour: 10}\n")
	day := mustParse(t, "tags: {allow: ['proj-*']}\nquota: {max_keys_per_day: 50}\n")
	both := mustParse(t, "tags: {allow: ['proj-*']}\nquota:\n  max_keys_per_hour: 10\n  max_keys_per_day: 50\n")
	one := mustParse(t, "tags: {allow: ['proj-*']}\nquota: {max_keys_per_hour: 1, max_keys_per_day: 1}\n")
	hourFree := time.Date(2026, 11, 25, 22, 14, 3, 0, time.UTC)
	dayFree := time.Date(2026, 11, 26, 8, 0, 0, 250e6, time.FixedZone("CET", 3600))
	counts := func(h, d int) CreateCounts {
		return CreateCounts{LastHour: h, LastDay: d, HourFreesAt: hourFree, DayFreesAt: dayFree, Known: true}
	}
	tests := []struct {
		name   string
		p      *Policy
		recent CreateCounts
		want   Outcome
		detail string
	}{
		{"no quota, log unavailable", designPolicy(t), CreateCounts{}, Pass, "no quota"},
		{"no quota, huge counts", designPolicy(t), counts(1<<40, 1<<40), Pass, "no quota"},
		{"log unavailable", hour, CreateCounts{LastHour: 0, HourFreesAt: hourFree}, Fail, "quota not checked: the audit log is unavailable"},
		{"log unavailable, day", day, CreateCounts{}, Fail, "quota not checked: the audit log is unavailable"},
		{"negative count", both, counts(-1, 3), Fail, "quota not checked: the audit log gave negative counts (-1 in the last hour, 3 in the last 24 hours)"},
		{"hour within", hour, counts(3, 1000), Pass, "3 of 10 this hour"},
		{"hour one below", hour, counts(9, 9), Pass, "9 of 10 this hour"},
		{"hour reached", hour, counts(10, 10), Fail, "quota.max_keys_per_hour 10 reached: 10 keys minted in the last hour; frees up at 2026-11-25T22:14:03Z"},
		{"hour over", hour, counts(12, 12), Fail, "quota.max_keys_per_hour 10 reached: 12 keys minted in the last hour; frees up at 2026-11-25T22:14:03Z"},
		{"hour reached, time unknown", hour, CreateCounts{LastHour: 10, Known: true}, Fail, "quota.max_keys_per_hour 10 reached: 10 keys minted in the last hour; frees up when the oldest of them is an hour old"},
		{"day within", day, counts(40, 49), Pass, "49 of 50 today"},
		{"day reached", day, counts(0, 50), Fail, "quota.max_keys_per_day 50 reached: 50 keys minted in the last 24 hours; frees up at 2026-11-26T07:00:01Z"},
		{"day reached, time unknown", day, CreateCounts{LastDay: 50, Known: true}, Fail, "quota.max_keys_per_day 50 reached: 50 keys minted in the last 24 hours; frees up when the oldest of them is 24 hours old"},
		{"both within", both, counts(3, 7), Pass, "3 of 10 this hour, 7 of 50 today"},
		{"both empty", both, counts(0, 0), Pass, "0 of 10 this hour, 0 of 50 today"},
		{"both, hour reached", both, counts(10, 20), Fail, "quota.max_keys_per_hour 10 reached: 10 keys minted in the last hour; frees up at 2026-11-25T22:14:03Z"},
		{"both, day reached", both, counts(2, 50), Fail, "quota.max_keys_per_day 50 reached: 50 keys minted in the last 24 hours; frees up at 2026-11-26T07:00:01Z"},
		{"both reached", both, counts(10, 50), Fail, "quota.max_keys_per_hour 10 reached: 10 keys minted in the last hour; frees up at 2026-11-25T22:14:03Z; " +
			"quota.max_keys_per_day 50 reached: 50 keys minted in the last 24 hours; frees up at 2026-11-26T07:00:01Z"},
		{"one key", one, counts(1, 1), Fail, "quota.max_keys_per_hour 1 reached: 1 key minted in the last hour; frees up at 2026-11-25T22:14:03Z; " +
			"quota.max_keys_per_day 1 reached: 1 key minted in the last 24 hours; frees up at 2026-11-26T07:00:01Z"},
		{"at the ceilings", mustParse(t, "tags: {allow: ['proj-*']}\nquota: {max_keys_per_hour: 10000, max_keys_per_day: 100000}\n"), counts(9999, 99999), Pass, "9999 of 10000 this hour, 99999 of 100000 today"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.p.EvaluateCreate(CreateRequest{Tag: "proj-a", Now: now, Recent: tt.recent})
			checkDecision(t, d, createOrder, map[string]Outcome{RuleQuota: tt.want}, map[string]string{RuleQuota: tt.detail})
			if d.Effective.Name != "agent-proj-a-20260308" {
				t.Errorf("Effective.Name = %q", d.Effective.Name)
			}
		})
	}
	// A quota that passes does not hide another failure.
	d := both.EvaluateCreate(CreateRequest{Tag: "proj-a", ExpiresInDays: ip(400), Now: now, Recent: counts(0, 0)})
	if d.Allowed || d.Reason() != "expires_in_days 400 is over max_expiry_days 90" {
		t.Errorf("allowed=%v reason=%s", d.Allowed, d.Reason())
	}
	// A quota is checked even when another rule fails, so both are reported.
	d = both.EvaluateCreate(CreateRequest{Tag: "other", Now: now, Recent: counts(10, 10)})
	if f := d.Failed(); len(f) != 2 || f[0].Rule != RuleTagAllow || f[1].Rule != RuleQuota {
		t.Errorf("Failed() = %+v", f)
	}
}

// TestEvaluateAllocs holds the allocation budget of an allowed create: at
// most 2 without a quota (the rules and the default name), one more for the
// quota's pass detail.
func TestEvaluateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	design := designPolicy(t)
	quota := mustParse(t, "tags: {allow: ['proj-*']}\nquota: {max_keys_per_hour: 10, max_keys_per_day: 50}\n")
	recent := CreateCounts{LastHour: 3, LastDay: 7, Known: true}
	for _, tt := range []struct {
		name string
		p    *Policy
		req  CreateRequest
		max  float64
	}{
		{"no name", design, CreateRequest{Tag: "proj-a", Now: now}, 2},
		{"prefixed name", design, CreateRequest{Tag: "proj-a", Name: "agent-x", Now: now}, 1},
		{"no name, quota", quota, CreateRequest{Tag: "proj-a", Now: now, Recent: recent}, 3},
		{"prefixed name, quota", quota, CreateRequest{Tag: "proj-a", Name: "agent-x", Now: now, Recent: recent}, 2},
	} {
		if d := tt.p.EvaluateCreate(tt.req); !d.Allowed {
			t.Fatalf("%s: refused: %s", tt.name, d.Reason())
		}
		if n := testing.AllocsPerRun(100, func() { _ = tt.p.EvaluateCreate(tt.req) }); n > tt.max {
			t.Errorf("%s: %v allocations, budget %v", tt.name, n, tt.max)
		}
	}
	req := RevokeRequest{ID: "k", Target: &RevokeTarget{ID: "k", Name: "agent-x", Scoped: true, Tags: []string{"proj-a"}, Minted: Yes}}
	if n := testing.AllocsPerRun(100, func() { _ = design.EvaluateRevoke(req) }); n > 1 {
		t.Errorf("revoke: %v allocations, budget 1", n)
	}
}

func TestLooksLikeKey(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"sm_org1_abcdefghijklmnop", true},
		{"agent-sm_org_sandbox_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", true},
		{"x sm_a-b_0123456789abcdef y", true},
		{"sm_org1_abcdefghijklmno", false}, // 15 characters
		{"sm__abcdefghijklmnop", false},    // no org
		{"sm_org1-abcdefghijklmnop", false},
		{"agent-proj-search-20261125", false},
		{"sm_", false},
		{"sm_x_sm_org_0123456789abcdefXYZ", true},
	}
	for _, tc := range tests {
		if got := looksLikeKey(tc.in); got != tc.want {
			t.Errorf("looksLikeKey(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
