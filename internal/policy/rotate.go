package policy

import (
	"strconv"
	"strings"
)

// Rules of a rotation, besides the revoke rules of the old key (prefixed
// RotateOldPrefix) and the create rules of the new one (RotateNewPrefix).
const (
	// RuleRotateEnabled requires rotate.enabled.
	RuleRotateEnabled = "rotate_enabled"
	// RuleGrace checks grace_minutes against rotate.max_grace_minutes.
	RuleGrace = "grace"
	// RuleOldPermission requires the old key's permission to be known: the
	// replacement copies it, and a guess could make it wider.
	RuleOldPermission = "old_permission"
)

// Prefixes of the rule names in a rotation's decision: "old.target_tags"
// is the revoke rule target_tags applied to the old key, "new.tag_allow"
// the create rule tag_allow applied to the replacement.
const (
	RotateOldPrefix = "old."
	RotateNewPrefix = "new."
)

// BaseRule returns a rule name without its rotation prefix, and which key
// the rule was about: "old", "new" or "" (a rule of the rotation itself, or
// of a create or revoke).
func BaseRule(rule string) (base, key string) {
	if r, ok := strings.CutPrefix(rule, RotateOldPrefix); ok {
		return r, "old"
	}
	if r, ok := strings.CutPrefix(rule, RotateNewPrefix); ok {
		return r, "new"
	}
	return rule, ""
}

// EvaluateRotate decides a request to replace a key, before anything is
// called: rotate_enabled, caller and grace, then every other revoke rule on the old key
// (names prefixed "old.") and every create rule on the new one (prefixed
// "new."). It is allowed when no rule fails. Effective is the new key's.
// EvaluateRotate does no I/O and is safe for concurrent use.
func (p *Policy) EvaluateRotate(req RotateRequest) Decision {
	c := p.comp()
	old := p.EvaluateRevoke(req.Revoke)
	repl := p.EvaluateCreate(req.Create)
	rules := make([]RuleResult, 0, 1+len(old.Rules)+len(repl.Rules))
	if c.rotate.Enabled {
		rules = append(rules, RuleResult{RuleRotateEnabled, Pass, "rotate is enabled"})
	} else {
		why := "rotate is disabled by the policy (rotate.enabled: false)"
		if !c.revoke.Enabled {
			why = "rotate is disabled: revoke is disabled by the policy (revoke.enabled: false), and a rotation revokes the old key"
		}
		rules = append(rules, RuleResult{RuleRotateEnabled, Fail, why})
	}
	rules = append(rules, c.callerRule(), c.graceRule(req.GraceMinutes), oldPermissionRule(req.Create.Permission))
	for _, r := range old.Rules {
		if r.Rule != RuleCaller { // reported once, above
			r.Rule = RotateOldPrefix + r.Rule
			rules = append(rules, r)
		}
	}
	for _, r := range repl.Rules {
		if r.Rule != RuleCaller {
			r.Rule = RotateNewPrefix + r.Rule
			rules = append(rules, r)
		}
	}
	return decide(ActionRotate, rules, repl.Effective)
}

// graceRule checks how long the old key may live on.
func (c *compiled) graceRule(n int) RuleResult {
	max := c.rotate.MaxGraceMinutes
	switch {
	case n == 0:
		return RuleResult{RuleGrace, Pass, "no grace: the old key is revoked at once"}
	case n < 0:
		return RuleResult{RuleGrace, Fail, "grace_minutes " + strconv.Itoa(n) + " is below 0; give 0.." + strconv.Itoa(max) + " (rotate.max_grace_minutes)"}
	case n > max:
		return RuleResult{RuleGrace, Fail, "grace_minutes " + strconv.Itoa(n) + " is over rotate.max_grace_minutes " + strconv.Itoa(max)}
	}
	return RuleResult{RuleGrace, Pass, "the old key lives on for " + strconv.Itoa(n) + " minutes, within rotate.max_grace_minutes " + strconv.Itoa(max)}
}

// Rotate returns the confirmation mode of a rotation, which is a create and
// a revoke confirmed in one question: the stricter of the two modes.
func (r ConfirmRules) Rotate() ConfirmMode {
	rank := func(m ConfirmMode) int {
		switch m {
		case ConfirmAlways:
			return 2
		case ConfirmIfSupported:
			return 1
		}
		return 0
	}
	if rank(r.Revoke) > rank(r.Create) {
		return r.Revoke
	}
	return r.Create
}

// oldPermissionRule checks that the replacement names the permission it
// copies from the old key.
func oldPermissionRule(perm string) RuleResult {
	if perm == "" {
		return RuleResult{RuleOldPermission, Fail, "neither the audit log nor the listing shows the old key's permission, so a replacement could be wider; create a new key with create_scoped_key instead"}
	}
	return RuleResult{RuleOldPermission, Pass, "the replacement copies permission " + perm}
}
