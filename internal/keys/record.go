package keys

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// baseRecord is a record of a call: its event, tool, caller and client.
func (s *Service) baseRecord(call Call, event audit.Event) audit.Record {
	return audit.Record{Event: event, Tool: call.Tool, Caller: call.Caller.ID(), Client: clean(call.Client), ClientVersion: clean(call.ClientVersion)}
}

// decisionRecord is the audit record of a policy decision: the rules that
// decided (the failed ones when denied) and the policy facts of the request.
// It never holds a secret.
func (s *Service) decisionRecord(call Call, event audit.Event, d policy.Decision) audit.Record {
	r := s.baseRecord(call, event)
	r.Decision = audit.DecisionAllowed
	rules := d.Rules
	if !d.Allowed {
		r.Decision = audit.DecisionDenied
		r.Reason = d.Reason()
		rules = d.Failed()
	}
	for _, rr := range rules {
		if rr.Outcome == policy.Skip {
			continue
		}
		r.Rules = append(r.Rules, audit.Rule{Rule: rr.Rule, Outcome: string(rr.Outcome), Detail: rr.Detail})
	}
	if d.Action == policy.ActionCreate || d.Action == policy.ActionRotate {
		e := d.Effective
		setTags(&r, e.Tags)
		r.Permission, r.Name, r.ExpiresInDays, r.RateLimitMax, r.RateLimitWindowMs = e.Permission, e.Name, e.ExpiresInDays, e.RateLimitMax, e.RateLimitWindowMs
	}
	return r
}

// logDecision records a policy decision on stderr: action, caller, outcome,
// failed rule names and argument names — never argument values.
func (s *Service) logDecision(call Call, d policy.Decision) {
	ev := s.log.Info().Str("tool", call.Tool).Str("caller", call.Caller.String()).Str("action", string(d.Action)).Bool("allowed", d.Allowed).
		Strs("args", call.Args).Int("other_args", call.OtherArgs)
	if !d.Allowed {
		rules := make([]string, 0, 2)
		for _, r := range d.Failed() {
			rules = append(rules, r.Rule)
		}
		ev = ev.Strs("failed_rules", rules)
	}
	ev.Msg("policy decision")
}

// appendRecord writes a record durably. Failures are logged; the caller
// decides whether they are fatal (they are for an intent under
// audit.required).
func (s *Service) appendRecord(ctx context.Context, r audit.Record) (audit.Record, error) {
	st, err := s.store.get(ctx)
	if err != nil {
		s.log.Error().Err(err).Str("event", string(r.Event)).Msg("audit log unavailable")
		return r, err
	}
	out, err := st.Append(ctx, r)
	if err != nil {
		s.log.Error().Err(err).Str("event", string(r.Event)).Msg("audit record not written")
	}
	return out, err
}

// appendCheckRecord writes a dry run's record without waiting for fsync:
// a check changes nothing, and an fsync per dry run would cost more than
// the rest of the call (the next create or revoke's fsync makes it
// durable).
func (s *Service) appendCheckRecord(ctx context.Context, r audit.Record) {
	st, err := s.store.get(ctx)
	if err != nil {
		s.log.Error().Err(err).Str("event", string(r.Event)).Msg("audit log unavailable")
		return
	}
	if err := st.AppendCheck(ctx, r); err != nil {
		s.log.Error().Err(err).Str("event", string(r.Event)).Msg("audit record not written")
	}
}

// createCounts converts the store's counts for the policy.
func createCounts(c audit.Counts) policy.CreateCounts {
	return policy.CreateCounts{Known: true, LastHour: c.LastHour, LastDay: c.LastDay, HourFreesAt: c.HourFreesAt, DayFreesAt: c.DayFreesAt}
}

// recentCreates counts the creates of the last hour and day, for quotas:
// everyone's, and the caller's own. Known is false when the store cannot
// be read, and the policy then refuses any create under a quota.
func (s *Service) recentCreates(ctx context.Context, caller Caller, now time.Time) (global, own policy.CreateCounts) {
	st, err := s.store.get(ctx)
	if err != nil {
		return policy.CreateCounts{}, policy.CreateCounts{}
	}
	c, err := st.Counts(ctx, caller.ID(), now)
	if err != nil {
		s.log.Error().Err(err).Msg("reading the audit log for quotas")
		return policy.CreateCounts{}, policy.CreateCounts{}
	}
	return createCounts(c.Global), createCounts(c.Caller)
}

