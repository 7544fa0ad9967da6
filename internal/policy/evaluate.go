package policy

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Rule names: stable identifiers, reported in this order by EvaluateCreate
// and EvaluateRevoke and written to the audit log.
const (
	// RuleScopedOnly refuses every shape of a Full Access request.
	RuleScopedOnly = "scoped_only"
	// RuleCaller says which callers rule applies; it refuses a remote caller
	// that no rule matches.
	RuleCaller = "caller"
	// RuleTagCount requires tag or tags (not both): 1..keys.max_tags
	// distinct tags.
	RuleTagCount = "tag_count"
	// RuleTagSyntax checks every tag against the API's character rules.
	RuleTagSyntax = "tag_syntax"
	// RuleTagDeny refuses a tag that a deny pattern matches, ignoring case.
	RuleTagDeny = "tag_deny"
	// RuleTagAllow requires an allow pattern that matches the tag exactly
	// (and, for a caller whose rule has tags.allow, one of the rule's).
	RuleTagAllow = "tag_allow"
	// RuleTagNew refuses a tag that does not exist when tags.allow_new is false.
	RuleTagNew = "tag_new"
	// RulePermission reports the permission asked for, or the default.
	RulePermission = "permission"
	// RuleTagReadOnly refuses write for a key that includes a read-only tag.
	RuleTagReadOnly = "tag_read_only"
	// RuleExpiry checks expires_in_days against keys.max_expiry_days.
	RuleExpiry = "expiry"
	// RuleLease checks lease_minutes against keys.max_lease_minutes and
	// keys.require_lease.
	RuleLease = "lease"
	// RuleRateLimit checks rate_limit_max against keys.max_rate_limit.
	RuleRateLimit = "rate_limit"
	// RuleRateWindow checks rate_limit_window_ms against keys.max_rate_window_ms.
	RuleRateWindow = "rate_window"
	// RuleName checks the final key name (prefix included).
	RuleName = "name"
	// RuleQuotaCaller checks this caller's creates against its rule's quota.
	RuleQuotaCaller = "quota_caller"
	// RuleQuota checks the creates counted from the audit log against
	// quota.max_keys_per_hour and quota.max_keys_per_day.
	RuleQuota = "quota"

	// RuleRevokeEnabled requires revoke.enabled.
	RuleRevokeEnabled = "revoke_enabled"
	// RuleTargetFound requires the key in a fresh listing.
	RuleTargetFound = "target_found"
	// RuleTargetScoped refuses a Full Access key.
	RuleTargetScoped = "target_scoped"
	// RuleTargetTags requires every tag of the key to be allowed.
	RuleTargetTags = "target_tags"
	// RuleTargetPrefix requires the name prefix when revoke.only_prefixed.
	RuleTargetPrefix = "target_prefix"
	// RuleTargetMinted requires, when revoke.only_minted, that the audit log
	// records the key id as minted through mcp-keys.
	RuleTargetMinted = "target_minted"
	// RuleTargetScope applies a remote caller's revoke scope: own (minted by
	// this caller) or team (minted through mcp-keys).
	RuleTargetScope = "target_scope"
)

// FullAccessRefusal is part of every refusal of a request shaped like a Full
// Access request.
const FullAccessRefusal = "Full Access keys are never granted by mcp-keys; only a person can create one in the Supermemory console"

// Number of rules reported by each evaluation.
const (
	createRules = 16
	revokeRules = 8
)

// Reason returns one line: "allowed", or the details of the failed rules
// joined with "; ".
func (d Decision) Reason() string {
	var b strings.Builder
	for _, r := range d.Rules {
		if r.Outcome != Fail {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.Detail)
	}
	if b.Len() == 0 {
		if d.Allowed {
			return "allowed"
		}
		return "denied"
	}
	return b.String()
}

// Failed returns the rules that failed, in evaluation order.
func (d Decision) Failed() []RuleResult {
	var out []RuleResult
	for _, r := range d.Rules {
		if r.Outcome == Fail {
			out = append(out, r)
		}
	}
	return out
}

