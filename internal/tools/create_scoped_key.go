package tools

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// createInputProps are the properties of create_scoped_key, shared with
// check_policy so that a dry run takes exactly the same request.
const createInputProps = `"tag":{"type":"string","maxLength":100,"description":"The one container tag the key may use"},` +
	`"name":{"type":"string","maxLength":100,"description":"Display name; the policy's prefix is added"},` +
	`"expires_in_days":{"type":"integer","minimum":1,"description":"Default and cap set by policy"},` +
	`"rate_limit_max":{"type":"integer","minimum":1,"description":"Requests per window"},` +
	`"rate_limit_window_ms":{"type":"integer","minimum":1}`

const createInput = `{"type":"object","properties":{` + createInputProps + `},"required":["tag"],"additionalProperties":false}`

const createOutput = `{"type":"object","properties":{` +
	`"id":{"type":"string"},"name":{"type":"string"},"tag":{"type":"string"},` +
	`"key":{"type":"string"},"key_file":{"type":"string"},"key_prefix":{"type":"string"},` +
	`"expires_at":{"type":"string","description":"RFC 3339; absent if it never expires"},"allowed_endpoints":{"type":"array","items":{"type":"string"}},` +
	`"rate_limit_max":{"type":"integer"},"rate_limit_window_ms":{"type":"integer"}},` +
	`"required":["id","name","tag","rate_limit_max","rate_limit_window_ms"]}`

// noLimit lets an integer argument through the decoder at any int32 value,
// so that the policy, not the decoder, names the limit it breaks.
const noLimit = math.MinInt32

// createArgs are the arguments of create_scoped_key and of check_policy's
// create action.
var createArgs = []argSpec{
	// No maxLen on tag and name, and no range on the numbers: the schema
	// advertises the same limits, but the policy checks them, so that a
	// refusal names its rule and check_policy can explain it.
	{name: "tag", typ: argString, required: true},
	{name: "name", typ: argString},
	{name: "expires_in_days", typ: argInteger, min: noLimit},
	{name: "rate_limit_max", typ: argInteger, min: noLimit},
	{name: "rate_limit_window_ms", typ: argInteger, min: noLimit},
}

// createResult is the structured result of create_scoped_key.
type createResult struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Tag               string   `json:"tag"`
	Key               string   `json:"key,omitempty"`
	KeyFile           string   `json:"key_file,omitempty"`
	KeyPrefix         string   `json:"key_prefix,omitempty"`
	ExpiresAt         *string  `json:"expires_at,omitempty"`
	AllowedEndpoints  []string `json:"allowed_endpoints,omitempty"`
	RateLimitMax      int      `json:"rate_limit_max"`
	RateLimitWindowMs int      `json:"rate_limit_window_ms"`
}

// createScopedKeyTool mints a scoped key after the policy allows it.
func (h *handlers) createScopedKeyTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("create_scoped_key", "Create a scoped API key",
			"Mint a Supermemory API key scoped to one container tag, if the local policy allows (check_policy dry-runs it). "+
				"Returns the secret once. Never Full Access.",
			createInput, createOutput, false, false, false),
		Handler: h.createScopedKey,
	}
}

// createRequest turns decoded arguments into a policy request. The tag is
// passed on exactly as given: no trimming, folding or normalisation.
func (h *handlers) createRequest(a args) policy.CreateRequest {
	return policy.CreateRequest{
		Tag:               a.str("tag"),
		Name:              a.str("name"),
		ExpiresInDays:     a.intPtr("expires_in_days"),
		RateLimitMax:      a.intPtr("rate_limit_max"),
		RateLimitWindowMs: a.intPtr("rate_limit_window_ms"),
		FullAccessArgs:    a.fullAccess,
		Now:               h.now(),
	}
}

// evaluateCreate runs the policy on a create request, looking up the facts
// it needs: whether the tag exists (when tags.allow_new is false) and how
// many keys were created recently (when a quota is set). It is shared by
// create_scoped_key and check_policy, so a dry run can never disagree with
// the real thing. The request is returned with its facts filled in.
func (h *handlers) evaluateCreate(ctx context.Context, p *policy.Policy, req policy.CreateRequest) (policy.Decision, policy.CreateRequest, error) {
	if !p.Tags.AllowNew && req.Tag != "" {
		tags, err := h.api.ListTags(ctx)
		if err != nil {
			return policy.Decision{}, req, err
		}
		req.TagExists = policy.No
		for _, t := range tags {
			if t.Tag == req.Tag {
				req.TagExists = policy.Yes
				break
			}
		}
	}
	if p.Quota.MaxKeysPerHour > 0 || p.Quota.MaxKeysPerDay > 0 {
		req.Recent = h.recentCreates(ctx, req.Now)
	}
	return p.EvaluateCreate(req), req, nil
}

