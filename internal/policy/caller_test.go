package policy

import (
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
)

func callersPolicy(t testing.TB) *Policy {
	t.Helper()
	data, err := os.ReadFile("testdata/callers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := Parse("callers.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	searcher = CallerIdentity{Sub: "u-1", Email: "sam@example.com", Groups: []string{"eng", "search-team"}}
	ciBot    = CallerIdentity{Token: "ci-bot"}
	lead     = CallerIdentity{Sub: "u-2", Email: "lead@example.com", Groups: []string{"leads"}}
	stranger = CallerIdentity{Sub: "u-9", Email: "x@example.com", Groups: []string{"guests"}}
)

func TestForCallerMatch(t *testing.T) {
	p := callersPolicy(t)
	tests := []struct {
		name    string
		id      CallerIdentity
		matched bool
		index   int
		rule    string
	}{
		{"group", searcher, true, 0, `callers[0] (match: {group: "search-team"})`},
		{"token", ciBot, true, 1, `callers[1] (match: {token: "ci-bot"})`},
		{"first rule wins", CallerIdentity{Token: "ci-bot", Groups: []string{"search-team"}}, true, 0, ""},
		{"all conditions hold", lead, true, 2, `callers[2] (match: {email: "lead@example.com", group: "leads"})`},
		{"one condition of two", CallerIdentity{Email: "lead@example.com"}, false, -1, "no callers rule"},
		{"group case", CallerIdentity{Groups: []string{"Search-Team"}}, false, -1, ""},
		{"token with a space", CallerIdentity{Token: "ci-bot "}, false, -1, ""},
		{"empty identity", CallerIdentity{}, false, -1, ""},
		{"stranger", stranger, false, -1, "no callers rule"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, m := p.ForCaller(tt.id)
			if m.Matched != tt.matched || m.Index != tt.index || tt.rule != "" && m.Rule != tt.rule {
				t.Errorf("ForCaller = %+v, want matched %v index %d rule %q", m, tt.matched, tt.index, tt.rule)
			}
			if q2, m2 := q.ForCaller(CallerIdentity{Token: "anyone"}); q2 != q || m2 != m {
				t.Errorf("ForCaller on a caller's policy changed it: %+v", m2)
			}
			if q.Callers != nil {
				t.Errorf("a caller's policy shows the callers section: %+v", q.Callers)
			}
		})
	}
	a, _ := p.ForCaller(searcher)
	b, _ := p.ForCaller(CallerIdentity{Groups: []string{"search-team"}})
	if a != b {
		t.Error("the policy of a rule is built more than once")
	}
	// No callers section: every caller gets the top level, scope own.
	d, m := designPolicy(t).ForCaller(stranger)
	if !m.Matched || m.Index != -1 || m.Rule != "no callers section" || d.Revoke.Scope != ScopeOwn {
		t.Errorf("no callers section: %+v, scope %q", m, d.Revoke.Scope)
	}
	// any: true matches everyone, even with no identity.
	anyone := mustParse(t, "tags: {allow: ['*']}\ncallers:\n  - match: {sub: a}\n  - match: {any: true}\n")
	if _, m := anyone.ForCaller(CallerIdentity{}); !m.Matched || m.Index != 1 {
		t.Errorf("any: true: %+v", m)
	}
	// A nil policy denies everything for every caller.
	var nilPolicy *Policy
	n, _ := nilPolicy.ForCaller(searcher)
	if n.EvaluateCreate(CreateRequest{Tag: "proj-a", Now: now}).Allowed || !n.DeniesAllWrites() || n.Summary() != noPolicyText {
		t.Error("nil policy allows a caller something")
	}
}