// EvaluateCreate decides a request to mint a scoped key. It checks every
// create rule (RuleScopedOnly … RuleName, then RuleQuotaCaller against
// req.CallerRecent and RuleQuota against req.Recent), reports each in
// order, and fills in the effective request: the tags exactly as given, the
// name with its prefix (or the default name), the permission, and the
// expiry, lease and rate limits with defaults applied (the requested values,
// when given, even if refused). Every tag must pass every tag rule. The
// request is allowed when no rule fails. EvaluateCreate does no I/O and is
// safe for concurrent use.
func (p *Policy) EvaluateCreate(req CreateRequest) Decision {
	c := p.comp()
	// One allocation holds the rules and, for a single tag, the tag list.
	buf := new(createBuf)
	rules := buf.rules[:0]
	tags := requestTags(req, buf)
	eff := Effective{Tags: tags}
	if len(tags) == 1 {
		eff.Tag = tags[0]
	}

	// scoped_only: Full Access in any shape is refused by code.
	rules = append(rules, c.scopedOnly(req, tags))
	rules = append(rules, c.callerRule())
	rules = append(rules, c.tagCount(req, tags))

	// tag_syntax, tag_deny, tag_allow, tag_new.
	var tagOK bool
	rules, tagOK = c.tagRules(rules, req, tags)

	// permission, tag_read_only.
	var r RuleResult
	eff.Permission, r = c.permission(req.Permission)
	rules = append(rules, r, c.readOnlyRule(tags, eff.Permission, req.Permission))

	// expiry, lease.
	if req.LeaseMinutes != nil && req.ExpiresInDays == nil {
		eff.ExpiresInDays, r = LeaseExpiryDays, RuleResult{RuleExpiry, Pass, leasedExpiry}
	} else {
		eff.ExpiresInDays, r = c.expiry(req.ExpiresInDays)
	}
	rules = append(rules, r)
	eff.LeaseMinutes, r = c.lease(req)
	rules = append(rules, r)

	// rate_limit, rate_window.
	eff.RateLimitMax, r = limit(RuleRateLimit, "rate_limit_max", c.names.maxRate, req.RateLimitMax, c.defaultRate, c.keys.MaxRateLimit, CeilingRateLimit, c.rateDefault, c.rateWithin)
	rules = append(rules, r)
	eff.RateLimitWindowMs, r = limit(RuleRateWindow, "rate_limit_window_ms", c.names.maxWindow, req.RateLimitWindowMs, c.defaultWindow, c.keys.MaxRateWindowMs, CeilingRateWindowMs, c.windowDefault, c.windowWithin)
	rules = append(rules, r)

	// name.
	eff.Name, r = c.name(req, tags, tagOK)
	rules = append(rules, r)

	// quota_caller, quota.
	rules = append(rules, c.callerQuotaRule(req.CallerRecent), c.quotaRule(req.Recent))

	return decide(ActionCreate, rules, eff)
}

// createBuf is the backing store of an allowed create's rules and, for a
// request with one tag, its tag list.
type createBuf struct {
	rules [createRules]RuleResult
	tag   [1]string
}

// requestTags returns the tags of a request: the tag argument, the tags
// argument (copied), or both when both were given (refused by tag_count).
func requestTags(req CreateRequest, buf *createBuf) []string {
	switch {
	case !req.TagsSet && req.Tag == "":
		return nil
	case !req.TagsSet:
		buf.tag[0] = req.Tag
		return buf.tag[:]
	case req.Tag != "":
		return append([]string{req.Tag}, req.Tags...)
	}
	return slices.Clone(req.Tags)
}

// decide returns the decision: allowed when no rule failed.
func decide(action Action, rules []RuleResult, eff Effective) Decision {
	d := Decision{Action: action, Allowed: true, Rules: rules, Effective: eff}
	for i := range rules {
		if rules[i].Outcome == Fail {
			d.Allowed = false
			break
		}
	}
	return d
}

// leasedExpiry is the expiry rule's detail for a leased key.
const leasedExpiry = "leased: expires_in_days 1, the API's shortest; mcp-keys revokes the key when the lease ends"

// callerRule reports which callers rule applies; it fails for a remote
// caller that no rule matches.
func (c *compiled) callerRule() RuleResult {
	if c.caller.mode == callerNone {
		return RuleResult{RuleCaller, Fail, c.caller.detail}
	}
	return RuleResult{RuleCaller, Pass, c.caller.detail}
}

// permission applies the permission rule and returns the permission that
// would be sent. A value other than read or write is refused by scoped_only.
func (c *compiled) permission(perm string) (string, RuleResult) {
	switch perm {
	case "":
		return c.access.DefaultPermission, RuleResult{RulePermission, Pass, c.permDefault}
	case PermissionRead:
		return perm, RuleResult{RulePermission, Pass, "read, as asked"}
	case PermissionWrite:
		return perm, RuleResult{RulePermission, Pass, "write, as asked"}
	}
	return perm, RuleResult{RulePermission, Skip, "not checked: " + Quote(perm) + " is not read or write (refused by scoped_only)"}
}

