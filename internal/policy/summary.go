package policy

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// DeniesAllWrites reports whether the policy has no allow pattern at all
// (for a caller's policy: none that the caller may use), so that every
// create and every revoke is refused.
func (p *Policy) DeniesAllWrites() bool {
	c := p.comp()
	return len(c.allow.ms) == 0 || c.narrow != nil && len(c.narrow.ms) == 0 || c.caller.mode == callerNone
}

// Summary describes the policy for a person, in a few lines: where it comes
// from, allowed, denied and read-only patterns, allow_new, limits, leases,
// revoke and rotate rules, quota, confirmation, secret delivery, audit and
// the callers section. A caller's policy (ForCaller) says whose it is, shows
// only that caller's allow patterns and never other callers' rules.
func (p *Policy) Summary() string {
	c := p.comp()
	if c.builtin {
		return noPolicyText
	}
	var b strings.Builder
	switch c.caller.mode {
	case callerNone:
		fmt.Fprintf(&b, "policy from %s: no callers rule matches this caller, so it can mint, revoke, rotate and list nothing\n", strconv.Quote(c.source))
		b.WriteString("full access: never granted and never revoked (built in; no setting changes it)")
		return b.String()
	case callerRule:
		fmt.Fprintf(&b, "policy from %s for %s\n", strconv.Quote(c.source), c.caller.match.Rule)
	case callerAll:
		fmt.Fprintf(&b, "policy from %s for a remote caller (no callers section: the top-level policy)\n", strconv.Quote(c.source))
	default:
		fmt.Fprintf(&b, "policy from %s\n", strconv.Quote(c.source))
	}
	switch {
	case c.narrow != nil && len(c.narrow.ms) == 0:
		fmt.Fprintf(&b, "allowed tags: none (%s.tags.allow is empty), so every create and revoke is refused\n", c.caller.label)
	case c.narrow != nil:
		fmt.Fprintf(&b, "allowed tags: %s (each also within the top-level allow patterns)\n", quoteList(patternSources(*c.narrow), 50))
	case len(c.allow.ms) == 0:
		b.WriteString("allowed tags: none, so every create and revoke is refused\n")
	default:
		fmt.Fprintf(&b, "allowed tags: %s\n", quoteList(patternSources(c.allow), 50))
	}
	if len(c.deny.ms) == 0 {
		b.WriteString("denied tags: none\n")
	} else {
		fmt.Fprintf(&b, "denied tags (any case; deny beats allow): %s\n", quoteList(patternSources(c.deny), 50))
	}
	if len(c.readOnly.ms) > 0 {
		fmt.Fprintf(&b, "read-only tags (any case; a key that includes one may only read): %s\n", quoteList(patternSources(c.readOnly), 50))
	}
	if c.allowNew {
		b.WriteString("new tags: allowed (minting a key for a new tag creates a tenant)\n")
	} else {
		b.WriteString("new tags: refused (only tags that already exist)\n")
	}
	fmt.Fprintf(&b, "key names: prefix %s, printable, at most %d characters\n", strconv.Quote(c.keys.NamePrefix), MaxNameLength)
	fmt.Fprintf(&b, "expiry: default %d days, at most %d; keys that never expire are refused\n", c.keys.DefaultExpiryDays, c.keys.MaxExpiryDays)
	fmt.Fprintf(&b, "rate limit: at most %d requests per window (default %d); window at most %d ms (default %d)\n",
		c.keys.MaxRateLimit, c.defaultRate, c.keys.MaxRateWindowMs, c.defaultWindow)
	fmt.Fprintf(&b, "tags per key: 1 to %d; permission read or write (default %s)\n", c.access.MaxTags, c.access.DefaultPermission)
	lease := "optional"
	if c.access.RequireLease {
		lease = "required"
	}
	fmt.Fprintf(&b, "leases: %s, 1 to %d minutes (a leased key is minted for %d day and revoked by mcp-keys when the lease ends)\n",
		lease, c.access.MaxLeaseMinutes, LeaseExpiryDays)
	switch {
	case !c.revoke.Enabled:
		b.WriteString("revoke: disabled\n")
	case c.revoke.OnlyPrefixed && c.revoke.OnlyMinted:
		fmt.Fprintf(&b, "revoke: scoped keys whose tags are all allowed, whose name starts with %s, and that the audit log records as minted through mcp-keys\n", strconv.Quote(c.keys.NamePrefix))
	case c.revoke.OnlyPrefixed:
		fmt.Fprintf(&b, "revoke: scoped keys whose tags are all allowed and whose name starts with %s\n", strconv.Quote(c.keys.NamePrefix))
	case c.revoke.OnlyMinted:
		b.WriteString("revoke: scoped keys whose tags are all allowed and that the audit log records as minted through mcp-keys\n")
	default:
		b.WriteString("revoke: scoped keys whose tags are all allowed\n")
	}
	switch c.revoke.Scope {
	case ScopeOwn:
		b.WriteString("revoke scope: own (only keys this caller minted)\n")
	case ScopeTeam:
		b.WriteString("revoke scope: team (keys minted through mcp-keys on tags this caller may use)\n")
	}
	if c.rotate.Enabled {
		fmt.Fprintf(&b, "rotate: enabled; the old key may live on for at most %d minutes; confirmed like the stricter of create and revoke\n", c.rotate.MaxGraceMinutes)
	} else {
		b.WriteString("rotate: disabled\n")
	}
	b.WriteString("quota: " + quotaText(c.quota) + "\n")
	if c.caller.mode == callerRule {
		b.WriteString("quota for this caller: " + quotaText(c.callerQuota) + "\n")
	}
	fmt.Fprintf(&b, "confirmation by a person: create %s; revoke %s\n", confirmText(c.confirm.Create), confirmText(c.confirm.Revoke))
	if c.secrets.Deliver == DeliverFile {
		fmt.Fprintf(&b, "new keys: written to %s, not shown in the chat\n", strconv.Quote(filepath.Join(c.secrets.Dir, "<key-id>.env")))
	} else {
		b.WriteString("new keys: shown once in the chat\n")
	}
	if c.audit.Required {
		b.WriteString("audit: required (a create or revoke whose record cannot be written first is refused)\n")
	} else {
		b.WriteString("audit: best effort (a create or revoke goes ahead even if its record cannot be written)\n")
	}
	if !c.caller.remote() {
		writeCallersSummary(&b, c.set.callers)
	}
	b.WriteString("full access: never granted and never revoked (built in; no setting changes it)")
	return b.String()
}

