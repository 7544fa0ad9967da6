package tools

import (
	"context"
	"math"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
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

// newCreateResult shapes a new key for the structured result.
func newCreateResult(c *keys.Created) createResult {
	return createResult{
		ID: c.ID, Name: c.Name, Tag: c.Tag, Key: c.Secret, KeyFile: c.KeyFile, KeyPrefix: c.KeyPrefix,
		ExpiresAt: timeOrNil(c.ExpiresAt), AllowedEndpoints: c.AllowedEndpoints,
		RateLimitMax: c.RateLimitMax, RateLimitWindowMs: c.RateLimitWindowMs,
	}
}

// createScopedKeyTool mints a scoped key after the policy allows it.
func (h *handlers) createScopedKeyTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("create_scoped_key", "Create a scoped API key",
			"Mint a Supermemory API key scoped to one container tag, if the local policy allows (check_policy dry-runs it). "+
				"Returns the secret once. Never Full Access.",
			createInput, createOutput, writeHints),
		Handler: h.createScopedKey,
	}
}

// createInputOf turns decoded arguments into the service's input. The tag is
// passed on exactly as given: no trimming, folding or normalisation.
func createInputOf(a args) keys.CreateInput {
	return keys.CreateInput{
		Tag:               a.str("tag"),
		Name:              a.str("name"),
		ExpiresInDays:     a.intPtr("expires_in_days"),
		RateLimitMax:      a.intPtr("rate_limit_max"),
		RateLimitWindowMs: a.intPtr("rate_limit_window_ms"),
		FullAccessArgs:    a.fullAccess,
	}
}

func (h *handlers) createScopedKey(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, call, res := h.decode(ctx, req, createArgs, true, keys.ActionCreate)
	if res != nil {
		return res, nil
	}
	c, err := h.keys.Create(ctx, call, createInputOf(a))
	if err != nil {
		return result(nil, nil, err)
	}
	return result(newCreateResult(c), c.Text, nil)
}
