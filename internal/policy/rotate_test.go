package policy

import (
	"strings"
	"testing"
)

// rotateOrder is the order of a rotation's rules.
func rotateOrder() []string {
	out := []string{RuleRotateEnabled, RuleCaller, RuleGrace, RuleOldPermission}
	for _, r := range revokeOrder {
		if r != RuleCaller {
			out = append(out, RotateOldPrefix+r)
		}
	}
	for _, r := range createOrder {
		if r != RuleCaller {
			out = append(out, RotateNewPrefix+r)
		}
	}
	return out
}

func TestEvaluateRotate(t *testing.T) {
	design := designPolicy(t)
	old := func(name string, tags ...string) RevokeRequest {
		return RevokeRequest{ID: "k1", Target: &RevokeTarget{ID: "k1", Name: name, Scoped: true, Tags: tags, Enabled: true, Minted: Yes}}
	}
	tests := []struct {
		name    string
		p       *Policy
		req     RotateRequest
		want    map[string]Outcome
		details map[string]string
	}{
		{
			name: "the old key's permission unknown",
			p:    design, req: RotateRequest{Revoke: old("agent-ci", "proj-a"), Create: CreateRequest{Tags: []string{"proj-a"}, TagsSet: true}},
			want: map[string]Outcome{RuleOldPermission: Fail},
		},
		{
			name: "allowed, old key revoked at once",
			p:    design, req: RotateRequest{Revoke: old("agent-ci", "proj-a"), Create: CreateRequest{Permission: "write", Tag: "proj-a", Name: "agent-ci"}},
			details: map[string]string{
				RuleRotateEnabled:                  "rotate is enabled",
				RuleGrace:                          "no grace: the old key is revoked at once",
				RotateOldPrefix + RuleTargetTags:   `allowed by pattern "proj-*"`,
				RotateNewPrefix + RuleTagAllow:     `allowed by pattern "proj-*"`,
				RotateOldPrefix + RuleTargetScope:  "local caller (stdio): no revoke scope applies",
				RotateNewPrefix + RuleQuotaCaller:  "no per-caller quota",
				RotateNewPrefix + RuleScopedOnly:   "a scoped key for one tag",
				RotateOldPrefix + RuleTargetMinted: "minted through mcp-keys (audit log)",
			},
		},
		{
			name: "grace within the limit",
			p:    design, req: RotateRequest{Revoke: old("agent-ci", "proj-a"), Create: CreateRequest{Permission: "write", Tag: "proj-a"}, GraceMinutes: 60},
			details: map[string]string{RuleGrace: "the old key lives on for 60 minutes, within rotate.max_grace_minutes 60"},
		},
		{
			name: "grace over the limit",
			p:    design, req: RotateRequest{Revoke: old("agent-ci", "proj-a"), Create: CreateRequest{Permission: "write", Tag: "proj-a"}, GraceMinutes: 61},
			want:    map[string]Outcome{RuleGrace: Fail},
			details: map[string]string{RuleGrace: "grace_minutes 61 is over rotate.max_grace_minutes 60"},
		},
		{
			name: "negative grace",
			p:    mustParse(t, "tags: {allow: ['*']}\nrotate: {max_grace_minutes: 0}\n"), req: RotateRequest{Revoke: old("agent-ci", "a"), Create: CreateRequest{Permission: "write", Tag: "a"}, GraceMinutes: -1},
			want:    map[string]Outcome{RuleGrace: Fail},
			details: map[string]string{RuleGrace: "grace_minutes -1 is below 0; give 0..0 (rotate.max_grace_minutes)"},
		},
		{
			name: "rotate disabled",
			p:    mustParse(t, "tags: {allow: ['*']}\nrotate: {enabled: false}\n"), req: RotateRequest{Revoke: old("agent-ci", "a"), Create: CreateRequest{Permission: "write", Tag: "a"}},
			want:    map[string]Outcome{RuleRotateEnabled: Fail},
			details: map[string]string{RuleRotateEnabled: "rotate is disabled by the policy (rotate.enabled: false)"},
		},
		{
			name: "revoke disabled disables rotate",
			p:    mustParse(t, "tags: {allow: ['*']}\nrevoke: {enabled: false}\n"), req: RotateRequest{Revoke: old("agent-ci", "a"), Create: CreateRequest{Permission: "write", Tag: "a"}},
			want: map[string]Outcome{RuleRotateEnabled: Fail, RotateOldPrefix + RuleRevokeEnabled: Fail},
			details: map[string]string{RuleRotateEnabled: "rotate is disabled: revoke is disabled by the policy (revoke.enabled: false), and a rotation revokes the old key",
				RotateOldPrefix + RuleRevokeEnabled: "revoke is disabled by the policy (revoke.enabled: false)"},
		},
		{
			name: "old key is Full Access",
			p:    design, req: RotateRequest{Revoke: RevokeRequest{ID: "k1", Target: &RevokeTarget{ID: "k1", Name: "agent-op", Tags: []string{"proj-a"}, Minted: Yes}}, Create: CreateRequest{Permission: "write", Tag: "proj-a"}},
			want: map[string]Outcome{RotateOldPrefix + RuleTargetScoped: Fail, RotateOldPrefix + RuleTargetTags: Skip},
		},
		{
			name: "old key not found",
			p:    design, req: RotateRequest{Revoke: RevokeRequest{ID: "k9"}, Create: CreateRequest{Permission: "write", Tag: "proj-a"}},
			want: map[string]Outcome{RotateOldPrefix + RuleTargetFound: Fail, RotateOldPrefix + RuleTargetScoped: Skip, RotateOldPrefix + RuleTargetTags: Skip,
				RotateOldPrefix + RuleTargetPrefix: Skip, RotateOldPrefix + RuleTargetMinted: Skip},
		},
		{
			name: "new key refused",
			p:    design, req: RotateRequest{Revoke: old("agent-ci", "proj-a"), Create: CreateRequest{Permission: "write", Tag: "proj-a", ExpiresInDays: ip(400)}},
			want: map[string]Outcome{RotateNewPrefix + RuleExpiry: Fail},
		},
		{
			name: "both keys refused",
			p:    design, req: RotateRequest{Revoke: old("agent-ci", "proj-prod-eu"), Create: CreateRequest{Permission: "write", Tag: "proj-prod-eu"}, GraceMinutes: 1000},
			want: map[string]Outcome{RuleGrace: Fail, RotateOldPrefix + RuleTargetTags: Fail, RotateNewPrefix + RuleTagDeny: Fail},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Create.Now = now
			d := tt.p.EvaluateRotate(tt.req)
			if d.Action != ActionRotate {
				t.Errorf("Action = %q", d.Action)
			}
			checkDecision(t, d, rotateOrder(), tt.want, tt.details)
			if c := tt.p.EvaluateCreate(tt.req.Create); !sameEffective(d.Effective, c.Effective) {
				t.Errorf("Effective = %+v, want the new key's %+v", d.Effective, c.Effective)
			}
		})
	}
}

