// Package tools defines the MCP tools, the policy resource and the server
// constructor of mcp-keys. Each tool lives in its own file; every tool
// declares all four annotation hints, a strict input schema, an output
// schema, and returns both readable text and structured content.
//
// Refusals and upstream failures are tool results with isError set and a
// message that says what to do next. A Go error from a handler (a JSON-RPC
// error) means a bug.
package tools

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// ServerName is the name the server gives in the MCP handshake.
const ServerName = "mcp-keys"

// Deps are the server's dependencies. main and the tests build them the same
// way and pass them to NewServer.
type Deps struct {
	// Keys runs the use cases; the tools only decode, call it and shape.
	Keys *keys.Service
	// Logger writes to stderr; never to stdout.
	Logger zerolog.Logger
	// Version is reported in the MCP handshake.
	Version string
	// ReadOnly registers only the tools whose read-only hint is set.
	ReadOnly bool
	// Remote is set when the server is served over HTTP: every call must
	// then carry an authenticated caller in its context
	// (keys.ContextWithCaller), and one without is refused.
	Remote bool
}

// handlers carries the dependencies of the tool handlers.
type handlers struct {
	keys     *keys.Service
	log      zerolog.Logger
	remote   bool
	readOnly map[string]bool // the read-only tools' names, for scopes
}

// NewServer builds the MCP server: the tools (only read-only ones in
// read-only mode), the policy resource, and the instructions. It does no
// I/O: nothing is fetched until a tool needs it.
func NewServer(d Deps) (*server.MCPServer, error) {
	if d.Keys == nil {
		return nil, fmt.Errorf("new server: the keys service is required")
	}
	if d.Version == "" {
		d.Version = "dev"
	}
	h := &handlers{keys: d.Keys, log: d.Logger, remote: d.Remote}
	h.readOnly = readOnlySet(serverTools(h, false))
	opts := []server.ServerOption{
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(false, false),
		server.WithInstructions(instructions(d.Keys.Policy(), d.ReadOnly, d.Remote)),
		server.WithOutputSchemaValidation(),
		server.WithElicitation(),
		server.WithLogger(slog.New(quietSuccess{zerolog.NewSlogHandler(d.Logger)})),
		server.WithRecovery(),
	}
	if d.Remote {
		// Each caller lists (and can call) only the tools its token's
		// scopes allow; the HTTP layer answers a call beyond them with a
		// 403 scope challenge before it gets here.
		opts = append(opts, server.WithToolFilter(scopeFilter))
	}
	s := server.NewMCPServer(ServerName, d.Version, opts...)
	s.AddTools(serverTools(h, d.ReadOnly)...)
	s.AddResource(policyResource(), h.readPolicy)
	return s, nil
}

// serverTools returns the server's tools. In read-only mode, tools whose
// read-only hint is not set are left out: they are never registered, so they
// can neither be listed nor called.
func serverTools(h *handlers, readOnly bool) []server.ServerTool {
	all := []server.ServerTool{
		h.listTagsTool(),
		h.listKeysTool(),
		h.createScopedKeyTool(),
		h.revokeKeyTool(),
		h.rotateKeyTool(),
		h.checkPolicyTool(),
	}
	if !readOnly {
		return all
	}
	var out []server.ServerTool
	for _, t := range all {
		if IsReadOnly(t.Tool) {
			out = append(out, t)
		}
	}
	return out
}

// RequiredScope is the scope a caller needs for a tool: keys:read for the
// tools that change nothing, keys:write for the others and for any name
// this server does not know.
func RequiredScope(tool string) string {
	return scopeOf(readOnlySet(serverTools(&handlers{}, false)), tool)
}

// readOnlySet is the set of the names of the tools whose read-only hint is
// set.
func readOnlySet(tools []server.ServerTool) map[string]bool {
	out := make(map[string]bool, len(tools))
	for _, t := range tools {
		if IsReadOnly(t.Tool) {
			out[t.Tool.Name] = true
		}
	}
	return out
}

// scopeOf is the scope a tool needs, given the read-only tools.
func scopeOf(readOnly map[string]bool, tool string) string {
	if readOnly[tool] {
		return keys.ScopeRead
	}
	return keys.ScopeWrite
}

// scopeFilter keeps the tools the request's caller holds the scope for.
func scopeFilter(ctx context.Context, all []mcp.Tool) []mcp.Tool {
	caller, ok := keys.CallerFromContext(ctx)
	if !ok {
		return nil
	}
	out := make([]mcp.Tool, 0, len(all))
	for _, t := range all {
		scope := keys.ScopeWrite
		if IsReadOnly(t) {
			scope = keys.ScopeRead
		}
		if caller.HasScope(scope) {
			out = append(out, t)
		}
	}
	return out
}

// IsReadOnly reports whether a tool declares itself read-only.
func IsReadOnly(t mcp.Tool) bool {
	return t.Annotations.ReadOnlyHint != nil && *t.Annotations.ReadOnlyHint
}

// hints are a tool's behaviour hints (the MCP annotations), named so that a
// tool's declaration reads as what it promises.
type hints struct {
	readOnly, destructive, idempotent bool
}

// The hints of the tools: reads change nothing; a create is neither
// destructive nor idempotent; a revoke destroys access and repeating it
// changes nothing more.
var (
	readHints   = hints{readOnly: true, destructive: false, idempotent: true}
	writeHints  = hints{readOnly: false, destructive: false, idempotent: false}
	revokeHints = hints{readOnly: false, destructive: true, idempotent: true}
	rotateHints = hints{readOnly: false, destructive: true, idempotent: false}
)

// newTool builds a tool with a hand-written input and output schema and all
// four annotation hints set explicitly (mcp-go's defaults are pessimistic
// and would mark a read as destructive). Every tool reaches the Supermemory
// API, so every tool is open-world.
func newTool(name, title, description, input, output string, h hints) mcp.Tool {
	t := mcp.NewToolWithRawSchema(name, description, []byte(input))
	t.RawOutputSchema = []byte(output)
	t.Annotations = mcp.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    mcp.ToBoolPtr(h.readOnly),
		DestructiveHint: mcp.ToBoolPtr(h.destructive),
		IdempotentHint:  mcp.ToBoolPtr(h.idempotent),
		OpenWorldHint:   mcp.ToBoolPtr(true),
	}
	return t
}
