package keys_test

// Leases through the service, on a controllable clock: a lease is granted
// (minted for one day) within keys.max_lease_minutes, refused beyond it or
// with expires_in_days, required by keys.require_lease; the reaper revokes
// a key when its lease ends and not before, after a restart, with backoff
// after an upstream failure, records a key already gone, and in stdio mode
// runs before each call.

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

func TestLeaseGranted(t *testing.T) {
	e := newLeaseEnv(t, leasePolicy)
	svc := e.newService(false)
	c := e.createLeased(svc, "proj-lease", 30)
	day := e.clock.Now().Add(24 * time.Hour)
	if !c.ExpiresAt.Equal(day) {
		t.Errorf("Created.ExpiresAt = %v, want %v (expiresInDays 1)", c.ExpiresAt, day)
	}
	// The sandbox sets the expiry from the request's expiresInDays.
	k := e.upstreamKey(c.ID)
	if k == nil || !k.ExpiresAt.Equal(day) {
		t.Fatalf("upstream key %+v, want expiry %v (expiresInDays 1)", k, day)
	}
	if !k.Enabled || len(k.Tags) != 1 || k.Tags[0] != "proj-lease" {
		t.Errorf("upstream key: enabled %v, tags %v", k.Enabled, k.Tags)
	}
	// The create's result record carries the lease.
	var found bool
	for _, r := range e.records() {
		if r.Event == audit.EventCreateResult && r.KeyID == c.ID {
			found = r.LeaseEndsAt != nil && r.LeaseEndsAt.Equal(c.LeaseEndsAt)
		}
	}
	if !found {
		t.Error("the create_result record does not carry lease_ends_at")
	}
	// The dry run agrees, and says the key is minted for a day.
	chk, err := svc.CheckCreate(context.Background(), local("check_policy"), keys.CreateInput{Tag: "proj-lease", LeaseMinutes: intp(30)})
	if err != nil || !chk.Decision.Allowed || chk.Decision.Effective.LeaseMinutes != 30 || chk.Decision.Effective.ExpiresInDays != 1 {
		t.Errorf("check_policy with a lease: %v %+v", err, chk)
	} else if txt := chk.Text(); !strings.Contains(txt, "max_lease_minutes 120") || !strings.Contains(txt, "revoked by mcp-keys when the lease ends") {
		t.Errorf("check_policy does not explain the lease rule:\n%s", txt)
	}
}

