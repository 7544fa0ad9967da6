package policy

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Limits of the callers section.
const (
	// MaxCallerRules is the largest number of rules in the callers section.
	MaxCallerRules = 1000
	// MaxMatchLength is the longest value of a match condition, in
	// characters.
	MaxMatchLength = 256
)

// CallerRule is one rule of the callers section: whom it matches and how it
// narrows the top-level policy for them. Zero limits are "not set" (the
// top level's applies).
type CallerRule struct {
	Match CallerCondition
	Tags  CallerTagRules
	Keys  CallerKeyRules
	// Quota is this caller's own quota, besides the global one; zero fields
	// mean none.
	Quota QuotaRules
	// Scope is the rule's revoke.scope: ScopeOwn (the default) or ScopeTeam.
	Scope RevokeScope
}

// CallerCondition is the match of a caller rule: every condition given must
// hold, compared exactly (case-sensitively). Any matches every caller and
// is never combined with another condition.
type CallerCondition struct {
	Sub   string
	Email string
	// Group must be one of the caller's groups.
	Group string
	// Token is the name of a static caller token (never the token itself).
	Token string
	Any   bool
}

// CallerTagRules are the tag patterns of a caller rule. A tag must pass both
// these and the top level's.
type CallerTagRules struct {
	// Allow narrows the top level's allow patterns when AllowSet; a rule
	// without tags.allow allows what the top level allows.
	Allow    []string
	AllowSet bool
	Deny     []string
	ReadOnly []string
}

// CallerKeyRules are the key limits of a caller rule; each applies only when
// stricter than the top level's. 0 and "" mean "not set".
type CallerKeyRules struct {
	MaxExpiryDays     int
	MaxLeaseMinutes   int
	MaxTags           int
	MaxRateLimit      int
	MaxRateWindowMs   int
	DefaultPermission string
	// RequireLease, when true, requires a lease even if the top level does
	// not.
	RequireLease bool
}

// CallerIdentity is who is calling, as the authentication layer established
// it. Token is the NAME of a static token, never its secret.
type CallerIdentity struct {
	Sub    string
	Email  string
	Token  string
	Groups []string
}

// CallerMatch says which caller rule applies.
type CallerMatch struct {
	// Matched is false when the policy has a callers section and no rule
	// fits the caller: then nothing may be minted, revoked, rotated or
	// listed.
	Matched bool
	// Index is the rule that applies, or -1 (no callers section, or none
	// matched).
	Index int
	// Rule describes it for messages and the audit log, for example
	// `callers[0] (match: {group: "search-team"})`.
	Rule string
}

// callerMode says whose policy a compiled policy is.
type callerMode uint8

const (
	callerLocal callerMode = iota // the top level, as stdio serves the local user
	callerRule                    // a remote caller that a callers rule matched
	callerAll                     // a remote caller, no callers section
	callerNone                    // a remote caller that no callers rule matches
)

// callerInfo describes the caller of a compiled policy.
type callerInfo struct {
	mode   callerMode
	label  string // "callers[0]", for messages; "" otherwise
	detail string // the caller rule's detail
	match  CallerMatch
}

// Details of the caller rule.
const (
	localCallerDetail  = "local caller (stdio): the top-level policy applies"
	localCallerIgnores = "local caller (stdio): the top-level policy applies; the callers section is for HTTP mode"
	allCallersDetail   = "no callers section: every caller gets the top-level policy, revoke scope own"
	noCallersSection   = "no callers section"
)

// remote reports whether the policy serves a remote caller (ForCaller).
func (ci callerInfo) remote() bool { return ci.mode != callerLocal }

// callerCache holds the caller policies built from a top-level policy, each
// on first use.
type callerCache struct {
	rules []lazyPolicy
	all   lazyPolicy
	none  lazyPolicy
}

type lazyPolicy struct {
	once sync.Once
	p    *Policy
}

func newCallerCache(rules int) *callerCache {
	return &callerCache{rules: make([]lazyPolicy, rules)}
}

func (l *lazyPolicy) get(build func() *Policy) *Policy {
	l.once.Do(func() { l.p = build() })
	return l.p
}

// HasCallers reports whether the policy has a callers section.
func (p *Policy) HasCallers() bool { return len(p.comp().set.callers) > 0 }

