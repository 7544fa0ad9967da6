package tools

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

const revokeInput = `{"type":"object","properties":{` +
	`"id":{"type":"string","maxLength":128,"description":"Key id from list_keys"}},` +
	`"required":["id"],"additionalProperties":false}`

const revokeOutput = `{"type":"object","properties":{` +
	`"id":{"type":"string"},"name":{"type":"string"},"revoked":{"type":"boolean"},"already_revoked":{"type":"boolean"}},` +
	`"required":["id","name","revoked"]}`

var revokeArgs = []argSpec{{name: "id", typ: argString, required: true, maxLen: 128}}

// revokeResult is the structured result of revoke_key.
type revokeResult struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Revoked        bool   `json:"revoked"`
	AlreadyRevoked bool   `json:"already_revoked,omitempty"`
}

// revokeKeyTool disables a scoped key that the policy lets mcp-keys revoke.
func (h *handlers) revokeKeyTool() server.ServerTool {
	return server.ServerTool{
		Tool: newTool("revoke_key", "Revoke a scoped API key",
			"Revoke (disable) a scoped key by id, if the local policy allows; it stops working at once. Never a Full Access key.",
			revokeInput, revokeOutput, false, true, true),
		Handler: h.revokeKey,
	}
}

// findTarget looks the id up in a fresh listing; nil when it is not there.
// The id is compared exactly. A listing that shows the id more than once
// gives the merge of its entries, as revocable as the least of them.
func (h *handlers) findTarget(ctx context.Context, id string) (*client.Key, error) {
	keys, err := h.api.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var found *client.Key
	for i := range keys {
		if keys[i].ID != id {
			continue
		}
		if found == nil {
			k := keys[i]
			found = &k
			continue
		}
		// The same id twice: merge so that the key looks no more
		// revocable than its least revocable listing.
		k := keys[i]
		if k.Kind != client.KindScoped {
			found.Kind = client.KindFull
		}
		for _, t := range k.Tags {
			if !slices.Contains(found.Tags, t) {
				found.Tags = append(found.Tags, t)
			}
		}
		found.Enabled = found.Enabled || k.Enabled
		if k.Name != found.Name {
			found.Name = "(conflicting names)"
		}
	}
	return found, nil
}

// evaluateRevoke runs the policy on a revoke request against a fresh
// listing. It is shared by revoke_key and check_policy.
func (h *handlers) evaluateRevoke(ctx context.Context, p *policy.Policy, id string) (policy.Decision, *client.Key, error) {
	k, err := h.findTarget(ctx, id)
	if err != nil {
		return policy.Decision{}, nil, err
	}
	req := policy.RevokeRequest{ID: id}
	if k != nil {
		req.Target = revokeTarget(k)
		if p.Revoke.OnlyMinted {
			req.Target.Minted = h.minted(ctx, id)
		}
	}
	return p.EvaluateRevoke(req), k, nil
}

