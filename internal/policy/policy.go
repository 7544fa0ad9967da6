package policy

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
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
	narrow   *patternSet // a caller rule's tags.allow; nil when nothing narrows the top level
	deny     patternSet  // top-level and caller-rule deny patterns
	readOnly patternSet  // top-level and caller-rule read_only patterns
	allowNew bool
	keys     KeyRules
	access   AccessRules
	revoke   RevokeRules
	rotate   RotateRules
	quota    QuotaRules
	confirm  ConfirmRules
	secrets  SecretsRules
	audit    AuditRules

	// set is a copy of the validated settings, from which ForCaller builds
	// a caller's policy.
	set settings
	// cache holds the caller policies built so far (top level only).
	cache *callerCache
	// caller says whose policy this is; callerQuota is its rule's quota.
	caller      callerInfo
	callerQuota QuotaRules
	// names are the settings named in refusals: the caller rule's when it
	// is the stricter, else the top level's.
	names settingNames

	defaultRate   int // rate limit sent when the request has none
	defaultWindow int // rate window sent when the request has none
	prefixRunes   int // utf8 length of keys.NamePrefix

	// Details precomputed so that an allowed evaluation formats nothing.
	noAllow       string // tag_allow fail when there is no allow pattern
	allowList     string // the allow patterns, quoted, for tag_allow fail
	narrowList    string // the caller rule's allow patterns, quoted
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
	tagsWithin    string // tag_count pass for several tags, without the count
	permDefault   string
	leaseNone     string
	leaseWithin   string
	leaseRequired string
}

// settingNames are the names of the limits that refusals quote.
type settingNames struct {
	maxExpiry, maxRate, maxWindow, maxTags, maxLease, defaultPerm, requireLease string
	hourQuota, dayQuota                                                         string
}

// topNames names the top-level settings.
var topNames = settingNames{
	maxExpiry: "max_expiry_days", maxRate: "max_rate_limit", maxWindow: "max_rate_window_ms", maxTags: "max_tags",
	maxLease: "max_lease_minutes", defaultPerm: "default_permission", requireLease: "keys.require_lease",
}

// settings is a whole policy before compilation: what Parse decodes,
// starting from the built-in values.
type settings struct {
	tags    TagRules
	keys    KeyRules
	access  AccessRules
	revoke  RevokeRules
	rotate  RotateRules
	quota   QuotaRules
	confirm ConfirmRules
	secrets SecretsRules
	audit   AuditRules
	callers []CallerRule
}

