package policy

import (
	"reflect"
	"strconv"
	"testing"

	"pgregory.net/rapid"
)

// genLimit draws 0 (not set) or a value in 1..max.
func genLimit(t *rapid.T, label string, max int) int {
	if rapid.Bool().Draw(t, label+" set") {
		return rapid.OneOf(rapid.IntRange(1, min(max, 20)), rapid.IntRange(1, max)).Draw(t, label)
	}
	return 0
}

// genCallerRule draws rule i: its match is group "g<i>", with an email
// sometimes; the last rule may match anyone.
func genCallerRule(t *rapid.T, i int, last bool) CallerRule {
	r := CallerRule{Match: CallerCondition{Group: "g" + strconv.Itoa(i)}, Scope: rapid.SampledFrom([]RevokeScope{ScopeOwn, ScopeTeam}).Draw(t, "scope")}
	switch {
	case last && i > 0 && rapid.Bool().Draw(t, "any"):
		r.Match = CallerCondition{Any: true}
	case rapid.Bool().Draw(t, "email"):
		r.Match.Email = rapid.SampledFrom([]string{"a@b", "é \"q\" \\", "x"}).Draw(t, "email value")
	}
	if rapid.Bool().Draw(t, "allow set") {
		r.Tags.Allow = rapid.SliceOfN(genPattern, 0, 5).Draw(t, "rule allow")
		r.Tags.AllowSet = true
	}
	r.Tags.Deny = rapid.SliceOfN(genPattern, 0, 4).Draw(t, "rule deny")
	r.Tags.ReadOnly = rapid.SliceOfN(genPattern, 0, 3).Draw(t, "rule read_only")
	r.Keys = CallerKeyRules{
		MaxExpiryDays:     genLimit(t, "rule max_expiry_days", CeilingExpiryDays),
		MaxLeaseMinutes:   genLimit(t, "rule max_lease_minutes", CeilingLeaseMinutes),
		MaxTags:           genLimit(t, "rule max_tags", CeilingTags),
		MaxRateLimit:      genLimit(t, "rule max_rate_limit", CeilingRateLimit),
		MaxRateWindowMs:   genLimit(t, "rule max_rate_window_ms", CeilingRateWindowMs),
		DefaultPermission: rapid.SampledFrom([]string{"", PermissionRead, PermissionWrite}).Draw(t, "rule default_permission"),
		RequireLease:      rapid.Bool().Draw(t, "rule require_lease"),
	}
	r.Quota = genQuota(t)
	return r
}

// genCallerPolicy draws a policy with random least-privilege settings,
// read-only patterns and 1..3 caller rules; the identity in group "g0"
// matches rule 0.
func genCallerPolicy(t *rapid.T) *Policy {
	s := settingsOf(genPolicy(t))
	s.access = AccessRules{
		MaxTags:           rapid.IntRange(1, CeilingTags).Draw(t, "max_tags"),
		DefaultPermission: rapid.SampledFrom([]string{PermissionRead, PermissionWrite}).Draw(t, "default_permission"),
		MaxLeaseMinutes:   rapid.IntRange(1, CeilingLeaseMinutes).Draw(t, "max_lease_minutes"),
		RequireLease:      rapid.Bool().Draw(t, "require_lease"),
	}
	s.tags.ReadOnly = rapid.SliceOfN(genPattern, 0, 3).Draw(t, "read_only")
	n := rapid.IntRange(1, 3).Draw(t, "rules")
	for i := range n {
		s.callers = append(s.callers, genCallerRule(t, i, i == n-1))
	}
	// Often allow every tag at both levels, so that allowed requests are
	// common and the deny and read-only patterns decide.
	if rapid.Bool().Draw(t, "permissive") {
		s.tags.Allow = append(s.tags.Allow, "*")
		for i := range s.callers {
			if s.callers[i].Tags.AllowSet {
				s.callers[i].Tags.Allow = append(s.callers[i].Tags.Allow, "*")
			}
		}
	}
	p, err := newPolicy("prop.yaml", s)
	if err != nil {
		t.Fatalf("newPolicy: %v", err)
	}
	return p
}