// TestCallerLimits checks that a caller's policy takes the stricter of
// every limit, and both sets of patterns.
func TestCallerLimits(t *testing.T) {
	p := callersPolicy(t)
	s, _ := p.ForCaller(searcher)
	if want := (KeyRules{NamePrefix: "agent-", DefaultExpiryDays: 7, MaxExpiryDays: 7, MaxRateLimit: 1000, MaxRateWindowMs: 3600000}); s.Keys != want {
		t.Errorf("Keys = %+v, want %+v", s.Keys, want)
	}
	if want := (AccessRules{MaxTags: 3, DefaultPermission: PermissionRead, MaxLeaseMinutes: 240}); s.Access != want {
		t.Errorf("Access = %+v, want %+v", s.Access, want)
	}
	if s.Quota != (QuotaRules{MaxKeysPerHour: 100}) || s.CallerQuota != (QuotaRules{MaxKeysPerHour: 3, MaxKeysPerDay: 10}) || s.Revoke.Scope != ScopeOwn {
		t.Errorf("Quota %+v, CallerQuota %+v, Scope %q", s.Quota, s.CallerQuota, s.Revoke.Scope)
	}
	if !reflect.DeepEqual(s.Tags.Allow, []string{"proj-search*", "user_*", "other-*"}) ||
		!reflect.DeepEqual(s.Tags.Deny, []string{"proj-prod*", "user_admin*"}) ||
		!reflect.DeepEqual(s.Tags.ReadOnly, []string{"team:*", "user_ro*"}) {
		t.Errorf("Tags = %+v", s.Tags)
	}
	c, _ := p.ForCaller(ciBot)
	if c.Keys.MaxRateLimit != 50 || !c.Access.RequireLease || c.Access.MaxLeaseMinutes != 600 || c.Access.DefaultPermission != PermissionWrite || c.CallerQuota != (QuotaRules{}) {
		t.Errorf("ci-bot: Keys %+v, Access %+v, CallerQuota %+v", c.Keys, c.Access, c.CallerQuota)
	}
	l, _ := p.ForCaller(lead)
	if l.Keys != p.Keys || l.Access != p.Access || l.Revoke.Scope != ScopeTeam || !reflect.DeepEqual(l.Tags.Allow, p.Tags.Allow) {
		t.Errorf("lead: Keys %+v, Access %+v, Scope %q, Allow %q", l.Keys, l.Access, l.Revoke.Scope, l.Tags.Allow)
	}
	// A rule that is looser than the top level changes nothing, and the
	// refusals name the top-level setting.
	loose := mustParse(t, `
tags: {allow: ['*']}
keys: {max_expiry_days: 30, max_tags: 2, default_permission: read, require_lease: true, max_lease_minutes: 60}
callers:
  - match: {any: true}
    keys: {max_expiry_days: 365, max_tags: 50, default_permission: write, require_lease: false, max_lease_minutes: 1440, max_rate_limit: 10000, max_rate_window_ms: 3600000}
`)
	q, _ := loose.ForCaller(CallerIdentity{})
	if q.Keys != loose.Keys || q.Access != loose.Access {
		t.Errorf("a looser rule changed the limits: %+v %+v", q.Keys, q.Access)
	}
	d := q.EvaluateCreate(CreateRequest{Tags: []string{"a", "b", "c"}, TagsSet: true, ExpiresInDays: ip(31), Now: now})
	for rule, want := range map[string]string{
		RuleTagCount:    "3 tags is over max_tags 2",
		RuleExpiry:      "expires_in_days 31 is over max_expiry_days 30",
		RulePermission:  "not given: default_permission read",
		RuleTagReadOnly: "no read_only patterns",
	} {
		if got := detail(d, rule); got != want {
			t.Errorf("%s = %q, want %q", rule, got, want)
		}
	}
	if got := detail(q.EvaluateCreate(CreateRequest{Tag: "a", Now: now}), RuleLease); got != "keys.require_lease is true: every key must be leased; give lease_minutes 1..60" {
		t.Errorf("lease = %q", got)
	}
}

// detail returns the detail of a rule of d.
func detail(d Decision, rule string) string {
	for _, r := range d.Rules {
		if r.Rule == rule {
			return r.Detail
		}
	}
	return ""
}