// StdioNote is the note `policy check` prints for a policy with a callers
// section: stdio ignores it. It is "" when there is no callers section.
func (p *Policy) StdioNote() string {
	n := len(p.comp().set.callers)
	if n == 0 || p.comp().caller.remote() {
		return ""
	}
	rules := "rules"
	if n == 1 {
		rules = "rule"
	}
	return fmt.Sprintf("note: the callers section (%d %s) applies in HTTP mode only (serve --http); stdio serves the local user with the top-level policy", n, rules)
}

// ForCaller returns the effective policy for a remote caller, and which
// callers rule gave it. The first rule whose match fits applies: every limit
// is the stricter of the rule's and the top level's, a tag must pass both
// the top level's patterns and the rule's, the rule's quota applies besides
// the global one, and revoke has the rule's scope. With no callers section
// every caller gets the top-level policy with revoke scope own. A caller
// that matches no rule gets a policy that refuses every create, revoke and
// rotate (rule "caller" says which rule would be needed) and lists nothing.
// The returned policy never shows other callers' rules. Called on a
// caller's policy, it returns that policy unchanged. ForCaller does no I/O
// and is safe for concurrent use.
func (p *Policy) ForCaller(id CallerIdentity) (*Policy, CallerMatch) {
	c := p.comp()
	if c.caller.remote() {
		return p, c.caller.match
	}
	if len(c.set.callers) == 0 {
		q := c.cache.all.get(func() *Policy { return c.derive(-1, callerAll) })
		return q, q.c.caller.match
	}
	for i := range c.set.callers {
		if c.set.callers[i].Match.matches(id) {
			q := c.cache.rules[i].get(func() *Policy { return c.derive(i, callerRule) })
			return q, q.c.caller.match
		}
	}
	base := c.cache.none.get(func() *Policy { return c.derive(-1, callerNone) })
	// The refusal names this caller, so it is made per call on a copy.
	cc := *base.c
	cc.caller.detail = noRuleDetail(id)
	q := *base
	q.c = &cc
	return &q, cc.caller.match
}

// matches reports whether every condition given holds for id.
func (m CallerCondition) matches(id CallerIdentity) bool {
	if m.Any {
		return true
	}
	if m == (CallerCondition{}) {
		return false
	}
	return (m.Sub == "" || m.Sub == id.Sub) &&
		(m.Email == "" || m.Email == id.Email) &&
		(m.Token == "" || m.Token == id.Token) &&
		(m.Group == "" || slices.Contains(id.Groups, m.Group))
}

