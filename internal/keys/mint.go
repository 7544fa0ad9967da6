package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// mint makes the key the policy allowed, once its intent is recorded: it
// calls the API (never retried), checks the answer — the exact tags and
// permission asked for, else the key is revoked at once and nothing is
// handed on —, records the lease if any, delivers the secret and records
// the result. The call is not cancelled with the request: a create that was
// sent must have its result recorded (or be undone), whatever the client
// does; each upstream attempt has its own timeout.
func (s *Service) mint(ctx context.Context, call Call, p *policy.Policy, e policy.Effective, intent audit.Record) (*Created, error) {
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	created, err := s.api.CreateScopedKey(ctx, client.CreateScopedKeyRequest{
		Tags:              e.Tags,
		Permission:        e.Permission,
		Name:              e.Name,
		ExpiresInDays:     e.ExpiresInDays,
		RateLimitMax:      e.RateLimitMax,
		RateLimitWindowMs: e.RateLimitWindowMs,
	})
	result := s.baseRecord(call, audit.EventCreateResult)
	result.Phase, result.Ref, result.Name, result.Permission = audit.PhaseResult, intent.Seq, e.Name, e.Permission
	setTags(&result, e.Tags)
	result.DurationMs = float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		result.Decision, result.Outcome, result.UpstreamStatus = audit.DecisionError, audit.OutcomeFailed, upstreamStatus(err)
		if errors.Is(err, client.ErrOutcomeUnknown) {
			result.Outcome = audit.OutcomeUnknown
		}
		_, _ = s.appendRecord(ctx, result)
		s.log.Warn().Str("tool", call.Tool).Str("caller", call.Caller.String()).Err(err).Msg("create failed upstream")
		return nil, upstreamFailure(fmt.Sprintf("%s for %s (name %s)", call.Tool, tagsText(e.Tags), policy.Quote(e.Name)), writeCall, err)
	}
	result.Decision, result.Outcome, result.KeyID, result.UpstreamStatus = audit.DecisionAllowed, audit.OutcomeCreated, clean(created.ID), 200

	// The API's answer is checked before anything of it is handed on.
	if problem := s.checkCreated(ctx, p, created, e, call.Caller); problem != "" {
		return nil, s.undoCreate(ctx, call, result, created.ID, &answerMismatch{problem}, start)
	}
	expiresAt := created.ExpiresAt
	if expiresAt.IsZero() {
		// The API did not say; the request did.
		expiresAt = start.UTC().Add(time.Duration(e.ExpiresInDays) * 24 * time.Hour).Truncate(time.Second)
	}
	out := &Created{
		ID: clean(created.ID), Name: clean(created.Name), Tags: e.Tags, Permission: e.Permission,
		ExpiresAt:        expiresAt,
		AllowedEndpoints: cleanAll(created.AllowedEndpoints),
		RateLimitMax:     e.RateLimitMax, RateLimitWindowMs: e.RateLimitWindowMs,
	}
	if out.Name == "" {
		out.Name = e.Name
	}
	if e.LeaseMinutes > 0 {
		// The lease is durable before the key is handed on: a key whose
		// lease cannot be recorded would outlive what the policy allowed.
		out.LeaseEndsAt = s.now().UTC().Add(time.Duration(e.LeaseMinutes) * time.Minute).Truncate(time.Second)
		if err := s.addLease(ctx, call.Caller, created.ID, out.Name, e.Tags, out.LeaseEndsAt); err != nil {
			return nil, s.undoCreate(ctx, call, result, created.ID, fmt.Errorf("its lease could not be recorded: %w", err), start)
		}
		ends := out.LeaseEndsAt
		result.LeaseEndsAt = &ends
	}
	if p.Secrets.Deliver == policy.DeliverFile {
		path, werr := writeSecretFile(p.Secrets.Dir, created.ID, created.Key)
		if werr != nil {
			return nil, s.undoCreate(ctx, call, result, created.ID, werr, start)
		}
		out.KeyFile, out.KeyPrefix = path, maskedPrefix(created.Key)
		result.Reason = "secret delivered to a file"
	} else {
		out.Secret = created.Key.Reveal()
	}
	_, _ = s.appendRecord(ctx, result)
	s.log.Info().Str("tool", call.Tool).Str("caller", call.Caller.String()).Str("key_id", out.ID).Msg("scoped key created")
	return out, nil
}

