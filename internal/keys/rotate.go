package keys

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// Rotated is the answer of a rotation: the replacement, handed on like a
// new key, and what became of the old one.
type Rotated struct {
	// New is the replacement key.
	New *Created
	// OldID and OldName are the old key's.
	OldID, OldName string
	// OldRevoked is set when the old key was revoked now; OldLeaseEndsAt
	// is when it will be, when it was given a grace period.
	OldRevoked     bool
	OldLeaseEndsAt time.Time
	// OldProblem says why the old key is still alive when it should not
	// be ("" when all went as asked).
	OldProblem string
}

// dateSuffix is the -yyyymmdd a default key name ends with.
var dateSuffix = regexp.MustCompile(`-\d{8}$`)

// rotationName is the replacement's name: the old name's stem and today's
// date.
func rotationName(old string, now time.Time) string {
	return dateSuffix.ReplaceAllString(old, "") + "-" + now.UTC().Format("20060102")
}

// Rotate replaces a key with a new one like it — the same tags and
// permission, the policy's limits, a name with the same stem and a new
// date — and revokes the old key at once, or leaves it a lease of
// graceMinutes. Both sets of rules (revoke for the old key, create for the
// new) are decided before anything is called, and one confirmation covers
// both. If the new key cannot be handed on, the old key is left untouched.
func (s *Service) Rotate(ctx context.Context, call Call, id string, graceMinutes int) (*Rotated, error) {
	s.begin(ctx)
	if f := s.trusted(ctx, call); f != nil {
		return nil, f
	}
	if err := client.ValidKeyID(id); err != nil {
		return nil, invalidID(id)
	}
	p := s.PolicyFor(call.Caller)
	old, err := s.findTarget(ctx, id)
	if err != nil {
		return nil, upstreamFailure(call.Tool+" (listing keys)", readCall, err)
	}
	if old == nil {
		return nil, failf(FailNotFound, "%s: not found: no key with id %s exists in the organisation. Call list_keys to see the current ids.", call.Tool, policy.Quote(id))
	}
	rev := policy.RevokeRequest{ID: id, Target: revokeTarget(old)}
	found, known := s.mintedAmong(ctx, []string{id})
	rev.Target.Minted, rev.Target.MintedByCaller = policy.Unknown, policy.Unknown
	if known {
		rev.Target.Minted, rev.Target.MintedByCaller = mintFacts(found, call.Caller, id)
	}
	if call.Caller.Remote() && !p.KeyVisible(*rev.Target) {
		// As for a revoke: a key a remote caller cannot list does not
		// exist for it.
		return nil, failf(FailNotFound, "%s: not found: no key with id %s exists in the organisation. Call list_keys to see the current ids.", call.Tool, policy.Quote(id))
	}
	// The replacement is exactly as wide as the old key: its tags, and its
	// permission as recorded when it was minted, else as listed. A key
	// whose permission is shown nowhere is not rotated: guessing could
	// widen it.
	perm := old.Permission
	if m, ok := found[id]; ok && m.Permission != "" {
		perm = m.Permission
	}
	req := policy.CreateRequest{Tags: old.Tags, TagsSet: true, Permission: perm, Name: rotationName(old.Name, s.now()), Now: s.now()}
	if leases, err := s.leasesOf(ctx, id); err == nil {
		if l, ok := leases[id]; ok {
			// A leased key's replacement is leased as long as the old lease
			// had left (at least a minute).
			left := max(1, int(l.EndsAt.Sub(s.now()).Minutes()+0.999))
			req.LeaseMinutes = &left
		}
	}
	d, creq, err := s.evaluateCreate(ctx, call.Caller, p, req)
	if err != nil {
		return nil, upstreamFailure(call.Tool+" (looking up tags)", readCall, err)
	}
	d = p.EvaluateRotate(policy.RotateRequest{Revoke: rev, Create: creq, GraceMinutes: graceMinutes})
	s.logDecision(call, d)
	rec := s.decisionRecord(call, audit.EventCreate, d)
	rec.KeyID, rec.Reason = clean(id), "rotation of "+clean(id)
	if !d.Allowed {
		rec.Reason = d.Reason()
		_, _ = s.appendRecord(ctx, rec)
		return nil, refusal(call.Tool, p, d)
	}
	e := d.Effective
	binding := fmt.Sprintf("rotate\x00%s\x00%d\x00%s", id, graceMinutes, createBinding(e))
	summary := fmt.Sprintf("An AI agent asks mcp-keys to rotate the scoped key %s (%q): create a replacement %s, then %s. Rotate it?",
		id, clean(old.Name), KeyTerms(e), oldFate(graceMinutes))
	outcome, cerr, note := s.conf.confirm(ctx, call, p.Confirm.Rotate(), binding, summary)
	if outcome == confirmAsk {
		return nil, cerr
	}
	rec.Phase, rec.Reason = audit.PhaseIntent, joinNote("rotation of "+clean(id), note)
	if outcome == confirmRefused {
		rec.Decision, rec.Phase = audit.DecisionDenied, ""
		_, _ = s.appendRecord(ctx, rec)
		return nil, cerr
	}
	intent, quotaDenial, err := s.reserveCreate(ctx, p, creq, rec)
	switch {
	case quotaDenial != nil:
		_, _ = s.appendRecord(ctx, s.decisionRecord(call, audit.EventCreate, *quotaDenial))
		return nil, refusal(call.Tool, p, *quotaDenial)
	case mustRecord(call, p, err):
		return nil, storeFailure(call, "rotation", err)
	}
	created, err := s.mint(ctx, call, p, e, intent)
	if err != nil {
		// The old key is left untouched when the new one cannot be handed on.
		if f := AsFailure(err); f != nil {
			f.Message += " The old key " + clean(id) + " was left untouched."
		}
		return nil, err
	}
	out := &Rotated{New: created, OldID: clean(old.ID), OldName: clean(old.Name)}
	ctx = context.WithoutCancel(ctx)
	if graceMinutes > 0 {
		out.OldLeaseEndsAt = s.now().UTC().Add(time.Duration(graceMinutes) * time.Minute).Truncate(time.Second)
		if leases, err := s.leasesOf(ctx, id); err == nil {
			if l, ok := leases[id]; ok && l.EndsAt.Before(out.OldLeaseEndsAt) {
				// Grace never lets a leased key outlive its lease.
				out.OldLeaseEndsAt = l.EndsAt.UTC()
			}
		}
		if err := s.addLease(ctx, call.Caller, id, old.Name, old.Tags, out.OldLeaseEndsAt); err != nil {
			out.OldLeaseEndsAt = time.Time{}
			out.OldProblem = "its grace lease could not be recorded (" + clean(err.Error()) + "); revoke it with revoke_key when it is no longer needed"
		}
		return out, nil
	}
	r, err := s.revokeRecorded(ctx, call, id, old)
	if err != nil {
		out.OldProblem = "revoking it failed (" + clean(err.Error()) + "); call revoke_key with id " + clean(id)
		return out, nil
	}
	out.OldRevoked = r
	return out, nil
}