// String describes the condition as the policy file writes it, in braces,
// values quoted and cut to MaxQuoted characters.
func (m CallerCondition) String() string {
	if m.Any {
		return "{any: true}"
	}
	var parts []string
	for _, kv := range [][2]string{{"sub", m.Sub}, {"email", m.Email}, {"group", m.Group}, {"token", m.Token}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+": "+Quote(kv[1]))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// noRuleDetail is the caller rule's refusal for a caller that matches no
// rule: who it is and the rule that would let it in.
func noRuleDetail(id CallerIdentity) string {
	var who []string
	if id.Token != "" {
		who = append(who, "token "+Quote(id.Token))
	}
	if id.Sub != "" {
		who = append(who, "sub "+Quote(id.Sub))
	}
	if id.Email != "" {
		who = append(who, "email "+Quote(id.Email))
	}
	if len(id.Groups) > 0 {
		g := make([]string, 0, 5)
		for i, grp := range id.Groups {
			if i == 5 {
				g = append(g, fmt.Sprintf("… and %d more", len(id.Groups)-5))
				break
			}
			g = append(g, Quote(grp))
		}
		who = append(who, "groups "+strings.Join(g, ", "))
	}
	need := "a rule with match: {any: true}"
	switch {
	case id.Token != "":
		need = "a rule with match: {token: " + Quote(id.Token) + "}"
	case id.Sub != "":
		need = "a rule with match: {sub: " + Quote(id.Sub) + "}"
	case id.Email != "":
		need = "a rule with match: {email: " + Quote(id.Email) + "}"
	}
	if len(who) == 0 {
		who = append(who, "no identity")
	}
	if len(id.Groups) > 0 {
		need += " (or one for a group it is in)"
	}
	return "no callers rule matches this caller (" + strings.Join(who, ", ") + "): the operator must add " + need +
		" to the policy's callers section"
}

// ruleCtx is what compile needs to build a caller's policy.
type ruleCtx struct {
	mode  callerMode
	index int
	rule  *CallerRule // nil unless mode is callerRule
	// top is the top-level compiled policy.
	top *compiled
}

// derive builds a caller's policy from the top level: for rule i
// (callerRule), for every caller when there is no callers section
// (callerAll), or for a caller that no rule matches (callerNone).
func (c *compiled) derive(i int, mode callerMode) *Policy {
	s := c.set
	s.callers = nil
	s.revoke.Scope = ScopeOwn
	rc := &ruleCtx{mode: mode, index: i, top: c}
	switch mode {
	case callerRule:
		r := c.set.callers[i]
		rc.rule = &r
		s.revoke.Scope = r.Scope
		k := r.Keys
		s.keys.MaxExpiryDays = stricter(s.keys.MaxExpiryDays, k.MaxExpiryDays)
		s.keys.DefaultExpiryDays = min(s.keys.DefaultExpiryDays, s.keys.MaxExpiryDays)
		s.keys.MaxRateLimit = stricter(s.keys.MaxRateLimit, k.MaxRateLimit)
		s.keys.MaxRateWindowMs = stricter(s.keys.MaxRateWindowMs, k.MaxRateWindowMs)
		s.access.MaxTags = stricter(s.access.MaxTags, k.MaxTags)
		s.access.MaxLeaseMinutes = stricter(s.access.MaxLeaseMinutes, k.MaxLeaseMinutes)
		if k.DefaultPermission == PermissionRead {
			s.access.DefaultPermission = PermissionRead
		}
		s.access.RequireLease = s.access.RequireLease || k.RequireLease
		s.tags.Deny = concat(s.tags.Deny, r.Tags.Deny)
		s.tags.ReadOnly = concat(s.tags.ReadOnly, r.Tags.ReadOnly)
	case callerNone:
		s.tags.Allow = nil
	}
	if checkKeys(s.keys) != nil || checkAccess(s.access) != nil { // unreachable: minima of valid values
		s = defaultSettings()
		rc.mode = callerNone
	}
	p := compile(c.source, s, rc)
	if c.builtin {
		p.c.builtin = true
		p.c.noAllow = noAllowDefault
	}
	return p
}

// stricter returns the smaller of a top-level limit and a rule's (0 = not
// set).
func stricter(top, rule int) int {
	if rule > 0 && rule < top {
		return rule
	}
	return top
}

// concat returns a new list holding a then b.
func concat(a, b []string) []string {
	if len(a)+len(b) == 0 {
		return nil
	}
	return append(append(make([]string, 0, len(a)+len(b)), a...), b...)
}

// apply makes the compiled policy c, built from the merged settings, the
// policy of the caller rc describes.
func (rc *ruleCtx) apply(p *Policy, c *compiled) {
	top := rc.top.set
	c.caller.mode = rc.mode
	c.caller.match = CallerMatch{Index: -1}
	switch rc.mode {
	case callerAll:
		c.caller.detail = allCallersDetail
		c.caller.match = CallerMatch{Matched: true, Index: -1, Rule: noCallersSection}
	case callerNone:
		c.noAllow = "no tags are allowed for this caller: no callers rule matches it"
		c.caller.match = CallerMatch{Index: -1, Rule: "no callers rule"}
		c.caller.detail = noRuleDetail(CallerIdentity{})
	case callerRule:
		r := rc.rule
		label := "callers[" + strconv.Itoa(rc.index) + "]"
		c.caller.label = label
		c.caller.detail = label + " applies (match: " + r.Match.String() + ")"
		c.caller.match = CallerMatch{Matched: true, Index: rc.index, Rule: label + " (match: " + r.Match.String() + ")"}
		// Deny and read-only patterns: the top level's, then the rule's,
		// each named with its section.
		c.deny = mergePatterns(top.tags.Deny, r.Tags.Deny, true,
			func(pat string) string {
				return "denied by pattern " + strconv.Quote(pat) + " (deny patterns ignore case)"
			},
			func(pat string) string {
				return "denied by pattern " + strconv.Quote(pat) + " (" + label + ".tags.deny; deny patterns ignore case)"
			})
		c.readOnly = mergePatterns(top.tags.ReadOnly, r.Tags.ReadOnly, true,
			func(pat string) string {
				return "read-only by pattern " + strconv.Quote(pat) + " (tags.read_only, ignoring case)"
			},
			func(pat string) string {
				return "read-only by pattern " + strconv.Quote(pat) + " (" + label + ".tags.read_only, ignoring case)"
			})
		if r.Tags.AllowSet {
			ns := compilePatterns(r.Tags.Allow, false, func(pat string) string {
				return "allowed by pattern " + strconv.Quote(pat) + " (" + label + ".tags.allow)"
			})
			c.narrow = &ns
			c.narrowList = quoteList(r.Tags.Allow, 10)
			p.Tags.Allow = append([]string(nil), r.Tags.Allow...)
		}
		c.callerQuota = r.Quota
		p.CallerQuota = r.Quota
		k := r.Keys
		name := func(rule, topv int, setting string) string {
			if rule > 0 && rule < topv {
				return label + ".keys." + setting
			}
			return setting
		}
		c.names.maxExpiry = name(k.MaxExpiryDays, top.keys.MaxExpiryDays, "max_expiry_days")
		c.names.maxRate = name(k.MaxRateLimit, top.keys.MaxRateLimit, "max_rate_limit")
		c.names.maxWindow = name(k.MaxRateWindowMs, top.keys.MaxRateWindowMs, "max_rate_window_ms")
		c.names.maxTags = name(k.MaxTags, top.access.MaxTags, "max_tags")
		c.names.maxLease = name(k.MaxLeaseMinutes, top.access.MaxLeaseMinutes, "max_lease_minutes")
		if k.DefaultPermission == PermissionRead && top.access.DefaultPermission != PermissionRead {
			c.names.defaultPerm = label + ".keys.default_permission"
		}
		if k.RequireLease && !top.access.RequireLease {
			c.names.requireLease = label + ".keys.require_lease"
		}
		c.names.hourQuota = label + ".quota.max_keys_per_hour"
		c.names.dayQuota = label + ".quota.max_keys_per_day"
	}
}

// mergePatterns compiles the top level's patterns and a rule's as one list.
func mergePatterns(top, rule []string, fold bool, topDetail, ruleDetail func(string) string) patternSet {
	a := compilePatterns(top, fold, topDetail)
	b := compilePatterns(rule, fold, ruleDetail)
	ps := patternSet{ms: append(a.ms[:len(a.ms):len(a.ms)], b.ms...)}
	if len(ps.ms) >= indexThreshold {
		ps.idx = buildIndex(ps.ms)
	}
	return ps
}

// cloneCallers returns a deep copy of rules (nil for none).
func cloneCallers(rules []CallerRule) []CallerRule {
	if len(rules) == 0 {
		return nil
	}
	out := make([]CallerRule, len(rules))
	for i, r := range rules {
		r.Tags.Allow = slices.Clone(r.Tags.Allow)
		r.Tags.Deny = slices.Clone(r.Tags.Deny)
		r.Tags.ReadOnly = slices.Clone(r.Tags.ReadOnly)
		out[i] = r
	}
	return out
}

// checkCallers validates the callers section and returns a copy with
// defaults filled in (revoke scope own).
func checkCallers(rules []CallerRule) ([]CallerRule, error) {
	if len(rules) > MaxCallerRules {
		return nil, fmt.Errorf("callers: %d rules; at most %d are allowed", len(rules), MaxCallerRules)
	}
	out := cloneCallers(rules)
	for i := range out {
		r := &out[i]
		if r.Scope == "" {
			r.Scope = ScopeOwn
		}
		if err := checkCallerRule(r); err != nil {
			return nil, fmt.Errorf("callers[%d]: %w", i, err)
		}
	}
	return out, nil
}

// checkCallerRule enforces the rules of one callers rule.
func checkCallerRule(r *CallerRule) error {
	if err := r.Match.check(); err != nil {
		return err
	}
	for _, list := range [][]string{r.Tags.Allow, r.Tags.Deny, r.Tags.ReadOnly} {
		if err := checkPatterns(list); err != nil {
			return err
		}
	}
	if len(r.Tags.Allow) > 0 && !r.Tags.AllowSet {
		return errors.New("tags.allow is given but AllowSet is false")
	}
	k := r.Keys
	for _, f := range []struct {
		name   string
		v, max int
	}{
		{"max_expiry_days", k.MaxExpiryDays, CeilingExpiryDays},
		{"max_lease_minutes", k.MaxLeaseMinutes, CeilingLeaseMinutes},
		{"max_tags", k.MaxTags, CeilingTags},
		{"max_rate_limit", k.MaxRateLimit, CeilingRateLimit},
		{"max_rate_window_ms", k.MaxRateWindowMs, CeilingRateWindowMs},
	} {
		if f.v < 0 || f.v > f.max {
			return fmt.Errorf("keys.%s %d is out of range 1..%d", f.name, f.v, f.max)
		}
	}
	if k.DefaultPermission != "" && k.DefaultPermission != PermissionRead && k.DefaultPermission != PermissionWrite {
		return fmt.Errorf("keys.default_permission %s is not one of %s", Quote(k.DefaultPermission), permissionsText)
	}
	if err := checkQuota(r.Quota); err != nil {
		return fmt.Errorf("quota: %w", err)
	}
	if r.Scope != ScopeOwn && r.Scope != ScopeTeam {
		return fmt.Errorf("revoke.scope %s is not one of %s", Quote(string(r.Scope)), scopesText)
	}
	return nil
}

// scopesText lists the accepted revoke scopes, for messages.
const scopesText = "own, team"

// check enforces the rules of a match: at least one condition, any: true
// alone, every value printable and at most MaxMatchLength characters.
func (m CallerCondition) check() error {
	if m.Any {
		if m != (CallerCondition{Any: true}) {
			return errors.New("match: any: true cannot be combined with other conditions")
		}
		return nil
	}
	if m == (CallerCondition{}) {
		return errors.New("match: give at least one of sub, email, group, token, or any: true")
	}
	for _, kv := range [][2]string{{"sub", m.Sub}, {"email", m.Email}, {"group", m.Group}, {"token", m.Token}} {
		if kv[1] == "" {
			continue
		}
		if err := checkMatchValue(kv[1]); err != nil {
			return fmt.Errorf("match.%s: %w", kv[0], err)
		}
	}
	return nil
}

// checkMatchValue enforces the rules of a match value.
func checkMatchValue(v string) error {
	if v == "" {
		return errors.New("the value is empty; leave the condition out instead")
	}
	if n := utf8.RuneCountInString(v); n > MaxMatchLength {
		return fmt.Errorf("%s is %d characters long; the maximum is %d", Quote(v), n, MaxMatchLength)
	}
	if err := checkPrintable(v); err != nil {
		return fmt.Errorf("%s %w", Quote(v), err)
	}
	return nil
}

// TagVisible reports whether list_tags may show the tag to this policy's
// caller: every tag for the local (stdio) caller, only tags the caller may
// use for a remote one, none for a caller that no rule matches.
func (p *Policy) TagVisible(tag string) bool {
	c := p.comp()
	if !c.caller.remote() {
		return true
	}
	ok, _ := p.CheckTag(tag)
	return ok
}

// KeyVisible reports whether list_keys may show the key to this policy's
// caller: every key for the local (stdio) caller; for a remote one, only a
// scoped key whose every tag the caller may use and that it minted itself
// (or, with revoke scope team, that was minted through mcp-keys); none for a
// caller that no rule matches.
func (p *Policy) KeyVisible(t RevokeTarget) bool {
	c := p.comp()
	switch {
	case !c.caller.remote():
		return true
	case c.caller.mode == callerNone, !t.Scoped, len(t.Tags) == 0:
		return false
	}
	for _, tag := range t.Tags {
		if ok, _ := p.CheckTag(tag); !ok {
			return false
		}
	}
	return t.MintedByCaller == Yes || c.revoke.Scope == ScopeTeam && t.Minted == Yes
}