func (h *handlers) revokeKey(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	a, res := h.decode(ctx, req, revokeArgs, false, eventRevoke)
	if res != nil {
		return res, nil
	}
	id := a.str("id")
	if err := client.ValidKeyID(id); err != nil {
		return errorResult("Invalid arguments: id %s is not a key id (ids are letters, digits, '-' and '_'). Call list_keys to see the ids.", policy.Quote(id)), nil
	}
	p := h.policy.Current()
	d, k, err := h.evaluateRevoke(ctx, p, id)
	if err != nil {
		return upstreamFailure("revoke_key (listing keys)", readCall, err), nil
	}
	h.logDecision(req, revokeArgs, d)
	rec := decisionRecord(ctx, "revoke_key", eventRevoke, d)
	rec.KeyID = clean(id)
	if k != nil {
		rec.Name = clean(k.Name)
		if len(k.Tags) == 1 {
			rec.Tag = clean(k.Tags[0])
		}
	}
	if k == nil {
		_, _ = h.appendRecord(ctx, rec)
		msg := fmt.Sprintf("revoke_key: not found: no key with id %s exists in the organisation. Call list_keys to see the current ids.", policy.Quote(id))
		if p.DeniesAllWrites() {
			msg += defaultDenyNote(p)
		}
		return mcp.NewToolResultError(msg), nil
	}
	if !d.Allowed {
		_, _ = h.appendRecord(ctx, rec)
		return refusal("revoke_key", p, d), nil
	}
	out := revokeResult{ID: clean(k.ID), Name: clean(k.Name), Revoked: true}
	if !k.Enabled {
		rec.Outcome = "already_revoked"
		_, _ = h.appendRecord(ctx, rec)
		out.AlreadyRevoked = true
		return mcp.NewToolResultStructured(out, fmt.Sprintf("Key %q (id %s) was already revoked; nothing to do.", out.Name, out.ID)), nil
	}
	outcome, res, note := h.confirm.confirm(ctx, req, p.Confirm.Revoke, revokeBinding(id), revokeSummary(id, k.Name, k.Tags))
	if outcome == confirmAsk {
		return res, nil
	}
	rec.Reason = note
	if outcome == confirmRefused {
		rec.Decision = "denied"
		_, _ = h.appendRecord(ctx, rec)
		return res, nil
	}
	rec.Phase = phaseIntent
	intent, err := h.appendRecord(ctx, rec)
	if err != nil && p.Audit.Required {
		return errorResult("revoke_key was not done: the audit log could not be written, and the policy requires every revoke to be recorded first (audit.required). "+
			"Ask the operator to check MCP_KEYS_AUDIT_LOG (%s). Nothing was changed.", clean(err.Error())), nil
	}
	// As for a create: once the intent is written, the revoke and its
	// result record are not cancelled with the request.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	err = h.revokeAndConfirm(ctx, id)
	result := audit.Record{Event: eventRevokeResult, Phase: phaseResult, Ref: intent.Seq, Tool: "revoke_key", KeyID: rec.KeyID, Name: rec.Name, Tag: rec.Tag,
		Decision: "allowed", Outcome: "revoked", UpstreamStatus: 200, DurationMs: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		result.Decision, result.Outcome, result.UpstreamStatus = "error", "failed", upstreamStatus(err)
		if errors.Is(err, client.ErrNotFound) {
			result.Outcome = "not_found"
		}
		_, _ = h.appendRecord(ctx, result)
		if errors.Is(err, client.ErrNotFound) {
			return errorResult("revoke_key: not found: key %s disappeared before it could be revoked. Call list_keys to check.", policy.Quote(id)), nil
		}
		if errors.Is(err, errStillEnabled) {
			return errorResult("revoke_key for %s failed: the API acknowledged the revoke, but a fresh listing still shows the key enabled. Try again in a minute; if it persists, a person can revoke it in the Supermemory console.", policy.Quote(id)), nil
		}
		return upstreamFailure(fmt.Sprintf("revoke_key for %s", policy.Quote(id)), writeCall, err), nil
	}
	_, _ = h.appendRecord(ctx, result)
	h.log.Info().Str("tool", "revoke_key").Str("key_id", out.ID).Msg("key revoked")
	return mcp.NewToolResultStructured(out, fmt.Sprintf("Revoked key %q (id %s); it stops working at once. Memories and tags are untouched.", out.Name, out.ID)), nil
}

// errStillEnabled means the API acknowledged a revoke that a fresh listing
// does not show.
var errStillEnabled = errors.New("the key is still enabled after the revoke")

// revokeAndConfirm revokes a key and checks the result in a fresh listing:
// an answer of success:false, or an unreadable one, is not taken on trust.
func (h *handlers) revokeAndConfirm(ctx context.Context, id string) error {
	res, err := h.api.RevokeKey(ctx, id)
	if errors.Is(err, client.ErrNotFound) {
		// A retried DELETE can answer 404 after an earlier attempt worked:
		// a listing that shows the key disabled says it did.
		if k, lerr := h.findTarget(ctx, id); lerr == nil && k != nil && !k.Enabled {
			return nil
		}
	}
	if err != nil {
		return err
	}
	k, err := h.findTarget(ctx, id)
	switch {
	case err != nil && res.Success:
		// The API said it worked and the check could not be made: report
		// what the API said, and log that it was not re-checked.
		h.log.Warn().Err(err).Str("key_id", clean(id)).Msg("revoke acknowledged; fresh listing failed")
		return nil
	case err != nil:
		return err
	case k != nil && k.Enabled:
		return errStillEnabled
	}
	return nil
}