func TestCallerCreate(t *testing.T) {
	p := callersPolicy(t)
	known := CreateCounts{Known: true}
	tests := []struct {
		name    string
		id      CallerIdentity
		req     CreateRequest
		want    map[string]Outcome
		details map[string]string
	}{
		{
			name: "allowed",
			id:   searcher, req: CreateRequest{Tag: "proj-search-a", CallerRecent: CreateCounts{LastHour: 2, LastDay: 9, Known: true}},
			details: map[string]string{
				RuleCaller:      `callers[0] applies (match: {group: "search-team"})`,
				RuleTagAllow:    `allowed by pattern "proj-*" and by pattern "proj-search*" (callers[0].tags.allow)`,
				RulePermission:  "not given: callers[0].keys.default_permission read",
				RuleExpiry:      "not given: default_expiry_days 7 (callers[0].keys.max_expiry_days 7)",
				RuleQuotaCaller: "2 of 3 this hour, 9 of 10 today",
				RuleQuota:       "0 of 100 this hour",
			},
		},
		{
			name: "outside the rule's tags",
			id:   searcher, req: CreateRequest{Tag: "proj-a", CallerRecent: known},
			want:    map[string]Outcome{RuleTagAllow: Fail},
			details: map[string]string{RuleTagAllow: `tag "proj-a" is outside this caller's tags (callers[0].tags.allow: "proj-search*", "user_*", "other-*")`},
		},
		{
			name: "allowed by the rule, not by the top level",
			id:   searcher, req: CreateRequest{Tag: "other-x", CallerRecent: known},
			want:    map[string]Outcome{RuleTagAllow: Fail},
			details: map[string]string{RuleTagAllow: `tag "other-x" matches no allow pattern of the top-level policy (callers[0] allows it, but a tag must pass both)`},
		},
		{
			name: "denied by the rule",
			id:   searcher, req: CreateRequest{Tag: "USER_admin-1", CallerRecent: known},
			want:    map[string]Outcome{RuleTagDeny: Fail, RuleTagAllow: Fail},
			details: map[string]string{RuleTagDeny: `tag "USER_admin-1" is denied by pattern "user_admin*" (callers[0].tags.deny; deny patterns ignore case)`},
		},
		{
			name: "several tags, each checked against both",
			id:   searcher, req: CreateRequest{Tags: []string{"proj-search-a", "proj-b", "other-c"}, TagsSet: true, CallerRecent: known},
			want: map[string]Outcome{RuleTagAllow: Fail},
			details: map[string]string{RuleTagAllow: `tag "proj-b" is outside this caller's tags (callers[0].tags.allow: "proj-search*", "user_*", "other-*"); ` +
				`tag "other-c" matches no allow pattern of the top-level policy (callers[0] allows it, but a tag must pass both)`},
		},
		{
			name: "read-only tag of the rule",
			id:   searcher, req: CreateRequest{Tag: "user_ro1", Permission: PermissionWrite, CallerRecent: known},
			want:    map[string]Outcome{RuleTagReadOnly: Fail},
			details: map[string]string{RuleTagReadOnly: `tag "user_ro1" is read-only by pattern "user_ro*" (callers[0].tags.read_only, ignoring case): a key that includes a read-only tag may only be read, and permission write was asked for; ask for permission read`},
		},
		{
			name: "expiry over the rule's limit",
			id:   searcher, req: CreateRequest{Tag: "user_a", ExpiresInDays: ip(8), CallerRecent: known},
			want:    map[string]Outcome{RuleExpiry: Fail},
			details: map[string]string{RuleExpiry: "expires_in_days 8 is over callers[0].keys.max_expiry_days 7"},
		},
		{
			name: "lease over the rule's limit",
			id:   searcher, req: CreateRequest{Tag: "user_a", LeaseMinutes: ip(241), CallerRecent: known},
			want:    map[string]Outcome{RuleLease: Fail},
			details: map[string]string{RuleLease: "lease_minutes 241 is over callers[0].keys.max_lease_minutes 240"},
		},
		{
			name: "too many tags for the rule",
			id:   searcher, req: CreateRequest{Tags: []string{"user_a", "user_b", "user_c", "user_d"}, TagsSet: true, CallerRecent: known},
			want:    map[string]Outcome{RuleTagCount: Fail},
			details: map[string]string{RuleTagCount: "4 tags is over callers[0].keys.max_tags 3"},
		},
		{
			name: "caller quota reached",
			id:   searcher, req: CreateRequest{Tag: "user_a", CallerRecent: CreateCounts{LastHour: 3, LastDay: 3, Known: true}},
			want:    map[string]Outcome{RuleQuotaCaller: Fail},
			details: map[string]string{RuleQuotaCaller: "callers[0].quota.max_keys_per_hour 3 reached: 3 keys minted in the last hour; frees up when the oldest of them is an hour old"},
		},
		{
			name: "caller quota unknown",
			id:   searcher, req: CreateRequest{Tag: "user_a"},
			want:    map[string]Outcome{RuleQuotaCaller: Fail},
			details: map[string]string{RuleQuotaCaller: "per-caller quota not checked: the store is unavailable"},
		},
		{
			name: "caller quota with negative counts",
			id:   searcher, req: CreateRequest{Tag: "user_a", CallerRecent: CreateCounts{LastHour: -1, Known: true}},
			want:    map[string]Outcome{RuleQuotaCaller: Fail},
			details: map[string]string{RuleQuotaCaller: "per-caller quota not checked: the store gave negative counts (-1 in the last hour, 0 in the last 24 hours)"},
		},
		{
			name: "the rule requires a lease",
			id:   ciBot, req: CreateRequest{Tag: "ci-1"},
			want:    map[string]Outcome{RuleLease: Fail},
			details: map[string]string{RuleLease: "callers[1].keys.require_lease is true: every key must be leased; give lease_minutes 1..600", RuleQuotaCaller: "no per-caller quota"},
		},
		{
			name: "rate over the rule's limit",
			id:   ciBot, req: CreateRequest{Tag: "ci-1", LeaseMinutes: ip(5), RateLimitMax: ip(51)},
			want:    map[string]Outcome{RuleRateLimit: Fail},
			details: map[string]string{RuleRateLimit: "rate_limit_max 51 is over callers[1].keys.max_rate_limit 50"},
		},
		{
			name: "rate default capped by the rule",
			id:   ciBot, req: CreateRequest{Tag: "ci-1", LeaseMinutes: ip(5)},
			details: map[string]string{RuleRateLimit: "not given: 50, the API default 500 capped by callers[1].keys.max_rate_limit"},
		},
		{
			name: "team lead gets the top level",
			id:   lead, req: CreateRequest{Tag: "proj-a"},
			details: map[string]string{RuleCaller: `callers[2] applies (match: {email: "lead@example.com", group: "leads"})`, RuleTagAllow: `allowed by pattern "proj-*"`},
		},
		{
			name: "no rule matches",
			id:   stranger, req: CreateRequest{Tag: "proj-a"},
			want: map[string]Outcome{RuleCaller: Fail, RuleTagAllow: Fail},
			details: map[string]string{
				RuleCaller: `no callers rule matches this caller (sub "u-9", email "x@example.com", groups "guests"): ` +
					`the operator must add a rule with match: {sub: "u-9"} (or one for a group it is in) to the policy's callers section`,
				RuleTagAllow: "no tags are allowed for this caller: no callers rule matches it",
			},
		},
		{
			name: "no rule matches a token",
			id:   CallerIdentity{Token: "deploy"}, req: CreateRequest{Tag: "proj-a"},
			want: map[string]Outcome{RuleCaller: Fail, RuleTagAllow: Fail},
			details: map[string]string{
				RuleCaller: `no callers rule matches this caller (token "deploy"): the operator must add a rule with match: {token: "deploy"} to the policy's callers section`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := p.ForCaller(tt.id)
			tt.req.Now = now
			tt.req.Recent = known
			d := q.EvaluateCreate(tt.req)
			checkDecision(t, d, createOrder, tt.want, tt.details)
		})
	}
	// Top-level deny applies to a caller too.
	q, _ := mustParse(t, "tags: {allow: ['*'], deny: ['secret*']}\ncallers:\n  - match: {any: true}\n    tags: {allow: ['*']}\n").ForCaller(CallerIdentity{})
	if d := q.EvaluateCreate(CreateRequest{Tag: "SECRET-1", Now: now}); d.Allowed || outcome(d, RuleTagDeny) != Fail {
		t.Errorf("top-level deny ignored for a caller: %s", d.Reason())
	}
	// A rule whose allow list is empty allows nothing.
	q, _ = mustParse(t, "tags: {allow: ['*']}\ncallers:\n  - match: {any: true}\n    tags: {allow: []}\n").ForCaller(CallerIdentity{})
	if d := q.EvaluateCreate(CreateRequest{Tag: "a", Now: now}); d.Allowed || detail(d, RuleTagAllow) != "no tags are allowed for this caller: callers[0].tags.allow is empty" || !q.DeniesAllWrites() {
		t.Errorf("empty allow: %s", d.Reason())
	}
}

