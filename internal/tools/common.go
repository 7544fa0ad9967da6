package tools

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// clientTag shortens the client's type in sort helpers.
type clientTag = client.Tag

// decode decodes a call's arguments against specs. Bad input becomes an
// isError result that says what was wrong; a nil result means success.
// For the tools that decide (create, revoke, check), a refusal of the
// arguments is a decision too and is recorded in the audit log under event.
func (h *handlers) decode(ctx context.Context, req mcp.CallToolRequest, specs []argSpec, collectFullAccess bool, event audit.Event) (args, *mcp.CallToolResult) {
	raw, err := rawArguments(req)
	if err == nil {
		var a args
		a, err = decodeArgs(raw, specs, collectFullAccess)
		if err == nil {
			return a, nil
		}
	}
	var ae *argError
	if !errors.As(err, &ae) {
		// decodeArgs only returns argErrors; anything else is a bug, but
		// still bad input from the model's point of view.
		h.log.Error().Err(err).Str("tool", req.Params.Name).Msg("decoding arguments")
	}
	known, others := argNames(req, specs)
	h.log.Info().Str("tool", req.Params.Name).Strs("args", known).Int("other_args", others).Msg("arguments refused")
	if event != "" {
		r := audit.Record{Event: event, Tool: req.Params.Name, Decision: "denied", Reason: "invalid arguments",
			Rules: []audit.Rule{{Rule: "arguments", Outcome: string(policy.Fail), Detail: err.Error()}}}
		_, _ = h.appendRecord(ctx, r)
	}
	msg := "Invalid arguments: " + err.Error() + ". Nothing was done; fix the arguments and call again."
	if event != "" && event != eventCheck && h.policy.Current().DeniesAllWrites() {
		msg += defaultDenyNote(h.policy.Current())
	}
	return args{}, mcp.NewToolResultError(msg)
}

// argNames lists, for logs, the names of a call's arguments that the tool
// knows, and how many others there were. Other names are never logged: an
// argument name is text from the model, and could carry anything.
func argNames(req mcp.CallToolRequest, specs []argSpec) (known []string, others int) {
	for k := range req.GetArguments() {
		if slices.ContainsFunc(specs, func(s argSpec) bool { return s.name == k }) {
			known = append(known, k)
		} else {
			others++
		}
	}
	return known, others
}

// timeOrNil formats a time as RFC 3339 in UTC, or nil for the zero time.
func timeOrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// deref returns *s, or def when s is nil.
func deref(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}