func TestLeaseRefused(t *testing.T) {
	requireLease := strings.Replace(leasePolicy, "max_lease_minutes: 120", "max_lease_minutes: 120\n  require_lease: true", 1)
	tests := []struct {
		name   string
		policy string
		in     keys.CreateInput
		want   []string
	}{
		{"over the cap", leasePolicy, keys.CreateInput{Tag: "proj-a", LeaseMinutes: intp(121)},
			[]string{"lease: lease_minutes 121 is over max_lease_minutes 120"}},
		{"over the ceiling", leasePolicy, keys.CreateInput{Tag: "proj-a", LeaseMinutes: intp(1441)},
			[]string{"lease_minutes 1441 is over max_lease_minutes 120"}},
		{"zero", leasePolicy, keys.CreateInput{Tag: "proj-a", LeaseMinutes: intp(0)},
			[]string{"lease_minutes 0 is below 1", "max_lease_minutes"}},
		{"negative", leasePolicy, keys.CreateInput{Tag: "proj-a", LeaseMinutes: intp(-5)},
			[]string{"lease_minutes -5 is below 1"}},
		{"with expires_in_days", leasePolicy, keys.CreateInput{Tag: "proj-a", LeaseMinutes: intp(10), ExpiresInDays: intp(1)},
			[]string{"both lease_minutes and expires_in_days"}},
		{"required, none given", requireLease, keys.CreateInput{Tag: "proj-a"},
			[]string{"keys.require_lease is true", "lease_minutes 1..120"}},
		{"required, expiry given instead", requireLease, keys.CreateInput{Tag: "proj-a", ExpiresInDays: intp(7)},
			[]string{"keys.require_lease is true"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newLeaseEnv(t, tc.policy)
			svc := e.newService(false)
			before := e.sb.Sandbox.KeyCount()
			_, err := svc.Create(context.Background(), local("create_scoped_key"), tc.in)
			f := keys.AsFailure(err)
			if f == nil || f.Kind != keys.FailRefused {
				t.Fatalf("create: %v, want a refusal", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(f.Message, w) {
					t.Errorf("refusal %q lacks %q", f.Message, w)
				}
			}
			if n := e.sb.Sandbox.Count(sandbox.EndpointCreate); n != 0 || e.sb.Sandbox.KeyCount() != before {
				t.Errorf("a refused create reached the upstream (%d creates)", n)
			}
			// The dry run refuses the same request for the same reason.
			chk, err := svc.CheckCreate(context.Background(), local("check_policy"), tc.in)
			if err != nil || chk.Decision.Allowed {
				t.Errorf("check_policy: %v, allowed %v", err, chk != nil && chk.Decision.Allowed)
			}
		})
	}
	t.Run("required, lease given", func(t *testing.T) {
		e := newLeaseEnv(t, requireLease)
		e.createLeased(e.newService(false), "proj-a", 120)
	})
}

// TestLeaseReapedAtItsEnd: nothing happens a second before the end; a
// second after it the key is disabled upstream, recorded as caller system
// with reason lease_ended, and list_keys stops showing it.
func TestLeaseReapedAtItsEnd(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, leasePolicy)
	svc := e.newService(false)
	c := e.createLeased(svc, "proj-lease", 10)
	other := e.createLeased(svc, "proj-lease", 60) // ends later: untouched
	plain, err := svc.Create(ctx, local("create_scoped_key"), keys.CreateInput{Tag: "proj-lease"})
	if err != nil {
		t.Fatal(err)
	}

	list, err := svc.ListKeys(ctx, local("list_keys"), keys.KeyQuery{Tag: "proj-lease"})
	if err != nil {
		t.Fatal(err)
	}
	ends := map[string]string{}
	for _, k := range list.Keys {
		if k.LeaseEndsAt != nil {
			ends[k.ID] = *k.LeaseEndsAt
		}
	}
	if ends[c.ID] != c.LeaseEndsAt.Format(time.RFC3339) || ends[other.ID] == "" || ends[plain.ID] != "" {
		t.Errorf("list_keys lease_ends_at = %v; want %s for the 10-minute lease, one for the 60-minute lease, none for the unleased key", ends, c.LeaseEndsAt.Format(time.RFC3339))
	}

	e.clock.Advance(10*time.Minute - time.Second)
	rep, err := svc.Reap(ctx)
	if err != nil || rep != (keys.ReapReport{}) {
		t.Fatalf("Reap a second before the end: %+v, %v; want nothing done", rep, err)
	}
	if n := e.deletes(""); n != 0 || !e.enabled(c.ID) {
		t.Fatalf("before the end: %d DELETEs, enabled %v", n, e.enabled(c.ID))
	}

	e.clock.Advance(2 * time.Second)
	rep, err = svc.Reap(ctx)
	if err != nil || rep.Revoked != 1 || rep.Gone != 0 || rep.Failed != 0 {
		t.Fatalf("Reap a second after the end: %+v, %v; want one revoked", rep, err)
	}
	if e.enabled(c.ID) {
		t.Error("the key is still enabled upstream after its lease ended")
	}
	if !e.enabled(other.ID) || !e.enabled(plain.ID) {
		t.Error("the reaper revoked a key whose lease has not ended, or that has none")
	}
	if n, m := e.deletes(c.ID), e.deletes(""); n != 1 || m != 1 {
		t.Errorf("DELETEs: %d for the key, %d in all; want 1 and 1", n, m)
	}

	// Audit: an intent and a result, caller system, reason lease_ended.
	recs := reaperRecords(e.records(), c.ID)
	if len(recs) != 2 {
		t.Fatalf("reaper records for the key: %d, want 2 (%+v)", len(recs), recs)
	}
	intent, result := recs[0], recs[1]
	if intent.Event != audit.EventRevoke || intent.Phase != audit.PhaseIntent || intent.Reason != keys.ReasonLeaseEnded || intent.Decision != audit.DecisionAllowed {
		t.Errorf("intent record: %+v", intent)
	}
	if result.Event != audit.EventRevokeResult || result.Phase != audit.PhaseResult || result.Ref != intent.Seq ||
		result.Outcome != audit.OutcomeRevoked || result.Reason != keys.ReasonLeaseEnded {
		t.Errorf("result record: %+v", result)
	}
	if intent.LeaseEndsAt == nil || !intent.LeaseEndsAt.Equal(c.LeaseEndsAt) || intent.Tag != "proj-lease" && !equalTags(intent.Tags, "proj-lease") {
		t.Errorf("intent record does not name the lease's end and tag: %+v", intent)
	}
	if _, err := audit.VerifyFile(e.path); err != nil {
		t.Errorf("audit chain: %v", err)
	}

	// list_keys no longer shows it as enabled; with disabled keys it is
	// shown revoked and without a lease.
	list, err = svc.ListKeys(ctx, local("list_keys"), keys.KeyQuery{Tag: "proj-lease"})
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range list.Keys {
		if k.ID == c.ID {
			t.Errorf("list_keys still lists the reaped key: %+v", k)
		}
	}
	list, err = svc.ListKeys(ctx, local("list_keys"), keys.KeyQuery{Tag: "proj-lease", IncludeDisabled: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := false
	for _, k := range list.Keys {
		if k.ID == c.ID {
			seen = true
			if k.Enabled || k.LeaseEndsAt != nil || k.Revocable {
				t.Errorf("reaped key listed as %+v", k)
			}
		}
	}
	if !seen {
		t.Error("the reaped key is not listed with include_disabled")
	}

	// A second pass does nothing more.
	if rep, err := svc.Reap(ctx); err != nil || rep != (keys.ReapReport{}) || e.deletes("") != 1 {
		t.Errorf("second pass: %+v, %v, %d DELETEs", rep, err, e.deletes(""))
	}
}

// equalTags reports whether tags is exactly want.
func equalTags(tags []string, want ...string) bool {
	if len(tags) != len(want) {
		return false
	}
	for i := range tags {
		if tags[i] != want[i] {
			return false
		}
	}
	return true
}

// TestLeaseSurvivesRestart: the lease is in the store, not in the process.
func TestLeaseSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, leasePolicy)
	svc := e.newService(false)
	c := e.createLeased(svc, "proj-lease", 5)
	e.clock.Advance(2 * time.Minute)
	if err := svc.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}

	// A new process: a new service and a new FileStore on the same log.
	svc2 := e.newService(false)
	if rep, err := svc2.Reap(ctx); err != nil || rep != (keys.ReapReport{}) {
		t.Fatalf("Reap during the lease after a restart: %+v, %v", rep, err)
	}
	e.clock.Advance(3*time.Minute + time.Second)
	rep, err := svc2.Reap(ctx)
	if err != nil || rep.Revoked != 1 {
		t.Fatalf("Reap after the end: %+v, %v; want one revoked", rep, err)
	}
	if e.enabled(c.ID) || e.deletes(c.ID) != 1 {
		t.Errorf("after a restart the key was not revoked once (enabled %v, %d DELETEs)", e.enabled(c.ID), e.deletes(c.ID))
	}
	if recs := reaperRecords(e.records(), c.ID); len(recs) != 2 || recs[1].Outcome != audit.OutcomeRevoked {
		t.Errorf("reaper records: %+v", recs)
	}
}

