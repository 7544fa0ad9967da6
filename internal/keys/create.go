package keys

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// CreateInput is a request for a scoped key, exactly as the caller gave it:
// no trimming, folding or normalisation happens between here and the
// upstream request.
type CreateInput struct {
	// Tag is the one container tag (the tag argument), and Tags several
	// (the tags argument, given when TagsSet): exactly one of them.
	Tag     string
	Tags    []string
	TagsSet bool
	// Permission is "read", "write" or "" (the policy's default); anything
	// else is refused as a Full Access attempt.
	Permission string
	// Name is the requested display name ("" = the policy's default).
	Name string
	// ExpiresInDays, RateLimitMax and RateLimitWindowMs are nil when not
	// given.
	ExpiresInDays, RateLimitMax, RateLimitWindowMs *int
	// LeaseMinutes asks for a lease instead of an expiry: mcp-keys revokes
	// the key itself when it ends.
	LeaseMinutes *int
	// FullAccessArgs names the arguments through which the call asked for
	// Full Access (see IsFullAccessArgument); the policy refuses them.
	FullAccessArgs []string
}

// Created is a key that was minted and handed on.
type Created struct {
	// ID and Name are the new key's.
	ID, Name string
	// Tags are the key's container tags, and Permission "read" or "write",
	// exactly as asked and as the API's answer confirmed.
	Tags       []string
	Permission string
	// Secret is the key itself, when it is handed to the caller; empty
	// when it was written to KeyFile instead.
	Secret string
	// KeyFile is where the secret was written, and KeyPrefix its
	// non-secret start, when secrets go to files.
	KeyFile, KeyPrefix string
	// ExpiresAt is when the key expires (zero: never).
	ExpiresAt time.Time
	// LeaseEndsAt is when mcp-keys revokes the key (zero: no lease).
	LeaseEndsAt time.Time
	// AllowedEndpoints are the data endpoints the key may call.
	AllowedEndpoints []string
	// RateLimitMax and RateLimitWindowMs are the key's rate limit.
	RateLimitMax, RateLimitWindowMs int
}

// createRequest turns an input into a policy request at now.
func (s *Service) createRequest(in CreateInput) policy.CreateRequest {
	return policy.CreateRequest{
		Tag:               in.Tag,
		Tags:              in.Tags,
		TagsSet:           in.TagsSet,
		Permission:        in.Permission,
		Name:              in.Name,
		ExpiresInDays:     in.ExpiresInDays,
		LeaseMinutes:      in.LeaseMinutes,
		RateLimitMax:      in.RateLimitMax,
		RateLimitWindowMs: in.RateLimitWindowMs,
		FullAccessArgs:    in.FullAccessArgs,
		Now:               s.now(),
	}
}

// evaluateCreate runs the policy on a create request, looking up the facts
// it needs: whether the tag exists (when tags.allow_new is false) and how
// many keys were created recently (when a quota is set). Create and Check
// share it, so a dry run can never disagree with the real thing. The
// request is returned with its facts filled in.
func (s *Service) evaluateCreate(ctx context.Context, caller Caller, p *policy.Policy, req policy.CreateRequest) (policy.Decision, policy.CreateRequest, error) {
	if asked := requestedTags(req); !p.Tags.AllowNew && len(asked) > 0 {
		tags, err := s.api.ListTags(ctx)
		switch {
		case errors.Is(err, ErrNoAPI):
			req.TagExists = policy.Unknown // the policy says it cannot tell
			return p.EvaluateCreate(s.withCounts(ctx, caller, p, req)), req, nil
		case err != nil:
			return policy.Decision{}, req, err
		}
		existing := make(map[string]bool, len(tags))
		for _, t := range tags {
			existing[t.Tag] = true
		}
		req.TagsExist = make(map[string]policy.Tristate, len(asked))
		for _, t := range asked {
			if ok, _ := p.CheckTag(t); !ok {
				// Refused anyway: whether it exists is not this caller's
				// business (a remote caller could probe tags outside its
				// rule), so it stays Unknown.
				continue
			}
			req.TagsExist[t] = policy.No
			if existing[t] {
				req.TagsExist[t] = policy.Yes
			}
		}
		req.TagExists = req.TagsExist[req.Tag]
	}
	req = s.withCounts(ctx, caller, p, req)
	return p.EvaluateCreate(req), req, nil
}