// lease applies the lease rule and returns the lease that would be kept.
func (c *compiled) lease(req CreateRequest) (int, RuleResult) {
	if req.LeaseMinutes == nil {
		if c.access.RequireLease {
			return 0, RuleResult{RuleLease, Fail, c.leaseRequired}
		}
		return 0, RuleResult{RuleLease, Pass, c.leaseNone}
	}
	n, max := *req.LeaseMinutes, c.access.MaxLeaseMinutes
	switch {
	case req.ExpiresInDays != nil:
		return n, RuleResult{RuleLease, Fail, "both lease_minutes and expires_in_days were given; give one of them"}
	case n < 1:
		return n, RuleResult{RuleLease, Fail, "lease_minutes " + strconv.Itoa(n) + " is below 1; give 1.." + strconv.Itoa(max) + " (" + c.names.maxLease + ")"}
	case n > max:
		return n, RuleResult{RuleLease, Fail, "lease_minutes " + strconv.Itoa(n) + " is over " + c.names.maxLease + " " + strconv.Itoa(max)}
	}
	return n, RuleResult{RuleLease, Pass, c.leaseWithin}
}

// Quota texts that do not depend on the counts.
const (
	quotaNone    = "no quota"
	quotaUnknown = "quota not checked: the audit log is unavailable"
)

// quotaRule checks the creates counted from the audit log against the quota.
func (c *compiled) quotaRule(n CreateCounts) RuleResult {
	return checkQuotaCounts(RuleQuota, c.quota, n, quotaNone, quotaUnknown, "quota", "the audit log",
		"quota.max_keys_per_hour", "quota.max_keys_per_day")
}

// Texts of quota_caller that do not depend on the counts.
const (
	callerQuotaNone    = "no per-caller quota"
	callerQuotaUnknown = "per-caller quota not checked: the store is unavailable"
)

// callerQuotaRule checks this caller's creates against its rule's quota.
func (c *compiled) callerQuotaRule(n CreateCounts) RuleResult {
	return checkQuotaCounts(RuleQuotaCaller, c.callerQuota, n, callerQuotaNone, callerQuotaUnknown, "per-caller quota", "the store",
		c.names.hourQuota, c.names.dayQuota)
}

// checkQuotaCounts checks counts against a quota; what and source name the
// quota and where the counts come from, hourName and dayName its settings.
func checkQuotaCounts(rule string, q QuotaRules, n CreateCounts, none, unknown, what, source, hourName, dayName string) RuleResult {
	switch {
	case q.MaxKeysPerHour == 0 && q.MaxKeysPerDay == 0:
		return RuleResult{rule, Pass, none}
	case !n.Known:
		return RuleResult{rule, Fail, unknown}
	case n.LastHour < 0 || n.LastDay < 0:
		return RuleResult{rule, Fail, what + " not checked: " + source + " gave negative counts (" +
			strconv.Itoa(n.LastHour) + " in the last hour, " + strconv.Itoa(n.LastDay) + " in the last 24 hours)"}
	}
	hourFull := q.MaxKeysPerHour > 0 && n.LastHour >= q.MaxKeysPerHour
	dayFull := q.MaxKeysPerDay > 0 && n.LastDay >= q.MaxKeysPerDay
	if hourFull || dayFull {
		var b strings.Builder
		if hourFull {
			quotaReached(&b, hourName, q.MaxKeysPerHour, n.LastHour, "the last hour", n.HourFreesAt, "an hour")
		}
		if dayFull {
			if hourFull {
				b.WriteString("; ")
			}
			quotaReached(&b, dayName, q.MaxKeysPerDay, n.LastDay, "the last 24 hours", n.DayFreesAt, "24 hours")
		}
		return RuleResult{rule, Fail, b.String()}
	}
	// One allocation: the text is built on the stack and copied once.
	var buf [64]byte
	out := buf[:0]
	if q.MaxKeysPerHour > 0 {
		out = strconv.AppendInt(out, int64(n.LastHour), 10)
		out = append(out, " of "...)
		out = strconv.AppendInt(out, int64(q.MaxKeysPerHour), 10)
		out = append(out, " this hour"...)
	}
	if q.MaxKeysPerDay > 0 {
		if len(out) > 0 {
			out = append(out, ", "...)
		}
		out = strconv.AppendInt(out, int64(n.LastDay), 10)
		out = append(out, " of "...)
		out = strconv.AppendInt(out, int64(q.MaxKeysPerDay), 10)
		out = append(out, " today"...)
	}
	return RuleResult{rule, Pass, string(out)}
}

