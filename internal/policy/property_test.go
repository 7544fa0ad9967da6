package policy

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"pgregory.net/rapid"
)

const tagAlphabet = "abcxyzABCXYZ019-_:."

// refTagChars is the API's tag alphabet, spelled out.
const refTagChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_:."

var (
	genTag     = rapid.StringOfN(rapid.RuneFrom([]rune(tagAlphabet)), 1, 24, -1)
	genPattern = rapid.StringOfN(rapid.RuneFrom([]rune(tagAlphabet+"**??")), 1, 10, -1)
	genAnyTag  = rapid.OneOf(
		genTag,
		rapid.String(),
		rapid.StringOfN(rapid.RuneFrom([]rune(tagAlphabet+" *?\t/\u200b\u0430\u00e9\x00\u202e")), 0, 24, -1),
	)
)

// genPolicy draws a valid policy with a few allow and deny patterns.
func genPolicy(t *rapid.T) *Policy {
	maxExp := rapid.IntRange(1, CeilingExpiryDays).Draw(t, "max_expiry_days")
	keys := KeyRules{
		NamePrefix:        rapid.SampledFrom([]string{"", "agent-", "bot é ", strings.Repeat("p", MaxNamePrefixLength)}).Draw(t, "prefix"),
		MaxExpiryDays:     maxExp,
		DefaultExpiryDays: rapid.IntRange(1, maxExp).Draw(t, "default_expiry_days"),
		MaxRateLimit:      rapid.IntRange(1, CeilingRateLimit).Draw(t, "max_rate_limit"),
		MaxRateWindowMs:   rapid.IntRange(1, CeilingRateWindowMs).Draw(t, "max_rate_window_ms"),
	}
	tags := TagRules{
		Allow:    rapid.SliceOfN(genPattern, 0, 20).Draw(t, "allow"),
		Deny:     rapid.SliceOfN(genPattern, 0, 20).Draw(t, "deny"),
		AllowNew: rapid.Bool().Draw(t, "allow_new"),
	}
	revoke := RevokeRules{Enabled: rapid.Bool().Draw(t, "enabled"), OnlyPrefixed: rapid.Bool().Draw(t, "only_prefixed"), OnlyMinted: rapid.Bool().Draw(t, "only_minted")}
	s := sections(tags, keys, revoke)
	s.quota = genQuota(t)
	modes := []ConfirmMode{ConfirmNever, ConfirmIfSupported, ConfirmAlways}
	s.confirm = ConfirmRules{Create: rapid.SampledFrom(modes).Draw(t, "confirm create"), Revoke: rapid.SampledFrom(modes).Draw(t, "confirm revoke")}
	if rapid.Bool().Draw(t, "deliver file") {
		s.secrets = SecretsRules{Deliver: DeliverFile, Dir: rapid.SampledFrom([]string{"/", "/home/me/keys", "/a \"b\"/\\c/é"}).Draw(t, "dir")}
	}
	s.audit.Required = rapid.Bool().Draw(t, "audit required")
	p, err := newPolicy("prop.yaml", s)
	if err != nil {
		t.Fatalf("newPolicy: %v", err)
	}
	return p
}

// genQuota draws no quota, an hourly, a daily or both, small or at the
// ceilings.
func genQuota(t *rapid.T) QuotaRules {
	var q QuotaRules
	if rapid.Bool().Draw(t, "hourly") {
		q.MaxKeysPerHour = rapid.OneOf(rapid.IntRange(1, 12), rapid.IntRange(1, CeilingKeysPerHour)).Draw(t, "max_keys_per_hour")
	}
	if rapid.Bool().Draw(t, "daily") {
		q.MaxKeysPerDay = rapid.IntRange(max(q.MaxKeysPerHour, 1), CeilingKeysPerDay).Draw(t, "max_keys_per_day")
	}
	return q
}

