package policy

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

var errLine = regexp.MustCompile(`^fuzz\.yaml(:[1-9][0-9]*(:[1-9][0-9]*)?)?: \S`)

// FuzzParse feeds arbitrary documents to the loader: it must not panic; an
// error is a *LoadError with one "FILE:LINE:COL: message" per line; a policy
// it accepts is within every range and survives a round trip through its
// effective YAML.
func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/design.yaml", "testdata/design-typo.yaml", "testdata/callers.yaml", "../../examples/policy.yaml"} {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "---\n", "~\n", "version: 1\n", "a: &x 1\nb: *x\n", "tags: {allow: [a], allow: [b]}\n",
		"keys: {max_expiry_days: 030}\n", "tags:\n\tallow: []\n", "a: 1\n---\nb: 2\n", "keys: {name_prefix: \"\\u200b\"}\n",
		"tags: {allow: ['*', 'a?b*c'], deny: ['A*'], allow_new: false}\nrevoke: {enabled: false}\n",
		"quota: {max_keys_per_hour: 10, max_keys_per_day: 50}\nconfirm: if-supported\nsecrets: {deliver: chat}\naudit: {required: true}\nrevoke: {only_minted: true}\n",
		"quota: {max_keys_per_hour: 51, max_keys_per_day: 50}\n", "quota: {max_keys_per_day: 0}\n",
		"confirm: {create: always, revoke: never}\n", "confirm: Always\n", "confirm: true\n",
		"secrets: {deliver: file, dir: /k}\n", "secrets: {deliver: file}\n", "secrets: {dir: /k}\n",
		"secrets: {deliver: file, dir: \"/a\\0\"}\n", "secrets: {deliver: file, dir: ~/k}\n", "audit: {required: no}\n",
		"tags: {read_only: ['team:*', 'A?']}\nkeys: {max_tags: 50, default_permission: read, max_lease_minutes: 1440, require_lease: true}\n",
		"keys: {max_tags: 0, default_permission: Read, max_lease_minutes: 1441}\n", "rotate: {enabled: false, max_grace_minutes: 0}\n",
		"revoke: {enabled: false}\nrotate: {enabled: true}\n", "rotate: {max_grace_minutes: -1}\n",
		"callers:\n  - match: {group: g}\n    tags: {allow: [], deny: [a*], read_only: [b]}\n    keys: {max_tags: 3, default_permission: read}\n" +
			"    quota: {max_keys_per_hour: 1}\n    revoke: {scope: team}\n  - match: {any: true}\n",
		"callers: []\n", "callers:\n", "callers: [{}]\n", "callers: [{match: {}}]\n", "callers: [{match: {any: false}}]\n",
		"callers: [{match: {any: true, sub: x}}]\n", "callers: [{match: {token: t}}, {match: {token: t}}]\n",
		"callers: [{match: {any: true}}, {match: {sub: s}}]\n", "callers: [{match: {email: \"\\u202e\"}}]\n",
		"callers: [{match: {grup: g}, revoke: {scope: Own}, quota: {max_keys_per_hour: 5, max_keys_per_day: 4}}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("fuzz.yaml", data)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error is not a *LoadError: %v", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) > maxErrors+1 {
				t.Fatalf("%d error lines", len(lines))
			}
			for _, line := range lines {
				if !errLine.MatchString(line) {
					t.Fatalf("badly formed error line %q", line)
				}
			}
			return
		}
		k := p.Keys
		if k.MaxExpiryDays < 1 || k.MaxExpiryDays > CeilingExpiryDays || k.DefaultExpiryDays < 1 || k.DefaultExpiryDays > k.MaxExpiryDays ||
			k.MaxRateLimit < 1 || k.MaxRateLimit > CeilingRateLimit || k.MaxRateWindowMs < 1 || k.MaxRateWindowMs > CeilingRateWindowMs ||
			checkPrefix(k.NamePrefix) != nil {
			t.Fatalf("accepted keys out of range: %+v", k)
		}
		for _, pat := range append(append([]string(nil), p.Tags.Allow...), p.Tags.Deny...) {
			if err := ValidPattern(pat); err != nil {
				t.Fatalf("accepted bad pattern: %v", err)
			}
		}
		if q := p.Quota; q.MaxKeysPerHour < 0 || q.MaxKeysPerHour > CeilingKeysPerHour || q.MaxKeysPerDay < 0 || q.MaxKeysPerDay > CeilingKeysPerDay ||
			q.MaxKeysPerHour > 0 && q.MaxKeysPerDay > 0 && q.MaxKeysPerHour > q.MaxKeysPerDay {
			t.Fatalf("accepted quota out of range: %+v", q)
		}
		if checkAccess(p.Access) != nil || checkRotate(p.Rotate) != nil || p.Rotate.Enabled && !p.Revoke.Enabled {
			t.Fatalf("accepted access %+v, rotate %+v", p.Access, p.Rotate)
		}
		if _, err := checkCallers(p.Callers); err != nil {
			t.Fatalf("accepted callers: %v", err)
		}
		if !validConfirm(p.Confirm.Create) || !validConfirm(p.Confirm.Revoke) {
			t.Fatalf("accepted confirm %+v", p.Confirm)
		}
		switch sec := p.Secrets; sec.Deliver {
		case DeliverChat:
			if sec.Dir != "" {
				t.Fatalf("accepted a dir with chat: %+v", sec)
			}
		case DeliverFile:
			if checkSecretsDir(sec.Dir) != nil || strings.IndexByte(sec.Dir, 0) >= 0 || !strings.HasPrefix(sec.Dir, "/") {
				t.Fatalf("accepted secrets.dir %q", sec.Dir)
			}
		default:
			t.Fatalf("accepted deliver %q", sec.Deliver)
		}
		q, err := Parse("fuzz.yaml", p.EffectiveYAML())
		if err != nil {
			t.Fatalf("effective YAML does not parse: %v\n%s", err, p.EffectiveYAML())
		}
		if !sameSettings(p, q) {
			t.Fatalf("round trip changed the policy")
		}
	})
}