// quotaReached describes a quota that is used up: the setting and its value,
// the count, and when the oldest counted create leaves the window (rounded
// up to the second, in UTC).
func quotaReached(b *strings.Builder, setting string, max, count int, window string, freesAt time.Time, age string) {
	b.WriteString(setting)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(max))
	b.WriteString(" reached: ")
	b.WriteString(strconv.Itoa(count))
	if count == 1 {
		b.WriteString(" key minted in ")
	} else {
		b.WriteString(" keys minted in ")
	}
	b.WriteString(window)
	if freesAt.IsZero() {
		b.WriteString("; frees up when the oldest of them is " + age + " old")
		return
	}
	b.WriteString("; frees up at ")
	b.WriteString(formatFreesAt(freesAt))
}

// formatFreesAt formats when a quota frees up: UTC, RFC 3339, rounded up to
// the next whole second (so never too early).
func formatFreesAt(t time.Time) string {
	t = t.UTC()
	if r := t.Truncate(time.Second); !r.Equal(t) {
		t = r.Add(time.Second)
	}
	return t.Format(time.RFC3339)
}

// scopedOnly refuses every shape of a Full Access request: an argument asking
// for it, a permission other than read or write, no tag, or a wildcard in a
// tag.
func (c *compiled) scopedOnly(req CreateRequest, tags []string) RuleResult {
	var why string
	switch {
	case len(req.FullAccessArgs) > 0:
		args := req.FullAccessArgs
		if len(args) > 5 {
			args = args[:5]
		}
		q := make([]string, len(args))
		for i, a := range args {
			q[i] = Quote(a)
		}
		why = "asked for Full Access through " + strings.Join(q, ", ")
	case req.Permission != "" && req.Permission != PermissionRead && req.Permission != PermissionWrite:
		why = "permission " + Quote(req.Permission) + " is not read or write"
	case len(tags) == 0:
		why = "no tag given (a key without a tag is a Full Access key)"
	default:
		for _, tag := range tags {
			if hasWildcard(tag) {
				why = "tag " + Quote(tag) + " contains a wildcard (a key for every tag is a Full Access key)"
				break
			}
		}
		if why == "" {
			if len(tags) == 1 {
				return RuleResult{RuleScopedOnly, Pass, "a scoped key for one tag"}
			}
			return RuleResult{RuleScopedOnly, Pass, "a scoped key for the tags given"}
		}
	}
	return RuleResult{RuleScopedOnly, Fail, why + ": " + FullAccessRefusal}
}

// hasWildcard reports whether s contains '*' or '?'.
func hasWildcard(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '*' || s[i] == '?' {
			return true
		}
	}
	return false
}

// denyRule checks a valid tag against the deny patterns.
func (c *compiled) denyRule(tag string) RuleResult {
	if i := c.deny.first(tag); i >= 0 {
		return RuleResult{RuleTagDeny, Fail, "tag " + Quote(tag) + " is " + c.deny.ms[i].detail}
	}
	if len(c.deny.ms) == 0 {
		return RuleResult{RuleTagDeny, Pass, "no deny patterns"}
	}
	return RuleResult{RuleTagDeny, Pass, "no deny pattern matches"}
}

// allowRule checks a valid tag against the allow patterns: the top level's
// and, for a caller whose rule narrows them, the rule's. A caller's refusal
// lists only the rule's patterns, never the top level's.
func (c *compiled) allowRule(tag string) RuleResult {
	if c.narrow != nil {
		j := c.narrow.first(tag)
		if j < 0 {
			if len(c.narrow.ms) == 0 {
				return RuleResult{RuleTagAllow, Fail, "no tags are allowed for this caller: " + c.caller.label + ".tags.allow is empty"}
			}
			return RuleResult{RuleTagAllow, Fail, "tag " + Quote(tag) + " is outside this caller's tags (" + c.caller.label + ".tags.allow: " + c.narrowList + ")"}
		}
		i := c.allow.first(tag)
		if i < 0 {
			return RuleResult{RuleTagAllow, Fail, "tag " + Quote(tag) + " matches no allow pattern of the top-level policy (" +
				c.caller.label + " allows it, but a tag must pass both)"}
		}
		return RuleResult{RuleTagAllow, Pass, c.allow.ms[i].detail + " and " + strings.TrimPrefix(c.narrow.ms[j].detail, "allowed ")}
	}
	if i := c.allow.first(tag); i >= 0 {
		return RuleResult{RuleTagAllow, Pass, c.allow.ms[i].detail}
	}
	if len(c.allow.ms) == 0 {
		return RuleResult{RuleTagAllow, Fail, c.noAllow}
	}
	return RuleResult{RuleTagAllow, Fail, "tag " + Quote(tag) + " matches no allow pattern (allowed: " + c.allowList + ")"}
}

