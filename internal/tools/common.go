package tools

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// errorResult is a tool result with isError set: a refusal or failure the
// model can act on. The text must say what to do next.
func errorResult(format string, a ...any) *mcp.CallToolResult {
	return mcp.NewToolResultError(fmt.Sprintf(format, a...))
}

// call describes a tool call for the service: the caller (from the
// request's context in remote mode, local over stdio), the tool, the MCP
// client and the names of the arguments (never their values).
func (h *handlers) call(ctx context.Context, req mcp.CallToolRequest, specs []argSpec) (keys.Call, *mcp.CallToolResult) {
	caller, ok := keys.CallerFromContext(ctx)
	if !ok {
		if h.remote {
			// Remote mode authenticates every request before the tools
			// run; a call without a caller is refused, never served as
			// local.
			return keys.Call{}, errorResult("%s was not done: the request carries no authenticated caller. Nothing was changed.", req.Params.Name)
		}
		caller = keys.Local()
	}
	if scope := scopeOf(h.readOnly, req.Params.Name); !caller.HasScope(scope) {
		// The HTTP layer answers this with a 403 challenge before the
		// tools run; this is the same rule again, where the call lands.
		return keys.Call{}, errorResult("%s was not done: the caller's token lacks the scope %s. Nothing was changed; ask the operator for a token with it.", req.Params.Name, scope)
	}
	c := keys.Call{Caller: caller, Tool: req.Params.Name, Confirm: prompter{ctx: ctx, req: req}}
	c.Client, c.ClientVersion = clientInfo(ctx)
	c.Args, c.OtherArgs = argNames(req, specs)
	return c, nil
}

// decode decodes a call's arguments against specs and describes the call.
// Bad input becomes an isError result that says what was wrong; a nil
// result means success. For the actions that decide (create, revoke,
// check), a refusal of the arguments is a decision too, and the service
// records it.
func (h *handlers) decode(ctx context.Context, req mcp.CallToolRequest, specs []argSpec, collectFullAccess bool, action keys.Action) (args, keys.Call, *mcp.CallToolResult) {
	c, res := h.call(ctx, req, specs)
	if res != nil {
		return args{}, c, res
	}
	raw, err := rawArguments(req)
	if err == nil {
		var a args
		a, err = decodeArgs(raw, specs, collectFullAccess)
		if err == nil {
			return a, c, nil
		}
	}
	var ae *argError
	if !errors.As(err, &ae) {
		// decodeArgs only returns argErrors; anything else is a bug, but
		// still bad input from the model's point of view.
		h.log.Error().Err(err).Str("tool", req.Params.Name).Msg("decoding arguments")
	}
	return args{}, c, mcp.NewToolResultError(h.keys.ArgumentsRefused(ctx, c, action, err.Error()).Message)
}

// result turns a service answer into a tool result: structured content and
// its readable text on success; an isError result for a failure the caller
// can act on; an elicitation for a write that needs a person's
// confirmation. Any other error is a bug and becomes a JSON-RPC error.
func result(out any, text func() string, err error) (*mcp.CallToolResult, error) {
	if err == nil {
		return mcp.NewToolResultStructured(out, text()), nil
	}
	var ask *keys.Ask
	if errors.As(err, &ask) {
		return askResult(ask), nil
	}
	if f := keys.AsFailure(err); f != nil {
		return mcp.NewToolResultError(f.Message), nil
	}
	return nil, err
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

// clientInfo is the client's name and version from initialize (or, for
// stateless requests, from the request itself).
func clientInfo(ctx context.Context) (name, version string) {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.ClientInfo != nil {
		return info.ClientInfo.Name, info.ClientInfo.Version
	}
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		ci := s.GetClientInfo()
		return ci.Name, ci.Version
	}
	return "", ""
}
