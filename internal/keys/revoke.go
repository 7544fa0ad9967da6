package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// Revoked is the answer of a revoke.
type Revoked struct {
	// ID and Name are the key's.
	ID, Name string
	// AlreadyRevoked is set when the key was disabled before this call.
	AlreadyRevoked bool
}

// findTarget looks the id up in a fresh listing; nil when it is not there.
// The id is compared exactly. A listing that shows the id more than once
// gives the merge of its entries, as revocable as the least of them.
func (s *Service) findTarget(ctx context.Context, id string) (*client.Key, error) {
	keys, err := s.api.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var found *client.Key
	for i := range keys {
		if keys[i].ID != id {
			continue
		}
		if found == nil {
			k := keys[i]
			found = &k
			continue
		}
		// The same id twice: merge so that the key looks no more
		// revocable than its least revocable listing.
		k := keys[i]
		if k.Kind != client.KindScoped {
			found.Kind = client.KindFull
		}
		for _, t := range k.Tags {
			if !slices.Contains(found.Tags, t) {
				found.Tags = append(found.Tags, t)
			}
		}
		found.Enabled = found.Enabled || k.Enabled
		found.Permission = widerPermission(found.Permission, k.Permission)
		if k.Name != found.Name {
			found.Name = "(conflicting names)"
		}
	}
	return found, nil
}

// revokeTarget is what the policy needs to know of a listed key.
func revokeTarget(k *client.Key) *policy.RevokeTarget {
	return &policy.RevokeTarget{ID: k.ID, Name: k.Name, Scoped: k.Kind == client.KindScoped, Tags: k.Tags, Enabled: k.Enabled}
}

// evaluateRevoke runs the policy on a revoke request against a fresh
// listing. Revoke and Check share it.
func (s *Service) evaluateRevoke(ctx context.Context, caller Caller, p *policy.Policy, id string) (policy.Decision, *client.Key, error) {
	k, err := s.findTarget(ctx, id)
	if err != nil {
		return policy.Decision{}, nil, err
	}
	req := policy.RevokeRequest{ID: id}
	if k != nil {
		req.Target = revokeTarget(k)
		if p.Revoke.OnlyMinted || p.Revoke.Scope != "" {
			req.Target.Minted, req.Target.MintedByCaller = s.provenance(ctx, caller, id)
		}
		if caller.Remote() && !p.KeyVisible(*req.Target) {
			// A key a remote caller cannot list does not exist for it:
			// the answer must not tell it apart from an unknown id.
			k, req.Target = nil, nil
		}
	}
	return p.EvaluateRevoke(req), k, nil
}

// provenance says whether the store records a key as minted through
// mcp-keys, and as minted by this caller; Unknown when it cannot be read.
func (s *Service) provenance(ctx context.Context, caller Caller, id string) (minted, byCaller policy.Tristate) {
	found, ok := s.mintedAmong(ctx, []string{id})
	if !ok {
		return policy.Unknown, policy.Unknown
	}
	return mintFacts(found, caller, id)
}

// mintFacts reads the provenance facts of one key from a lookup.
func mintFacts(found map[string]audit.Mint, caller Caller, id string) (minted, byCaller policy.Tristate) {
	m, ok := found[id]
	switch {
	case !ok:
		return policy.No, policy.No
	case m.Caller == caller.ID():
		return policy.Yes, policy.Yes
	}
	return policy.Yes, policy.No
}

// invalidID is the failure for an argument that cannot be a key id.
func invalidID(id string) *Failure {
	return failf(FailInvalid, "Invalid arguments: id %s is not a key id (ids are letters, digits, '-' and '_'). Call list_keys to see the ids.", policy.Quote(id))
}