// expiry applies the expiry rule.
func (c *compiled) expiry(days *int) (int, RuleResult) {
	max := min(c.keys.MaxExpiryDays, CeilingExpiryDays)
	if days == nil {
		return c.keys.DefaultExpiryDays, RuleResult{RuleExpiry, Pass, c.expiryDefault}
	}
	n := *days
	switch {
	case n <= 0:
		return n, RuleResult{RuleExpiry, Fail, "expires_in_days " + strconv.Itoa(n) + ": keys that never expire cannot be minted; give 1.." + strconv.Itoa(max)}
	case n > max:
		return n, RuleResult{RuleExpiry, Fail, "expires_in_days " + strconv.Itoa(n) + " is over " + c.names.maxExpiry + " " + strconv.Itoa(max)}
	}
	return n, RuleResult{RuleExpiry, Pass, c.expiryWithin}
}

// limit applies a rate rule: nil takes def; otherwise 1..max, where max is
// the policy's cap, never above the compiled-in ceiling.
func limit(rule, arg, setting string, v *int, def, max, ceiling int, defDetail, within string) (int, RuleResult) {
	if v == nil {
		return def, RuleResult{rule, Pass, defDetail}
	}
	max = min(max, ceiling)
	n := *v
	switch {
	case n < 1:
		return n, RuleResult{rule, Fail, arg + " " + strconv.Itoa(n) + " is below 1; give 1.." + strconv.Itoa(max) + " (" + setting + ")"}
	case n > max:
		return n, RuleResult{rule, Fail, arg + " " + strconv.Itoa(n) + " is over " + setting + " " + strconv.Itoa(max)}
	}
	return n, RuleResult{rule, Pass, within}
}

// name applies the name rule and returns the name that would be sent.
func (c *compiled) name(req CreateRequest, tags []string, tagOK bool) (string, RuleResult) {
	prefix := c.keys.NamePrefix
	var name, detail string
	switch {
	case req.Name == "" && !tagOK:
		return "", RuleResult{RuleName, Skip, "no default name: the tag is invalid"}
	case req.Name == "":
		name, detail = defaultName(prefix, c.prefixRunes, tags[0], len(tags)-1, req.Now), c.nameDefault
	case strings.HasPrefix(req.Name, prefix):
		name, detail = req.Name, c.nameHas
	default:
		name, detail = prefix+req.Name, c.namePrepended
	}
	if err := checkName(name); err != nil {
		return name, RuleResult{RuleName, Fail, err.Error()}
	}
	return name, RuleResult{RuleName, Pass, detail}
}

// defaultName builds <prefix><tag>-<yyyymmdd> from a valid (ASCII) tag, or
// <prefix><tag>+<more>-<yyyymmdd> for a key with more tags, cutting the tag
// so that the name fits MaxNameLength.
func defaultName(prefix string, prefixRunes int, tag string, more int, now time.Time) string {
	suffix := ""
	if more > 0 {
		suffix = "+" + strconv.Itoa(more)
	}
	if room := MaxNameLength - prefixRunes - len(suffix) - len("-yyyymmdd"); len(tag) > room {
		tag = tag[:max(room, 0)]
	}
	y, m, d := now.UTC().Date()
	var b strings.Builder
	b.Grow(len(prefix) + len(tag) + len(suffix) + len("-yyyymmdd"))
	b.WriteString(prefix)
	b.WriteString(tag)
	b.WriteString(suffix)
	b.WriteByte('-')
	if y < 0 || y > 9999 {
		b.WriteString(strconv.Itoa(y))
	} else {
		b.WriteByte(byte('0' + y/1000))
		b.WriteByte(byte('0' + y/100%10))
		b.WriteByte(byte('0' + y/10%10))
		b.WriteByte(byte('0' + y%10))
	}
	b.WriteByte(byte('0' + int(m)/10))
	b.WriteByte(byte('0' + int(m)%10))
	b.WriteByte(byte('0' + d/10))
	b.WriteByte(byte('0' + d%10))
	return b.String()
}