// oldFate says what happens to a rotated key.
func oldFate(graceMinutes int) string {
	if graceMinutes > 0 {
		return fmt.Sprintf("revoke the old key after %d minutes", graceMinutes)
	}
	return "revoke the old key at once"
}

// joinNote appends a confirmation note to a reason.
func joinNote(reason, note string) string {
	if note == "" {
		return reason
	}
	return reason + "; " + note
}

// leasesOf returns the open leases of ids.
func (s *Service) leasesOf(ctx context.Context, ids ...string) (map[string]audit.Lease, error) {
	st, err := s.store.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.Leases(ctx, ids)
}

// revokeRecorded revokes a key the policy already allowed, with its intent
// and result records, and checks a fresh listing. It reports whether the
// key was revoked now (false: it already was).
func (s *Service) revokeRecorded(ctx context.Context, call Call, id string, k *client.Key) (bool, error) {
	rec := s.baseRecord(call, audit.EventRevoke)
	rec.Decision, rec.Phase, rec.KeyID, rec.Name, rec.Reason = audit.DecisionAllowed, audit.PhaseIntent, clean(id), clean(k.Name), "rotated"
	setTags(&rec, k.Tags)
	if !k.Enabled {
		rec.Phase, rec.Outcome = "", audit.OutcomeAlreadyRevoked
		_, _ = s.appendRecord(ctx, rec)
		return false, nil
	}
	intent, err := s.appendRecord(ctx, rec)
	if err != nil {
		return false, err
	}
	start := time.Now()
	err = s.revokeAndConfirm(ctx, id)
	result := s.baseRecord(call, audit.EventRevokeResult)
	result.Phase, result.Ref, result.KeyID, result.Name, result.Tag, result.Tags, result.Reason = audit.PhaseResult, intent.Seq, rec.KeyID, rec.Name, rec.Tag, rec.Tags, "rotated"
	result.Decision, result.Outcome, result.UpstreamStatus = audit.DecisionAllowed, audit.OutcomeRevoked, 200
	result.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		result.Decision, result.Outcome, result.UpstreamStatus = audit.DecisionError, audit.OutcomeFailed, upstreamStatus(err)
	}
	_, _ = s.appendRecord(ctx, result)
	if err == nil {
		s.closeLease(ctx, id)
	}
	return err == nil, err
}

// closeLease closes the lease of a key that was revoked by hand or by a
// rotation, so that the reaper does not end it again.
func (s *Service) closeLease(ctx context.Context, id string) {
	st, err := s.store.get(ctx)
	if err != nil {
		return
	}
	if err := st.FinishLease(ctx, id, audit.OutcomeRevoked); err != nil {
		s.log.Warn().Err(err).Str("key_id", clean(id)).Msg("lease of a revoked key not closed; the reaper will record it as gone")
	}
}