// quotaText describes a quota.
func quotaText(q QuotaRules) string {
	switch {
	case q.MaxKeysPerHour > 0 && q.MaxKeysPerDay > 0:
		return fmt.Sprintf("at most %d keys per hour and %d per day (rolling, counted from the audit log)", q.MaxKeysPerHour, q.MaxKeysPerDay)
	case q.MaxKeysPerHour > 0:
		return fmt.Sprintf("at most %d keys per hour (rolling, counted from the audit log)", q.MaxKeysPerHour)
	case q.MaxKeysPerDay > 0:
		return fmt.Sprintf("at most %d keys per day (rolling, counted from the audit log)", q.MaxKeysPerDay)
	}
	return "none"
}

// writeCallersSummary describes the callers section, one line per rule.
func writeCallersSummary(b *strings.Builder, rules []CallerRule) {
	if len(rules) == 0 {
		b.WriteString("callers: no callers section (in HTTP mode every caller gets this policy, revoke scope own)\n")
		return
	}
	fmt.Fprintf(b, "callers (HTTP mode only; stdio ignores them): %d rules, the first that matches applies; a caller that matches none can do nothing\n", len(rules))
	for i, r := range rules {
		if i == 50 {
			fmt.Fprintf(b, "  … and %d more rules\n", len(rules)-50)
			break
		}
		parts := []string{}
		if r.Tags.AllowSet {
			if len(r.Tags.Allow) == 0 {
				parts = append(parts, "tags: none")
			} else {
				parts = append(parts, "tags "+quoteList(r.Tags.Allow, 10))
			}
		}
		if len(r.Tags.Deny) > 0 {
			parts = append(parts, "deny "+quoteList(r.Tags.Deny, 10))
		}
		if len(r.Tags.ReadOnly) > 0 {
			parts = append(parts, "read-only "+quoteList(r.Tags.ReadOnly, 10))
		}
		var keys []string
		k := r.Keys
		for _, f := range []struct {
			name string
			v    int
		}{{"max_expiry_days", k.MaxExpiryDays}, {"max_lease_minutes", k.MaxLeaseMinutes}, {"max_tags", k.MaxTags},
			{"max_rate_limit", k.MaxRateLimit}, {"max_rate_window_ms", k.MaxRateWindowMs}} {
			if f.v > 0 {
				keys = append(keys, f.name+" "+strconv.Itoa(f.v))
			}
		}
		if k.DefaultPermission != "" {
			keys = append(keys, "default_permission "+k.DefaultPermission)
		}
		if k.RequireLease {
			keys = append(keys, "require_lease")
		}
		if len(keys) > 0 {
			parts = append(parts, strings.Join(keys, ", "))
		}
		if r.Quota != (QuotaRules{}) {
			parts = append(parts, "quota "+strings.TrimSuffix(quotaText(r.Quota), " (rolling, counted from the audit log)"))
		}
		parts = append(parts, "revoke scope "+string(r.Scope))
		fmt.Fprintf(b, "  callers[%d] (match: %s): %s\n", i, r.Match.String(), strings.Join(parts, "; "))
	}
}

