package policy

import (
	"fmt"
	"strings"
	"testing"
)

// benchPolicy builds a policy with n patterns in all: nine in ten allow, the
// rest deny, in the shapes real policies use (prefix*, exact, '?', inner '*').
func benchPolicy(b *testing.B, n int) *Policy {
	b.Helper()
	var allow, deny []string
	if n == 10 {
		allow = []string{"proj-*", "user_*", "team:search", "team:docs", "svc.*.eu", "org-??-*", "ci-*-tmp", "demo-project", "lab:*"}
		deny = []string{"proj-prod*"}
	} else {
		for i := range n {
			var p string
			switch i % 4 {
			case 0:
				p = fmt.Sprintf("tenant-%04d-*", i)
			case 1:
				p = fmt.Sprintf("user_%04d", i)
			case 2:
				p = fmt.Sprintf("team:%04d:*", i)
			default:
				p = fmt.Sprintf("svc.%04d.*.eu", i)
			}
			if i%10 == 9 {
				deny = append(deny, "prod-"+p)
			} else {
				allow = append(allow, p)
			}
		}
	}
	p, err := newPolicy("bench.yaml", sections(TagRules{Allow: allow, Deny: deny, AllowNew: true}, defaultKeys(), defaultRevoke()))
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func BenchmarkEvaluateCreate(b *testing.B) {
	exp := 30
	for _, n := range []int{10, 1000} {
		p := benchPolicy(b, n)
		tag := "proj-search"
		if n != 10 {
			tag = "svc.0995.api.eu" // matches one of the last patterns
		}
		linear := *p
		c := *p.c
		c.allow.idx, c.deny.idx = nil, nil
		linear.c = &c
		s := settingsOf(p)
		s.quota = QuotaRules{MaxKeysPerHour: 10, MaxKeysPerDay: 50}
		quota, err := newPolicy("bench.yaml", s)
		if err != nil {
			b.Fatal(err)
		}
		counts := CreateCounts{LastHour: 3, LastDay: 7, Known: true}
		for _, tc := range []struct {
			name string
			p    *Policy
			req  CreateRequest
		}{
			{"name", p, CreateRequest{Tag: tag, Name: "ci runner", ExpiresInDays: &exp, Now: now}},
			{"prefixed-name", p, CreateRequest{Tag: tag, Name: "agent-ci", ExpiresInDays: &exp, Now: now}},
			{"no-name", p, CreateRequest{Tag: tag, Now: now}},
			{"denied", p, CreateRequest{Tag: "other-tag", Name: "x", Now: now}},
			{"no-name-linear", &linear, CreateRequest{Tag: tag, Now: now}},
			{"prefixed-name-quota", quota, CreateRequest{Tag: tag, Name: "agent-ci", ExpiresInDays: &exp, Now: now, Recent: counts}},
			{"no-name-quota", quota, CreateRequest{Tag: tag, Now: now, Recent: counts}},
		} {
			if n == 10 && tc.name == "no-name-linear" || n != 10 && strings.HasSuffix(tc.name, "-quota") {
				continue
			}
			b.Run(fmt.Sprintf("patterns=%d/%s", n, tc.name), func(b *testing.B) {
				if d := tc.p.EvaluateCreate(tc.req); d.Allowed == (tc.name == "denied") {
					b.Fatalf("unexpected decision: %s", d.Reason())
				}
				b.ReportAllocs()
				for b.Loop() {
					_ = tc.p.EvaluateCreate(tc.req)
				}
			})
		}
	}
}

func BenchmarkEvaluateRevoke(b *testing.B) {
	p := benchPolicy(b, 10)
	req := RevokeRequest{ID: "k1", Target: &RevokeTarget{ID: "k1", Name: "agent-ci", Scoped: true, Tags: []string{"proj-search"}, Enabled: true, Minted: Yes}}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.EvaluateRevoke(req)
	}
}

func BenchmarkMatch(b *testing.B) {
	m := newMatcher("svc.*.e?", false)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.match("svc.search-api.eu")
	}
}

func BenchmarkParse(b *testing.B) {
	data := benchPolicy(b, 1000).EffectiveYAML()
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse("bench.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
