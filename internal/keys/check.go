package keys

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// Checked is the answer of a dry run: the decision, and the policy that
// made it (for its explanation).
type Checked struct {
	// Decision is what the policy decided, every rule included.
	Decision policy.Decision
	// Policy is the policy that decided.
	Policy *policy.Policy
}

// CheckCreate dry-runs a create for the caller with the same facts Create
// would look up, and records the decision (as a check). It calls no write
// endpoint.
func (s *Service) CheckCreate(ctx context.Context, call Call, in CreateInput) (*Checked, error) {
	s.begin(ctx)
	p := s.PolicyFor(call.Caller)
	d, _, err := s.evaluateCreate(ctx, call.Caller, p, s.createRequest(in))
	if err != nil {
		return nil, upstreamFailure(call.Tool+" (looking up tags)", readCall, err)
	}
	s.logDecision(call, d)
	s.appendCheckRecord(ctx, s.decisionRecord(call, audit.EventCheck, d))
	return &Checked{Decision: d, Policy: p}, nil
}

// CheckRevoke dry-runs a revoke for the caller against a fresh listing, and
// records the decision (as a check).
func (s *Service) CheckRevoke(ctx context.Context, call Call, id string) (*Checked, error) {
	s.begin(ctx)
	if err := client.ValidKeyID(id); err != nil {
		return nil, failf(FailInvalid, "Invalid arguments: id %s is not a key id. Call list_keys to see the ids.", policy.Quote(id))
	}
	p := s.PolicyFor(call.Caller)
	d, _, err := s.evaluateRevoke(ctx, call.Caller, p, id)
	if err != nil {
		return nil, upstreamFailure(call.Tool+" (listing keys)", readCall, err)
	}
	s.logDecision(call, d)
	rec := s.decisionRecord(call, audit.EventCheck, d)
	rec.KeyID = clean(id)
	s.appendCheckRecord(ctx, rec)
	return &Checked{Decision: d, Policy: p}, nil
}

// Text is the readable form of a dry run's decision: the verdict, what to
// do next, then each rule on its own line.
func (c *Checked) Text() string {
	d, p := c.Decision, c.Policy
	var b strings.Builder
	if d.Allowed {
		fmt.Fprintf(&b, "ALLOWED: the policy would allow this %s.", d.Action)
		if d.Action == policy.ActionCreate {
			e := d.Effective
			fmt.Fprintf(&b, " It would create a key %s.", KeyTerms(e))
		}
	} else {
		fmt.Fprintf(&b, "DENIED: the policy would refuse this %s.%s", d.Action, nextStep(d.Failed()))
		if p.DeniesAllWrites() {
			b.WriteString(DefaultDenyNote(p))
		}
	}
	for _, r := range d.Rules {
		fmt.Fprintf(&b, "\n- %s: %s — %s", r.Rule, r.Outcome, r.Detail)
	}
	return b.String()
}