// checkName enforces the name rules on the final name (prefix included).
func checkName(name string) error {
	n := utf8.RuneCountInString(name)
	if n > MaxNameLength {
		return fmt.Errorf("name %s is %d characters long (prefix included); the maximum is %d", Quote(name), n, MaxNameLength)
	}
	if err := checkPrintable(name); err != nil {
		return fmt.Errorf("name %s %w", Quote(name), err)
	}
	if looksLikeKey(name) {
		return fmt.Errorf("name looks like an API key (sm_<org>_<secret>); a key's name is shown in every listing, so it must not carry a secret")
	}
	return nil
}

// looksLikeKey reports whether s contains something shaped like a
// Supermemory key, sm_<org>_<16 or more letters or digits> (the audit log
// refuses such text too, and names are recorded there).
func looksLikeKey(s string) bool {
	for i := strings.Index(s, "sm_"); i >= 0; {
		run := s[i+3:]
		end := 0
		for end < len(run) && (isAlnum(run[end]) || run[end] == '_' || run[end] == '-') {
			end++
		}
		run = run[:end]
		for k := 1; k < len(run); k++ {
			if run[k] != '_' {
				continue
			}
			n := 0
			for n < 16 && k+1+n < len(run) && isAlnum(run[k+1+n]) {
				n++
			}
			if n == 16 {
				return true
			}
		}
		next := strings.Index(s[i+3:], "sm_")
		if next < 0 {
			break
		}
		i += 3 + next
	}
	return false
}

// isAlnum reports whether c is an ASCII letter or digit.
func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// checkPrintable refuses invalid UTF-8, control (Cc) and format (Cf)
// characters and anything else that is not printable (other than ' ').
func checkPrintable(s string) error {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < ' ' || c == 0x7f {
				return nonPrintable(s, i, rune(c), "a control character")
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			return fmt.Errorf("is not valid UTF-8 (byte 0x%02x at position %d)", c, utf8.RuneCountInString(s[:i])+1)
		case unicode.Is(unicode.Cc, r):
			return nonPrintable(s, i, r, "a control character")
		case unicode.Is(unicode.Cf, r):
			return nonPrintable(s, i, r, "a format (invisible) character")
		case !unicode.IsPrint(r):
			return nonPrintable(s, i, r, "a character that is not printable")
		}
		i += size
	}
	return nil
}

func nonPrintable(s string, i int, r rune, what string) error {
	return fmt.Errorf("has %s at position %d: %s (U+%04X)", what, utf8.RuneCountInString(s[:i])+1, strconv.QuoteRuneToASCII(r), r)
}

// CheckTag checks a tag against the character rules and the deny and allow
// patterns only (not allow_new, read_only or any limit), as list_tags
// reports it; for a caller's policy (ForCaller) the tag must pass both the
// top level's patterns and the caller rule's. The reason is one line: the
// matching allow pattern, or why the tag is refused.
func (p *Policy) CheckTag(tag string) (allowed bool, reason string) {
	c := p.comp()
	if err := ValidTag(tag); err != nil {
		return false, err.Error()
	}
	if r := c.denyRule(tag); r.Outcome == Fail {
		return false, r.Detail
	}
	r := c.allowRule(tag)
	return r.Outcome == Pass, r.Detail
}