// TestLeaseUpstreamFailure: a DELETE that fails is retried after a
// backoff (and not before), then succeeds; the failure shows in the result
// and in the audit log, without any secret.
func TestLeaseUpstreamFailure(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, leasePolicy)
	svc := e.newService(false)
	c := e.createLeased(svc, "proj-lease", 1)
	remove := e.sb.Sandbox.Inject(sandbox.Fault{Endpoint: sandbox.EndpointRevoke, Status: 503})
	e.clock.Advance(time.Minute + time.Second)

	rep, err := svc.Reap(ctx)
	if err != nil || rep.Failed != 1 || rep.Revoked != 0 || rep.LastError == "" {
		t.Fatalf("Reap with the DELETE failing: %+v, %v; want Failed 1 with an error", rep, err)
	}
	if strings.Contains(rep.LastError, e.sb.Sandbox.OperatorKey()) {
		t.Error("the reaper's error holds the operator key")
	}
	if !e.enabled(c.ID) {
		t.Fatal("the key is disabled although every DELETE failed")
	}
	tried := e.deletes(c.ID)
	if tried == 0 {
		t.Fatal("no DELETE was sent")
	}
	remove()

	// Within the backoff (10 s after the first failure) nothing is tried.
	e.clock.Advance(5 * time.Second)
	if rep, err := svc.Reap(ctx); err != nil || rep != (keys.ReapReport{}) || e.deletes(c.ID) != tried {
		t.Errorf("Reap within the backoff: %+v, %v, DELETEs %d → %d; want nothing tried", rep, err, tried, e.deletes(c.ID))
	}
	e.clock.Advance(6 * time.Second)
	rep, err = svc.Reap(ctx)
	if err != nil || rep.Revoked != 1 || rep.Failed != 0 {
		t.Fatalf("Reap after the backoff: %+v, %v; want one revoked", rep, err)
	}
	if e.enabled(c.ID) {
		t.Error("the key is still enabled after the retry")
	}
	var outcomes []audit.Outcome
	for _, r := range reaperRecords(e.records(), c.ID) {
		if r.Event == audit.EventRevokeResult {
			outcomes = append(outcomes, r.Outcome)
			if r.Outcome == audit.OutcomeFailed && r.UpstreamStatus != 503 {
				t.Errorf("failed result records status %d, want 503", r.UpstreamStatus)
			}
		}
	}
	if len(outcomes) != 2 || outcomes[0] != audit.OutcomeFailed || outcomes[1] != audit.OutcomeRevoked {
		t.Errorf("revoke results = %v, want [failed revoked]", outcomes)
	}
}

