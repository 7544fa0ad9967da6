package tools

import (
	"context"
	"fmt"
	"math"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

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
	`"expires_at":{"type":["string","null"]},"allowed_endpoints":{"type":"array","items":{"type":"string"}},` +
	`"rate_limit_max":{"type":"integer"},"rate_limit_window_ms":{"type":"integer"}},` +
	`"required":["id","name","tag","expires_at","rate_limit_max","rate_limit_window_ms"]}`

// noLimit lets an integer argument through the decoder at any int32 value,
// so that the policy, not the decoder, names the limit it breaks.
const noLimit = math.MinInt32

// createArgs are the arguments of create_scoped_key and of check_policy's
// create action.
var createArgs = []argSpec{
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
	ExpiresAt         *string  `json:"expires_at"`
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

// evaluateCreate runs the policy on a create request, looking up whether the
// tag exists when the policy needs to know. It is shared by create_scoped_key
// and check_policy, so a dry run can never disagree with the real thing.
func (h *handlers) evaluateCreate(ctx context.Context, p *policy.Policy, req policy.CreateRequest) (policy.Decision, error) {
	if !p.Tags.AllowNew && req.Tag != "" {
		tags, err := h.api.ListTags(ctx)
		if err != nil {
			return policy.Decision{}, err
		}
		req.TagExists = policy.No
		for _, t := range tags {
			if t.Tag == req.Tag {
				req.TagExists = policy.Yes
				break
			}
		}
	}
	return p.EvaluateCreate(req), nil
}

func (h *handlers) createScopedKey(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, res := h.decode(req, createArgs, true)
	if res != nil {
		return res, nil
	}
	p := h.policy.Current()
	d, err := h.evaluateCreate(ctx, p, h.createRequest(a))
	if err != nil {
		return upstreamFailure("create_scoped_key (looking up tags)", err), nil
	}
	h.logDecision(req, d)
	if !d.Allowed {
		return refusal("create_scoped_key", p, d), nil
	}
	e := d.Effective
	created, err := h.api.CreateScopedKey(ctx, client.CreateScopedKeyRequest{
		ContainerTag:      e.Tag,
		Name:              e.Name,
		ExpiresInDays:     e.ExpiresInDays,
		RateLimitMax:      e.RateLimitMax,
		RateLimitWindowMs: e.RateLimitWindowMs,
	})
	if err != nil {
		h.log.Warn().Str("tool", "create_scoped_key").Err(err).Msg("create failed upstream")
		return upstreamFailure(fmt.Sprintf("create_scoped_key for tag %s (name %s)", policy.Quote(e.Tag), policy.Quote(e.Name)), err), nil
	}
	out := createResult{
		ID: clean(created.ID), Name: clean(created.Name), Tag: e.Tag,
		Key:              created.Key.Reveal(),
		ExpiresAt:        timeOrNil(created.ExpiresAt),
		AllowedEndpoints: cleanAll(created.AllowedEndpoints),
		RateLimitMax:     e.RateLimitMax, RateLimitWindowMs: e.RateLimitWindowMs,
	}
	if out.Name == "" {
		out.Name = e.Name
	}
	h.log.Info().Str("tool", "create_scoped_key").Str("key_id", out.ID).Msg("scoped key created")
	text := fmt.Sprintf("Created scoped key %q (id %s) for tag %s, expires %s, rate limit %d requests per %d ms.\n"+
		"The secret is shown once, here only; store it now (it cannot be shown again):\n%s",
		out.Name, out.ID, out.Tag, deref(out.ExpiresAt, "never"), out.RateLimitMax, out.RateLimitWindowMs, out.Key)
	return mcp.NewToolResultStructured(out, text), nil
}