// defaultSettings returns the built-in value of every section.
func defaultSettings() settings {
	return settings{
		tags:    defaultTags(),
		keys:    defaultKeys(),
		access:  defaultAccess(),
		revoke:  defaultRevoke(),
		rotate:  RotateRules{Enabled: true, MaxGraceMinutes: DefaultMaxGraceMinutes},
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

// defaultAccess returns the built-in least-privilege and lease settings.
func defaultAccess() AccessRules {
	return AccessRules{MaxTags: DefaultMaxTags, DefaultPermission: PermissionWrite, MaxLeaseMinutes: DefaultMaxLeaseMinutes}
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
// Rotation is never enabled when revoke is not (Parse refuses a file that
// asks for it; here it is switched off).
func newPolicy(source string, s settings) (*Policy, error) {
	if err := checkKeys(s.keys); err != nil {
		return nil, err
	}
	if err := checkAccess(s.access); err != nil {
		return nil, err
	}
	if err := checkRotate(s.rotate); err != nil {
		return nil, err
	}
	if err := checkGuardrails(s); err != nil {
		return nil, err
	}
	for _, list := range [][]string{s.tags.Allow, s.tags.Deny, s.tags.ReadOnly} {
		if err := checkPatterns(list); err != nil {
			return nil, err
		}
	}
	callers, err := checkCallers(s.callers)
	if err != nil {
		return nil, err
	}
	s.callers = callers
	s.tags.Allow = append([]string(nil), s.tags.Allow...)
	s.tags.Deny = append([]string(nil), s.tags.Deny...)
	s.tags.ReadOnly = append([]string(nil), s.tags.ReadOnly...)
	if len(s.tags.ReadOnly) == 0 {
		s.tags.ReadOnly = nil
	}
	if !s.revoke.Enabled {
		s.rotate.Enabled = false
	}
	s.revoke.Scope = ""
	return compile(source, s, nil), nil
}

// checkPatterns checks every pattern of a list.
func checkPatterns(list []string) error {
	if len(list) > MaxPatterns {
		return fmt.Errorf("%d patterns; at most %d are allowed", len(list), MaxPatterns)
	}
	for _, pat := range list {
		if err := ValidPattern(pat); err != nil {
			return err
		}
	}
	return nil
}

// compile builds the policy from validated settings; rc is nil for the top
// level and describes the caller otherwise.
func compile(source string, s settings, rc *ruleCtx) *Policy {
	tags, keys := s.tags, s.keys
	// The exported fields get their own copies: a caller that changes them
	// must not reach c.set, from which ForCaller builds callers' policies.
	exported := tags
	exported.Allow, exported.Deny = slices.Clone(tags.Allow), slices.Clone(tags.Deny)
	exported.ReadOnly = slices.Clone(tags.ReadOnly)
	p := &Policy{Source: source, Tags: exported, Keys: keys, Revoke: s.revoke, Quota: s.quota, Confirm: s.confirm, Secrets: s.secrets,
		Audit: s.audit, Access: s.access, Rotate: s.rotate, Callers: cloneCallers(s.callers)}
	c := &compiled{
		source:   source,
		allowNew: tags.AllowNew,
		keys:     keys,
		access:   s.access,
		revoke:   s.revoke,
		rotate:   s.rotate,
		quota:    s.quota,
		confirm:  s.confirm,
		secrets:  s.secrets,
		audit:    s.audit,
		set:      s,
		names:    topNames,
		allow: compilePatterns(tags.Allow, false, func(pat string) string {
			return "allowed by pattern " + strconv.Quote(pat)
		}),
		deny: compilePatterns(tags.Deny, true, func(pat string) string {
			return "denied by pattern " + strconv.Quote(pat) + " (deny patterns ignore case)"
		}),
		readOnly: compilePatterns(tags.ReadOnly, true, func(pat string) string {
			return "read-only by pattern " + strconv.Quote(pat) + " (tags.read_only, ignoring case)"
		}),
		defaultRate:   min(APIDefaultRateLimit, keys.MaxRateLimit),
		defaultWindow: min(APIDefaultRateWindowMs, keys.MaxRateWindowMs),
		prefixRunes:   utf8.RuneCountInString(keys.NamePrefix),
	}
	c.noAllow = "no tags are allowed: the policy " + strconv.Quote(source) + " has no tags.allow patterns"
	c.allowList = quoteList(tags.Allow, 10)
	if rc == nil {
		c.cache = newCallerCache(len(s.callers))
		c.caller = callerInfo{mode: callerLocal, detail: localCallerDetail}
		if len(s.callers) > 0 {
			c.caller.detail = localCallerIgnores
		}
	} else {
		rc.apply(p, c)
	}
	n := c.names
	c.expiryDefault = fmt.Sprintf("not given: default_expiry_days %d (%s %d)", keys.DefaultExpiryDays, n.maxExpiry, keys.MaxExpiryDays)
	c.expiryWithin = fmt.Sprintf("within %s %d", n.maxExpiry, keys.MaxExpiryDays)
	if c.defaultRate == APIDefaultRateLimit {
		c.rateDefault = fmt.Sprintf("not given: %d, the API default (%s %d)", c.defaultRate, n.maxRate, keys.MaxRateLimit)
	} else {
		c.rateDefault = fmt.Sprintf("not given: %d, the API default %d capped by %s", c.defaultRate, APIDefaultRateLimit, n.maxRate)
	}
	c.rateWithin = fmt.Sprintf("within %s %d", n.maxRate, keys.MaxRateLimit)
	if c.defaultWindow == APIDefaultRateWindowMs {
		c.windowDefault = fmt.Sprintf("not given: %d ms, the API default (%s %d)", c.defaultWindow, n.maxWindow, keys.MaxRateWindowMs)
	} else {
		c.windowDefault = fmt.Sprintf("not given: %d ms, the API default %d capped by %s", c.defaultWindow, APIDefaultRateWindowMs, n.maxWindow)
	}
	c.windowWithin = fmt.Sprintf("within %s %d", n.maxWindow, keys.MaxRateWindowMs)
	qp := strconv.Quote(keys.NamePrefix)
	c.nameHas = "printable; already starts with name_prefix " + qp
	c.namePrepended = "printable; name_prefix " + qp + " prepended"
	c.nameDefault = "not given: <name_prefix><tag>-<yyyymmdd>, name_prefix " + qp
	c.prefixPass = "name starts with name_prefix " + qp
	a := s.access
	c.tagsWithin = fmt.Sprintf("distinct tags, within %s %d", n.maxTags, a.MaxTags)
	c.permDefault = fmt.Sprintf("not given: %s %s", n.defaultPerm, a.DefaultPermission)
	c.leaseNone = fmt.Sprintf("not given: no lease (%s is false)", n.requireLease)
	c.leaseWithin = fmt.Sprintf("within %s %d; minted for %d day and revoked by mcp-keys when the lease ends", n.maxLease, a.MaxLeaseMinutes, LeaseExpiryDays)
	c.leaseRequired = fmt.Sprintf("%s is true: every key must be leased; give lease_minutes 1..%d", n.requireLease, a.MaxLeaseMinutes)
	p.c = c
	return p
}

// checkAccess enforces the ranges of the least-privilege and lease settings.
func checkAccess(a AccessRules) error {
	switch {
	case a.MaxTags < 1 || a.MaxTags > CeilingTags:
		return fmt.Errorf("max_tags %d is out of range 1..%d", a.MaxTags, CeilingTags)
	case a.DefaultPermission != PermissionRead && a.DefaultPermission != PermissionWrite:
		return fmt.Errorf("default_permission %s is not one of %s", Quote(a.DefaultPermission), permissionsText)
	case a.MaxLeaseMinutes < 1 || a.MaxLeaseMinutes > CeilingLeaseMinutes:
		return fmt.Errorf("max_lease_minutes %d is out of range 1..%d", a.MaxLeaseMinutes, CeilingLeaseMinutes)
	}
	return nil
}

// checkRotate enforces the ranges of the rotate section.
func checkRotate(r RotateRules) error {
	if r.MaxGraceMinutes < 0 || r.MaxGraceMinutes > CeilingGraceMinutes {
		return fmt.Errorf("max_grace_minutes %d is out of range 0..%d", r.MaxGraceMinutes, CeilingGraceMinutes)
	}
	return nil
}

// permissionsText lists the accepted permissions, for messages.
const permissionsText = "read, write"

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
	if err := checkQuota(s.quota); err != nil {
		return err
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

// checkQuota enforces the ranges of a quota (0 means none).
func checkQuota(q QuotaRules) error {
	switch {
	case q.MaxKeysPerHour < 0 || q.MaxKeysPerHour > CeilingKeysPerHour:
		return fmt.Errorf("max_keys_per_hour %d is out of range 0..%d", q.MaxKeysPerHour, CeilingKeysPerHour)
	case q.MaxKeysPerDay < 0 || q.MaxKeysPerDay > CeilingKeysPerDay:
		return fmt.Errorf("max_keys_per_day %d is out of range 0..%d", q.MaxKeysPerDay, CeilingKeysPerDay)
	case q.MaxKeysPerHour > 0 && q.MaxKeysPerDay > 0 && q.MaxKeysPerHour > q.MaxKeysPerDay:
		return fmt.Errorf("max_keys_per_day %d is below max_keys_per_hour %d", q.MaxKeysPerDay, q.MaxKeysPerHour)
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

// joinErrors returns the only error of errs, or all of them joined.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}
