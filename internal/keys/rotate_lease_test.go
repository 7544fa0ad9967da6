package keys_test

// rotate_key through the service, on the shared clock: the replacement has
// the old key's tags and permission; the old key is revoked at once or
// leased for the grace period (and reaped after it); a rotation the revoke
// rules or the create rules refuse changes nothing upstream; a replacement
// that cannot be handed on leaves the old key untouched; one confirmation
// covers both halves.

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// rotatePolicy allows rotation with up to 60 minutes of grace.
const rotatePolicy = leasePolicy + `rotate:
  max_grace_minutes: 60
`

// upstreamCounts are the writes the sandbox has seen.
type upstreamCounts struct{ creates, revokes, keys int }

func (e *leaseEnv) counts() upstreamCounts {
	return upstreamCounts{e.sb.Sandbox.Count(sandbox.EndpointCreate), e.sb.Sandbox.Count(sandbox.EndpointRevoke), e.sb.Sandbox.KeyCount()}
}

// checkReplacement checks that the new key is listed upstream with want's
// tags and permission, enabled.
func (e *leaseEnv) checkReplacement(r *keys.Rotated, tags []string, perm string) {
	e.t.Helper()
	if !equalTags(r.New.Tags, tags...) || r.New.Permission != perm || r.New.Secret == "" {
		e.t.Errorf("replacement: tags %v, permission %q, secret given %v; want %v, %q, a secret", r.New.Tags, r.New.Permission, r.New.Secret != "", tags, perm)
	}
	k := e.upstreamKey(r.New.ID)
	if k == nil || !k.Enabled || !equalTags(k.Tags, tags...) || k.Permission != perm {
		e.t.Errorf("replacement upstream: %+v; want enabled, tags %v, permission %q", k, tags, perm)
	}
}

func TestRotateWithoutGrace(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, rotatePolicy)
	svc := e.newService(false)
	tests := []struct {
		name string
		in   keys.CreateInput
		tags []string
		perm string
	}{
		{"one tag, read", keys.CreateInput{Tag: "proj-rot", Permission: "read"}, []string{"proj-rot"}, "read"},
		{"several tags, write", keys.CreateInput{Tags: []string{"proj-a", "user_b"}, TagsSet: true, Permission: "write"}, []string{"proj-a", "user_b"}, "write"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			old, err := svc.Create(ctx, local("create_scoped_key"), tc.in)
			if err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(24 * time.Hour) // a new day: a new date in the name
			r, err := svc.Rotate(ctx, local("rotate_key"), old.ID, 0)
			if err != nil {
				t.Fatalf("rotate: %v", err)
			}
			if !r.OldRevoked || r.OldID != old.ID || r.OldProblem != "" || !r.OldLeaseEndsAt.IsZero() {
				t.Errorf("rotated: %+v", r)
			}
			if e.enabled(old.ID) {
				t.Error("the old key is still enabled")
			}
			e.checkReplacement(r, tc.tags, tc.perm)
			stem := strings.TrimSuffix(old.Name, old.Name[len(old.Name)-8:])
			if want := stem + e.clock.Now().Format("20060102"); r.New.Name != want {
				t.Errorf("replacement name %q, want %q", r.New.Name, want)
			}
			if r.New.ID == old.ID || !r.New.LeaseEndsAt.IsZero() {
				t.Errorf("replacement %+v", r.New)
			}
			// Recorded: the create as a rotation of the old key, the revoke as rotated.
			var create, revoke bool
			for _, rec := range e.records() {
				create = create || rec.Event == audit.EventCreate && rec.Phase == audit.PhaseIntent && rec.Reason == "rotation of "+old.ID
				revoke = revoke || rec.Event == audit.EventRevokeResult && rec.KeyID == old.ID && rec.Outcome == audit.OutcomeRevoked && rec.Reason == "rotated"
			}
			if !create || !revoke {
				t.Errorf("audit: rotation intent %v, revoke result %v", create, revoke)
			}
		})
	}
}