// genMultiCreate draws a create request with one tag, several, both or
// none, a permission, a lease and per-tag existence facts.
func genMultiCreate(t *rapid.T) CreateRequest {
	req := genCreate(t, genTag)
	req.FullAccessArgs = nil
	switch rapid.IntRange(0, 3).Draw(t, "tag shape") {
	case 0: // tag only
	case 1:
		req.Tag = ""
		req.Tags, req.TagsSet = rapid.SliceOfN(genTag, 0, 6).Draw(t, "tags"), true
	case 2: // tags with a repeat
		req.Tags = rapid.SliceOfN(genTag, 1, 4).Draw(t, "tags")
		req.Tags, req.TagsSet, req.Tag = append(req.Tags, req.Tags[0]), true, ""
	default: // both
		req.Tags, req.TagsSet = rapid.SliceOfN(genTag, 0, 3).Draw(t, "tags"), true
	}
	req.Permission = rapid.SampledFrom([]string{"", PermissionRead, PermissionWrite, "admin"}).Draw(t, "permission")
	if rapid.Bool().Draw(t, "lease") {
		req.LeaseMinutes = rapid.Ptr(rapid.OneOf(rapid.IntRange(-1, 30), rapid.IntRange(0, 2000)), false).Draw(t, "lease_minutes")
		if rapid.Bool().Draw(t, "no expiry with lease") {
			req.ExpiresInDays = nil
		}
	}
	req.TagsExist = map[string]Tristate{}
	for _, tag := range append([]string{req.Tag}, req.Tags...) {
		req.TagsExist[tag] = Tristate(rapid.IntRange(0, 2).Draw(t, "exists"))
	}
	req.CallerRecent = genCounts(t)
	// Often a request that only the tags, permission and lease can refuse.
	if rapid.Bool().Draw(t, "tame") {
		req.Name, req.ExpiresInDays, req.RateLimitMax, req.RateLimitWindowMs = "", nil, nil, nil
		req.Recent, req.CallerRecent = CreateCounts{Known: true}, CreateCounts{Known: true}
		for tag := range req.TagsExist {
			req.TagsExist[tag] = Yes
		}
		if req.LeaseMinutes != nil || rapid.Bool().Draw(t, "tame leased") {
			req.LeaseMinutes = rapid.Ptr(rapid.IntRange(1, 60), false).Draw(t, "tame lease")
		}
		if req.TagsSet {
			req.Tag, req.Tags = "", distinct(req.Tags)
			if len(req.Tags) == 0 {
				req.Tags = []string{genTag.Draw(t, "tame tag")}
			}
		}
		req.Permission = rapid.SampledFrom([]string{"", PermissionRead, PermissionRead, PermissionWrite}).Draw(t, "tame permission")
	}
	return req
}

// matchesAny reports whether a pattern of list matches tag (the reference).
func matchesAny(list []string, tag string, fold bool) bool {
	for _, pat := range list {
		if refRegexp(pat, fold).MatchString(tag) {
			return true
		}
	}
	return false
}

// stricterRef is the reference for the stricter of two limits.
func stricterRef(top, rule int) int {
	if rule == 0 {
		return top
	}
	return min(top, rule)
}