func TestCallerRevoke(t *testing.T) {
	p := callersPolicy(t)
	target := func(edit func(*RevokeTarget)) *RevokeTarget {
		t := &RevokeTarget{ID: "k1", Name: "agent-x", Scoped: true, Tags: []string{"user_a"}, Enabled: true, Minted: Yes, MintedByCaller: Yes}
		if edit != nil {
			edit(t)
		}
		return t
	}
	tests := []struct {
		name    string
		id      CallerIdentity
		target  *RevokeTarget
		want    map[string]Outcome
		details map[string]string
	}{
		{
			name: "own key", id: searcher, target: target(nil),
			details: map[string]string{RuleTargetScope: "minted by this caller (revoke scope own)", RuleCaller: `callers[0] applies (match: {group: "search-team"})`},
		},
		{
			name: "another caller's key", id: searcher, target: target(func(t *RevokeTarget) { t.MintedByCaller = No }),
			want:    map[string]Outcome{RuleTargetScope: Fail},
			details: map[string]string{RuleTargetScope: `key "k1" is not one of this caller's keys (callers[0].revoke.scope own: only keys this caller minted)`},
		},
		{
			name: "ownership unknown", id: searcher, target: target(func(t *RevokeTarget) { t.MintedByCaller = Unknown }),
			want:    map[string]Outcome{RuleTargetScope: Fail},
			details: map[string]string{RuleTargetScope: `whether key "k1" was minted by this caller could not be checked: the store is unavailable (revoke scope own)`},
		},
		{
			name: "own key implies minted", id: searcher, target: target(func(t *RevokeTarget) { t.Minted = Unknown }),
			details: map[string]string{RuleTargetMinted: "minted through mcp-keys (audit log)"},
		},
		{
			name: "own key on a tag outside the rule", id: searcher, target: target(func(t *RevokeTarget) { t.Tags = []string{"user_a", "team:finance"} }),
			want:    map[string]Outcome{RuleTargetTags: Fail},
			details: map[string]string{RuleTargetTags: `key "k1" has tags this caller may not use; only keys whose every tag it may use can be revoked`},
		},
		{
			name: "Full Access key", id: searcher, target: target(func(t *RevokeTarget) { t.Scoped = false; t.Name = "operator-master" }),
			want:    map[string]Outcome{RuleTargetScoped: Fail, RuleTargetTags: Skip, RuleTargetPrefix: Fail},
			details: map[string]string{RuleTargetScoped: `key "k1" is a Full Access key; mcp-keys never revokes Full Access keys`},
		},
		{
			name: "name without the prefix", id: searcher, target: target(func(t *RevokeTarget) { t.Name = "hand-made" }),
			want:    map[string]Outcome{RuleTargetPrefix: Fail},
			details: map[string]string{RuleTargetPrefix: `the name of key "k1" does not start with name_prefix "agent-" (revoke.only_prefixed: only keys made through mcp-keys)`},
		},
		{
			name: "team: a key minted by someone else", id: lead, target: target(func(t *RevokeTarget) { t.MintedByCaller = No; t.Tags = []string{"proj-a"} }),
			details: map[string]string{RuleTargetScope: "minted through mcp-keys on tags this caller's rule allows (revoke scope team)"},
		},
		{
			name: "team: own key", id: lead, target: target(func(t *RevokeTarget) { t.Tags = []string{"proj-a"} }),
			details: map[string]string{RuleTargetScope: "minted by this caller (revoke scope team)"},
		},
		{
			name: "team: not minted through mcp-keys", id: lead, target: target(func(t *RevokeTarget) { t.MintedByCaller, t.Minted = No, No }),
			want:    map[string]Outcome{RuleTargetScope: Fail, RuleTargetMinted: Fail},
			details: map[string]string{RuleTargetScope: `key "k1" was not minted through mcp-keys (revoke scope team)`},
		},
		{
			name: "team: provenance unknown", id: lead, target: target(func(t *RevokeTarget) { t.MintedByCaller, t.Minted = Unknown, Unknown }),
			want:    map[string]Outcome{RuleTargetScope: Fail, RuleTargetMinted: Fail},
			details: map[string]string{RuleTargetScope: `whether key "k1" was minted through mcp-keys could not be checked: the store is unavailable (revoke scope team)`},
		},
		{
			name: "no rule matches", id: stranger, target: target(nil),
			want:    map[string]Outcome{RuleCaller: Fail, RuleTargetTags: Fail, RuleTargetScope: Skip},
			details: map[string]string{RuleTargetScope: "not checked: no callers rule matches this caller"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := p.ForCaller(tt.id)
			d := q.EvaluateRevoke(RevokeRequest{ID: "k1", Target: tt.target})
			checkDecision(t, d, revokeOrder, tt.want, tt.details)
			// Isolation: no detail names the key's name or a tag the
			// caller may not use.
			for _, r := range d.Rules {
				if strings.Contains(r.Detail, tt.target.Name) {
					t.Errorf("%s names the key's name: %s", r.Rule, r.Detail)
				}
				for _, tag := range tt.target.Tags {
					if ok, _ := q.CheckTag(tag); !ok && strings.Contains(r.Detail, tag) {
						t.Errorf("%s names tag %q outside the caller's rule: %s", r.Rule, tag, r.Detail)
					}
				}
			}
		})
	}
	// Not found: target_scope is skipped for a remote caller.
	q, _ := p.ForCaller(searcher)
	d := q.EvaluateRevoke(RevokeRequest{ID: "k9"})
	if outcome(d, RuleTargetScope) != Skip || d.Allowed {
		t.Errorf("not found: %+v", d.Rules)
	}
	// With no callers section the scope is own.
	o, _ := designPolicy(t).ForCaller(stranger)
	d = o.EvaluateRevoke(RevokeRequest{ID: "k1", Target: &RevokeTarget{ID: "k1", Name: "agent-x", Scoped: true, Tags: []string{"proj-a"}, Minted: Yes, MintedByCaller: No}})
	if d.Allowed || detail(d, RuleTargetScope) != `key "k1" is not one of this caller's keys (revoke scope own: only keys this caller minted)` {
		t.Errorf("no callers section: %s", d.Reason())
	}
}

