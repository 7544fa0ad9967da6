package tools

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// confirmID keys the elicitation in the multi round-trip exchange.
const confirmID = "confirm"

// confirmer asks a person, through MCP elicitation, to confirm a create or
// revoke. The answer is bound to the exact request: the request state the
// client echoes back is an HMAC, under a key that never leaves this process,
// of the action and its effective arguments, so an answer given for one
// request cannot approve another. A confirm argument from the model is not
// consent: the argument decoder refuses it like any unknown argument.
type confirmer struct {
	key [32]byte
}

// newConfirmer makes a confirmer with a fresh random key.
func newConfirmer() (*confirmer, error) {
	c := &confirmer{}
	if _, err := rand.Read(c.key[:]); err != nil {
		return nil, fmt.Errorf("confirmation key: %w", err)
	}
	return c, nil
}

// token binds a confirmation to a request.
func (c *confirmer) token(binding string) string {
	m := hmac.New(sha256.New, c.key[:])
	m.Write([]byte(binding))
	return hex.EncodeToString(m.Sum(nil))
}

// confirmOutcome is what confirm decided.
type confirmOutcome int

const (
	confirmProceed confirmOutcome = iota // go on: confirmed, or not required
	confirmAsk                           // return the result: it asks the client
	confirmRefused                       // return the result: it is an isError refusal
)

// canElicit reports whether the client declared the elicitation capability.
func canElicit(ctx context.Context) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Elicitation != nil
	}
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		return s.GetClientCapabilities().Elicitation != nil
	}
	return false
}

// confirm applies a confirm mode to a request. binding identifies the exact
// request; summary tells the person what will happen. It returns whether to
// proceed, and otherwise the result to return (a question or a refusal),
// plus a note for the audit log.
func (c *confirmer) confirm(ctx context.Context, req mcp.CallToolRequest, mode policy.ConfirmMode, binding, summary string) (confirmOutcome, *mcp.CallToolResult, string) {
	if mode == "" || mode == policy.ConfirmNever {
		return confirmProceed, nil, ""
	}
	token := c.token(binding)
	if answer := server.ElicitationResponse(req.Params.InputResponses, confirmID); answer != nil {
		if !hmac.Equal([]byte(req.Params.RequestState), []byte(token)) {
			return confirmRefused, errorResult("%s was not done: the confirmation does not match this request (the arguments changed after the person was asked). Call again to ask again.", req.Params.Name), "confirmation did not match the request"
		}
		switch answer.Action {
		case mcp.ElicitationResponseActionAccept:
			if m, ok := answer.Content.(map[string]any); ok && m["confirm"] == true {
				return confirmProceed, nil, "confirmed by the user"
			}
			return confirmRefused, errorResult("%s was not done: the person did not tick the confirmation. Nothing was changed.", req.Params.Name), "not confirmed"
		case mcp.ElicitationResponseActionDecline:
			return confirmRefused, errorResult("%s was not done: the person declined. Nothing was changed; do not retry unless they ask.", req.Params.Name), "declined by the user"
		default:
			return confirmRefused, errorResult("%s was not done: the person cancelled the confirmation. Nothing was changed.", req.Params.Name), "cancelled by the user"
		}
	}
	if !canElicit(ctx) {
		if mode == policy.ConfirmAlways {
			return confirmRefused, errorResult("%s was not done: the policy requires a person to confirm it (confirm: always), and this MCP client cannot ask (it does not support elicitation). "+
				"Use a client that supports MCP elicitation, or ask the operator.", req.Params.Name), "refused: client cannot confirm"
		}
		return confirmProceed, nil, "not confirmed: client cannot ask (confirm: if-supported)"
	}
	params := mcp.ElicitationParams{
		Mode:    mcp.ElicitationModeForm,
		Message: summary,
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"confirm": map[string]any{"type": "boolean", "title": "Confirm", "description": "Tick to go ahead"},
			},
			"required": []string{"confirm"},
		},
	}
	return confirmAsk, server.NewInputRequestBuilder(token).Elicit(confirmID, params).ToolResult(), ""
}

// createBinding identifies a create request for confirmation.
func createBinding(e policy.Effective) string {
	return fmt.Sprintf("create\x00%s\x00%s\x00%d\x00%d\x00%d", e.Tag, e.Name, e.ExpiresInDays, e.RateLimitMax, e.RateLimitWindowMs)
}

// createSummary is what the person is asked to confirm.
func createSummary(e policy.Effective) string {
	return fmt.Sprintf("An AI agent asks mcp-keys to create a Supermemory API key scoped to tag %s, named %q, expiring in %d days, limited to %d requests per %d ms. Create it?",
		policy.Quote(e.Tag), e.Name, e.ExpiresInDays, e.RateLimitMax, e.RateLimitWindowMs)
}

// revokeBinding identifies a revoke request for confirmation.
func revokeBinding(id string) string { return "revoke\x00" + id }

// revokeSummary is what the person is asked to confirm.
func revokeSummary(id, name string, tags []string) string {
	return fmt.Sprintf("An AI agent asks mcp-keys to revoke the scoped key %s (%q, tags %v). It stops working at once. Revoke it?", id, clean(name), cleanAll(tags))
}