// genCounts draws what the caller counted in the audit log.
func genCounts(t *rapid.T) CreateCounts {
	base := time.Unix(rapid.Int64Range(0, 1<<34).Draw(t, "frees"), rapid.Int64Range(0, 999999999).Draw(t, "nanos"))
	return CreateCounts{
		LastHour:    rapid.OneOf(rapid.IntRange(-1, 15), rapid.IntRange(0, 200000)).Draw(t, "last hour"),
		LastDay:     rapid.OneOf(rapid.IntRange(-1, 15), rapid.IntRange(0, 200000)).Draw(t, "last day"),
		HourFreesAt: base,
		DayFreesAt:  base.Add(time.Duration(rapid.Int64Range(0, int64(24*time.Hour)).Draw(t, "day after"))),
		Known:       rapid.Bool().Draw(t, "known"),
	}
}

func genIntPtr(t *rapid.T, label string) *int {
	return rapid.Ptr(rapid.OneOf(rapid.IntRange(-2, 20), rapid.IntRange(0, 4000000), rapid.Int()), true).Draw(t, label)
}

func genCreate(t *rapid.T, tag *rapid.Generator[string]) CreateRequest {
	return CreateRequest{
		Tag:               tag.Draw(t, "tag"),
		Name:              rapid.OneOf(rapid.Just(""), rapid.String(), rapid.StringN(0, 120, -1)).Draw(t, "name"),
		ExpiresInDays:     genIntPtr(t, "expires"),
		RateLimitMax:      genIntPtr(t, "rate"),
		RateLimitWindowMs: genIntPtr(t, "window"),
		FullAccessArgs:    rapid.SliceOfN(rapid.SampledFrom([]string{"permission", "full_access", "scope"}), 0, 2).Draw(t, "full_access_args"),
		TagExists:         Tristate(rapid.IntRange(0, 2).Draw(t, "exists")),
		Now:               time.Unix(rapid.Int64Range(0, 1<<34).Draw(t, "now"), 0),
		Recent:            genCounts(t),
	}
}

func outcome(d Decision, rule string) Outcome {
	for _, r := range d.Rules {
		if r.Rule == rule {
			return r.Outcome
		}
	}
	return ""
}

// Deny always wins: if any deny pattern matches the tag ignoring case, the
// create is refused at tag_deny, CheckTag refuses, and a revoke of a key
// carrying the tag is refused.
func TestPropDenyWins(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		req := genCreate(t, genTag)
		// Often make a deny pattern that matches: the tag itself in another
		// case, or a prefix of it followed by '*'.
		if rapid.Bool().Draw(t, "force") {
			cut := rapid.IntRange(0, len(req.Tag)).Draw(t, "cut")
			pat := strings.ToUpper(req.Tag[:cut]) + "*"
			s := settingsOf(p)
			s.tags.Deny = append(s.tags.Deny, pat)
			s.tags.Allow = append(s.tags.Allow, "*")
			var err error
			if p, err = newPolicy("prop.yaml", s); err != nil {
				t.Fatal(err)
			}
		}
		denied := false
		for _, pat := range p.Tags.Deny {
			if refRegexp(pat, true).MatchString(req.Tag) {
				denied = true
			}
		}
		d := p.EvaluateCreate(req)
		if got := outcome(d, RuleTagDeny) == Fail; got != denied {
			t.Fatalf("tag_deny failed=%v, reference says denied=%v (tag %q, deny %q)", got, denied, req.Tag, p.Tags.Deny)
		}
		if !denied {
			return
		}
		if d.Allowed {
			t.Fatalf("denied tag %q allowed", req.Tag)
		}
		if ok, _ := p.CheckTag(req.Tag); ok {
			t.Fatalf("CheckTag(%q) allowed a denied tag", req.Tag)
		}
		r := p.EvaluateRevoke(RevokeRequest{ID: "k", Target: &RevokeTarget{ID: "k", Name: p.Keys.NamePrefix + "x", Scoped: true, Tags: []string{"a", req.Tag}}})
		if r.Allowed || outcome(r, RuleTargetTags) != Fail {
			t.Fatalf("revoke of a key with denied tag %q allowed", req.Tag)
		}
	})
}