// A caller's limits are never looser than the top level's or its rule's:
// each is exactly the stricter of the two.
func TestPropCallerLimitsNeverLooser(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genCallerPolicy(t)
		r := p.Callers[0]
		q, m := p.ForCaller(CallerIdentity{Groups: []string{"g0"}, Email: r.Match.Email})
		if !m.Matched || m.Index != 0 {
			t.Fatalf("rule 0 did not match: %+v", m)
		}
		k, a := q.Keys, q.Access
		switch {
		case k.MaxExpiryDays != stricterRef(p.Keys.MaxExpiryDays, r.Keys.MaxExpiryDays):
			t.Fatalf("max_expiry_days %d from %d and %d", k.MaxExpiryDays, p.Keys.MaxExpiryDays, r.Keys.MaxExpiryDays)
		case k.DefaultExpiryDays > k.MaxExpiryDays || k.DefaultExpiryDays > p.Keys.DefaultExpiryDays || k.DefaultExpiryDays < 1:
			t.Fatalf("default_expiry_days %d (max %d, top default %d)", k.DefaultExpiryDays, k.MaxExpiryDays, p.Keys.DefaultExpiryDays)
		case k.MaxRateLimit != stricterRef(p.Keys.MaxRateLimit, r.Keys.MaxRateLimit):
			t.Fatalf("max_rate_limit %d", k.MaxRateLimit)
		case k.MaxRateWindowMs != stricterRef(p.Keys.MaxRateWindowMs, r.Keys.MaxRateWindowMs):
			t.Fatalf("max_rate_window_ms %d", k.MaxRateWindowMs)
		case a.MaxTags != stricterRef(p.Access.MaxTags, r.Keys.MaxTags):
			t.Fatalf("max_tags %d", a.MaxTags)
		case a.MaxLeaseMinutes != stricterRef(p.Access.MaxLeaseMinutes, r.Keys.MaxLeaseMinutes):
			t.Fatalf("max_lease_minutes %d", a.MaxLeaseMinutes)
		case a.RequireLease != (p.Access.RequireLease || r.Keys.RequireLease):
			t.Fatalf("require_lease %v", a.RequireLease)
		case (a.DefaultPermission == PermissionRead) != (p.Access.DefaultPermission == PermissionRead || r.Keys.DefaultPermission == PermissionRead):
			t.Fatalf("default_permission %q", a.DefaultPermission)
		case q.Quota != p.Quota || q.CallerQuota != r.Quota || q.Revoke.Scope != r.Scope:
			t.Fatalf("quota %+v, caller quota %+v, scope %q", q.Quota, q.CallerQuota, q.Revoke.Scope)
		}
	})
}