func TestCallerRotate(t *testing.T) {
	p := callersPolicy(t)
	req := RotateRequest{
		Revoke:       RevokeRequest{ID: "k1", Target: &RevokeTarget{ID: "k1", Name: "agent-x", Scoped: true, Tags: []string{"user_a"}, Minted: Yes, MintedByCaller: Yes}},
		Create:       CreateRequest{Tag: "user_a", Permission: PermissionRead, Now: now, Recent: CreateCounts{Known: true}, CallerRecent: CreateCounts{Known: true}},
		GraceMinutes: 30,
	}
	s, _ := p.ForCaller(searcher)
	if d := s.EvaluateRotate(req); !d.Allowed {
		t.Errorf("own key: %s", d.Reason())
	}
	n, _ := p.ForCaller(stranger)
	d := n.EvaluateRotate(req)
	if d.Allowed || d.Rules[1].Rule != RuleCaller || d.Rules[1].Outcome != Fail {
		t.Errorf("stranger: %+v", d.Rules[:2])
	}
	for _, r := range d.Rules {
		if base, _ := BaseRule(r.Rule); base == RuleCaller && r.Rule != RuleCaller {
			t.Errorf("caller rule reported twice: %s", r.Rule)
		}
	}
}

func TestVisibility(t *testing.T) {
	p := callersPolicy(t)
	s, _ := p.ForCaller(searcher)
	l, _ := p.ForCaller(lead)
	n, _ := p.ForCaller(stranger)
	for _, tt := range []struct {
		p     *Policy
		name  string
		tag   string
		shown bool
	}{
		{p, "local", "anything", true},
		{p, "local", "a b", true},
		{s, "searcher", "proj-search-1", true},
		{s, "searcher", "user_ro1", true},
		{s, "searcher", "proj-a", false},
		{s, "searcher", "other-x", false},
		{s, "searcher", "user_admin", false},
		{s, "searcher", "proj-prod-search", false},
		{l, "lead", "proj-a", true},
		{l, "lead", "proj-prod-eu", false},
		{l, "lead", "demo", false},
		{n, "stranger", "proj-a", false},
	} {
		if got := tt.p.TagVisible(tt.tag); got != tt.shown {
			t.Errorf("%s: TagVisible(%q) = %v", tt.name, tt.tag, got)
		}
	}
	key := func(tags []string, scoped bool, minted, mine Tristate) RevokeTarget {
		return RevokeTarget{ID: "k", Name: "agent-k", Scoped: scoped, Tags: tags, Minted: minted, MintedByCaller: mine}
	}
	for _, tt := range []struct {
		p     *Policy
		name  string
		key   RevokeTarget
		shown bool
	}{
		{p, "local: a Full Access key", key(nil, false, No, No), true},
		{s, "searcher: own key", key([]string{"user_a"}, true, Yes, Yes), true},
		{s, "searcher: someone else's key", key([]string{"user_a"}, true, Yes, No), false},
		{s, "searcher: own key, tag outside the rule", key([]string{"user_a", "proj-a"}, true, Yes, Yes), false},
		{s, "searcher: Full Access", key([]string{"user_a"}, false, Yes, Yes), false},
		{s, "searcher: no tags", key(nil, true, Yes, Yes), false},
		{l, "lead: team key", key([]string{"proj-a"}, true, Yes, No), true},
		{l, "lead: not minted through mcp-keys", key([]string{"proj-a"}, true, No, No), false},
		{l, "lead: provenance unknown", key([]string{"proj-a"}, true, Unknown, Unknown), false},
		{n, "stranger: own key", key([]string{"proj-a"}, true, Yes, Yes), false},
	} {
		if got := tt.p.KeyVisible(tt.key); got != tt.shown {
			t.Errorf("%s: KeyVisible = %v", tt.name, got)
		}
	}
}