// A tag outside the character rules is never allowed, whatever the policy
// (here one that allows everything).
func TestPropInvalidTagNeverAllowed(t *testing.T) {
	p, err := newPolicy("all", sections(TagRules{Allow: []string{"*", "**", "?*"}, AllowNew: true}, defaultKeys(), defaultRevoke()))
	if err != nil {
		t.Fatal(err)
	}
	rapid.Check(t, func(t *rapid.T) {
		tag := genAnyTag.Draw(t, "tag")
		valid := len(tag) >= 1 && len(tag) <= MaxTagLength
		for i := 0; i < len(tag); i++ {
			if tag[i] >= 0x80 || !strings.ContainsRune(refTagChars, rune(tag[i])) {
				valid = false
			}
		}
		if (ValidTag(tag) == nil) != valid {
			t.Fatalf("ValidTag(%q) = %v, reference valid=%v", tag, ValidTag(tag), valid)
		}
		d := p.EvaluateCreate(CreateRequest{Tag: tag, Now: time.Unix(0, 0)})
		if d.Allowed != valid {
			t.Fatalf("tag %q: allowed=%v, valid=%v (%s)", tag, d.Allowed, valid, d.Reason())
		}
		if ok, _ := p.CheckTag(tag); ok != valid {
			t.Fatalf("CheckTag(%q) = %v, valid=%v", tag, ok, valid)
		}
		if !valid && outcome(d, RuleTagSyntax) != Fail {
			t.Fatalf("tag %q: tag_syntax did not fail", tag)
		}
		for _, pat := range []string{"*", "?*", "**"} {
			if Match(pat, tag) != valid {
				t.Fatalf("Match(%q, %q) = %v, valid=%v", pat, tag, Match(pat, tag), valid)
			}
		}
	})
}

// No input is ever allowed as Full Access: a request that asks for it, has
// no tag or has a wildcard in it is refused at scoped_only with the fixed
// text, whatever the policy; and a Full Access key is never revocable.
func TestPropNoFullAccess(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		if rapid.Bool().Draw(t, "allow all") {
			s := settingsOf(p)
			s.tags.Allow, s.tags.Deny = []string{"*"}, nil
			var err error
			if p, err = newPolicy("prop.yaml", s); err != nil {
				t.Fatal(err)
			}
		}
		req := genCreate(t, genAnyTag)
		switch rapid.IntRange(0, 3).Draw(t, "shape") {
		case 0:
			req.FullAccessArgs = append(req.FullAccessArgs, "permission")
		case 1:
			req.Tag = ""
		case 2:
			i := rapid.IntRange(0, len(req.Tag)).Draw(t, "at")
			req.Tag = req.Tag[:i] + rapid.SampledFrom([]string{"*", "?"}).Draw(t, "wild") + req.Tag[i:]
		}
		shaped := len(req.FullAccessArgs) > 0 || req.Tag == "" || strings.ContainsAny(req.Tag, "*?")
		d := p.EvaluateCreate(req)
		if !shaped {
			if outcome(d, RuleScopedOnly) != Pass {
				t.Fatalf("scoped_only failed for %+v", req)
			}
			return
		}
		if d.Allowed {
			t.Fatalf("Full Access shaped request allowed: %+v", req)
		}
		if outcome(d, RuleScopedOnly) != Fail || !strings.Contains(d.Rules[0].Detail, FullAccessRefusal) {
			t.Fatalf("scoped_only = %+v", d.Rules[0])
		}
		tags := rapid.SliceOfN(genTag, 0, 3).Draw(t, "target tags")
		r := p.EvaluateRevoke(RevokeRequest{ID: "k", Target: &RevokeTarget{ID: "k", Name: p.Keys.NamePrefix + "k", Scoped: false, Tags: tags, Enabled: true}})
		if r.Allowed || outcome(r, RuleTargetScoped) != Fail {
			t.Fatalf("Full Access key revocable: %+v", r.Rules)
		}
	})
}

