package policy

import (
	"reflect"
	"strings"
	"testing"
)

// TestEvaluateLeastPrivilege covers several tags, permissions, read-only
// tags and leases, rule by rule.
func TestEvaluateLeastPrivilege(t *testing.T) {
	lp := mustParse(t, `
tags: {allow: ["proj-*", "user_*", "team:*"], deny: ["proj-prod*"], read_only: ["team:*", "ARCHIVE-*"]}
keys: {max_tags: 3, max_lease_minutes: 120}
`)
	strictNew := mustParse(t, "tags: {allow: ['proj-*'], allow_new: false}\n")
	readDefault := mustParse(t, "tags: {allow: ['*']}\nkeys: {default_permission: read}\n")
	mustLease := mustParse(t, "tags: {allow: ['*']}\nkeys: {require_lease: true, max_lease_minutes: 30}\n")
	fa := FullAccessRefusal
	tags := func(list ...string) ([]string, bool) { return list, true }
	with := func(req CreateRequest, list ...string) CreateRequest {
		req.Tags, req.TagsSet = tags(list...)
		return req
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
			name: "several tags allowed",
			p:    lp, req: with(CreateRequest{}, "proj-a", "user_b"),
			details: map[string]string{
				RuleScopedOnly:  "a scoped key for the tags given",
				RuleTagCount:    "2 distinct tags, within max_tags 3",
				RuleTagSyntax:   "every tag is valid",
				RuleTagDeny:     "no deny pattern matches",
				RuleTagAllow:    "every tag is allowed",
				RulePermission:  "not given: default_permission write",
				RuleTagReadOnly: "no tag is read-only",
				RuleLease:       "not given: no lease (keys.require_lease is false)",
				RuleName:        `not given: <name_prefix><tag>-<yyyymmdd>, name_prefix "agent-"`,
			},
			eff: &Effective{Tags: []string{"proj-a", "user_b"}, Name: "agent-proj-a+1-20260308", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000, Permission: PermissionWrite},
		},
		{
			name: "one tag through tags",
			p:    lp, req: with(CreateRequest{}, "proj-a"),
			details: map[string]string{RuleTagCount: "one tag", RuleTagAllow: `allowed by pattern "proj-*"`, RuleScopedOnly: "a scoped key for one tag"},
			eff:     &Effective{Tag: "proj-a", Tags: []string{"proj-a"}, Name: "agent-proj-a-20260308", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000},
		},
		{
			name: "tag and tags",
			p:    lp, req: with(CreateRequest{Tag: "proj-a"}, "user_b"),
			want:    map[string]Outcome{RuleTagCount: Fail},
			details: map[string]string{RuleTagCount: "both tag and tags were given; give tag (one tag) or tags (several), not both"},
			eff:     &Effective{Tags: []string{"proj-a", "user_b"}, Name: "agent-proj-a+1-20260308", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000},
		},
		{
			name: "empty tags",
			p:    lp, req: with(CreateRequest{}),
			want: map[string]Outcome{RuleScopedOnly: Fail, RuleTagCount: Fail, RuleTagSyntax: Fail, RuleTagDeny: Skip, RuleTagAllow: Skip, RuleTagNew: Skip, RuleName: Skip},
			details: map[string]string{
				RuleScopedOnly: "no tag given (a key without a tag is a Full Access key): " + fa,
				RuleTagCount:   "tags is empty; give 1..3 tags (max_tags)",
			},
		},
		{
			name: "too many tags",
			p:    lp, req: with(CreateRequest{}, "proj-a", "proj-b", "proj-c", "proj-d"),
			want:    map[string]Outcome{RuleTagCount: Fail},
			details: map[string]string{RuleTagCount: "4 tags is over max_tags 3"},
		},
		{
			name: "a duplicate tag",
			p:    lp, req: with(CreateRequest{}, "proj-a", "proj-b", "proj-a"),
			want:    map[string]Outcome{RuleTagCount: Fail},
			details: map[string]string{RuleTagCount: `tag "proj-a" is given more than once; give each tag once`},
		},
		{
			name: "duplicates are exact",
			p:    lp, req: with(CreateRequest{}, "proj-a", "Proj-a"),
			want:    map[string]Outcome{RuleTagAllow: Fail},
			details: map[string]string{RuleTagCount: "2 distinct tags, within max_tags 3", RuleTagAllow: `tag "Proj-a" matches no allow pattern (allowed: "proj-*", "user_*", "team:*")`},
		},
		{
			name: "several duplicates",
			p:    mustParse(t, "tags: {allow: ['*']}\nkeys: {max_tags: 50}\n"), req: with(CreateRequest{}, "a", "b", "a", "b", "a"),
			want:    map[string]Outcome{RuleTagCount: Fail},
			details: map[string]string{RuleTagCount: `tags "a", "b" are given more than once; give each tag once`},
		},
		{
			name: "wildcard among tags",
			p:    lp, req: with(CreateRequest{}, "proj-a", "user_*"),
			want: map[string]Outcome{RuleScopedOnly: Fail, RuleTagSyntax: Fail, RuleName: Skip},
			details: map[string]string{
				RuleScopedOnly: `tag "user_*" contains a wildcard (a key for every tag is a Full Access key): ` + fa,
				RuleTagSyntax:  `tag "user_*" has a character that is not allowed at position 6: '*' (U+002A); ` + notAllowed,
				RuleTagAllow:   "every tag is allowed",
			},
		},
		{
			name: "several invalid tags named",
			p:    lp, req: with(CreateRequest{}, "a b", "proj-a", "c\u200bd"),
			want: map[string]Outcome{RuleTagSyntax: Fail, RuleName: Skip},
			details: map[string]string{
				RuleTagSyntax: `tag "a b" has a character that is not allowed at position 2: ' ' (U+0020); ` + notAllowed + `; also invalid: "c\u200bd"`,
				RuleTagAllow:  "every tag is allowed",
			},
		},
		{
			name: "no valid tag",
			p:    lp, req: with(CreateRequest{}, "a b", ""),
			want: map[string]Outcome{RuleTagSyntax: Fail, RuleTagDeny: Skip, RuleTagAllow: Skip, RuleTagNew: Skip, RuleName: Skip},
			details: map[string]string{
				RuleTagDeny: "not checked: no tag is valid",
			},
		},
		{
			name: "every denied tag named, by pattern",
			p:    mustParse(t, "tags: {allow: ['*'], deny: ['proj-prod*', 'secret']}\nkeys: {max_tags: 5}\n"),
			req:  with(CreateRequest{}, "proj-prod-1", "ok", "PROJ-prod-2", "SECRET"),
			want: map[string]Outcome{RuleTagDeny: Fail},
			details: map[string]string{RuleTagDeny: `tags "proj-prod-1", "PROJ-prod-2" are denied by pattern "proj-prod*" (deny patterns ignore case); ` +
				`tag "SECRET" is denied by pattern "secret" (deny patterns ignore case)`},
		},
		{
			name: "every tag outside the allow patterns named",
			p:    lp, req: with(CreateRequest{}, "other", "proj-a", "x"),
			want:    map[string]Outcome{RuleTagAllow: Fail},
			details: map[string]string{RuleTagAllow: `tags "other", "x" match no allow pattern (allowed: "proj-*", "user_*", "team:*")`},
		},
		{
			name: "tag_new for several tags",
			p:    strictNew, req: with(CreateRequest{TagsExist: map[string]Tristate{"proj-a": Yes, "proj-b": No, "proj-c": No}}, "proj-a", "proj-b", "proj-c", "proj-d"),
			want:    map[string]Outcome{RuleTagNew: Fail},
			details: map[string]string{RuleTagNew: `tags "proj-b", "proj-c" do not exist; whether tag "proj-d" exists was not checked (tags.allow_new is false)`},
		},
		{
			name: "tag_new, every tag exists",
			p:    strictNew, req: with(CreateRequest{TagsExist: map[string]Tristate{"proj-a": Yes, "proj-b": Yes}}, "proj-a", "proj-b"),
			details: map[string]string{RuleTagNew: "every tag exists"},
		},
		{
			name: "TagsExist answers for a single tag",
			p:    strictNew, req: CreateRequest{Tag: "proj-a", TagExists: Yes, TagsExist: map[string]Tristate{"proj-a": No}},
			want:    map[string]Outcome{RuleTagNew: Fail},
			details: map[string]string{RuleTagNew: `tag "proj-a" does not exist and tags.allow_new is false`},
		},
		{
			name: "TagExists still works for one tag given through tags",
			p:    strictNew, req: with(CreateRequest{TagExists: Yes}, "proj-a"),
			details: map[string]string{RuleTagNew: "tag exists"},
		},
		{
			name: "permission read",
			p:    lp, req: CreateRequest{Tag: "proj-a", Permission: PermissionRead},
			details: map[string]string{RulePermission: "read, as asked"},
			eff:     &Effective{Tag: "proj-a", Name: "agent-proj-a-20260308", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000, Permission: PermissionRead},
		},
		{
			name: "permission write",
			p:    lp, req: CreateRequest{Tag: "proj-a", Permission: PermissionWrite},
			details: map[string]string{RulePermission: "write, as asked"},
		},
		{
			name: "permission admin is a Full Access request",
			p:    lp, req: CreateRequest{Tag: "proj-a", Permission: "admin"},
			want: map[string]Outcome{RuleScopedOnly: Fail, RulePermission: Skip, RuleTagReadOnly: Pass},
			details: map[string]string{
				RuleScopedOnly: `permission "admin" is not read or write: ` + fa,
				RulePermission: `not checked: "admin" is not read or write (refused by scoped_only)`,
			},
			eff: &Effective{Tag: "proj-a", Name: "agent-proj-a-20260308", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000, Permission: "admin"},
		},
		{
			name: "permission is matched exactly",
			p:    lp, req: CreateRequest{Tag: "proj-a", Permission: "Read"},
			want:    map[string]Outcome{RuleScopedOnly: Fail, RulePermission: Skip},
			details: map[string]string{RuleScopedOnly: `permission "Read" is not read or write: ` + fa},
		},
		{
			name: "read-only tag, permission read",
			p:    lp, req: with(CreateRequest{Permission: PermissionRead}, "proj-a", "team:docs"),
			details: map[string]string{RuleTagReadOnly: `permission read; tag "team:docs" is read-only by pattern "team:*" (tags.read_only, ignoring case)`},
		},
		{
			name: "read-only tag, write asked",
			p:    lp, req: with(CreateRequest{Permission: PermissionWrite}, "team:docs", "archive-2024", "proj-a"),
			want: map[string]Outcome{RuleTagReadOnly: Fail, RuleTagAllow: Fail},
			details: map[string]string{RuleTagReadOnly: `tag "team:docs" is read-only by pattern "team:*" (tags.read_only, ignoring case); ` +
				`tag "archive-2024" is read-only by pattern "ARCHIVE-*" (tags.read_only, ignoring case): ` +
				"a key that includes a read-only tag may only be read, and permission write was asked for; ask for permission read"},
		},
		{
			name: "read-only tag, write by default",
			p:    lp, req: CreateRequest{Tag: "team:docs"},
			want:    map[string]Outcome{RuleTagReadOnly: Fail},
			details: map[string]string{RuleTagReadOnly: `tag "team:docs" is read-only by pattern "team:*" (tags.read_only, ignoring case): a key that includes a read-only tag may only be read, and permission write is the default (default_permission); ask for permission read`},
		},
		{
			name: "read-only patterns ignore case",
			p:    lp, req: CreateRequest{Tag: "TEAM:docs"},
			want: map[string]Outcome{RuleTagReadOnly: Fail, RuleTagAllow: Fail},
		},
		{
			name: "no read_only patterns",
			p:    readDefault, req: CreateRequest{Tag: "x"},
			details: map[string]string{RuleTagReadOnly: "no read_only patterns", RulePermission: "not given: default_permission read"},
			eff:     &Effective{Tag: "x", Name: "agent-x-20260308", ExpiresInDays: 30, RateLimitMax: 500, RateLimitWindowMs: 60000, Permission: PermissionRead},
		},
		{
			name: "lease",
			p:    lp, req: CreateRequest{Tag: "proj-a", LeaseMinutes: ip(60)},
			details: map[string]string{
				RuleExpiry: "leased: expires_in_days 1, the API's shortest; mcp-keys revokes the key when the lease ends",
				RuleLease:  "within max_lease_minutes 120; minted for 1 day and revoked by mcp-keys when the lease ends",
			},
			eff: &Effective{Tag: "proj-a", Name: "agent-proj-a-20260308", ExpiresInDays: 1, RateLimitMax: 500, RateLimitWindowMs: 60000, LeaseMinutes: 60},
		},
		{
			name: "lease at the limit",
			p:    lp, req: CreateRequest{Tag: "proj-a", LeaseMinutes: ip(120)},
		},
		{
			name: "lease zero",
			p:    lp, req: CreateRequest{Tag: "proj-a", LeaseMinutes: ip(0)},
			want:    map[string]Outcome{RuleLease: Fail},
			details: map[string]string{RuleLease: "lease_minutes 0 is below 1; give 1..120 (max_lease_minutes)"},
		},
		{
			name: "lease negative",
			p:    lp, req: CreateRequest{Tag: "proj-a", LeaseMinutes: ip(-5)},
			want:    map[string]Outcome{RuleLease: Fail},
			details: map[string]string{RuleLease: "lease_minutes -5 is below 1; give 1..120 (max_lease_minutes)"},
		},
		{
			name: "lease over the limit",
			p:    lp, req: CreateRequest{Tag: "proj-a", LeaseMinutes: ip(121)},
			want:    map[string]Outcome{RuleLease: Fail},
			details: map[string]string{RuleLease: "lease_minutes 121 is over max_lease_minutes 120"},
			eff:     &Effective{Tag: "proj-a", Name: "agent-proj-a-20260308", ExpiresInDays: 1, RateLimitMax: 500, RateLimitWindowMs: 60000, LeaseMinutes: 121},
		},
		{
			name: "lease and expiry",
			p:    lp, req: CreateRequest{Tag: "proj-a", LeaseMinutes: ip(10), ExpiresInDays: ip(5)},
			want:    map[string]Outcome{RuleLease: Fail},
			details: map[string]string{RuleLease: "both lease_minutes and expires_in_days were given; give one of them", RuleExpiry: "within max_expiry_days 90"},
			eff:     &Effective{Tag: "proj-a", Name: "agent-proj-a-20260308", ExpiresInDays: 5, RateLimitMax: 500, RateLimitWindowMs: 60000, LeaseMinutes: 10},
		},
		{
			name: "lease required",
			p:    mustLease, req: CreateRequest{Tag: "x", ExpiresInDays: ip(1)},
			want:    map[string]Outcome{RuleLease: Fail},
			details: map[string]string{RuleLease: "keys.require_lease is true: every key must be leased; give lease_minutes 1..30"},
		},
		{
			name: "lease required and given",
			p:    mustLease, req: CreateRequest{Tag: "x", LeaseMinutes: ip(30)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Now = now
			d := tt.p.EvaluateCreate(tt.req)
			checkDecision(t, d, createOrder, tt.want, tt.details)
			if tt.eff != nil && !sameEffective(d.Effective, *tt.eff) {
				t.Errorf("Effective\n got %+v\nwant %+v", d.Effective, *tt.eff)
			}
			want := tt.req.Tags
			if !tt.req.TagsSet {
				want = []string{tt.req.Tag}
			} else if tt.req.Tag != "" {
				want = append([]string{tt.req.Tag}, tt.req.Tags...)
			}
			if len(want) == 0 {
				want = nil
			}
			if !reflect.DeepEqual(d.Effective.Tags, want) {
				t.Errorf("Effective.Tags = %q, want %q", d.Effective.Tags, want)
			}
			if wantTag := ""; len(want) == 1 {
				if wantTag = want[0]; d.Effective.Tag != wantTag {
					t.Errorf("Effective.Tag = %q, want %q", d.Effective.Tag, wantTag)
				}
			} else if d.Effective.Tag != "" {
				t.Errorf("Effective.Tag = %q with %d tags", d.Effective.Tag, len(want))
			}
		})
	}
}