// TestCallerTexts checks the Summary, EffectiveYAML and StdioNote of caller
// policies: each describes its own caller and never another's rule.
func TestCallerTexts(t *testing.T) {
	p := callersPolicy(t)
	if got := p.StdioNote(); got != "note: the callers section (3 rules) applies in HTTP mode only (serve --http); stdio serves the local user with the top-level policy" {
		t.Errorf("StdioNote = %q", got)
	}
	if got := designPolicy(t).StdioNote(); got != "" {
		t.Errorf("StdioNote without callers = %q", got)
	}
	top := p.Summary()
	for _, line := range []string{
		"read-only tags (any case; a key that includes one may only read): \"team:*\"\n",
		"tags per key: 1 to 5; permission read or write (default write)\n",
		"leases: optional, 1 to 600 minutes",
		"rotate: enabled; the old key may live on for at most 30 minutes",
		"callers (HTTP mode only; stdio ignores them): 3 rules, the first that matches applies; a caller that matches none can do nothing\n",
		`  callers[0] (match: {group: "search-team"}): tags "proj-search*", "user_*", "other-*"; deny "user_admin*"; read-only "user_ro*"; ` +
			"max_expiry_days 7, max_lease_minutes 240, max_tags 3, default_permission read; quota at most 3 keys per hour and 10 per day; revoke scope own\n",
		`  callers[1] (match: {token: "ci-bot"}): tags "ci-*"; max_rate_limit 50, require_lease; revoke scope own` + "\n",
		`  callers[2] (match: {email: "lead@example.com", group: "leads"}): revoke scope team` + "\n",
	} {
		if !strings.Contains(top, line) {
			t.Errorf("Summary lacks %q:\n%s", line, top)
		}
	}
	s, _ := p.ForCaller(searcher)
	for _, text := range []string{s.Summary(), string(s.EffectiveYAML())} {
		for _, other := range []string{"ci-bot", "ci-*", "lead@example.com", "leads", "callers[1]", "callers[2]"} {
			if strings.Contains(text, other) {
				t.Errorf("the searcher's policy names %q:\n%s", other, text)
			}
		}
	}
	for _, line := range []string{
		`policy from "callers.yaml" for callers[0] (match: {group: "search-team"})` + "\n",
		`allowed tags: "proj-search*", "user_*", "other-*" (each also within the top-level allow patterns)` + "\n",
		"revoke scope: own (only keys this caller minted)\n",
		"quota for this caller: at most 3 keys per hour and 10 per day",
		"tags per key: 1 to 3; permission read or write (default read)\n",
	} {
		if !strings.Contains(s.Summary(), line) {
			t.Errorf("caller Summary lacks %q:\n%s", line, s.Summary())
		}
	}
	if _, err := Parse("caller.yaml", s.EffectiveYAML()); err != nil {
		t.Errorf("a caller's EffectiveYAML does not parse: %v\n%s", err, s.EffectiveYAML())
	}
	n, _ := p.ForCaller(stranger)
	if got := n.Summary(); got != `policy from "callers.yaml": no callers rule matches this caller, so it can mint, revoke, rotate and list nothing`+
		"\nfull access: never granted and never revoked (built in; no setting changes it)" {
		t.Errorf("stranger Summary = %q", got)
	}
	y := string(n.EffectiveYAML())
	if !strings.Contains(y, "  allow: []\n") || strings.Contains(y, "proj-*") {
		t.Errorf("stranger EffectiveYAML:\n%s", y)
	}
	if !n.DeniesAllWrites() || s.DeniesAllWrites() || n.StdioNote() != "" {
		t.Error("DeniesAllWrites or StdioNote wrong for callers")
	}
}

