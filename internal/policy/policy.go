package policy

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Source names for policies that do not come from a file.
const (
	// SourceDefault is the Source of Default().
	SourceDefault = "built-in default (deny all)"
	// SourceAllowedTags is the Source of a policy built by FromAllowedTags.
	SourceAllowedTags = "MCP_KEYS_ALLOWED_TAGS"
)

// MaxNamePrefixLength is the longest keys.name_prefix accepted.
const MaxNamePrefixLength = 50

// noPolicyText is what Summary and refusals say when there is no policy.
const noPolicyText = "no policy: every create and revoke is refused; set MCP_KEYS_POLICY or MCP_KEYS_ALLOWED_TAGS"

// noAllowDefault is the tag_allow detail when no policy was configured.
const noAllowDefault = "no tags are allowed: set MCP_KEYS_POLICY or MCP_KEYS_ALLOWED_TAGS"

// compiled is everything evaluation reads, built once when a Policy is made.
// Evaluation never reads the exported fields of Policy, so a caller that
// modifies them cannot widen what is allowed.
type compiled struct {
	builtin  bool
	source   string
	allow    patternSet
	deny     patternSet
	allowNew bool
	keys     KeyRules
	revoke   RevokeRules
	quota    QuotaRules
	confirm  ConfirmRules
	secrets  SecretsRules
	audit    AuditRules

	defaultRate   int // rate limit sent when the request has none
	defaultWindow int // rate window sent when the request has none
	prefixRunes   int // utf8 length of keys.NamePrefix

	// Details precomputed so that an allowed evaluation formats nothing.
	noAllow       string // tag_allow fail when there is no allow pattern
	allowList     string // the allow patterns, quoted, for tag_allow fail
	expiryDefault string
	expiryWithin  string
	rateDefault   string
	rateWithin    string
	windowDefault string
	windowWithin  string
	nameHas       string
	namePrepended string
	nameDefault   string
	prefixPass    string
}

// settings is a whole policy before compilation: what Parse decodes,
// starting from the built-in values.
type settings struct {
	tags    TagRules
	keys    KeyRules
	revoke  RevokeRules
	quota   QuotaRules
	confirm ConfirmRules
	secrets SecretsRules
	audit   AuditRules
}

// defaultSettings returns the built-in value of every section.
func defaultSettings() settings {
	return settings{
		tags:    defaultTags(),
		keys:    defaultKeys(),
		revoke:  defaultRevoke(),
		confirm: ConfirmRules{Create: ConfirmNever, Revoke: ConfirmNever},
		secrets: SecretsRules{Deliver: DeliverChat},
		audit:   AuditRules{Required: true},
	}
}

// defaultKeys returns the built-in keys section.
func defaultKeys() KeyRules {
	return KeyRules{
		NamePrefix:        DefaultNamePrefix,
		DefaultExpiryDays: DefaultExpiryDays,
		MaxExpiryDays:     DefaultMaxExpiryDays,
		MaxRateLimit:      DefaultMaxRateLimit,
		MaxRateWindowMs:   DefaultMaxRateWindowMs,
	}
}

// defaultTags returns the built-in tags section: nothing allowed, new tags
// allowed once something is.
func defaultTags() TagRules { return TagRules{AllowNew: true} }

// defaultRevoke returns the built-in revoke section.
func defaultRevoke() RevokeRules {
	return RevokeRules{Enabled: true, OnlyPrefixed: true, OnlyMinted: true}
}

// Default returns the policy used when neither a policy file nor
// MCP_KEYS_ALLOWED_TAGS is given: built-in values everywhere and no allow
// pattern, so every create and every revoke is refused.
func Default() *Policy {
	p, err := newPolicy(SourceDefault, defaultSettings())
	if err != nil {
		panic("policy: built-in default is invalid: " + err.Error()) // a bug, not input
	}
	p.c.builtin = true
	p.c.noAllow = noAllowDefault
	return p
}

