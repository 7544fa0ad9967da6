package tools

import (
	"errors"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/client"
)

// clientTag and clientKey shorten the client's types in sort helpers.
type (
	clientTag = client.Tag
	clientKey = client.Key
)

// decode decodes a call's arguments against specs. Bad input becomes an
// isError result that says what was wrong; a nil result means success.
func (h *handlers) decode(req mcp.CallToolRequest, specs []argSpec, collectFullAccess bool) (args, *mcp.CallToolResult) {
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
	h.log.Info().Str("tool", req.Params.Name).Strs("args", argNames(req)).Msg("arguments refused")
	return args{}, errorResult("Invalid arguments: %s. Nothing was done; fix the arguments and call again.", err.Error())
}

// argNames lists the argument names of a call (never their values), for logs.
func argNames(req mcp.CallToolRequest) []string {
	m := req.GetArguments()
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, clean(k))
	}
	return names
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