// Evaluation is deterministic: the same request on the same policy, or on
// the policy read back from its effective YAML, gives the same decision.
func TestPropDeterministic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		q, err := Parse("prop.yaml", p.EffectiveYAML())
		if err != nil {
			t.Fatalf("Parse(EffectiveYAML): %v", err)
		}
		req := genCreate(t, rapid.OneOf(genTag, genAnyTag))
		a, b, c := p.EvaluateCreate(req), p.EvaluateCreate(req), q.EvaluateCreate(req)
		if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(a, c) {
			t.Fatalf("different decisions:\n%+v\n%+v\n%+v", a, b, c)
		}
		rr := RevokeRequest{ID: "k", Target: &RevokeTarget{ID: "k", Name: rapid.String().Draw(t, "name"), Scoped: rapid.Bool().Draw(t, "scoped"), Tags: rapid.SliceOfN(genAnyTag, 0, 3).Draw(t, "tags"),
			Minted: Tristate(rapid.IntRange(0, 3).Draw(t, "minted"))}}
		if x, y := p.EvaluateRevoke(rr), q.EvaluateRevoke(rr); !reflect.DeepEqual(x, y) {
			t.Fatalf("different revoke decisions:\n%+v\n%+v", x, y)
		}
	})
}

// An allowed create is within every limit: what is sent is what was checked.
func TestPropAllowedIsWithinLimits(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		req := genCreate(t, genTag)
		d := p.EvaluateCreate(req)
		if !d.Allowed {
			if d.Reason() == "allowed" || len(d.Failed()) == 0 {
				t.Fatalf("refused without a failed rule: %+v", d.Rules)
			}
			return
		}
		e := d.Effective
		switch {
		case e.Tag != req.Tag || ValidTag(e.Tag) != nil:
			t.Fatalf("tag %q sent for %q", e.Tag, req.Tag)
		case e.ExpiresInDays < 1 || e.ExpiresInDays > p.Keys.MaxExpiryDays || e.ExpiresInDays > CeilingExpiryDays:
			t.Fatalf("expiry %d over %d", e.ExpiresInDays, p.Keys.MaxExpiryDays)
		case e.RateLimitMax < 1 || e.RateLimitMax > p.Keys.MaxRateLimit:
			t.Fatalf("rate %d over %d", e.RateLimitMax, p.Keys.MaxRateLimit)
		case e.RateLimitWindowMs < 1 || e.RateLimitWindowMs > p.Keys.MaxRateWindowMs:
			t.Fatalf("window %d over %d", e.RateLimitWindowMs, p.Keys.MaxRateWindowMs)
		case !strings.HasPrefix(e.Name, p.Keys.NamePrefix) || utf8.RuneCountInString(e.Name) > MaxNameLength || checkPrintable(e.Name) != nil:
			t.Fatalf("name %q", e.Name)
		case req.Name != "" && !strings.HasSuffix(e.Name, req.Name):
			t.Fatalf("name %q lost the requested %q", e.Name, req.Name)
		}
		if first := p.c.allow.first(req.Tag); first < 0 {
			t.Fatalf("allowed tag %q matches no allow pattern", req.Tag)
		}
	})
}