// EvaluateRevoke decides a request to revoke a key, given what a fresh
// listing and the store say of it. It checks every revoke rule
// (RuleRevokeEnabled … RuleTargetScope) and reports each in order; the
// request is allowed when none fails. A Full Access key is never revocable.
// A target that is already disabled is judged like any other (the caller
// reports "already revoked"). For a remote caller (ForCaller) the key must
// be within its revoke scope, and no detail names the key's name or tags
// outside the caller's rule. Effective is left empty. EvaluateRevoke does no
// I/O and is safe for concurrent use.
func (p *Policy) EvaluateRevoke(req RevokeRequest) Decision {
	c := p.comp()
	rules := make([]RuleResult, 0, revokeRules)
	if c.revoke.Enabled {
		rules = append(rules, RuleResult{RuleRevokeEnabled, Pass, "revoke is enabled"})
	} else {
		rules = append(rules, RuleResult{RuleRevokeEnabled, Fail, "revoke is disabled by the policy (revoke.enabled: false)"})
	}
	rules = append(rules, c.callerRule())

	t := req.Target
	switch {
	case t == nil:
		rules = append(rules,
			RuleResult{RuleTargetFound, Fail, "no key with id " + Quote(req.ID) + " in a fresh listing"},
			RuleResult{RuleTargetScoped, Skip, "no target"},
			RuleResult{RuleTargetTags, Skip, "no target"},
			RuleResult{RuleTargetPrefix, Skip, "no target"},
			RuleResult{RuleTargetMinted, Skip, "no target"},
			c.noTargetScope(),
		)
	case t.ID != req.ID:
		rules = append(rules,
			RuleResult{RuleTargetFound, Fail, "the listing gave key " + Quote(t.ID) + " for id " + Quote(req.ID)},
			RuleResult{RuleTargetScoped, Skip, "no target"},
			RuleResult{RuleTargetTags, Skip, "no target"},
			RuleResult{RuleTargetPrefix, Skip, "no target"},
			RuleResult{RuleTargetMinted, Skip, "no target"},
			c.noTargetScope(),
		)
	default:
		rules = append(rules, RuleResult{RuleTargetFound, Pass, "found in a fresh listing"})
		switch {
		case t.Scoped:
			rules = append(rules, RuleResult{RuleTargetScoped, Pass, "a scoped key"})
			rules = append(rules, c.targetTags(t))
		case c.caller.remote():
			rules = append(rules,
				RuleResult{RuleTargetScoped, Fail, "key " + Quote(t.ID) + " is a Full Access key; mcp-keys never revokes Full Access keys"},
				RuleResult{RuleTargetTags, Skip, "not a scoped key"},
			)
		default:
			rules = append(rules,
				RuleResult{RuleTargetScoped, Fail, "key " + Quote(t.ID) + " (" + Quote(t.Name) + ") is a Full Access key; mcp-keys never revokes Full Access keys"},
				RuleResult{RuleTargetTags, Skip, "not a scoped key"},
			)
		}
		switch {
		case !c.revoke.OnlyPrefixed:
			rules = append(rules, RuleResult{RuleTargetPrefix, Skip, "revoke.only_prefixed is false"})
		case strings.HasPrefix(t.Name, c.keys.NamePrefix):
			rules = append(rules, RuleResult{RuleTargetPrefix, Pass, c.prefixPass})
		case c.caller.remote():
			rules = append(rules, RuleResult{RuleTargetPrefix, Fail, "the name of key " + Quote(t.ID) + " does not start with name_prefix " +
				strconv.Quote(c.keys.NamePrefix) + " (revoke.only_prefixed: only keys made through mcp-keys)"})
		default:
			rules = append(rules, RuleResult{RuleTargetPrefix, Fail, "name " + Quote(t.Name) + " does not start with name_prefix " +
				strconv.Quote(c.keys.NamePrefix) + " (revoke.only_prefixed: only keys made through mcp-keys)"})
		}
		rules = append(rules, c.targetMinted(t), c.targetScope(t))
	}
	return decide(ActionRevoke, rules, Effective{})
}

// Details of target_minted that do not depend on the key.
const (
	mintedOff  = "revoke.only_minted is false"
	mintedPass = "minted through mcp-keys (audit log)"
)

// targetMinted requires, when revoke.only_minted, that the audit log records
// the key as minted through mcp-keys. A name prefix proves nothing: anyone
// can type it in the console.
func (c *compiled) targetMinted(t *RevokeTarget) RuleResult {
	if !c.revoke.OnlyMinted {
		return RuleResult{RuleTargetMinted, Skip, mintedOff}
	}
	switch minted(t) {
	case Yes:
		return RuleResult{RuleTargetMinted, Pass, mintedPass}
	case No:
		return RuleResult{RuleTargetMinted, Fail, "key " + Quote(t.ID) + " was not minted through mcp-keys according to the audit log " +
			"(revoke.only_minted); a person can revoke it in the Supermemory console"}
	}
	return RuleResult{RuleTargetMinted, Fail, "whether key " + Quote(t.ID) + " was minted through mcp-keys could not be checked: " +
		"the audit log is unavailable (revoke.only_minted)"}
}

// minted is t.Minted, or Yes when the key is known to be the caller's own.
func minted(t *RevokeTarget) Tristate {
	if t.MintedByCaller == Yes {
		return Yes
	}
	return t.Minted
}