func (h *handlers) createScopedKey(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, res := h.decode(ctx, req, createArgs, true, eventCreate)
	if res != nil {
		return res, nil
	}
	p := h.policy.Current()
	d, creq, err := h.evaluateCreate(ctx, p, h.createRequest(a))
	if err != nil {
		return upstreamFailure("create_scoped_key (looking up tags)", readCall, err), nil
	}
	h.logDecision(req, createArgs, d)
	if !d.Allowed {
		_, _ = h.appendRecord(ctx, decisionRecord(ctx, "create_scoped_key", eventCreate, d))
		return refusal("create_scoped_key", p, d), nil
	}
	e := d.Effective
	outcome, res, note := h.confirm.confirm(ctx, req, p.Confirm.Create, createBinding(e), createSummary(e))
	if outcome == confirmAsk {
		return res, nil
	}
	intent := decisionRecord(ctx, "create_scoped_key", eventCreate, d)
	intent.Phase, intent.Reason = phaseIntent, note
	if outcome == confirmRefused {
		intent.Decision, intent.Phase = "denied", ""
		_, _ = h.appendRecord(ctx, intent)
		return res, nil
	}

	// The intent is written before the request: with audit.required a
	// create that cannot be recorded is not made, and a quota is checked
	// again under the log's lock.
	intent, quotaDenial, err := h.reserveCreate(ctx, p, creq, intent)
	switch {
	case quotaDenial != nil:
		_, _ = h.appendRecord(ctx, decisionRecord(ctx, "create_scoped_key", eventCreate, *quotaDenial))
		return refusal("create_scoped_key", p, *quotaDenial), nil
	case err != nil && p.Audit.Required:
		return errorResult("create_scoped_key was not done: the audit log could not be written, and the policy requires every create to be recorded first (audit.required). "+
			"Ask the operator to check MCP_KEYS_AUDIT_LOG (%s). Nothing was created.", clean(err.Error())), nil
	}

	// From here on the call is not cancelled with the request: a create
	// that was sent must have its result recorded (or be undone), whatever
	// the client does. Each upstream attempt has its own timeout.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	created, err := h.api.CreateScopedKey(ctx, client.CreateScopedKeyRequest{
		Tags:              []string{e.Tag},
		Permission:        "write",
		Name:              e.Name,
		ExpiresInDays:     e.ExpiresInDays,
		RateLimitMax:      e.RateLimitMax,
		RateLimitWindowMs: e.RateLimitWindowMs,
	})
	result := audit.Record{Event: eventCreateResult, Phase: phaseResult, Ref: intent.Seq, Tool: "create_scoped_key", Tag: e.Tag, Name: e.Name,
		DurationMs: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		result.Decision, result.Outcome, result.UpstreamStatus = "error", "failed", upstreamStatus(err)
		if errors.Is(err, client.ErrOutcomeUnknown) {
			result.Outcome = "outcome_unknown"
		}
		_, _ = h.appendRecord(ctx, result)
		h.log.Warn().Str("tool", "create_scoped_key").Err(err).Msg("create failed upstream")
		return upstreamFailure(fmt.Sprintf("create_scoped_key for tag %s (name %s)", policy.Quote(e.Tag), policy.Quote(e.Name)), writeCall, err), nil
	}
	result.Decision, result.Outcome, result.KeyID, result.UpstreamStatus = "allowed", "created", clean(created.ID), 200

	// The API's answer is checked before anything of it is handed on: the
	// key must be bound to the tag that was asked for, and the secret must
	// look like a key (it goes into a file or the chat verbatim).
	if problem := checkCreated(created, e.Tag); problem != "" {
		return h.undoCreate(ctx, result, created.ID, errors.New(problem)), nil
	}
	expiresAt := created.ExpiresAt
	if expiresAt.IsZero() {
		// The API did not say; the request did.
		expiresAt = start.UTC().Add(time.Duration(e.ExpiresInDays) * 24 * time.Hour).Truncate(time.Second)
	}
	out := createResult{
		ID: clean(created.ID), Name: clean(created.Name), Tag: e.Tag,
		ExpiresAt:        timeOrNil(expiresAt),
		AllowedEndpoints: cleanAll(created.AllowedEndpoints),
		RateLimitMax:     e.RateLimitMax, RateLimitWindowMs: e.RateLimitWindowMs,
	}
	if out.Name == "" {
		out.Name = e.Name
	}
	var text string
	if p.Secrets.Deliver == policy.DeliverFile {
		path, werr := writeSecretFile(p.Secrets.Dir, created.ID, created.Key)
		if werr != nil {
			return h.undoCreate(ctx, result, created.ID, werr), nil
		}
		out.KeyFile, out.KeyPrefix = path, maskedPrefix(created.Key)
		result.Reason = "secret delivered to a file"
		text = fmt.Sprintf("Created scoped key %q (id %s) for tag %s, expires %s, rate limit %d requests per %d ms.\n"+
			"The secret was written to %s (mode 0600) and is not shown here; it starts %s. Tell the user where it is.",
			out.Name, out.ID, out.Tag, deref(out.ExpiresAt, "never"), out.RateLimitMax, out.RateLimitWindowMs, path, out.KeyPrefix)
	} else {
		out.Key = created.Key.Reveal()
		text = fmt.Sprintf("Created scoped key %q (id %s) for tag %s, expires %s, rate limit %d requests per %d ms.\n"+
			"The secret is shown once, here only; hand it to the user now (it cannot be shown again):\n%s",
			out.Name, out.ID, out.Tag, deref(out.ExpiresAt, "never"), out.RateLimitMax, out.RateLimitWindowMs, out.Key)
	}
	_, _ = h.appendRecord(ctx, result)
	h.log.Info().Str("tool", "create_scoped_key").Str("key_id", out.ID).Msg("scoped key created")
	return mcp.NewToolResultStructured(out, text), nil
}