// The quota fails closed: with a quota configured, a create is refused
// unless the audit log was read and every configured window has room; the
// refusal names the setting and when it frees up. Without a quota the rule
// always passes, whatever the counts.
func TestPropQuota(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		req := genCreate(t, genTag)
		n := req.Recent
		q := p.Quota
		d := p.EvaluateCreate(req)
		r := d.Rules[len(d.Rules)-1]
		if r.Rule != RuleQuota {
			t.Fatalf("last rule is %q, want quota", r.Rule)
		}
		checkText(t, r.Detail)
		if q.MaxKeysPerHour == 0 && q.MaxKeysPerDay == 0 {
			if r.Outcome != Pass || r.Detail != "no quota" {
				t.Fatalf("no quota configured: %+v", r)
			}
			return
		}
		hourFull := q.MaxKeysPerHour > 0 && n.LastHour >= q.MaxKeysPerHour
		dayFull := q.MaxKeysPerDay > 0 && n.LastDay >= q.MaxKeysPerDay
		room := n.Known && n.LastHour >= 0 && n.LastDay >= 0 && !hourFull && !dayFull
		if (r.Outcome == Pass) != room {
			t.Fatalf("quota %+v, counts %+v: %+v", q, n, r)
		}
		if d.Allowed && !room {
			t.Fatalf("allowed over the quota %+v with counts %+v", q, n)
		}
		if !n.Known || n.LastHour < 0 || n.LastDay < 0 {
			return
		}
		if hourFull && (!strings.Contains(r.Detail, "quota.max_keys_per_hour "+strconv.Itoa(q.MaxKeysPerHour)+" reached: "+strconv.Itoa(n.LastHour)+" key") ||
			!strings.Contains(r.Detail, "frees up at "+formatFreesAt(n.HourFreesAt))) {
			t.Fatalf("hour refusal %q", r.Detail)
		}
		if dayFull && (!strings.Contains(r.Detail, "quota.max_keys_per_day "+strconv.Itoa(q.MaxKeysPerDay)+" reached: "+strconv.Itoa(n.LastDay)+" key") ||
			!strings.Contains(r.Detail, "frees up at "+formatFreesAt(n.DayFreesAt))) {
			t.Fatalf("day refusal %q", r.Detail)
		}
		if hourFull || dayFull {
			at, err := time.Parse(time.RFC3339, formatFreesAt(n.HourFreesAt))
			if err != nil || at.Before(n.HourFreesAt) || at.Sub(n.HourFreesAt) >= time.Second {
				t.Fatalf("formatFreesAt(%v) = %v, %v", n.HourFreesAt, at, err)
			}
		}
	})
}

// Revoke by provenance: with revoke.only_minted, a revoke is allowed only
// for a key the audit log records as minted, whatever its name; without it,
// target_minted never refuses.
func TestPropOnlyMinted(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genPolicy(t)
		if rapid.Bool().Draw(t, "allow all") {
			s := settingsOf(p)
			s.tags.Allow, s.tags.Deny = []string{"*"}, nil
			var err error
			if p, err = newPolicy("prop.yaml", s); err != nil {
				t.Fatal(err)
			}
		}
		name := rapid.SampledFrom([]string{p.Keys.NamePrefix + "x", "manual", ""}).Draw(t, "name")
		target := &RevokeTarget{ID: "k", Name: name, Scoped: true, Tags: rapid.SliceOfN(genTag, 1, 3).Draw(t, "tags"), Enabled: true,
			Minted: Tristate(rapid.IntRange(-1, 3).Draw(t, "minted"))}
		d := p.EvaluateRevoke(RevokeRequest{ID: "k", Target: target})
		got := outcome(d, RuleTargetMinted)
		switch {
		case !p.Revoke.OnlyMinted:
			if got != Skip {
				t.Fatalf("only_minted false: %s", got)
			}
		case target.Minted == Yes:
			if got != Pass {
				t.Fatalf("minted key: %s", got)
			}
		default:
			if got != Fail || d.Allowed {
				t.Fatalf("key with Minted=%d: %s, allowed=%v", target.Minted, got, d.Allowed)
			}
		}
		if d.Allowed && p.Revoke.OnlyMinted && target.Minted != Yes {
			t.Fatalf("revoke allowed without provenance")
		}
	})
}
