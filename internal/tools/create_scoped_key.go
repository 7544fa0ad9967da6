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
const createInputProps = `"tag":{"type":"string","maxLength":100,"description":"One tag, or tags"},` +
	`"tags":{"type":"array","items":{"type":"string"},"minItems":1,"uniqueItems":true},` +
	`"permission":{"type":"string","enum":["read","write"]},` +
	`"name":{"type":"string","maxLength":100},` +
	`"expires_in_days":{"type":"integer","minimum":1},` +
	`"lease_minutes":{"type":"integer","minimum":1,"description":"mcp-keys revokes it then"},` +
	`"rate_limit_max":{"type":"integer","minimum":1},` +
	`"rate_limit_window_ms":{"type":"integer","minimum":1}`

const createInput = `{"type":"object","properties":{` + createInputProps + `},"additionalProperties":false}`

// keyResultProps are the properties of a new key in a result, shared by
// create_scoped_key and rotate_key.
const keyResultProps = `"id":{"type":"string"},"name":{"type":"string"},"tags":{"type":"array","items":{"type":"string"}},` +
	`"permission":{"type":"string"},"key":{"type":"string"},"key_file":{"type":"string"},` +
	`"expires_at":{"type":"string"},"lease_ends_at":{"type":"string"}`

const createOutput = `{"type":"object","properties":{` + keyResultProps + `},` +
	`"required":["id","name","tags","permission"]}`

// noLimit lets an integer argument through the decoder at any int32 value,
// so that the policy, not the decoder, names the limit it breaks.
const noLimit = math.MinInt32

// createArgs are the arguments of create_scoped_key and of check_policy's
// create action.
var createArgs = []argSpec{
	// No maxLen on tags and name, and no range on the numbers: the schema
	// advertises the same limits, but the policy checks them, so that a
	// refusal names its rule and check_policy can explain it. A missing
	// tag (and tags) is a Full Access shape the policy refuses.
	{name: "tag", typ: argString},
	{name: "tags", typ: argStringList},
	{name: "permission", typ: argString},
	{name: "name", typ: argString},
	{name: "expires_in_days", typ: argInteger, min: noLimit},
	{name: "lease_minutes", typ: argInteger, min: noLimit},
	{name: "rate_limit_max", typ: argInteger, min: noLimit},
	{name: "rate_limit_window_ms", typ: argInteger, min: noLimit},
}

// createResult is the structured result of create_scoped_key.
type createResult struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Tag               string   `json:"tag,omitempty"`
	Tags              []string `json:"tags"`
	Permission        string   `json:"permission"`
	Key               string   `json:"key,omitempty"`
	KeyFile           string   `json:"key_file,omitempty"`
	KeyPrefix         string   `json:"key_prefix,omitempty"`
	ExpiresAt         *string  `json:"expires_at,omitempty"`
	LeaseEndsAt       *string  `json:"lease_ends_at,omitempty"`
	AllowedEndpoints  []string `json:"allowed_endpoints,omitempty"`
	RateLimitMax      int      `json:"rate_limit_max"`
	RateLimitWindowMs int      `json:"rate_limit_window_ms"`
}

// newCreateResult shapes a new key for the structured result.
func newCreateResult(c *keys.Created) createResult {
	out := createResult{
		ID: c.ID, Name: c.Name, Tags: c.Tags, Permission: c.Permission, Key: c.Secret, KeyFile: c.KeyFile, KeyPrefix: c.KeyPrefix,
		ExpiresAt: timeOrNil(c.ExpiresAt), LeaseEndsAt: timeOrNil(c.LeaseEndsAt), AllowedEndpoints: c.AllowedEndpoints,
		RateLimitMax: c.RateLimitMax, RateLimitWindowMs: c.RateLimitWindowMs,
	}
	if len(c.Tags) == 1 {
		out.Tag = c.Tags[0]
	}
	return out
}

// createScopedKeyTool mints a scoped key after the policy allows it.
func (h *handlers) createScopedKeyTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("create_scoped_key", "Create a scoped API key",
			"Mint a key scoped to container tags, read or write, if the policy allows (check_policy dry-runs it). Returns the secret once. Never Full Access.",
			createInput, createOutput, writeHints),
		Handler: h.createScopedKey,
	}
}

// createInputOf turns decoded arguments into the service's input. The tag is
// passed on exactly as given: no trimming, folding or normalisation.
func createInputOf(a args) keys.CreateInput {
	return keys.CreateInput{
		Tag:               a.str("tag"),
		Tags:              a.list("tags"),
		TagsSet:           a.has("tags"),
		Permission:        a.str("permission"),
		Name:              a.str("name"),
		ExpiresInDays:     a.intPtr("expires_in_days"),
		LeaseMinutes:      a.intPtr("lease_minutes"),
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
