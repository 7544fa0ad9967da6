package keys

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
)

// Reaper settings.
const (
	// ReapInterval is how often a long-running server reaps: with it, a
	// leased key stops working within 60 s of its lease's end.
	ReapInterval = 30 * time.Second
	// reapClaim is how long a claimed lease is this process's alone; a
	// process that dies holding one frees it when the claim runs out.
	reapClaim = 2 * time.Minute
	// reapBatch is the most leases one pass claims.
	reapBatch = 100
	// reapMaxBackoff caps the wait before a failed revoke is tried again.
	reapMaxBackoff = 10 * time.Minute
	// ReasonLeaseEnded is the reason the reaper's records give.
	ReasonLeaseEnded = "lease_ended"
)

// ReapReport says what one reaper pass did.
type ReapReport struct {
	// Revoked counts keys revoked now; Gone counts keys already revoked
	// or deleted upstream; Failed counts revokes that failed and will be
	// tried again.
	Revoked, Gone, Failed int
	// LastError is the last failure's text (no secret), if any.
	LastError string
}

// reaperID names this process as a lease claimer: host, pid and a random
// part, so that replicas never hold the same claim.
func reaperID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Reap does one pass of the lease reaper: it claims every lease that has
// ended (so that no other replica revokes the same key), revokes each key,
// and records it as caller system with reason lease_ended. A key already
// gone upstream is recorded as such; a revoke that fails is retried later
// with backoff. Only a key that a fresh listing shows as Scoped is ever
// revoked.
func (s *Service) Reap(ctx context.Context) (rep ReapReport, err error) {
	defer func() {
		s.reaperMu.Lock()
		s.lastReapErr = err
		s.reaperMu.Unlock()
	}()
	st, err := s.store.get(ctx)
	if err != nil {
		return rep, err
	}
	s.pruneFailing(ctx, st)
	now := s.now()
	due, err := st.ClaimDueLeases(ctx, s.reaperID, now, now.Add(reapClaim), reapBatch)
	if err != nil {
		return rep, fmt.Errorf("claim due leases: %w", err)
	}
	if len(due) == 0 {
		return rep, nil
	}
	listed, err := s.api.ListKeys(ctx)
	if err != nil {
		for _, l := range due {
			s.retryLease(ctx, st, l, err, &rep)
		}
		return rep, fmt.Errorf("list keys for the reaper: %w", err)
	}
	byID := make(map[string]client.Key, len(listed))
	for _, k := range listed {
		if _, dup := byID[k.ID]; dup {
			k.Kind = client.KindFull // an ambiguous listing is never revoked by the reaper
		}
		byID[k.ID] = k
	}
	for _, l := range due {
		s.reapOne(ctx, st, l, byID, &rep)
	}
	return rep, nil
}