// FuzzMatch checks the matcher against the reference (a regular expression
// built from the pattern), case-sensitive and ignoring case, alone and
// through the prefix index.
func FuzzMatch(f *testing.F) {
	for _, s := range [][2]string{
		{"proj-*", "proj-search"}, {"user_*", "user_"}, {"a*b*c", "aXbYc"}, {"a*ab", "aab"}, {"?*?", "ab"},
		{"proj-prod*", "Proj-PROD-eu"}, {"*", ""}, {"*.eu", "x.eu"}, {"a?C*z", "AbcZZ"}, {"**?**", "q"},
		{"proj-*", "proj-\u200b"}, {"a b", "a b"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, tag string) {
		valid := ValidPattern(pattern) == nil && ValidTag(tag) == nil
		got := Match(pattern, tag)
		if !valid {
			if got {
				t.Fatalf("Match(%q, %q) = true for invalid input", pattern, tag)
			}
			return
		}
		if want := refRegexp(pattern, false).MatchString(tag); got != want {
			t.Fatalf("Match(%q, %q) = %v, reference %v", pattern, tag, got, want)
		}
		fold := newMatcher(pattern, true)
		if got, want := fold.match(tag), refRegexp(pattern, true).MatchString(tag); got != want {
			t.Fatalf("deny match(%q, %q) = %v, reference %v", pattern, tag, got, want)
		}
		// Through the prefix index: fillers that share prefixes with the tag.
		list := make([]string, 0, indexThreshold+1)
		for i := 0; len(list) < indexThreshold; i++ {
			list = append(list, tag[:i%(len(tag)+1)]+"x"+strconv.Itoa(i)+"?")
		}
		list = append(list, pattern)
		for _, fold := range []bool{false, true} {
			ps := compilePatterns(list, fold, func(string) string { return "" })
			want := -1
			for i, p := range list {
				if refRegexp(p, fold).MatchString(tag) {
					want = i
					break
				}
			}
			if got := ps.first(tag); got != want {
				t.Fatalf("index first(%q) = %d, want %d (fold=%v, list %q)", tag, got, want, fold, list)
			}
		}
	})
}