// TestLeaseReaperHealth: the health a server's /readyz shows follows the
// reaper's passes: a lease it could not end makes it unready; once the key
// is revoked it is ready again. The stdio service's passes (ReapOnCall)
// keep the same report.
func TestLeaseReaperHealth(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, leasePolicy)
	svc := e.newService(true)
	c := e.createLeased(svc, "proj-lease", 1)
	if h := svc.ReaperHealth(); h != "" {
		t.Fatalf("health before any failure: %q", h)
	}
	remove := e.sb.Sandbox.Inject(sandbox.Fault{Endpoint: sandbox.EndpointRevoke, Status: 502})
	e.clock.Advance(time.Minute + time.Second)
	if _, err := svc.ListTags(ctx, local("list_tags"), keys.TagQuery{}); err != nil {
		t.Fatalf("list_tags: %v", err)
	}
	h := svc.ReaperHealth()
	if !strings.Contains(h, "could not revoke 1 key(s)") {
		t.Fatalf("health after a failed revoke = %q", h)
	}
	// /readyz answers anyone: fixed words, no upstream error text.
	if err := svc.Ready(ctx); err == nil || !strings.Contains(err.Error(), "lease reaper") || strings.Contains(err.Error(), "502") {
		t.Errorf("Ready = %v, want the reaper named without the upstream error", err)
	}

	t.Run("unready during the backoff", func(t *testing.T) {
		// A pass during the backoff claims nothing; the key whose lease
		// ended is still alive, so the service must not say it is ready.
		e.clock.Advance(time.Second)
		if _, err := svc.ListTags(ctx, local("list_tags"), keys.TagQuery{}); err != nil {
			t.Fatalf("list_tags: %v", err)
		}
		if !e.enabled(c.ID) {
			t.Fatal("the key was revoked with the fault in place")
		}
		if h := svc.ReaperHealth(); h == "" {
			t.Fatal("ReaperHealth reads clean during a failed lease's backoff while the key is still alive")
		}
	})

	remove()
	e.clock.Advance(15 * time.Second)
	if _, err := svc.ListTags(ctx, local("list_tags"), keys.TagQuery{}); err != nil {
		t.Fatalf("list_tags: %v", err)
	}
	if e.enabled(c.ID) {
		t.Fatal("the key is still enabled after the retry")
	}
	if h := svc.ReaperHealth(); h != "" {
		t.Errorf("health after the retry = %q, want clean", h)
	}
	if err := svc.Ready(ctx); err != nil {
		t.Errorf("Ready after the retry: %v", err)
	}
}