// FromAllowedTags builds the policy for the MCP_KEYS_ALLOWED_TAGS shorthand:
// comma-separated allow patterns, each trimmed of surrounding white space,
// empty items ignored, built-in values for everything else. A bad pattern is
// an error naming it (a *LoadError, or several joined).
func FromAllowedTags(list string) (*Policy, error) {
	s := defaultSettings()
	tags := &s.tags
	var errs []error
	for i, item := range strings.Split(list, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if err := ValidPattern(item); err != nil {
			errs = append(errs, &LoadError{File: SourceAllowedTags, Msg: fmt.Sprintf("item %d: %v", i+1, err)})
			continue
		}
		tags.Allow = append(tags.Allow, item)
	}
	if len(tags.Allow) == 0 && len(errs) == 0 {
		errs = append(errs, &LoadError{File: SourceAllowedTags, Msg: "no pattern given; set it to comma-separated tag patterns such as proj-*,user_*, or unset it"})
	}
	if len(tags.Allow) > MaxPatterns {
		errs = append(errs, &LoadError{File: SourceAllowedTags, Msg: fmt.Sprintf("%d patterns; at most %d are allowed", len(tags.Allow), MaxPatterns)})
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return newPolicy(SourceAllowedTags, s)
}

// newPolicy compiles validated settings. It re-checks the invariants that
// evaluation relies on, so no path can build a policy beyond the ceilings.
func newPolicy(source string, s settings) (*Policy, error) {
	tags, keys, revoke := s.tags, s.keys, s.revoke
	if err := checkKeys(keys); err != nil {
		return nil, err
	}
	if err := checkGuardrails(s); err != nil {
		return nil, err
	}
	for _, list := range [][]string{tags.Allow, tags.Deny} {
		for _, pat := range list {
			if err := ValidPattern(pat); err != nil {
				return nil, err
			}
		}
	}
	tags.Allow = append([]string(nil), tags.Allow...)
	tags.Deny = append([]string(nil), tags.Deny...)
	p := &Policy{Source: source, Tags: tags, Keys: keys, Revoke: revoke, Quota: s.quota, Confirm: s.confirm, Secrets: s.secrets, Audit: s.audit}
	c := &compiled{
		source:   source,
		allowNew: tags.AllowNew,
		keys:     keys,
		revoke:   revoke,
		quota:    s.quota,
		confirm:  s.confirm,
		secrets:  s.secrets,
		audit:    s.audit,
		allow: compilePatterns(tags.Allow, false, func(pat string) string {
			return "allowed by pattern " + strconv.Quote(pat)
		}),
		deny: compilePatterns(tags.Deny, true, func(pat string) string {
			return "denied by pattern " + strconv.Quote(pat) + " (deny patterns ignore case)"
		}),
		defaultRate:   min(APIDefaultRateLimit, keys.MaxRateLimit),
		defaultWindow: min(APIDefaultRateWindowMs, keys.MaxRateWindowMs),
		prefixRunes:   utf8.RuneCountInString(keys.NamePrefix),
	}
	c.noAllow = "no tags are allowed: the policy " + strconv.Quote(source) + " has no tags.allow patterns"
	c.allowList = quoteList(tags.Allow, 10)
	c.expiryDefault = fmt.Sprintf("not given: default_expiry_days %d (max_expiry_days %d)", keys.DefaultExpiryDays, keys.MaxExpiryDays)
	c.expiryWithin = fmt.Sprintf("within max_expiry_days %d", keys.MaxExpiryDays)
	if c.defaultRate == APIDefaultRateLimit {
		c.rateDefault = fmt.Sprintf("not given: %d, the API default (max_rate_limit %d)", c.defaultRate, keys.MaxRateLimit)
	} else {
		c.rateDefault = fmt.Sprintf("not given: %d, the API default %d capped by max_rate_limit", c.defaultRate, APIDefaultRateLimit)
	}
	c.rateWithin = fmt.Sprintf("within max_rate_limit %d", keys.MaxRateLimit)
	if c.defaultWindow == APIDefaultRateWindowMs {
		c.windowDefault = fmt.Sprintf("not given: %d ms, the API default (max_rate_window_ms %d)", c.defaultWindow, keys.MaxRateWindowMs)
	} else {
		c.windowDefault = fmt.Sprintf("not given: %d ms, the API default %d capped by max_rate_window_ms", c.defaultWindow, APIDefaultRateWindowMs)
	}
	c.windowWithin = fmt.Sprintf("within max_rate_window_ms %d", keys.MaxRateWindowMs)
	qp := strconv.Quote(keys.NamePrefix)
	c.nameHas = "printable; already starts with name_prefix " + qp
	c.namePrepended = "printable; name_prefix " + qp + " prepended"
	c.nameDefault = "not given: <name_prefix><tag>-<yyyymmdd>, name_prefix " + qp
	c.prefixPass = "name starts with name_prefix " + qp
	p.c = c
	return p, nil
}

// checkKeys enforces the ranges of the keys section.
func checkKeys(k KeyRules) error {
	switch {
	case k.MaxExpiryDays < 1 || k.MaxExpiryDays > CeilingExpiryDays:
		return fmt.Errorf("max_expiry_days %d is out of range 1..%d", k.MaxExpiryDays, CeilingExpiryDays)
	case k.DefaultExpiryDays < 1 || k.DefaultExpiryDays > k.MaxExpiryDays:
		return fmt.Errorf("default_expiry_days %d is out of range 1..max_expiry_days (%d)", k.DefaultExpiryDays, k.MaxExpiryDays)
	case k.MaxRateLimit < 1 || k.MaxRateLimit > CeilingRateLimit:
		return fmt.Errorf("max_rate_limit %d is out of range 1..%d", k.MaxRateLimit, CeilingRateLimit)
	case k.MaxRateWindowMs < 1 || k.MaxRateWindowMs > CeilingRateWindowMs:
		return fmt.Errorf("max_rate_window_ms %d is out of range 1..%d", k.MaxRateWindowMs, CeilingRateWindowMs)
	}
	return checkPrefix(k.NamePrefix)
}

// checkGuardrails enforces the ranges and rules of the quota, confirm and
// secrets sections.
func checkGuardrails(s settings) error {
	q := s.quota
	switch {
	case q.MaxKeysPerHour < 0 || q.MaxKeysPerHour > CeilingKeysPerHour:
		return fmt.Errorf("max_keys_per_hour %d is out of range 0..%d", q.MaxKeysPerHour, CeilingKeysPerHour)
	case q.MaxKeysPerDay < 0 || q.MaxKeysPerDay > CeilingKeysPerDay:
		return fmt.Errorf("max_keys_per_day %d is out of range 0..%d", q.MaxKeysPerDay, CeilingKeysPerDay)
	case q.MaxKeysPerHour > 0 && q.MaxKeysPerDay > 0 && q.MaxKeysPerHour > q.MaxKeysPerDay:
		return fmt.Errorf("max_keys_per_day %d is below max_keys_per_hour %d", q.MaxKeysPerDay, q.MaxKeysPerHour)
	}
	for _, m := range []ConfirmMode{s.confirm.Create, s.confirm.Revoke} {
		if !validConfirm(m) {
			return fmt.Errorf("confirm mode %s is not one of %s", Quote(string(m)), confirmModesText)
		}
	}
	switch s.secrets.Deliver {
	case DeliverChat:
		if s.secrets.Dir != "" {
			return errors.New("secrets.dir is only used with deliver: file")
		}
	case DeliverFile:
		if s.secrets.Dir == "" {
			return errors.New("secrets.dir is required when deliver is file")
		}
		return checkSecretsDir(s.secrets.Dir)
	default:
		return fmt.Errorf("secrets.deliver %s is not one of %s", Quote(s.secrets.Deliver), deliverText)
	}
	return nil
}

// confirmModesText and deliverText list the accepted values, for messages.
const (
	confirmModesText = "never, if-supported, always"
	deliverText      = "chat, file"
)

// validConfirm reports whether m is a known confirmation mode.
func validConfirm(m ConfirmMode) bool {
	return m == ConfirmNever || m == ConfirmIfSupported || m == ConfirmAlways
}

// checkSecretsDir enforces the rules of secrets.dir: an absolute path of at
// most MaxSecretsDirLength bytes, printable (so no NUL, no control and no
// invisible characters).
func checkSecretsDir(dir string) error {
	switch {
	case dir == "":
		return errors.New("the directory is empty; give an absolute path")
	case len(dir) > MaxSecretsDirLength:
		return fmt.Errorf("path %s is %d bytes long; the maximum is %d", Quote(dir), len(dir), MaxSecretsDirLength)
	}
	if err := checkPrintable(dir); err != nil {
		return fmt.Errorf("path %s %w", Quote(dir), err)
	}
	if !filepath.IsAbs(dir) {
		hint := ""
		if strings.HasPrefix(dir, "~") || strings.HasPrefix(dir, "$") {
			hint = " (~ and environment variables are not expanded)"
		}
		return fmt.Errorf("path %s is not absolute; give the full path%s", Quote(dir), hint)
	}
	return nil
}

// checkPrefix enforces the rules of keys.name_prefix: valid UTF-8, printable,
// at most MaxNamePrefixLength characters. An empty prefix is allowed.
func checkPrefix(s string) error {
	if n := utf8.RuneCountInString(s); n > MaxNamePrefixLength {
		return fmt.Errorf("name_prefix %s is %d characters long; the maximum is %d", Quote(s), n, MaxNamePrefixLength)
	}
	if err := checkPrintable(s); err != nil {
		return fmt.Errorf("name_prefix %s %w", Quote(s), err)
	}
	return nil
}

// quoteList quotes up to max items of list, comma-separated, noting how many
// were left out.
func quoteList(list []string, max int) string {
	var b strings.Builder
	for i, s := range list {
		if i == max {
			fmt.Fprintf(&b, ", … and %d more", len(list)-max)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(s))
	}
	return b.String()
}

// comp returns the compiled policy; a nil or hand-built Policy behaves as the
// built-in default and denies every write.
func (p *Policy) comp() *compiled {
	if p == nil || p.c == nil {
		return Default().c
	}
	return p.c
}

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

// joinErrors returns the only error of errs, or all of them joined.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