var refTag = regexp.MustCompile(`^[A-Za-z0-9_:.\-]{1,100}$`)

// FuzzValidTag checks ValidTag against a regular expression of the API's
// rules, and that its error is one bounded, escaped line.
func FuzzValidTag(f *testing.F) {
	for _, s := range []string{"proj-a", "", "*", "a b", "a\u200bb", "pr\u043ej", strings.Repeat("a", 101), "\xff", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		err := ValidTag(tag)
		if (err == nil) != refTag.MatchString(tag) {
			t.Fatalf("ValidTag(%q) = %v, reference valid=%v", tag, err, refTag.MatchString(tag))
		}
		if err != nil {
			checkText(t, err.Error())
		}
	})
}

// checkText asserts a refusal text is one line of valid UTF-8 without
// control characters and quotes no more than MaxQuoted characters of input.
func checkText(t interface {
	Helper()
	Fatalf(string, ...any)
}, s string) {
	t.Helper()
	if !utf8.ValidString(s) {
		t.Fatalf("text is not valid UTF-8: %q", s)
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			t.Fatalf("text has a control character: %q", s)
		}
	}
	if n := utf8.RuneCountInString(s); n > 2000 {
		t.Fatalf("text is %d characters long", n)
	}
}

// FuzzEvaluateCreate runs arbitrary requests through the design policy, or
// (flags&16) the design policy with a quota of 3 an hour and 5 a day and
// counts drawn from rate and window: every rule is reported in order, every
// detail is one escaped line, and an allowed request is within every limit
// and the quota.
func FuzzEvaluateCreate(f *testing.F) {
	f.Add("proj-search", "", 30, 0, 0, uint8(0))
	f.Add("proj-prod-eu", "ci", 400, 1, 1, uint8(7))
	f.Add("*", "x\ny", 0, -1, 1<<30, uint8(1))
	f.Add("user_", strings.Repeat("é", 120), 90, 1000, 3600000, uint8(6))
	f.Add("proj-a", "", 30, 2, 4, uint8(48))
	f.Add("proj-a", "", 30, 3, 4, uint8(48))
	f.Add("proj-a", "", 30, 0, 5, uint8(48))
	f.Add("proj-a", "", 30, 0, 0, uint8(16))
	f.Add("proj-a", "", -1<<40, -1, 1<<62, uint8(52))
	data, err := os.ReadFile("testdata/design.yaml")
	if err != nil {
		f.Fatal(err)
	}
	design, err := Parse("design.yaml", data)
	if err != nil {
		f.Fatal(err)
	}
	quota, err := Parse("design.yaml", append(data, "quota: {max_keys_per_hour: 3, max_keys_per_day: 5}\n"...))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tag, name string, exp, rate, window int, flags uint8) {
		req := CreateRequest{Tag: tag, Name: name, TagExists: Tristate(flags % 3), Now: time.Unix(int64(exp)*86400, 0)}
		p := design
		if flags&16 != 0 {
			p = quota
			req.Recent = CreateCounts{LastHour: rate, LastDay: window, HourFreesAt: req.Now.Add(time.Duration(exp)), DayFreesAt: req.Now, Known: flags&32 != 0}
		}
		if flags&4 != 0 {
			req.ExpiresInDays, req.RateLimitMax, req.RateLimitWindowMs = &exp, &rate, &window
		}
		if flags&8 != 0 {
			req.FullAccessArgs = []string{name}
		}
		d := p.EvaluateCreate(req)
		if len(d.Rules) != len(createOrder) {
			t.Fatalf("%d rules", len(d.Rules))
		}
		for i, r := range d.Rules {
			if r.Rule != createOrder[i] {
				t.Fatalf("rule %d is %q", i, r.Rule)
			}
			checkText(t, r.Detail)
		}
		checkText(t, d.Reason())
		if !d.Allowed {
			return
		}
		e := d.Effective
		if ValidTag(e.Tag) != nil || e.Tag != tag || strings.ContainsAny(tag, "*?") || len(req.FullAccessArgs) > 0 ||
			e.ExpiresInDays < 1 || e.ExpiresInDays > 90 || e.RateLimitMax < 1 || e.RateLimitMax > 1000 ||
			e.RateLimitWindowMs < 1 || e.RateLimitWindowMs > 3600000 || !strings.HasPrefix(e.Name, "agent-") ||
			utf8.RuneCountInString(e.Name) > MaxNameLength || checkPrintable(e.Name) != nil {
			t.Fatalf("allowed out of policy: %+v", e)
		}
		if ok, _ := p.CheckTag(tag); !ok {
			t.Fatalf("allowed tag %q that CheckTag refuses", tag)
		}
		if p == quota && (!req.Recent.Known || rate < 0 || rate >= 3 || window < 0 || window >= 5) {
			t.Fatalf("allowed over the quota: %+v", req.Recent)
		}
	})
}