// Revoke disables a scoped key that the policy lets the caller revoke,
// after a fresh listing shows it in the policy: evaluate → confirm →
// record the intent → call the API → check a fresh listing → record the
// result. Errors are as for Create.
func (s *Service) Revoke(ctx context.Context, call Call, id string) (*Revoked, error) {
	s.begin(ctx)
	if f := s.trusted(ctx, call); f != nil {
		return nil, f
	}
	if err := client.ValidKeyID(id); err != nil {
		return nil, invalidID(id)
	}
	p := s.PolicyFor(call.Caller)
	d, k, err := s.evaluateRevoke(ctx, call.Caller, p, id)
	if err != nil {
		return nil, upstreamFailure(call.Tool+" (listing keys)", readCall, err)
	}
	s.logDecision(call, d)
	rec := s.decisionRecord(call, audit.EventRevoke, d)
	rec.KeyID = clean(id)
	if k != nil {
		rec.Name = clean(k.Name)
		if len(k.Tags) == 1 {
			rec.Tag = clean(k.Tags[0])
		}
	}
	if k == nil {
		_, _ = s.appendRecord(ctx, rec)
		msg := fmt.Sprintf("%s: not found: no key with id %s exists in the organisation. Call list_keys to see the current ids.", call.Tool, policy.Quote(id))
		if p.DeniesAllWrites() {
			msg += DefaultDenyNote(p)
		}
		return nil, &Failure{Kind: FailNotFound, Message: msg}
	}
	if !d.Allowed {
		_, _ = s.appendRecord(ctx, rec)
		return nil, refusal(call.Tool, p, d)
	}
	out := &Revoked{ID: clean(k.ID), Name: clean(k.Name)}
	if !k.Enabled {
		rec.Outcome = audit.OutcomeAlreadyRevoked
		_, _ = s.appendRecord(ctx, rec)
		out.AlreadyRevoked = true
		return out, nil
	}
	outcome, cerr, note := s.conf.confirm(ctx, call, p.Confirm.Revoke, revokeBinding(id), revokeSummary(id, k.Name, k.Tags))
	if outcome == confirmAsk {
		return nil, cerr
	}
	rec.Reason = note
	if outcome == confirmRefused {
		rec.Decision = audit.DecisionDenied
		_, _ = s.appendRecord(ctx, rec)
		return nil, cerr
	}
	rec.Phase = audit.PhaseIntent
	intent, err := s.appendRecord(ctx, rec)
	if mustRecord(call, p, err) {
		return nil, storeFailure(call, "revoke", err)
	}
	// As for a create: once the intent is written, the revoke and its
	// result record are not cancelled with the request.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	err = s.revokeAndConfirm(ctx, id)
	result := s.baseRecord(call, audit.EventRevokeResult)
	result.Phase, result.Ref, result.KeyID, result.Name, result.Tag = audit.PhaseResult, intent.Seq, rec.KeyID, rec.Name, rec.Tag
	result.Decision, result.Outcome, result.UpstreamStatus = audit.DecisionAllowed, audit.OutcomeRevoked, 200
	result.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		result.Decision, result.Outcome, result.UpstreamStatus = audit.DecisionError, audit.OutcomeFailed, upstreamStatus(err)
		if errors.Is(err, client.ErrNotFound) {
			result.Outcome = audit.OutcomeNotFound
		}
		_, _ = s.appendRecord(ctx, result)
		if errors.Is(err, client.ErrNotFound) {
			return nil, failf(FailNotFound, "%s: not found: key %s disappeared before it could be revoked. Call list_keys to check.", call.Tool, policy.Quote(id))
		}
		if errors.Is(err, errStillEnabled) {
			return nil, failf(FailUpstream, "%s for %s failed: the API acknowledged the revoke, but a fresh listing still shows the key enabled. Try again in a minute; if it persists, a person can revoke it in the Supermemory console.", call.Tool, policy.Quote(id))
		}
		return nil, upstreamFailure(fmt.Sprintf("%s for %s", call.Tool, policy.Quote(id)), writeCall, err)
	}
	_, _ = s.appendRecord(ctx, result)
	s.closeLease(ctx, id)
	s.log.Info().Str("tool", call.Tool).Str("caller", call.Caller.String()).Str("key_id", out.ID).Msg("key revoked")
	return out, nil
}

// errStillEnabled means the API acknowledged a revoke that a fresh listing
// does not show.
var errStillEnabled = errors.New("the key is still enabled after the revoke")

// revokeAndConfirm revokes a key and checks the result in a fresh listing:
// an answer of success:false, or an unreadable one, is not taken on trust.
func (s *Service) revokeAndConfirm(ctx context.Context, id string) error {
	res, err := s.api.RevokeKey(ctx, id)
	if errors.Is(err, client.ErrNotFound) {
		// A retried DELETE can answer 404 after an earlier attempt worked:
		// a listing that shows the key disabled says it did.
		if k, lerr := s.findTarget(ctx, id); lerr == nil && k != nil && !k.Enabled {
			return nil
		}
	}
	if err != nil {
		return err
	}
	k, err := s.findTarget(ctx, id)
	switch {
	case err != nil && res.Success:
		// The API said it worked and the check could not be made: report
		// what the API said, and log that it was not re-checked.
		s.log.Warn().Err(err).Str("key_id", clean(id)).Msg("revoke acknowledged; fresh listing failed")
		return nil
	case err != nil:
		return err
	case k != nil && k.Enabled:
		return errStillEnabled
	}
	return nil
}

// widerPermission is the wider of two readings of a key's permission: ""
// only when both are, the one shown when the other is not, else "write"
// unless both say "read".
func widerPermission(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "" || a == b:
		return a
	}
	return policy.PermissionWrite
}