// A caller's create is never allowed for a tag that fails the top level or
// the caller's rule, nor beyond any limit of either; read-only tags (of
// either) are only ever read.
func TestPropCallerCreateWithinBoth(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genCallerPolicy(t)
		r := p.Callers[0]
		q, _ := p.ForCaller(CallerIdentity{Groups: []string{"g0"}, Email: r.Match.Email})
		req := genMultiCreate(t)
		d := q.EvaluateCreate(req)
		if len(d.Rules) != len(createOrder) {
			t.Fatalf("%d rules", len(d.Rules))
		}
		for i, rr := range d.Rules {
			if rr.Rule != createOrder[i] {
				t.Fatalf("rule %d is %q", i, rr.Rule)
			}
			checkText(t, rr.Detail)
		}
		for _, tag := range append([]string{req.Tag}, req.Tags...) {
			if ok, _ := q.CheckTag(tag); ok {
				if top, _ := p.CheckTag(tag); !top {
					t.Fatalf("caller's CheckTag allows %q, which the top level refuses", tag)
				}
			}
		}
		if !d.Allowed {
			return
		}
		e := d.Effective
		if len(e.Tags) == 0 || len(e.Tags) > p.Access.MaxTags || len(e.Tags) > stricterRef(CeilingTags, r.Keys.MaxTags) {
			t.Fatalf("allowed %d tags", len(e.Tags))
		}
		readOnly := false
		for i, tag := range e.Tags {
			if ok, why := p.CheckTag(tag); !ok {
				t.Fatalf("allowed tag %q that the top level refuses: %s", tag, why)
			}
			if r.Tags.AllowSet && !matchesAny(r.Tags.Allow, tag, false) {
				t.Fatalf("allowed tag %q outside the rule's allow %q", tag, r.Tags.Allow)
			}
			if matchesAny(r.Tags.Deny, tag, true) {
				t.Fatalf("allowed tag %q that the rule denies %q", tag, r.Tags.Deny)
			}
			for _, u := range e.Tags[:i] {
				if u == tag {
					t.Fatalf("allowed tag %q twice", tag)
				}
			}
			readOnly = readOnly || matchesAny(p.Tags.ReadOnly, tag, true) || matchesAny(r.Tags.ReadOnly, tag, true)
		}
		switch {
		case e.Permission != PermissionRead && e.Permission != PermissionWrite:
			t.Fatalf("allowed permission %q", e.Permission)
		case readOnly && e.Permission != PermissionRead:
			t.Fatalf("allowed write on a read-only tag: %q", e.Tags)
		case e.ExpiresInDays < 1 || e.ExpiresInDays > p.Keys.MaxExpiryDays || e.ExpiresInDays > stricterRef(CeilingExpiryDays, r.Keys.MaxExpiryDays):
			t.Fatalf("expiry %d", e.ExpiresInDays)
		case e.LeaseMinutes < 0 || e.LeaseMinutes > p.Access.MaxLeaseMinutes || e.LeaseMinutes > stricterRef(CeilingLeaseMinutes, r.Keys.MaxLeaseMinutes):
			t.Fatalf("lease %d", e.LeaseMinutes)
		case e.LeaseMinutes > 0 && e.ExpiresInDays != LeaseExpiryDays:
			t.Fatalf("leased key expires in %d days", e.ExpiresInDays)
		case (p.Access.RequireLease || r.Keys.RequireLease) && e.LeaseMinutes < 1:
			t.Fatal("allowed without a required lease")
		case e.RateLimitMax < 1 || e.RateLimitMax > p.Keys.MaxRateLimit || e.RateLimitMax > stricterRef(CeilingRateLimit, r.Keys.MaxRateLimit):
			t.Fatalf("rate %d", e.RateLimitMax)
		case e.RateLimitWindowMs < 1 || e.RateLimitWindowMs > p.Keys.MaxRateWindowMs || e.RateLimitWindowMs > stricterRef(CeilingRateWindowMs, r.Keys.MaxRateWindowMs):
			t.Fatalf("window %d", e.RateLimitWindowMs)
		}
		n, cq := req.CallerRecent, r.Quota
		if cq != (QuotaRules{}) && (!n.Known || n.LastHour < 0 || n.LastDay < 0 ||
			cq.MaxKeysPerHour > 0 && n.LastHour >= cq.MaxKeysPerHour || cq.MaxKeysPerDay > 0 && n.LastDay >= cq.MaxKeysPerDay) {
			t.Fatalf("allowed over the caller quota %+v with %+v", cq, n)
		}
	})
}

// The same holds without callers: every tag of an allowed create passes
// every tag rule, once, within max_tags.
func TestPropSeveralTags(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genCallerPolicy(t)
		req := genMultiCreate(t)
		d := p.EvaluateCreate(req)
		if !d.Allowed {
			return
		}
		e := d.Effective
		if req.TagsSet && req.Tag != "" || len(e.Tags) == 0 || len(e.Tags) > p.Access.MaxTags {
			t.Fatalf("allowed tags %q for %+v", e.Tags, req)
		}
		want := req.Tags
		if !req.TagsSet {
			want = []string{req.Tag}
		}
		if !reflect.DeepEqual(e.Tags, want) || (len(want) == 1) != (e.Tag != "") {
			t.Fatalf("Effective tags %q / %q for %q", e.Tags, e.Tag, want)
		}
		for i, tag := range e.Tags {
			if ok, why := p.CheckTag(tag); !ok {
				t.Fatalf("allowed %q: %s", tag, why)
			}
			known, ok := req.TagsExist[tag]
			if !ok && len(e.Tags) == 1 {
				known = req.TagExists
			}
			if !p.Tags.AllowNew && known != Yes {
				t.Fatalf("allowed new tag %q with allow_new false", tag)
			}
			if matchesAny(p.Tags.ReadOnly, tag, true) && e.Permission != PermissionRead {
				t.Fatalf("allowed write on read-only %q", tag)
			}
			for _, u := range e.Tags[:i] {
				if u == tag {
					t.Fatalf("allowed %q twice", tag)
				}
			}
		}
		if req.Permission != "" && e.Permission != req.Permission || req.Permission == "" && e.Permission != p.Access.DefaultPermission {
			t.Fatalf("permission %q for %q", e.Permission, req.Permission)
		}
	})
}