// TestLeaseKeyAlreadyGone: a key revoked by hand before its lease ends is
// recorded as already revoked, and no DELETE is sent.
func TestLeaseKeyAlreadyGone(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, leasePolicy)
	svc := e.newService(false)
	c := e.createLeased(svc, "proj-lease", 3)
	if _, err := e.api.RevokeKey(ctx, c.ID); err != nil { // by hand, upstream
		t.Fatal(err)
	}
	before := e.deletes("")
	e.clock.Advance(3*time.Minute + time.Second)
	rep, err := svc.Reap(ctx)
	if err != nil || rep.Gone != 1 || rep.Revoked != 0 || rep.Failed != 0 {
		t.Fatalf("Reap of a key revoked by hand: %+v, %v; want Gone 1", rep, err)
	}
	if n := e.deletes(""); n != before {
		t.Errorf("the reaper sent %d DELETE(s) for a key already revoked", n-before)
	}
	recs := reaperRecords(e.records(), c.ID)
	if len(recs) != 1 || recs[0].Outcome != audit.OutcomeAlreadyRevoked || recs[0].Reason != keys.ReasonLeaseEnded || recs[0].Event != audit.EventRevoke {
		t.Errorf("reaper records: %+v; want one revoke record, already_revoked, lease_ended", recs)
	}
	if rep, err := svc.Reap(ctx); err != nil || rep != (keys.ReapReport{}) {
		t.Errorf("second pass: %+v, %v", rep, err)
	}
}

// TestLeaseNeverRevokesFullAccess: a lease whose key the listing shows as
// Full Access (here: the operator's own key id, as a corrupted or hostile
// store could hold) is never revoked; it is retried and reported.
func TestLeaseNeverRevokesFullAccess(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, leasePolicy)
	svc := e.newService(false)
	var full string
	ks, err := e.api.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Name == "ci-deploy" {
			full = k.ID
		}
	}
	if full == "" {
		t.Fatal("the sandbox has no ci-deploy key")
	}
	st, err := audit.OpenFile(e.path, audit.FileOptions{Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.AddLease(ctx, audit.Lease{KeyID: full, Caller: "local", Name: "ci-deploy", EndsAt: e.clock.Now().Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	e.clock.Advance(2 * time.Minute)
	rep, err := svc.Reap(ctx)
	if err != nil || rep.Failed != 1 || rep.Revoked != 0 || !strings.Contains(rep.LastError, "Scoped") {
		t.Errorf("Reap of a Full Access key's lease: %+v, %v; want Failed 1 naming Scoped", rep, err)
	}
	if e.deletes("") != 0 || !e.enabled(full) {
		t.Error("the reaper revoked a Full Access key")
	}
}

// TestReapOnCall: in stdio mode a due lease is enforced at the next call of
// any tool; without ReapOnCall it is not.
func TestReapOnCall(t *testing.T) {
	ctx := context.Background()
	e := newLeaseEnv(t, leasePolicy)
	off := e.newService(false)
	c := e.createLeased(off, "proj-lease", 2)
	e.clock.Advance(2*time.Minute + time.Second)
	if _, err := off.ListTags(ctx, local("list_tags"), keys.TagQuery{}); err != nil {
		t.Fatal(err)
	}
	if !e.enabled(c.ID) {
		t.Fatal("a service without ReapOnCall reaped on a call")
	}
	if err := off.Close(); err != nil {
		t.Fatal(err)
	}

	on := e.newService(true)
	if _, err := on.ListTags(ctx, local("list_tags"), keys.TagQuery{}); err != nil {
		t.Fatal(err)
	}
	if e.enabled(c.ID) {
		t.Fatal("ListTags with ReapOnCall did not revoke the due lease")
	}
	if recs := reaperRecords(e.records(), c.ID); len(recs) != 2 || recs[1].Outcome != audit.OutcomeRevoked {
		t.Errorf("reaper records: %+v", recs)
	}
	if h := on.ReaperHealth(); h != "" {
		t.Errorf("health: %q", h)
	}
	// A failing pass never fails the call itself.
	c2 := e.createLeased(on, "proj-lease", 1)
	remove := e.sb.Sandbox.Inject(sandbox.Fault{Endpoint: sandbox.EndpointRevoke, Status: 500})
	defer remove()
	e.clock.Advance(time.Minute + time.Second)
	if _, err := on.ListKeys(ctx, local("list_keys"), keys.KeyQuery{}); err != nil {
		t.Errorf("list_keys failed with the reaper failing: %v", err)
	}
	if !e.enabled(c2.ID) || on.ReaperHealth() == "" {
		t.Errorf("a failed pass: enabled %v, health %q", e.enabled(c2.ID), on.ReaperHealth())
	}
}