// confirmText describes a confirmation mode for Summary.
func confirmText(m ConfirmMode) string {
	switch m {
	case ConfirmIfSupported:
		return "asked when the client supports it"
	case ConfirmAlways:
		return "always asked (refused when the client cannot ask)"
	}
	return "never asked"
}

func patternSources(ps patternSet) []string {
	out := make([]string, len(ps.ms))
	for i := range ps.ms {
		out[i] = ps.ms[i].src
	}
	return out
}

// EffectiveYAML returns the effective policy, with every built-in value
// filled in, as a YAML document in the policy file format. For a top-level
// policy, Parse reads it back to an equivalent policy; it includes the
// callers section, so serve a remote caller the YAML of its own policy
// (ForCaller), never the top level's. A caller's policy describes what
// that caller may do: only its allow patterns (a tag must also pass the
// top-level ones, which it does not list), the merged deny and read-only
// patterns, the stricter limits, and its rule, quota and revoke scope as
// comments. It is the text of the MCP resource mcp-keys://policy.
func (p *Policy) EffectiveYAML() []byte {
	c := p.comp()
	var b strings.Builder
	b.WriteString("# effective mcp-keys policy, built-in values filled in\n")
	fmt.Fprintf(&b, "# source: %s\n", strconv.QuoteToASCII(c.source))
	if c.builtin {
		b.WriteString("# " + noPolicyText + "\n")
	}
	allow := patternSources(c.allow)
	switch c.caller.mode {
	case callerNone:
		b.WriteString("# this caller: no callers rule matches it, so it can mint, revoke, rotate and list nothing\n")
	case callerAll:
		b.WriteString("# this caller: no callers section, so the top-level policy applies with revoke scope own\n")
	case callerRule:
		fmt.Fprintf(&b, "# this caller: %s\n", yamlComment(c.caller.match.Rule))
		fmt.Fprintf(&b, "# revoke scope: %s\n", c.revoke.Scope)
		fmt.Fprintf(&b, "# quota for this caller: %s\n", quotaText(c.callerQuota))
		if c.narrow != nil {
			allow = patternSources(*c.narrow)
			b.WriteString("# tags.allow lists this caller's patterns; a tag must also pass the top-level allow patterns (not shown)\n")
		}
	}
	b.WriteString("# full access keys are never granted or revoked (built in)\n")
	b.WriteString("version: 1\ntags:\n")
	writeYAMLList(&b, "allow", allow)
	writeYAMLList(&b, "deny", patternSources(c.deny))
	if len(c.readOnly.ms) > 0 {
		writeYAMLList(&b, "read_only", patternSources(c.readOnly))
	}
	fmt.Fprintf(&b, "  allow_new: %t\n", c.allowNew)
	b.WriteString("keys:\n")
	fmt.Fprintf(&b, "  name_prefix: %s\n", strconv.Quote(c.keys.NamePrefix))
	fmt.Fprintf(&b, "  default_expiry_days: %d\n", c.keys.DefaultExpiryDays)
	fmt.Fprintf(&b, "  max_expiry_days: %d\n", c.keys.MaxExpiryDays)
	fmt.Fprintf(&b, "  max_rate_limit: %d\n", c.keys.MaxRateLimit)
	fmt.Fprintf(&b, "  max_rate_window_ms: %d\n", c.keys.MaxRateWindowMs)
	fmt.Fprintf(&b, "  max_tags: %d\n", c.access.MaxTags)
	fmt.Fprintf(&b, "  default_permission: %s\n", c.access.DefaultPermission)
	fmt.Fprintf(&b, "  max_lease_minutes: %d\n", c.access.MaxLeaseMinutes)
	fmt.Fprintf(&b, "  require_lease: %t\n", c.access.RequireLease)
	fmt.Fprintf(&b, "  assume_write_permission: %t\n", c.access.AssumeWritePermission)
	b.WriteString("revoke:\n")
	fmt.Fprintf(&b, "  enabled: %t\n", c.revoke.Enabled)
	fmt.Fprintf(&b, "  only_prefixed: %t\n", c.revoke.OnlyPrefixed)
	fmt.Fprintf(&b, "  only_minted: %t\n", c.revoke.OnlyMinted)
	b.WriteString("rotate:\n")
	fmt.Fprintf(&b, "  enabled: %t\n", c.rotate.Enabled)
	fmt.Fprintf(&b, "  max_grace_minutes: %d\n", c.rotate.MaxGraceMinutes)
	writeYAMLQuota(&b, "quota", "", c.quota)
	b.WriteString("confirm:\n")
	fmt.Fprintf(&b, "  create: %s\n", c.confirm.Create)
	fmt.Fprintf(&b, "  revoke: %s\n", c.confirm.Revoke)
	b.WriteString("secrets:\n")
	fmt.Fprintf(&b, "  deliver: %s\n", c.secrets.Deliver)
	if c.secrets.Dir != "" {
		fmt.Fprintf(&b, "  dir: %s\n", strconv.Quote(c.secrets.Dir))
	}
	b.WriteString("audit:\n")
	fmt.Fprintf(&b, "  required: %t\n", c.audit.Required)
	if !c.caller.remote() && len(c.set.callers) > 0 {
		writeYAMLCallers(&b, c.set.callers)
	}
	return []byte(b.String())
}