// requestedTags are the tags a create request names: its tag, or its tags.
func requestedTags(req policy.CreateRequest) []string {
	if req.TagsSet {
		return req.Tags
	}
	if req.Tag != "" {
		return []string{req.Tag}
	}
	return nil
}

// withCounts fills in the create counts a quota needs, when one is set.
func (s *Service) withCounts(ctx context.Context, caller Caller, p *policy.Policy, req policy.CreateRequest) policy.CreateRequest {
	if hasQuota(p) {
		req.Recent, req.CallerRecent = s.recentCreates(ctx, caller, req.Now)
	}
	return req
}

// ErrNoAPI is returned by an API that has no upstream to ask (a dry run
// from the command line without an operator key): the facts it would give
// are unknown, and the policy says so, instead of the call failing.
var ErrNoAPI = errors.New("no operator key is configured (SUPERMEMORY_API_KEY or SUPERMEMORY_API_KEY_FILE)")

// Create mints a scoped key after the policy allows it for the caller:
// evaluate → confirm → reserve the quota and record the intent → call the
// API → check its answer → deliver the secret → record the result. It
// returns an *Ask when a person must confirm first, a *Failure for a
// refusal or failure the caller can act on, and any other error only for a
// bug.
func (s *Service) Create(ctx context.Context, call Call, in CreateInput) (*Created, error) {
	s.begin(ctx)
	if f := s.trusted(ctx, call); f != nil {
		return nil, f
	}
	p := s.PolicyFor(call.Caller)
	d, creq, err := s.evaluateCreate(ctx, call.Caller, p, s.createRequest(in))
	if err != nil {
		return nil, upstreamFailure(call.Tool+" (looking up tags)", readCall, err)
	}
	s.logDecision(call, d)
	if !d.Allowed {
		_, _ = s.appendRecord(ctx, s.decisionRecord(call, audit.EventCreate, d))
		return nil, refusal(call.Tool, p, d)
	}
	e := d.Effective
	outcome, cerr, note := s.conf.confirm(ctx, call, p.Confirm.Create, createBinding(e), createSummary(e))
	if outcome == confirmAsk {
		return nil, cerr
	}
	intent := s.decisionRecord(call, audit.EventCreate, d)
	intent.Phase, intent.Reason = audit.PhaseIntent, note
	if outcome == confirmRefused {
		intent.Decision, intent.Phase = audit.DecisionDenied, ""
		_, _ = s.appendRecord(ctx, intent)
		return nil, cerr
	}

	// The intent is written before the request: with audit.required a
	// create that cannot be recorded is not made, and a quota is checked
	// again in the same atomic step as the intent is written.
	intent, quotaDenial, err := s.reserveCreate(ctx, p, creq, intent)
	switch {
	case quotaDenial != nil:
		_, _ = s.appendRecord(ctx, s.decisionRecord(call, audit.EventCreate, *quotaDenial))
		return nil, refusal(call.Tool, p, *quotaDenial)
	case mustRecord(call, p, err):
		return nil, storeFailure(call, "create", err)
	}

	return s.mint(ctx, call, p, e, intent)
}

// secretShape is what a key the API returns must look like before it is
// handed on: sm_, then letters, digits, '_' and '-' only (no spaces, line
// breaks or other characters that could smuggle text into a file or the
// chat).
var secretShape = regexp.MustCompile(`^sm_[A-Za-z0-9_-]{8,256}$`)