// FuzzEvaluateCaller runs arbitrary requests (tags separated by commas)
// through the callers fixture for one of its callers: every rule is
// reported in order, every detail is one escaped line, and an allowed
// request passes both the top level and the caller's rule.
func FuzzEvaluateCaller(f *testing.F) {
	f.Add("proj-search-a", "", 0, uint8(0))
	f.Add("proj-search-a,user_b", "read", 30, uint8(1))
	f.Add("user_ro1,user_a", "write", 0, uint8(4))
	f.Add("ci-1", "", 60, uint8(2))
	f.Add("ci-1,ci-1", "admin", -1, uint8(6))
	f.Add("other-x,proj-prod-1,USER_admin", "", 241, uint8(5))
	f.Add("", "", 0, uint8(3))
	f.Add("*", "read", 1, uint8(8))
	data, err := os.ReadFile("testdata/callers.yaml")
	if err != nil {
		f.Fatal(err)
	}
	p, err := Parse("callers.yaml", data)
	if err != nil {
		f.Fatal(err)
	}
	ids := []CallerIdentity{searcher, ciBot, lead, stranger}
	f.Fuzz(func(t *testing.T, tags, perm string, lease int, flags uint8) {
		q, _ := p.ForCaller(ids[flags%4])
		req := CreateRequest{Permission: perm, Now: now, Recent: CreateCounts{Known: true}, CallerRecent: CreateCounts{Known: flags&16 == 0}}
		if flags&4 != 0 {
			req.Tags, req.TagsSet = strings.Split(tags, ","), true
		} else {
			req.Tag = tags
		}
		if flags&8 != 0 {
			req.LeaseMinutes = &lease
		}
		d := q.EvaluateCreate(req)
		if len(d.Rules) != len(createOrder) {
			t.Fatalf("%d rules", len(d.Rules))
		}
		for i, r := range d.Rules {
			if r.Rule != createOrder[i] {
				t.Fatalf("rule %d is %q", i, r.Rule)
			}
			checkText(t, r.Detail)
		}
		if !d.Allowed {
			return
		}
		if flags%4 == 3 {
			t.Fatal("a caller without a rule was allowed")
		}
		e := d.Effective
		if len(e.Tags) == 0 || len(e.Tags) > q.Access.MaxTags || (e.Permission != PermissionRead && e.Permission != PermissionWrite) {
			t.Fatalf("allowed %+v", e)
		}
		for _, tag := range e.Tags {
			if ok, _ := p.CheckTag(tag); !ok {
				t.Fatalf("allowed %q, which the top level refuses", tag)
			}
			if ok, _ := q.CheckTag(tag); !ok || !q.TagVisible(tag) {
				t.Fatalf("allowed %q, which the caller's policy refuses", tag)
			}
			if (Match("team:*", strings.ToLower(tag)) || Match("user_ro*", strings.ToLower(tag)) && flags%4 == 0) && e.Permission != PermissionRead {
				t.Fatalf("allowed write on read-only %q", tag)
			}
		}
	})
}