// secretShape is what a key the API returns must look like before it is
// handed on: sm_, then letters, digits, '_' and '-' only (no spaces, line
// breaks or other characters that could smuggle text into a file or the
// chat).
var secretShape = regexp.MustCompile(`^sm_[A-Za-z0-9_-]{8,256}$`)

// checkCreated says what is wrong with a create's answer, or "".
func checkCreated(k *client.CreatedKey, tag string) string {
	switch {
	case k.ContainerTag != "" && k.ContainerTag != tag:
		return fmt.Sprintf("the API bound the key to tag %s instead of %s", policy.Quote(k.ContainerTag), policy.Quote(tag))
	case !secretShape.MatchString(k.Key.Reveal()):
		return "the API returned a secret that does not look like a Supermemory key"
	}
	return ""
}

// undoCreate revokes a key that must not be handed on (its secret could not
// be delivered to a file, or the API's answer was not what was asked for):
// nobody could safely use it, and it must not linger. The secret never
// falls back to the chat. When the revoke fails the key still exists: it is
// recorded as created, so it keeps its quota slot and can be revoked through
// mcp-keys later.
func (h *handlers) undoCreate(ctx context.Context, result audit.Record, id string, cause error) *mcp.CallToolResult {
	_, rerr := h.api.RevokeKey(ctx, id)
	result.Reason = "not handed on: " + clean(cause.Error())
	if rerr != nil {
		result.Decision, result.Outcome = "allowed", "created"
		result.Reason += "; revoking it again failed, so the key still exists"
	} else {
		result.Decision, result.Outcome = "error", "failed"
		result.Reason += "; revoked again"
	}
	_, _ = h.appendRecord(ctx, result)
	h.log.Error().Err(cause).Str("key_id", clean(id)).Bool("revoked", rerr == nil).Msg("new key not handed on")
	if rerr != nil {
		return errorResult("create_scoped_key: the key %s was created but could not be handed on (%s), and revoking it again failed. "+
			"Call revoke_key with id %s, or ask the operator to revoke it in the Supermemory console.", clean(id), clean(cause.Error()), clean(id))
	}
	return errorResult("create_scoped_key: the key was created but could not be handed on (%s), so it was revoked again; nothing usable was left behind. "+
		"Ask the operator to check the configuration (secrets.dir, SUPERMEMORY_BASE_URL).", clean(cause.Error()))
}

// maskedPrefix shows the non-secret start of a key, sm_<org>_, never any of
// its random part.
func maskedPrefix(k client.Secret) string {
	s := k.Reveal()
	if i := strings.LastIndexByte(s, '_'); i > 0 {
		return s[:i+1] + "…"
	}
	return "sm_…"
}

// upstreamStatus is the HTTP status of a client error, or 0.
func upstreamStatus(err error) int {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status
	}
	return 0
}