// addLease records a lease in the store.
func (s *Service) addLease(ctx context.Context, caller Caller, id, name string, tags []string, ends time.Time) error {
	st, err := s.store.get(ctx)
	if err != nil {
		return err
	}
	return st.AddLease(ctx, audit.Lease{KeyID: id, Caller: caller.ID(), Tags: tags, Name: name, EndsAt: ends})
}

// setTags puts a key's tags into a record: Tag for one, Tags for several.
func setTags(r *audit.Record, tags []string) {
	if len(tags) == 1 {
		r.Tag = clean(tags[0])
		return
	}
	r.Tags = cleanAll(tags)
}

// tagsText names tags for a message: "tag X" or "tags X, Y".
func tagsText(tags []string) string {
	q := make([]string, len(tags))
	for i, t := range tags {
		q[i] = policy.Quote(t)
	}
	if len(q) == 1 {
		return "tag " + q[0]
	}
	return "tags " + strings.Join(q, ", ")
}

// checkCreated says what is wrong with a create's answer, or "": the
// secret must look like a key (it goes into a file or the chat verbatim),
// and the key's tags and permission must be exactly those asked for — as
// the answer shows them, else as a fresh listing shows the new key. A
// permission shown nowhere is accepted only for write, and only when the
// policy says the API's default may be assumed.
func (s *Service) checkCreated(ctx context.Context, p *policy.Policy, k *client.CreatedKey, e policy.Effective, caller Caller) string {
	if !secretShape.MatchString(k.Key.Reveal()) {
		return "the API returned a secret that does not look like a Supermemory key"
	}
	tags, perm := k.Tags, k.Permission
	if tags == nil || perm == "" {
		listed, err := s.findTarget(ctx, k.ID)
		switch {
		case err != nil:
			return "the new key could not be checked in a fresh listing (" + clean(err.Error()) + ")"
		case listed == nil:
			return "the new key does not appear in a fresh listing, so its tags and permission could not be checked"
		}
		if tags == nil {
			tags = listed.Tags
			if listed.Kind != client.KindScoped {
				tags = nil // a key the listing shows as Full Access
			}
		}
		if perm == "" {
			perm = listed.Permission
		}
	}
	if problem := compareTags(tags, e.Tags, visibleTo(p, caller)); problem != "" {
		return problem
	}
	switch {
	case perm == e.Permission:
		return ""
	case perm == "" && e.Permission == policy.PermissionWrite && p.Access.AssumeWritePermission:
		return ""
	case perm == "":
		return fmt.Sprintf("the API did not show the new key's permission, so permission %s could not be verified", e.Permission)
	}
	return fmt.Sprintf("the API did not honour permission %s (the key has %s)", e.Permission, policy.Quote(perm))
}

// visibleTo says which tags may be named to a caller: all for the local
// caller, those its rule allows for a remote one.
func visibleTo(p *policy.Policy, c Caller) func(string) bool {
	if !c.Remote() {
		return func(string) bool { return true }
	}
	return p.TagVisible
}

// compareTags says how a key's tags differ from those asked for, or "";
// tags that shown rejects are counted, not named.
func compareTags(got, want []string, shown func(string) bool) string {
	if len(got) == 0 {
		return "the API did not bind the key to any tag (it would be Full Access)"
	}
	var missing, extra []string
	for _, t := range want {
		if !slices.Contains(got, t) {
			missing = append(missing, t)
		}
	}
	for _, t := range got {
		if !slices.Contains(want, t) {
			extra = append(extra, t)
		}
	}
	switch {
	case len(missing) > 0 && len(extra) > 0:
		return fmt.Sprintf("the API did not honour the tags: it left out %s and added %s", tagsText(missing), namedTags(extra, shown))
	case len(missing) > 0:
		return fmt.Sprintf("the API did not honour the tags: it left out %s", tagsText(missing))
	case len(extra) > 0:
		return fmt.Sprintf("the API did not honour the tags: it added %s", namedTags(extra, shown))
	}
	return ""
}

// answerMismatch is the API's answer not being what was asked.
type answerMismatch struct{ problem string }

func (e *answerMismatch) Error() string { return e.problem }

// namedTags names the tags shown allows and counts the others.
func namedTags(tags []string, shown func(string) bool) string {
	var named []string
	hidden := 0
	for _, t := range tags {
		if shown(t) {
			named = append(named, t)
		} else {
			hidden++
		}
	}
	switch {
	case hidden == 0:
		return tagsText(named)
	case len(named) == 0:
		return fmt.Sprintf("%d tag(s) you did not ask for", hidden)
	}
	return fmt.Sprintf("%s and %d other tag(s) you did not ask for", tagsText(named), hidden)
}