// hasQuota reports whether a policy counts creates: globally or per caller.
func hasQuota(p *policy.Policy) bool {
	return p.Quota.MaxKeysPerHour > 0 || p.Quota.MaxKeysPerDay > 0 || p.CallerQuota.MaxKeysPerHour > 0 || p.CallerQuota.MaxKeysPerDay > 0
}

// mintedAmong says which of ids the store records as minted through
// mcp-keys; ok is false when the store cannot be read.
func (s *Service) mintedAmong(ctx context.Context, ids []string) (map[string]audit.Mint, bool) {
	st, err := s.store.get(ctx)
	if err != nil {
		return nil, false
	}
	found, err := st.Minted(ctx, ids)
	if err != nil {
		s.log.Error().Err(err).Msg("reading the audit log for provenance")
		return nil, false
	}
	return found, true
}

// errQuotaDecision carries a refusal found while reserving a quota slot.
type errQuotaDecision struct{ d policy.Decision }

func (e *errQuotaDecision) Error() string { return "denied: " + e.d.Reason() }

// reserveCreate writes the create intent, re-evaluating the request against
// the quota in the same atomic step of the store, so that several processes
// or replicas sharing it can never exceed it together. It returns the
// written intent, or a decision when the quota refused, or an error when
// the store failed.
func (s *Service) reserveCreate(ctx context.Context, p *policy.Policy, req policy.CreateRequest, intent audit.Record) (audit.Record, *policy.Decision, error) {
	st, err := s.store.get(ctx)
	if err != nil {
		return intent, nil, err
	}
	if !hasQuota(p) {
		out, err := st.Append(ctx, intent) // no quota: nothing to count
		if err != nil {
			return intent, nil, fmt.Errorf("audit intent: %w", err)
		}
		return out, nil, nil
	}
	var denied *policy.Decision
	out, err := st.Reserve(ctx, intent, func(c audit.QuotaCounts) error {
		req.Recent, req.CallerRecent = createCounts(c.Global), createCounts(c.Caller)
		if d := p.EvaluateCreate(req); !d.Allowed {
			denied = &d
			return &errQuotaDecision{d: d}
		}
		return nil
	})
	if denied != nil {
		return intent, denied, nil
	}
	if err != nil {
		return intent, nil, fmt.Errorf("audit intent: %w", err)
	}
	return out, nil, nil
}

// chainBroken reports whether a store error says the audit chain failed
// verification: then nothing in the store can be trusted, and every write
// is refused whatever audit.required says.
func chainBroken(err error) bool {
	var ve *audit.VerifyError
	return errors.Is(err, audit.ErrChainBroken) || errors.As(err, &ve)
}

// storeFailure is the refusal of a write whose intent could not be
// recorded first: the chain fails verification (always refused), or the
// store cannot be written under audit.required.
func storeFailure(call Call, what string, err error) *Failure {
	if chainBroken(err) {
		return &Failure{Kind: FailStore, Err: err, Message: fmt.Sprintf("%s was not done: the audit chain fails verification (%s), so mcp-keys refuses every create, revoke and rotate until the operator deals with it "+
			"(`mcp-keys audit verify` says what to do). Nothing was changed.", call.Tool, clean(err.Error()))}
	}
	return &Failure{Kind: FailStore, Err: err, Message: fmt.Sprintf("%s was not done: the audit log could not be written, and the policy requires every %s to be recorded first (audit.required). "+
		"Ask the operator to check MCP_KEYS_AUDIT_LOG or MCP_KEYS_DATABASE_URL (%s). Nothing was changed.", call.Tool, what, clean(err.Error()))}
}

// mustRecord reports whether a write must stop because its intent could
// not be recorded: under audit.required, always when the chain fails
// verification, and always for a remote caller (a shared server never
// writes what it cannot record: provenance and per-caller isolation rest
// on the record).
func mustRecord(call Call, p *policy.Policy, err error) bool {
	return err != nil && (p.Audit.Required || chainBroken(err) || call.Caller.Remote())
}
