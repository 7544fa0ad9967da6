package tools

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// Audit events and outcomes written by the tools.
const (
	eventCreate       = audit.EventCreate
	eventRevoke       = audit.EventRevoke
	eventCheck        = audit.EventCheck
	eventCreateResult = audit.EventCreateResult
	eventRevokeResult = audit.EventRevokeResult

	phaseIntent = audit.PhaseIntent
	phaseResult = audit.PhaseResult
)

// auditLog opens the audit log on first use (start-up does no I/O that can
// wait) and keeps it open. A failed open is retried on the next call.
type auditLog struct {
	path string
	mu   sync.Mutex
	log  *audit.Log
}

// get returns the open log, or an error saying why there is none.
func (a *auditLog) get() (*audit.Log, error) {
	if a == nil || a.path == "" {
		return nil, errors.New("no audit log path is configured (set MCP_KEYS_AUDIT_LOG, or XDG_STATE_HOME or HOME)")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.log != nil {
		return a.log, nil
	}
	l, err := audit.Open(a.path)
	if err != nil {
		return nil, err
	}
	a.log = l
	return l, nil
}

// clientInfo is the client's name and version from initialize (or, for
// stateless requests, from the request itself).
func clientInfo(ctx context.Context) (name, version string) {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.ClientInfo != nil {
		return clean(info.ClientInfo.Name), clean(info.ClientInfo.Version)
	}
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		ci := s.GetClientInfo()
		return clean(ci.Name), clean(ci.Version)
	}
	return "", ""
}

// decisionRecord is the audit record of a policy decision: the rules that
// decided (the failed ones when denied) and the policy facts of the request.
// It never holds a secret.
func decisionRecord(ctx context.Context, tool string, event audit.Event, d policy.Decision) audit.Record {
	r := audit.Record{Event: event, Tool: tool, Decision: "allowed"}
	rules := d.Rules
	if !d.Allowed {
		r.Decision = "denied"
		r.Reason = d.Reason()
		rules = d.Failed()
	}
	for _, rr := range rules {
		if rr.Outcome == policy.Skip {
			continue
		}
		r.Rules = append(r.Rules, audit.Rule{Rule: rr.Rule, Outcome: string(rr.Outcome), Detail: rr.Detail})
	}
	if d.Action == policy.ActionCreate {
		e := d.Effective
		r.Tag, r.Name, r.ExpiresInDays, r.RateLimitMax, r.RateLimitWindowMs = e.Tag, e.Name, e.ExpiresInDays, e.RateLimitMax, e.RateLimitWindowMs
	}
	r.Client, r.ClientVersion = clientInfo(ctx)
	return r
}

// appendRecord writes a record. Failures are logged; the caller decides
// whether they are fatal (they are for an intent under audit.required).
func (h *handlers) appendRecord(ctx context.Context, r audit.Record) (audit.Record, error) {
	return h.appendRecordSync(ctx, r, true)
}

// appendCheckRecord writes a dry run's record without waiting for fsync:
// check_policy changes nothing, and an fsync per dry run would cost more
// than the rest of the call (the next create or revoke's fsync makes it
// durable).
func (h *handlers) appendCheckRecord(ctx context.Context, r audit.Record) {
	_, _ = h.appendRecordSync(ctx, r, false)
}

func (h *handlers) appendRecordSync(ctx context.Context, r audit.Record, sync bool) (audit.Record, error) {
	l, err := h.audit.get()
	if err != nil {
		h.log.Error().Err(err).Str("event", string(r.Event)).Msg("audit log unavailable")
		return r, err
	}
	if r.Client == "" {
		r.Client, r.ClientVersion = clientInfo(ctx)
	}
	appendFn := l.Append
	if !sync {
		appendFn = l.AppendUnsynced
	}
	out, err := appendFn(ctx, r)
	if err != nil {
		h.log.Error().Err(err).Str("event", string(r.Event)).Msg("audit record not written")
	}
	return out, err
}

// recentCreates counts the creates of the last hour and day from the audit
// log, for quotas. Known is false when the log cannot be read, and the
// policy then refuses any create under a quota.
func (h *handlers) recentCreates(ctx context.Context, now time.Time) policy.CreateCounts {
	l, err := h.audit.get()
	if err != nil {
		return policy.CreateCounts{}
	}
	recent, err := l.Recent(ctx)
	if err != nil {
		h.log.Error().Err(err).Msg("reading the audit log for quotas")
		return policy.CreateCounts{}
	}
	return countsFrom(recent, now)
}

// countsFrom converts the audit package's counts for the policy.
func countsFrom(recent []audit.Record, now time.Time) policy.CreateCounts {
	c := audit.CountCreates(recent, now)
	return policy.CreateCounts{Known: true, LastHour: c.LastHour, LastDay: c.LastDay, HourFreesAt: c.HourFreesAt, DayFreesAt: c.DayFreesAt}
}

// minted says whether the audit log records a key id as minted through
// mcp-keys; Unknown when the log cannot be read.
func (h *handlers) minted(ctx context.Context, id string) policy.Tristate {
	l, err := h.audit.get()
	if err != nil {
		return policy.Unknown
	}
	ok, err := l.Minted(ctx, id)
	switch {
	case err != nil:
		h.log.Error().Err(err).Msg("reading the audit log for provenance")
		return policy.Unknown
	case ok:
		return policy.Yes
	}
	return policy.No
}

// mintedAmong is minted for the shown keys of a listing, in one read.
func (h *handlers) mintedAmong(ctx context.Context, ids []string) (map[string]bool, bool) {
	l, err := h.audit.get()
	if err != nil {
		return nil, false
	}
	found, err := l.MintedAmong(ctx, ids)
	if err != nil {
		h.log.Error().Err(err).Msg("reading the audit log for provenance")
		return nil, false
	}
	return found, true
}

// errQuotaDecision carries a refusal found while reserving a quota slot.
type errQuotaDecision struct{ d policy.Decision }

func (e *errQuotaDecision) Error() string { return "denied: " + e.d.Reason() }

// reserveCreate writes the create intent, re-evaluating the request against
// the quota under the log's lock so that several processes sharing the log
// can never exceed it together. It returns the written intent, or a
// decision when the quota refused, or an error when the log failed.
func (h *handlers) reserveCreate(ctx context.Context, p *policy.Policy, req policy.CreateRequest, intent audit.Record) (audit.Record, *policy.Decision, error) {
	l, err := h.audit.get()
	if err != nil {
		return intent, nil, err
	}
	if p.Quota.MaxKeysPerHour == 0 && p.Quota.MaxKeysPerDay == 0 {
		out, err := l.Append(ctx, intent) // no quota: nothing to count
		if err != nil {
			return intent, nil, fmt.Errorf("audit intent: %w", err)
		}
		return out, nil, nil
	}
	var denied *policy.Decision
	out, err := l.Reserve(ctx, intent, func(recent []audit.Record) error {
		req.Recent = countsFrom(recent, h.now())
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