// reapOne ends one claimed lease.
func (s *Service) reapOne(ctx context.Context, st audit.Store, l audit.Lease, listed map[string]client.Key, rep *ReapReport) {
	call := Call{Caller: System(), Tool: "reaper"}
	rec := s.baseRecord(call, audit.EventRevoke)
	rec.Decision, rec.Reason, rec.KeyID, rec.Name, rec.Tags = audit.DecisionAllowed, ReasonLeaseEnded, clean(l.KeyID), clean(l.Name), cleanAll(l.Tags)
	ends := l.EndsAt
	rec.LeaseEndsAt = &ends
	k, found := listed[l.KeyID]
	switch {
	case !found || !k.Enabled:
		rec.Outcome = audit.OutcomeAlreadyRevoked
		if !found {
			rec.Outcome = audit.OutcomeNotFound
		}
		if _, err := s.appendRecord(ctx, rec); err != nil {
			s.retryLease(ctx, st, l, err, rep)
			return
		}
		if err := st.FinishLease(ctx, l.KeyID, rec.Outcome); err != nil {
			s.log.Error().Err(err).Str("key_id", rec.KeyID).Msg("lease not closed")
		}
		s.leaseEnded(l.KeyID)
		rep.Gone++
		return
	case k.Kind != client.KindScoped:
		// Never revoke a key the listing does not show as Scoped.
		s.retryLease(ctx, st, l, errors.New("the listing does not show the leased key as Scoped; it was not revoked"), rep)
		return
	}
	rec.Phase = audit.PhaseIntent
	intent, err := s.appendRecord(ctx, rec)
	if err != nil {
		s.retryLease(ctx, st, l, err, rep)
		return
	}
	start := time.Now()
	err = s.revokeAndConfirm(ctx, l.KeyID)
	result := s.baseRecord(call, audit.EventRevokeResult)
	result.Phase, result.Ref, result.KeyID, result.Name, result.Tags, result.Reason = audit.PhaseResult, intent.Seq, rec.KeyID, rec.Name, rec.Tags, ReasonLeaseEnded
	result.Decision, result.Outcome, result.UpstreamStatus = audit.DecisionAllowed, audit.OutcomeRevoked, 200
	result.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	switch {
	case errors.Is(err, client.ErrNotFound):
		result.Outcome, result.UpstreamStatus = audit.OutcomeNotFound, 404
	case err != nil:
		result.Decision, result.Outcome, result.UpstreamStatus = audit.DecisionError, audit.OutcomeFailed, upstreamStatus(err)
		_, _ = s.appendRecord(ctx, result)
		s.retryLease(ctx, st, l, err, rep)
		return
	}
	_, _ = s.appendRecord(ctx, result)
	if err := st.FinishLease(ctx, l.KeyID, result.Outcome); err != nil {
		s.log.Error().Err(err).Str("key_id", rec.KeyID).Msg("lease not closed")
	}
	s.leaseEnded(l.KeyID)
	if result.Outcome == audit.OutcomeNotFound {
		rep.Gone++
	} else {
		rep.Revoked++
	}
	s.log.Info().Str("key_id", rec.KeyID).Str("caller", l.Caller).Str("outcome", string(result.Outcome)).Msg("lease ended: key revoked")
}

// retryLease releases a lease whose revoke failed, to be tried again after
// a backoff that doubles with each failure.
func (s *Service) retryLease(ctx context.Context, st audit.Store, l audit.Lease, cause error, rep *ReapReport) {
	attempts := l.Attempts + 1
	wait := min(time.Duration(1<<min(attempts, 10))*5*time.Second, reapMaxBackoff)
	msg := clean(cause.Error())
	if err := st.RetryLease(ctx, l.KeyID, s.now().Add(wait), attempts, msg); err != nil {
		s.log.Error().Err(err).Str("key_id", clean(l.KeyID)).Msg("lease retry not recorded")
	}
	rep.Failed++
	rep.LastError = msg
	s.reaperMu.Lock()
	s.failing[l.KeyID] = msg
	s.reaperMu.Unlock()
	s.log.Warn().Str("key_id", clean(l.KeyID)).Int("attempts", attempts).Dur("retry_in", wait).Str("error", msg).Msg("lease ended but the key could not be revoked; will retry")
}

// pruneFailing forgets the failed keys whose lease is no longer open: a
// replica sharing the store revoked them, or the lease was closed.
func (s *Service) pruneFailing(ctx context.Context, st audit.Store) {
	s.reaperMu.Lock()
	ids := make([]string, 0, len(s.failing))
	for id := range s.failing {
		ids = append(ids, id)
	}
	s.reaperMu.Unlock()
	if len(ids) == 0 {
		return
	}
	open, err := st.Leases(ctx, ids)
	if err != nil {
		return
	}
	for _, id := range ids {
		if _, ok := open[id]; !ok {
			s.leaseEnded(id)
		}
	}
}

// leaseEnded forgets a key the reaper had failed to revoke.
func (s *Service) leaseEnded(id string) {
	s.reaperMu.Lock()
	delete(s.failing, id)
	s.reaperMu.Unlock()
}

// RunReaper reaps at start and then every interval until ctx ends.
func (s *Service) RunReaper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.Reap(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn().Err(err).Msg("reaper pass failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReaperHealth says, for readiness checks, whether a key whose lease ended
// is still alive because its revoke failed (until a later pass revokes
// it), or the last pass failed ("" when all is well).
func (s *Service) ReaperHealth() string {
	s.reaperMu.Lock()
	defer s.reaperMu.Unlock()
	switch {
	case s.lastReapErr != nil:
		return "the lease reaper failed: " + clean(s.lastReapErr.Error())
	case len(s.failing) > 0:
		var last string
		for _, msg := range s.failing {
			last = msg
			break
		}
		return fmt.Sprintf("the lease reaper could not revoke %d key(s) whose lease ended (retrying): %s", len(s.failing), last)
	}
	return ""
}