// Details of target_scope that do not depend on the key.
const (
	scopeLocal   = "local caller (stdio): no revoke scope applies"
	scopeOwnPass = "minted by this caller (revoke scope own)"
	scopeTeamOwn = "minted by this caller (revoke scope team)"
	scopeNoRule  = "not checked: no callers rule matches this caller"
)

// noTargetScope is target_scope when there is no target.
func (c *compiled) noTargetScope() RuleResult {
	if !c.caller.remote() {
		return RuleResult{RuleTargetScope, Pass, scopeLocal}
	}
	return RuleResult{RuleTargetScope, Skip, "no target"}
}

// targetScope applies a remote caller's revoke scope: own needs a key this
// caller minted; team also takes a key minted through mcp-keys (its tags
// are checked by target_tags against the caller's rule).
func (c *compiled) targetScope(t *RevokeTarget) RuleResult {
	switch {
	case !c.caller.remote():
		return RuleResult{RuleTargetScope, Pass, scopeLocal}
	case c.caller.mode == callerNone:
		return RuleResult{RuleTargetScope, Skip, scopeNoRule}
	case t.MintedByCaller == Yes && c.revoke.Scope == ScopeTeam:
		return RuleResult{RuleTargetScope, Pass, scopeTeamOwn}
	case t.MintedByCaller == Yes:
		return RuleResult{RuleTargetScope, Pass, scopeOwnPass}
	case c.revoke.Scope == ScopeTeam && t.Minted == Yes:
		return RuleResult{RuleTargetScope, Pass, "minted through mcp-keys on tags this caller's rule allows (revoke scope team)"}
	case c.revoke.Scope == ScopeTeam && t.Minted == No:
		return RuleResult{RuleTargetScope, Fail, "key " + Quote(t.ID) + " was not minted through mcp-keys (revoke scope team)"}
	case c.revoke.Scope == ScopeTeam:
		return RuleResult{RuleTargetScope, Fail, "whether key " + Quote(t.ID) + " was minted through mcp-keys could not be checked: the store is unavailable (revoke scope team)"}
	case t.MintedByCaller == No:
		return RuleResult{RuleTargetScope, Fail, "key " + Quote(t.ID) + " is not one of this caller's keys (" + c.scopeSetting() + " own: only keys this caller minted)"}
	}
	return RuleResult{RuleTargetScope, Fail, "whether key " + Quote(t.ID) + " was minted by this caller could not be checked: the store is unavailable (revoke scope own)"}
}

// scopeSetting names the revoke scope setting of a remote caller.
func (c *compiled) scopeSetting() string {
	if c.caller.label == "" {
		return "revoke scope"
	}
	return c.caller.label + ".revoke.scope"
}

// targetTags requires every tag of a scoped target to pass the character
// rules and the deny and allow patterns. For a remote caller the refusal
// does not name the tags, which may lie outside the caller's rule.
func (c *compiled) targetTags(t *RevokeTarget) RuleResult {
	if len(t.Tags) == 0 {
		return RuleResult{RuleTargetTags, Fail, "key " + Quote(t.ID) + " has no tags; only keys whose every tag is allowed can be revoked"}
	}
	var bad []string
	for _, tag := range t.Tags {
		var why string
		if err := ValidTag(tag); err != nil {
			why = err.Error()
		} else if r := c.denyRule(tag); r.Outcome == Fail {
			why = r.Detail
		} else if r := c.allowRule(tag); r.Outcome == Fail {
			why = r.Detail
		} else {
			continue
		}
		bad = append(bad, why)
	}
	switch {
	case len(bad) == 0 && len(t.Tags) == 1:
		return RuleResult{RuleTargetTags, Pass, c.allowRule(t.Tags[0]).Detail}
	case len(bad) == 0:
		return RuleResult{RuleTargetTags, Pass, "every tag is allowed"}
	case c.caller.remote():
		return RuleResult{RuleTargetTags, Fail, "key " + Quote(t.ID) + " has tags this caller may not use; only keys whose every tag it may use can be revoked"}
	case len(bad) == 1:
		return RuleResult{RuleTargetTags, Fail, "key " + Quote(t.ID) + ": " + bad[0]}
	}
	return RuleResult{RuleTargetTags, Fail, fmt.Sprintf("key %s: %s (and %d more tags refused)", Quote(t.ID), bad[0], len(bad)-1)}
}
