package policy

import (
	"strconv"

	"go.yaml.in/yaml/v3"
)

// callerFunc decodes the value of one field of a callers rule.
type callerFunc func(d *decoder, path string, v *yaml.Node, r *CallerRule)

var callerFields = map[string]callerFunc{
	"match": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		decodeFields(d, path, v, matchFields, &r.Match)
		if v.Kind != yaml.MappingNode {
			return
		}
		switch m := r.Match; {
		case m.Any && m != (CallerCondition{Any: true}):
			d.errorf(v, "%s: any: true matches every caller and cannot be combined with other conditions", path)
		case len(v.Content) == 0:
			d.errorf(v, "%s: give at least one of sub, email, group, token, or any: true", path)
		}
	},
	"tags": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		decodeFields(d, path, v, callerTagFields, r)
	},
	"keys": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		decodeFields(d, path, v, callerKeyFields, r)
	},
	"quota": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		decodeFields(d, path, v, callerQuotaFields, r)
	},
	"revoke": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		decodeFields(d, path, v, callerRevokeFields, r)
	},
}

// matchValue decodes one condition of a match.
func matchValue(dst func(*CallerCondition) *string) func(*decoder, string, *yaml.Node, *CallerCondition) {
	return func(d *decoder, path string, v *yaml.Node, m *CallerCondition) {
		str, ok := d.str(path, v)
		if !ok {
			return
		}
		if err := checkMatchValue(str); err != nil {
			d.errorf(v, "%s: %v", path, err)
			return
		}
		*dst(m) = str
	}
}

var matchFields = map[string]func(*decoder, string, *yaml.Node, *CallerCondition){
	"sub":   matchValue(func(m *CallerCondition) *string { return &m.Sub }),
	"email": matchValue(func(m *CallerCondition) *string { return &m.Email }),
	"group": matchValue(func(m *CallerCondition) *string { return &m.Group }),
	"token": matchValue(func(m *CallerCondition) *string { return &m.Token }),
	"any": func(d *decoder, path string, v *yaml.Node, m *CallerCondition) {
		var b bool
		d.boolean(path, v, &b)
		if v.ShortTag() == "!!bool" && !b {
			d.errorf(v, "%s: false matches no one; remove it, or write any: true to match every caller", path)
			return
		}
		m.Any = b
	},
}

var callerTagFields = map[string]callerFunc{
	"allow": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		r.Tags.Allow = d.patterns(path, v)
		r.Tags.AllowSet = true
	},
	"deny": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		r.Tags.Deny = d.patterns(path, v)
	},
	"read_only": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		r.Tags.ReadOnly = d.patterns(path, v)
	},
}

// callerInt decodes an integer limit of a callers rule, in lo..hi.
func callerInt(dst func(*CallerRule) *int, lo, hi int) callerFunc {
	return func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		if n, ok := d.intIn(path, v, lo, hi); ok {
			*dst(r) = n
		}
	}
}

var callerKeyFields = map[string]callerFunc{
	"max_expiry_days":    callerInt(func(r *CallerRule) *int { return &r.Keys.MaxExpiryDays }, 1, CeilingExpiryDays),
	"max_lease_minutes":  callerInt(func(r *CallerRule) *int { return &r.Keys.MaxLeaseMinutes }, 1, CeilingLeaseMinutes),
	"max_tags":           callerInt(func(r *CallerRule) *int { return &r.Keys.MaxTags }, 1, CeilingTags),
	"max_rate_limit":     callerInt(func(r *CallerRule) *int { return &r.Keys.MaxRateLimit }, 1, CeilingRateLimit),
	"max_rate_window_ms": callerInt(func(r *CallerRule) *int { return &r.Keys.MaxRateWindowMs }, 1, CeilingRateWindowMs),
	"default_permission": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		if w, ok := d.word(path, v, []string{PermissionRead, PermissionWrite}, permissionsText); ok {
			r.Keys.DefaultPermission = w
		}
	},
	"require_lease": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		d.boolean(path, v, &r.Keys.RequireLease)
	},
}

var callerQuotaFields = map[string]callerFunc{
	"max_keys_per_hour": callerInt(func(r *CallerRule) *int { return &r.Quota.MaxKeysPerHour }, 1, CeilingKeysPerHour),
	"max_keys_per_day":  callerInt(func(r *CallerRule) *int { return &r.Quota.MaxKeysPerDay }, 1, CeilingKeysPerDay),
}

var callerRevokeFields = map[string]callerFunc{
	"scope": func(d *decoder, path string, v *yaml.Node, r *CallerRule) {
		if w, ok := d.word(path, v, []string{string(ScopeOwn), string(ScopeTeam)}, scopesText); ok {
			r.Scope = RevokeScope(w)
		}
	},
}

// decodeCallers decodes the callers section: a non-empty list of rules, each
// with a match and optional tags, keys, quota and revoke. A rule that an
// earlier one always shadows is refused: it could never apply.
func decodeCallers(d *decoder, path string, v *yaml.Node, s *settings) {
	if v.Kind != yaml.SequenceNode {
		extra := ""
		if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
			extra = " (remove the section when there are no rules)"
		}
		d.errorf(v, "%s: expected a list of rules (each with match and optional tags, keys, quota, revoke), got %s%s", path, describe(v), extra)
		return
	}
	switch {
	case len(v.Content) == 0:
		d.errorf(v, "%s: an empty list refuses every remote caller; add a rule, or remove the section", path)
		return
	case len(v.Content) > MaxCallerRules:
		d.errorf(v, "%s: %d rules; at most %d are allowed", path, len(v.Content), MaxCallerRules)
		return
	}
	rules := make([]CallerRule, 0, len(v.Content))
	index := make([]int, 0, len(v.Content)) // position in the file of each rule
	for i, item := range v.Content {
		p := path + "[" + strconv.Itoa(i) + "]"
		r := CallerRule{Scope: ScopeOwn}
		if item.Kind != yaml.MappingNode {
			d.errorf(item, "%s: expected a rule (a mapping with match and optional tags, keys, quota, revoke), got %s", p, describe(item))
			continue
		}
		decodeFields(d, p, item, callerFields, &r)
		match := d.values[p+".match"]
		if match == nil {
			d.errorf(item, "%s: match is required (any of sub, email, group, token, or any: true)", p)
			continue
		}
		d.quotaOrder(p+".quota", r.Quota)
		if r.Match != (CallerCondition{}) {
			for j, earlier := range rules {
				switch {
				case earlier.Match.Any:
					d.errorf(match, "%s.match: %s[%d] matches every caller (any: true), so this rule can never apply", p, path, index[j])
				case earlier.Match == r.Match:
					d.errorf(match, "%s.match: the same as %s[%d].match, so this rule can never apply", p, path, index[j])
				default:
					continue
				}
				break
			}
		}
		rules = append(rules, r)
		index = append(index, i)
	}
	s.callers = rules
}
