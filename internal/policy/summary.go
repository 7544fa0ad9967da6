package policy

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// DeniesAllWrites reports whether the policy has no allow pattern at all, so
// that every create and every revoke is refused.
func (p *Policy) DeniesAllWrites() bool {
	return len(p.comp().allow.ms) == 0
}

// Summary describes the policy for a person, in a few lines: where it comes
// from, allowed and denied patterns, allow_new, limits, revoke rules, quota,
// confirmation, secret delivery and audit.
func (p *Policy) Summary() string {
	c := p.comp()
	if c.builtin {
		return noPolicyText
	}
	var b strings.Builder
	fmt.Fprintf(&b, "policy from %s\n", strconv.Quote(c.source))
	if len(c.allow.ms) == 0 {
		b.WriteString("allowed tags: none, so every create and revoke is refused\n")
	} else {
		fmt.Fprintf(&b, "allowed tags: %s\n", quoteList(patternSources(c.allow), 50))
	}
	if len(c.deny.ms) == 0 {
		b.WriteString("denied tags: none\n")
	} else {
		fmt.Fprintf(&b, "denied tags (any case; deny beats allow): %s\n", quoteList(patternSources(c.deny), 50))
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
	switch q := c.quota; {
	case q.MaxKeysPerHour > 0 && q.MaxKeysPerDay > 0:
		fmt.Fprintf(&b, "quota: at most %d keys per hour and %d per day (rolling, counted from the audit log)\n", q.MaxKeysPerHour, q.MaxKeysPerDay)
	case q.MaxKeysPerHour > 0:
		fmt.Fprintf(&b, "quota: at most %d keys per hour (rolling, counted from the audit log)\n", q.MaxKeysPerHour)
	case q.MaxKeysPerDay > 0:
		fmt.Fprintf(&b, "quota: at most %d keys per day (rolling, counted from the audit log)\n", q.MaxKeysPerDay)
	default:
		b.WriteString("quota: none\n")
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
	b.WriteString("full access: never granted and never revoked (built in; no setting changes it)")
	return b.String()
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
// filled in, as a YAML document in the policy file format (Parse reads it
// back to an equivalent policy). It is the text of the MCP resource
// mcp-keys://policy.
func (p *Policy) EffectiveYAML() []byte {
	c := p.comp()
	var b strings.Builder
	b.WriteString("# effective mcp-keys policy, built-in values filled in\n")
	fmt.Fprintf(&b, "# source: %s\n", strconv.QuoteToASCII(c.source))
	if c.builtin {
		b.WriteString("# " + noPolicyText + "\n")
	}
	b.WriteString("# full access keys are never granted or revoked (built in)\n")
	b.WriteString("version: 1\ntags:\n")
	writeYAMLList(&b, "allow", patternSources(c.allow))
	writeYAMLList(&b, "deny", patternSources(c.deny))
	fmt.Fprintf(&b, "  allow_new: %t\n", c.allowNew)
	b.WriteString("keys:\n")
	fmt.Fprintf(&b, "  name_prefix: %s\n", strconv.Quote(c.keys.NamePrefix))
	fmt.Fprintf(&b, "  default_expiry_days: %d\n", c.keys.DefaultExpiryDays)
	fmt.Fprintf(&b, "  max_expiry_days: %d\n", c.keys.MaxExpiryDays)
	fmt.Fprintf(&b, "  max_rate_limit: %d\n", c.keys.MaxRateLimit)
	fmt.Fprintf(&b, "  max_rate_window_ms: %d\n", c.keys.MaxRateWindowMs)
	b.WriteString("revoke:\n")
	fmt.Fprintf(&b, "  enabled: %t\n", c.revoke.Enabled)
	fmt.Fprintf(&b, "  only_prefixed: %t\n", c.revoke.OnlyPrefixed)
	fmt.Fprintf(&b, "  only_minted: %t\n", c.revoke.OnlyMinted)
	if c.quota.MaxKeysPerHour == 0 && c.quota.MaxKeysPerDay == 0 {
		b.WriteString("quota: {}  # no quota\n")
	} else {
		b.WriteString("quota:\n")
		if c.quota.MaxKeysPerHour > 0 {
			fmt.Fprintf(&b, "  max_keys_per_hour: %d\n", c.quota.MaxKeysPerHour)
		}
		if c.quota.MaxKeysPerDay > 0 {
			fmt.Fprintf(&b, "  max_keys_per_day: %d\n", c.quota.MaxKeysPerDay)
		}
	}
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
	return []byte(b.String())
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