func TestRotateWithGrace(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, rotatePolicy)
	svc := e.newService(false)
	old, err := svc.Create(ctx, local("create_scoped_key"), keys.CreateInput{Tag: "proj-rot", Permission: "read"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Rotate(ctx, local("rotate_key"), old.ID, 30)
	if err != nil {
		t.Fatalf("rotate: %v", err)
	}
	end := e.clock.Now().Add(30 * time.Minute)
	if r.OldRevoked || !r.OldLeaseEndsAt.Equal(end) || r.OldProblem != "" {
		t.Errorf("rotated: revoked %v, lease ends %v (want %v), problem %q", r.OldRevoked, r.OldLeaseEndsAt, end, r.OldProblem)
	}
	if !e.enabled(old.ID) {
		t.Fatal("the old key was revoked despite the grace period")
	}
	e.checkReplacement(r, []string{"proj-rot"}, "read")
	list, err := svc.ListKeys(ctx, local("list_keys"), keys.KeyQuery{Tag: "proj-rot"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list.Keys {
		switch k.ID {
		case old.ID:
			if k.LeaseEndsAt == nil || *k.LeaseEndsAt != end.Format(time.RFC3339) {
				t.Errorf("list_keys: old key's lease_ends_at %v, want %s", k.LeaseEndsAt, end.Format(time.RFC3339))
			}
		case r.New.ID:
			if k.LeaseEndsAt != nil {
				t.Errorf("list_keys: the replacement has a lease %s", *k.LeaseEndsAt)
			}
		}
	}

	e.clock.Advance(30*time.Minute - time.Second)
	if rep, err := svc.Reap(ctx); err != nil || rep != (keys.ReapReport{}) || !e.enabled(old.ID) {
		t.Fatalf("Reap before the grace ends: %+v, %v", rep, err)
	}
	e.clock.Advance(2 * time.Second)
	if rep, err := svc.Reap(ctx); err != nil || rep.Revoked != 1 {
		t.Fatalf("Reap after the grace: %+v, %v", rep, err)
	}
	if e.enabled(old.ID) || !e.enabled(r.New.ID) {
		t.Errorf("after the grace: old enabled %v, new enabled %v", e.enabled(old.ID), e.enabled(r.New.ID))
	}
}

// TestRotateLeasedKey: a leased key's replacement keeps what was left of
// the lease, and a grace period never lets the old key outlive its own
// lease.
func TestRotateLeasedKey(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, rotatePolicy)
	svc := e.newService(false)
	old := e.createLeased(svc, "proj-rot", 40)
	e.clock.Advance(30 * time.Minute) // 10 minutes left

	t.Run("without grace", func(t *testing.T) {
		r, err := svc.Rotate(ctx, local("rotate_key"), old.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !r.New.LeaseEndsAt.Equal(old.LeaseEndsAt) || r.New.ExpiresAt.Sub(e.clock.Now()) != 24*time.Hour {
			t.Errorf("replacement lease ends %v (want %v), expires %v", r.New.LeaseEndsAt, old.LeaseEndsAt, r.New.ExpiresAt)
		}
		if !r.OldRevoked || e.enabled(old.ID) {
			t.Error("the old key was not revoked")
		}
		// At the end of the lease the replacement is reaped; the old key's
		// lease finds it already revoked and sends nothing.
		before := e.deletes(old.ID)
		e.clock.Advance(10*time.Minute + time.Second)
		rep, err := svc.Reap(ctx)
		if err != nil || rep.Revoked != 1 || rep.Failed != 0 {
			t.Errorf("Reap at the lease's end: %+v, %v", rep, err)
		}
		if e.enabled(r.New.ID) || e.deletes(old.ID) != before {
			t.Errorf("replacement enabled %v; DELETEs of the old key %d → %d", e.enabled(r.New.ID), before, e.deletes(old.ID))
		}
	})

	t.Run("grace longer than the lease left", func(t *testing.T) {
		k := e.createLeased(svc, "proj-rot", 5)
		r, err := svc.Rotate(ctx, local("rotate_key"), k.ID, 30)
		if err != nil {
			t.Fatal(err)
		}
		if r.OldLeaseEndsAt.After(k.LeaseEndsAt) {
			t.Fatalf("the grace period extends the old key's lease from %v to %v, past the replacement's %v",
				k.LeaseEndsAt.Format(time.RFC3339), r.OldLeaseEndsAt.Format(time.RFC3339), r.New.LeaseEndsAt.Format(time.RFC3339))
		}
	})
}

func TestRotateRefused(t *testing.T) {
	quota := rotatePolicy + "quota:\n  max_keys_per_hour: 1\n"
	readOnly := strings.Replace(rotatePolicy, `deny:  ["proj-prod*"]`, `deny:  ["proj-prod*"]`+"\n  read_only: [\"proj-rot\"]", 1)
	denied := strings.Replace(rotatePolicy, `deny:  ["proj-prod*"]`, `deny:  ["proj-prod*", "proj-rot"]`, 1)
	noRotate := rotatePolicy + "  enabled: false\n"
	tests := []struct {
		name string
		// setup returns the id to rotate; after it, the policy becomes after.
		setup func(e *leaseEnv, svc *keys.Service) string
		after string
		grace int
		want  []string // failed rules, in the message
	}{
		{"a console key (no name prefix)", seeded("console-proj-search"), "", 0, []string{"old.target_prefix"}},
		{"a Full Access key", seeded("ci-deploy"), "", 0, []string{"old.target_scoped"}},
		{"a key on a denied tag", addKey("agent-prod-key", "proj-prod-eu"), "", 0, []string{"old.target_tags", "new.tag_deny"}},
		{"the tag is now denied", mint("proj-rot", "write"), denied, 0, []string{"old.target_tags", "new.tag_deny"}},
		{"the tag is now read-only", mint("proj-rot", "write"), readOnly, 0, []string{"new.tag_read_only"}},
		{"the quota is used up", mint("proj-rot", "read"), quota, 0, []string{"new.quota"}},
		{"grace over the cap", mint("proj-rot", "read"), "", 61, []string{"grace", "rotate.max_grace_minutes 60"}},
		{"rotation disabled", mint("proj-rot", "read"), noRotate, 0, []string{"rotate_enabled"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newLeaseEnv(t, rotatePolicy)
			svc := e.newService(false)
			id := tc.setup(e, svc)
			if tc.after != "" {
				e.policy.p.Store(mustPolicy(t, tc.after))
			}
			wasEnabled := e.enabled(id)
			before := e.counts()
			_, err := svc.Rotate(context.Background(), local("rotate_key"), id, tc.grace)
			f := keys.AsFailure(err)
			if f == nil || f.Kind != keys.FailRefused {
				t.Fatalf("rotate: %v, want a refusal", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(f.Message, w) {
					t.Errorf("refusal %q lacks %q", f.Message, w)
				}
			}
			// When only the replacement is refused, the old key passed the
			// revoke rules: the decision says exactly which half failed.
			onlyNew := true
			for _, w := range tc.want {
				onlyNew = onlyNew && strings.HasPrefix(w, "new.")
			}
			if onlyNew && f.Decision != nil {
				for _, r := range f.Decision.Failed() {
					if !strings.HasPrefix(r.Rule, "new.") {
						t.Errorf("rule %s failed too: %s", r.Rule, r.Detail)
					}
				}
			}
			if after := e.counts(); after != before {
				t.Errorf("a refused rotation changed the upstream: %+v → %+v", before, after)
			}
			if e.enabled(id) != wasEnabled {
				t.Error("the old key changed state")
			}
		})
	}

	t.Run("not found", func(t *testing.T) {
		e := newLeaseEnv(t, rotatePolicy)
		_, err := e.newService(false).Rotate(context.Background(), local("rotate_key"), "key_doesnotexist", 0)
		if f := keys.AsFailure(err); f == nil || f.Kind != keys.FailNotFound {
			t.Errorf("rotate of an unknown id: %v", err)
		}
		if e.sb.Sandbox.Count(sandbox.EndpointCreate)+e.sb.Sandbox.Count(sandbox.EndpointRevoke) != 0 {
			t.Error("the upstream was written")
		}
	})
}

// seeded returns the id of the sandbox's seeded key named name.
func seeded(name string) func(*leaseEnv, *keys.Service) string {
	return func(e *leaseEnv, _ *keys.Service) string {
		ks, err := e.api.ListKeys(context.Background())
		if err != nil {
			e.t.Fatal(err)
		}
		for _, k := range ks {
			if k.Name == name {
				return k.ID
			}
		}
		e.t.Fatalf("no seeded key %q", name)
		return ""
	}
}

// addKey seeds a scoped key made outside mcp-keys.
func addKey(name string, tags ...string) func(*leaseEnv, *keys.Service) string {
	return func(e *leaseEnv, _ *keys.Service) string {
		id, _, err := e.sb.Sandbox.AddKey(sandbox.NewKey{Name: name, Tags: tags})
		if err != nil {
			e.t.Fatal(err)
		}
		return id
	}
}

// mint makes a key through the service.
func mint(tag, perm string) func(*leaseEnv, *keys.Service) string {
	return func(e *leaseEnv, svc *keys.Service) string {
		c, err := svc.Create(context.Background(), local("create_scoped_key"), keys.CreateInput{Tag: tag, Permission: perm})
		if err != nil {
			e.t.Fatal(err)
		}
		return c.ID
	}
}

// TestRotateNewKeyNotHandedOn: when the replacement fails upstream, or the
// API mints it wider than asked (it is then revoked at once), the old key
// is left as it was.
func TestRotateNewKeyNotHandedOn(t *testing.T) {
	tests := []struct {
		name       string
		fault      sandbox.Fault
		newRevoked bool // a replacement was minted and revoked again
	}{
		{"create fails (5xx)", sandbox.Fault{Endpoint: sandbox.EndpointCreate, Status: 500}, false},
		{"create answer lost after minting", sandbox.Fault{Endpoint: sandbox.EndpointCreate, Status: 502, Commit: true}, false},
		{"replacement minted wider", sandbox.Fault{Endpoint: sandbox.EndpointCreate, ExtraTag: "proj-other"}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newLeaseEnv(t, rotatePolicy)
			svc := e.newService(false)
			old, err := svc.Create(ctx, local("create_scoped_key"), keys.CreateInput{Tag: "proj-rot", Permission: "read"})
			if err != nil {
				t.Fatal(err)
			}
			e.sb.Sandbox.Inject(tc.fault)
			_, err = svc.Rotate(ctx, local("rotate_key"), old.ID, 0)
			f := keys.AsFailure(err)
			if f == nil || !strings.Contains(f.Message, "The old key "+old.ID+" was left untouched.") {
				t.Fatalf("rotate: %v; want a failure saying the old key was left untouched", err)
			}
			if !e.enabled(old.ID) || e.deletes(old.ID) != 0 {
				t.Errorf("the old key was touched: enabled %v, %d DELETEs", e.enabled(old.ID), e.deletes(old.ID))
			}
			if tc.newRevoked != (e.deletes("") == 1) {
				t.Errorf("DELETEs in all: %d (replacement revoked again: want %v)", e.deletes(""), tc.newRevoked)
			}
			if leases, _ := svc.ListKeys(ctx, local("list_keys"), keys.KeyQuery{Tag: "proj-rot"}); leases != nil {
				for _, k := range leases.Keys {
					if k.ID == old.ID && k.LeaseEndsAt != nil {
						t.Errorf("the old key got a lease: %s", *k.LeaseEndsAt)
					}
				}
			}
		})
	}
}

// prompter is a client that can ask a person, with the answer it carries.
type prompter struct{ answer *keys.Answer }

func (p prompter) CanAsk() bool         { return true }
func (p prompter) Answer() *keys.Answer { return p.answer }

// TestRotateOneConfirmation: with confirmation required for creates and
// revokes, a rotation asks one question naming both halves, and the
// accepted answer does both.
func TestRotateOneConfirmation(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, rotatePolicy)
	svc := e.newService(false)
	old, err := svc.Create(ctx, local("create_scoped_key"), keys.CreateInput{Tag: "proj-rot", Permission: "read"})
	if err != nil {
		t.Fatal(err)
	}
	e.policy.p.Store(mustPolicy(t, rotatePolicy+"confirm:\n  create: always\n  revoke: always\n"))
	before := e.counts()
	call := local("rotate_key")
	call.Confirm = prompter{}
	_, err = svc.Rotate(ctx, call, old.ID, 0)
	var ask *keys.Ask
	if !errors.As(err, &ask) {
		t.Fatalf("rotate: %v, want one question", err)
	}
	if !strings.Contains(ask.Question, "create a replacement") || !strings.Contains(ask.Question, "revoke the old key at once") || !strings.Contains(ask.Question, old.ID) {
		t.Errorf("question %q does not name both halves", ask.Question)
	}
	if after := e.counts(); after != before {
		t.Errorf("asking changed the upstream: %+v → %+v", before, after)
	}
	call.Confirm = prompter{answer: &keys.Answer{Action: keys.AnswerAccept, Confirmed: true, State: ask.State}}
	r, err := svc.Rotate(ctx, call, old.ID, 0)
	if err != nil {
		t.Fatalf("rotate with the answer: %v (a second question?)", err)
	}
	if !r.OldRevoked || e.enabled(old.ID) {
		t.Error("the old key was not revoked")
	}
	e.checkReplacement(r, []string{"proj-rot"}, "read")
	// The answer is used up.
	if _, err := svc.Rotate(ctx, call, r.New.ID, 0); keys.AsFailure(err) == nil {
		t.Errorf("a used answer approved another rotation: %v", err)
	}
}
