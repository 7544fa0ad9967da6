package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// confirmID keys the elicitation in the multi round-trip exchange.
const confirmID = "confirm"

// prompter is the service's confirmation hook over MCP elicitation: the
// multi round-trip exchange (SEP-2322), which mcp-go also plays for legacy
// clients with a server-initiated elicitation/create.
type prompter struct {
	ctx context.Context
	req mcp.CallToolRequest
}

// CanAsk reports whether the client declared the elicitation capability.
func (p prompter) CanAsk() bool {
	if info := server.RequestProtocolInfoFromContext(p.ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Elicitation != nil
	}
	if s, ok := server.ClientSessionFromContext(p.ctx).(server.SessionWithClientInfo); ok {
		return s.GetClientCapabilities().Elicitation != nil
	}
	return false
}

// Answer returns the person's answer carried by a retried call, or nil.
func (p prompter) Answer() *keys.Answer {
	answer := server.ElicitationResponse(p.req.Params.InputResponses, confirmID)
	if answer == nil {
		return nil
	}
	out := &keys.Answer{State: p.req.Params.RequestState, Action: keys.AnswerCancel}
	switch answer.Action {
	case mcp.ElicitationResponseActionAccept:
		out.Action = keys.AnswerAccept
		m, ok := answer.Content.(map[string]any)
		out.Confirmed = ok && m["confirm"] == true
	case mcp.ElicitationResponseActionDecline:
		out.Action = keys.AnswerDecline
	}
	return out
}

// askResult asks the person the service's question with a one-checkbox
// form.
func askResult(a *keys.Ask) *mcp.CallToolResult {
	params := mcp.ElicitationParams{
		Mode:    mcp.ElicitationModeForm,
		Message: a.Question,
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"confirm": map[string]any{"type": "boolean", "title": "Confirm", "description": "Tick to go ahead"},
			},
			"required": []string{"confirm"},
		},
	}
	return server.NewInputRequestBuilder(a.State).Elicit(confirmID, params).ToolResult()
}