// yamlComment makes s safe on one comment line.
func yamlComment(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// writeYAMLQuota writes a quota section (at indent), or {} for none.
func writeYAMLQuota(b *strings.Builder, key, indent string, q QuotaRules) {
	if q.MaxKeysPerHour == 0 && q.MaxKeysPerDay == 0 {
		fmt.Fprintf(b, "%s%s: {}  # no quota\n", indent, key)
		return
	}
	fmt.Fprintf(b, "%s%s:\n", indent, key)
	if q.MaxKeysPerHour > 0 {
		fmt.Fprintf(b, "%s  max_keys_per_hour: %d\n", indent, q.MaxKeysPerHour)
	}
	if q.MaxKeysPerDay > 0 {
		fmt.Fprintf(b, "%s  max_keys_per_day: %d\n", indent, q.MaxKeysPerDay)
	}
}

// writeYAMLCallers writes the callers section. Match values are printable
// (Parse and newPolicy check it), so strconv.Quote's escapes are YAML's.
func writeYAMLCallers(b *strings.Builder, rules []CallerRule) {
	b.WriteString("callers:\n")
	for _, r := range rules {
		var m []string
		if r.Match.Any {
			m = append(m, "any: true")
		}
		for _, kv := range [][2]string{{"sub", r.Match.Sub}, {"email", r.Match.Email}, {"group", r.Match.Group}, {"token", r.Match.Token}} {
			if kv[1] != "" {
				m = append(m, kv[0]+": "+strconv.Quote(kv[1]))
			}
		}
		fmt.Fprintf(b, "  - match: {%s}\n", strings.Join(m, ", "))
		t := r.Tags
		if t.AllowSet || len(t.Deny) > 0 || len(t.ReadOnly) > 0 {
			b.WriteString("    tags:\n")
			if t.AllowSet {
				fmt.Fprintf(b, "      allow: %s\n", yamlFlowList(t.Allow))
			}
			if len(t.Deny) > 0 {
				fmt.Fprintf(b, "      deny: %s\n", yamlFlowList(t.Deny))
			}
			if len(t.ReadOnly) > 0 {
				fmt.Fprintf(b, "      read_only: %s\n", yamlFlowList(t.ReadOnly))
			}
		}
		k := r.Keys
		var keys []string
		for _, f := range []struct {
			name string
			v    int
		}{{"max_expiry_days", k.MaxExpiryDays}, {"max_lease_minutes", k.MaxLeaseMinutes}, {"max_tags", k.MaxTags},
			{"max_rate_limit", k.MaxRateLimit}, {"max_rate_window_ms", k.MaxRateWindowMs}} {
			if f.v > 0 {
				keys = append(keys, f.name+": "+strconv.Itoa(f.v))
			}
		}
		if k.DefaultPermission != "" {
			keys = append(keys, "default_permission: "+k.DefaultPermission)
		}
		if k.RequireLease {
			keys = append(keys, "require_lease: true")
		}
		if len(keys) > 0 {
			fmt.Fprintf(b, "    keys: {%s}\n", strings.Join(keys, ", "))
		}
		if r.Quota != (QuotaRules{}) {
			writeYAMLQuota(b, "quota", "    ", r.Quota)
		}
		fmt.Fprintf(b, "    revoke: {scope: %s}\n", r.Scope)
	}
}

// yamlFlowList writes patterns as a flow list; patterns hold only tag
// characters and wildcards, so double quotes need no escape.
func yamlFlowList(list []string) string {
	q := make([]string, len(list))
	for i, s := range list {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// writeYAMLList writes a list of patterns; patterns hold only tag characters
// and wildcards, so double quotes need no escape.
func writeYAMLList(b *strings.Builder, key string, list []string) {
	if len(list) == 0 {
		fmt.Fprintf(b, "  %s: []\n", key)
		return
	}
	fmt.Fprintf(b, "  %s:\n", key)
	for _, s := range list {
		fmt.Fprintf(b, "    - %s\n", strconv.Quote(s))
	}
}