// TestRotateAgreesWithParts checks that a rotation is allowed exactly when
// its revoke, its create and its own rules all are.
func TestRotateAgreesWithParts(t *testing.T) {
	p := designPolicy(t)
	for _, tag := range []string{"proj-a", "proj-prod", "other"} {
		for _, grace := range []int{0, 60, 61} {
			rv := RevokeRequest{ID: "k", Target: &RevokeTarget{ID: "k", Name: "agent-k", Scoped: true, Tags: []string{tag}, Minted: Yes}}
			cr := CreateRequest{Permission: "write", Tag: tag, Now: now}
			d := p.EvaluateRotate(RotateRequest{Revoke: rv, Create: cr, GraceMinutes: grace})
			want := p.EvaluateRevoke(rv).Allowed && p.EvaluateCreate(cr).Allowed && grace <= 60
			if d.Allowed != want {
				t.Errorf("tag %q grace %d: allowed %v, want %v (%s)", tag, grace, d.Allowed, want, d.Reason())
			}
		}
	}
}

func TestBaseRule(t *testing.T) {
	for _, tt := range []struct{ in, base, key string }{
		{"old.target_tags", RuleTargetTags, "old"},
		{"new.tag_allow", RuleTagAllow, "new"},
		{"grace", RuleGrace, ""},
		{"tag_allow", RuleTagAllow, ""},
	} {
		if base, key := BaseRule(tt.in); base != tt.base || key != tt.key {
			t.Errorf("BaseRule(%q) = %q, %q; want %q, %q", tt.in, base, key, tt.base, tt.key)
		}
	}
}

func TestConfirmRotate(t *testing.T) {
	for _, tt := range []struct {
		create, revoke, want ConfirmMode
	}{
		{ConfirmNever, ConfirmNever, ConfirmNever},
		{ConfirmNever, ConfirmIfSupported, ConfirmIfSupported},
		{ConfirmAlways, ConfirmIfSupported, ConfirmAlways},
		{ConfirmIfSupported, ConfirmAlways, ConfirmAlways},
		{ConfirmIfSupported, ConfirmNever, ConfirmIfSupported},
	} {
		if got := (ConfirmRules{Create: tt.create, Revoke: tt.revoke}).Rotate(); got != tt.want {
			t.Errorf("Rotate(%s, %s) = %s, want %s", tt.create, tt.revoke, got, tt.want)
		}
	}
}

func TestParseRotate(t *testing.T) {
	tests := []struct {
		src  string
		want RotateRules
	}{
		{"", RotateRules{Enabled: true, MaxGraceMinutes: 60}},
		{"revoke: {enabled: false}\n", RotateRules{Enabled: false, MaxGraceMinutes: 60}},
		{"rotate: {enabled: false}\n", RotateRules{Enabled: false, MaxGraceMinutes: 60}},
		{"rotate: {max_grace_minutes: 0}\n", RotateRules{Enabled: true, MaxGraceMinutes: 0}},
		{"rotate: {max_grace_minutes: 1440}\n", RotateRules{Enabled: true, MaxGraceMinutes: 1440}},
		{"revoke: {enabled: false}\nrotate: {enabled: false}\n", RotateRules{Enabled: false, MaxGraceMinutes: 60}},
	}
	for _, tt := range tests {
		if got := mustParse(t, tt.src).Rotate; got != tt.want {
			t.Errorf("Parse(%q).Rotate = %+v, want %+v", tt.src, got, tt.want)
		}
	}
	if s := mustParse(t, "tags: {allow: [a]}\nrotate: {enabled: false}\n").Summary(); !strings.Contains(s, "\nrotate: disabled\n") {
		t.Errorf("Summary lacks rotate: disabled:\n%s", s)
	}
}