// A caller that matches no rule can do nothing and see nothing.
func TestPropNoRuleDeniesAll(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genCallerPolicy(t)
		if p.Callers[len(p.Callers)-1].Match.Any {
			return
		}
		id := CallerIdentity{Sub: rapid.String().Draw(t, "sub"), Groups: []string{"nobody"}}
		q, m := p.ForCaller(id)
		if m.Matched {
			t.Fatalf("matched %+v", m)
		}
		req := genMultiCreate(t)
		tr := &RevokeTarget{ID: "k", Name: p.Keys.NamePrefix + "k", Scoped: true, Tags: rapid.SliceOfN(genTag, 1, 3).Draw(t, "target tags"), Minted: Yes, MintedByCaller: Yes}
		if q.EvaluateCreate(req).Allowed || q.EvaluateRevoke(RevokeRequest{ID: "k", Target: tr}).Allowed ||
			q.EvaluateRotate(RotateRequest{Revoke: RevokeRequest{ID: "k", Target: tr}, Create: req}).Allowed {
			t.Fatal("a caller without a rule was allowed something")
		}
		if q.TagVisible(tr.Tags[0]) || q.KeyVisible(*tr) || !q.DeniesAllWrites() {
			t.Fatal("a caller without a rule sees something")
		}
		checkText(t, q.EvaluateCreate(req).Rules[1].Detail)
	})
}

// A caller's revoke is allowed only for a scoped key within its scope whose
// every tag it may use.
func TestPropCallerRevokeScope(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genCallerPolicy(t)
		r := p.Callers[0]
		q, _ := p.ForCaller(CallerIdentity{Groups: []string{"g0"}, Email: r.Match.Email})
		tr := &RevokeTarget{ID: "k", Name: rapid.SampledFrom([]string{p.Keys.NamePrefix + "k", "manual"}).Draw(t, "name"),
			Scoped: rapid.Bool().Draw(t, "scoped"), Tags: rapid.SliceOfN(genTag, 0, 3).Draw(t, "tags"),
			Minted: Tristate(rapid.IntRange(0, 2).Draw(t, "minted")), MintedByCaller: Tristate(rapid.IntRange(0, 2).Draw(t, "mine"))}
		d := q.EvaluateRevoke(RevokeRequest{ID: "k", Target: tr})
		if !d.Allowed {
			return
		}
		if !tr.Scoped || len(tr.Tags) == 0 {
			t.Fatalf("revoke allowed for %+v", tr)
		}
		for _, tag := range tr.Tags {
			if ok, _ := q.CheckTag(tag); !ok {
				t.Fatalf("revoke allowed with tag %q outside the caller's policy", tag)
			}
		}
		if tr.MintedByCaller != Yes && !(r.Scope == ScopeTeam && tr.Minted == Yes) {
			t.Fatalf("revoke allowed outside scope %q: %+v", r.Scope, tr)
		}
		if !q.KeyVisible(*tr) {
			t.Fatalf("revocable key not visible: %+v", tr)
		}
	})
}

// A policy with callers survives a round trip through its effective YAML.
func TestPropCallersRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		p := genCallerPolicy(t)
		q, err := Parse("prop.yaml", p.EffectiveYAML())
		if err != nil {
			t.Fatalf("Parse(EffectiveYAML): %v\n%s", err, p.EffectiveYAML())
		}
		if !sameSettings(p, q) {
			t.Fatalf("round trip changed the policy:\n%s", p.EffectiveYAML())
		}
	})
}

// distinct returns list without repeats, in order.
func distinct(list []string) []string {
	var out []string
	for _, s := range list {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