// undoCreate revokes a key that must not be handed on (its secret could not
// be delivered to a file, or the API's answer was not what was asked for):
// nobody could safely use it, and it must not linger. The secret never
// falls back to the chat. When the revoke fails the key still exists: it is
// recorded as created, so it keeps its quota slot and can be revoked through
// mcp-keys later.
//
// The id comes from the API's answer, which is what failed the checks: the
// DELETE is sent only for a key a fresh listing shows as Scoped, or as a
// key created by this very call (a Full Access key minted by mistake), never
// for another existing key whose id the answer might carry.
func (s *Service) undoCreate(ctx context.Context, call Call, result audit.Record, id string, cause error, sent time.Time) *Failure {
	rerr := s.revokeOwnMint(ctx, id, sent)
	result.Reason = "not handed on: " + clean(cause.Error())
	if rerr != nil {
		result.Decision, result.Outcome = audit.DecisionAllowed, audit.OutcomeCreated
		result.Reason += "; revoking it again failed, so the key still exists"
	} else {
		result.Decision, result.Outcome = audit.DecisionError, audit.OutcomeFailed
		result.Reason += "; revoked again"
		s.closeLease(ctx, id) // a lease recorded before the hand-on failed
	}
	_, _ = s.appendRecord(ctx, result)
	s.log.Error().Err(cause).Str("key_id", clean(id)).Bool("revoked", rerr == nil).Msg("new key not handed on")
	if rerr != nil {
		return failf(FailNotHandedOn, "%s: the key %s was created but could not be handed on (%s), and revoking it again failed. "+
			"Call revoke_key with id %s, or ask the operator to revoke it in the Supermemory console.", call.Tool, clean(id), clean(cause.Error()), clean(id))
	}
	next := "Ask the operator to check the configuration (secrets.dir, SUPERMEMORY_BASE_URL)."
	if errors.As(cause, new(*answerMismatch)) {
		next = "The Supermemory API did not mint what was asked; do not retry blindly: check_policy shows the request, and the operator can check the API (mcp-keys doctor)."
	}
	return failf(FailNotHandedOn, "%s: the key was created but could not be handed on (%s), so it was revoked again at once; nothing usable was created. %s",
		call.Tool, clean(cause.Error()), next)
}

// maskedPrefix shows a fixed, short, non-secret start of a key: "sm_", the
// organisation part up to the next "_", and at most four characters more,
// whatever the key's shape ("_" may also occur in its random part, so the
// last "_" would show most of it).
func maskedPrefix(k client.Secret) string {
	const more = 4
	s := k.Reveal()
	if !strings.HasPrefix(s, "sm_") {
		return "sm_…"
	}
	end := len("sm_")
	if i := strings.IndexByte(s[end:], '_'); i >= 0 {
		end += i + 1 // the organisation part; without one, all is random
	}
	return s[:min(end+more, len(s))] + "…"
}

// upstreamStatus is the HTTP status of a client error, or 0.
func upstreamStatus(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	return 0
}

// revokeOwnMint revokes a key this call minted, after a fresh listing shows
// it as Scoped, or as created since the create was sent (a minute of clock
// skew allowed).
func (s *Service) revokeOwnMint(ctx context.Context, id string, sent time.Time) error {
	k, err := s.findTarget(ctx, id)
	switch {
	case err != nil:
		return fmt.Errorf("listing keys before revoking it: %w", err)
	case k == nil:
		return errors.New("the key does not appear in a fresh listing")
	case k.Kind != client.KindScoped && (k.CreatedAt.IsZero() || k.CreatedAt.Before(sent.Add(-time.Minute))):
		return errors.New("a fresh listing shows that id as an older Full Access key, which mcp-keys never revokes")
	}
	_, err = s.api.RevokeKey(ctx, id)
	return err
}

// fullAccessWords are fragments of argument names that ask for more than a
// scoped key: a permission level, a scope, admin rights, several tags.
// It is compiled on first use: a case-insensitive alternation costs a
// quarter of a megabyte and milliseconds, which a server that is only
// listed should not pay at start-up.
var fullAccessWords = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i)full|perm|scope|admin|access|role|container_?tags|^tags$|^all$|unrestricted|org`)
})

// IsFullAccessArgument reports whether an argument name the action does not
// know is an attempt to ask for Full Access (or for a wider key than the
// arguments allow): such a call is refused by the policy as a Full Access
// attempt, not as a mere unknown argument.
func IsFullAccessArgument(name string) bool {
	return fullAccessWords().MatchString(name)
}