// TestEffectiveTagsAreCopied checks that a decision does not share the
// request's tags slice.
func TestEffectiveTagsAreCopied(t *testing.T) {
	p := mustParse(t, "tags: {allow: ['*']}\n")
	in := []string{"a", "b"}
	d := p.EvaluateCreate(CreateRequest{Tags: in, TagsSet: true, Now: now})
	in[0] = "changed"
	if d.Effective.Tags[0] != "a" {
		t.Errorf("Effective.Tags follows the request: %q", d.Effective.Tags)
	}
}

// TestManyTagsBounded checks that a request with far more tags than allowed
// is refused with bounded texts that still name the failing tags.
func TestManyTagsBounded(t *testing.T) {
	p := mustParse(t, "tags: {allow: ['ok-*']}\nkeys: {max_tags: 50}\n")
	var tags []string
	for i := range 200 {
		tags = append(tags, "bad-"+strings.Repeat("x", i%90))
	}
	d := p.EvaluateCreate(CreateRequest{Tags: tags, TagsSet: true, Now: now})
	if d.Allowed {
		t.Fatal("allowed 200 tags")
	}
	for _, r := range d.Rules {
		if n := len([]rune(r.Detail)); n > 6000 {
			t.Errorf("%s: detail is %d characters", r.Rule, n)
		}
	}
	if got := outcome(d, RuleTagCount); got != Fail {
		t.Errorf("tag_count = %s", got)
	}
	allow := d.Rules[5]
	if allow.Rule != RuleTagAllow || !strings.Contains(allow.Detail, `"bad-"`) || !strings.Contains(allow.Detail, "… and 150 more") {
		t.Errorf("tag_allow = %+v", allow)
	}
	// Within max_tags every failing tag is named.
	d = p.EvaluateCreate(CreateRequest{Tags: tags[:50], TagsSet: true, Now: now})
	for _, tag := range tags[:50] {
		if !strings.Contains(d.Reason(), Quote(tag)) {
			t.Fatalf("refusal does not name %q: %s", tag, d.Reason())
		}
	}
}

// TestDefaultNameSeveralTags checks the default name of a key with several
// tags, cut to fit.
func TestDefaultNameSeveralTags(t *testing.T) {
	tests := []struct {
		tag  string
		more int
		want string
	}{
		{"proj-a", 1, "agent-proj-a+1-20260308"},
		{"proj-a", 49, "agent-proj-a+49-20260308"},
		{strings.Repeat("t", 100), 2, "agent-" + strings.Repeat("t", 83) + "+2-20260308"},
	}
	for _, tt := range tests {
		got := defaultName("agent-", 6, tt.tag, tt.more, now)
		if got != tt.want || len([]rune(got)) > MaxNameLength {
			t.Errorf("defaultName(%q, %d) = %q, want %q", tt.tag, tt.more, got, tt.want)
		}
	}
}