func TestForCallerConcurrent(t *testing.T) {
	p := callersPolicy(t)
	ids := []CallerIdentity{searcher, ciBot, lead, stranger}
	req := CreateRequest{Tag: "user_a", Now: now, Recent: CreateCounts{Known: true}, CallerRecent: CreateCounts{Known: true}}
	want := make([]Decision, len(ids))
	var wg sync.WaitGroup
	got := make([][]Decision, 8)
	for g := range got {
		wg.Go(func() {
			for _, id := range ids {
				q, _ := p.ForCaller(id)
				got[g] = append(got[g], q.EvaluateCreate(req))
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		q, _ := p.ForCaller(id)
		want[i] = q.EvaluateCreate(req)
	}
	for g := range got {
		if !reflect.DeepEqual(got[g], want) {
			t.Fatalf("goroutine %d saw different decisions", g)
		}
	}
}

// TestForCallerAllocs holds ForCaller of a matched caller to no allocation
// once its policy is built.
func TestForCallerAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	p := callersPolicy(t)
	p.ForCaller(lead)
	if n := testing.AllocsPerRun(100, func() { p.ForCaller(lead) }); n > 0 {
		t.Errorf("ForCaller: %v allocations", n)
	}
}

// TestExportedFieldsDoNotWidenCallers checks that changing the exported
// fields of a policy, or of a caller's policy, widens no caller's policy
// built afterwards.
func TestExportedFieldsDoNotWidenCallers(t *testing.T) {
	p := callersPolicy(t)
	p.Tags.Allow[0] = "*"
	p.Tags.Deny[0] = "nothing"
	p.Tags.ReadOnly[0] = "nothing"
	p.Callers[0].Tags.Allow[0] = "*"
	p.Callers[0].Keys.MaxExpiryDays = 365
	l, _ := p.ForCaller(lead)
	l.Tags.Allow[1] = "*"
	s, _ := p.ForCaller(searcher)
	s.Tags.Deny[1] = "nothing"
	for _, tt := range []struct {
		id  CallerIdentity
		req CreateRequest
	}{
		{lead, CreateRequest{Tag: "other", Now: now}},
		{lead, CreateRequest{Tag: "proj-prod-1", Now: now}},
		{lead, CreateRequest{Tag: "team:x", Permission: PermissionWrite, Now: now}},
		{searcher, CreateRequest{Tag: "proj-a", Now: now}},
		{searcher, CreateRequest{Tag: "user_a", ExpiresInDays: ip(8), Now: now}},
		{searcher, CreateRequest{Tag: "user_admin", Now: now}},
		{ciBot, CreateRequest{Tag: "zzz", LeaseMinutes: ip(5), Now: now}},
	} {
		q, _ := p.ForCaller(tt.id)
		tt.req.Recent, tt.req.CallerRecent = CreateCounts{Known: true}, CreateCounts{Known: true}
		if d := q.EvaluateCreate(tt.req); d.Allowed {
			t.Errorf("%+v allowed for %+v after changing exported fields", tt.req, tt.id)
		}
	}
}
