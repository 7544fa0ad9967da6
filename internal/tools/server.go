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
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// ServerName is the name the server gives in the MCP handshake.
const ServerName = "mcp-keys"

// KeyAPI is the part of the Supermemory key API the tools use.
// *client.Client implements it.
type KeyAPI interface {
	ListKeys(ctx context.Context) ([]client.Key, error)
	ListTags(ctx context.Context) ([]client.Tag, error)
	CreateScopedKey(ctx context.Context, req client.CreateScopedKeyRequest) (*client.CreatedKey, error)
	RevokeKey(ctx context.Context, id string) (*client.RevokeResult, error)
}

// Deps are the server's dependencies. main and the tests build them the same
// way and pass them to NewServer.
type Deps struct {
	// API is the Supermemory key API client.
	API KeyAPI
	// Policy gives the current policy on every call.
	Policy policy.Source
	// Logger writes to stderr; never to stdout.
	Logger zerolog.Logger
	// Version is reported in the MCP handshake.
	Version string
	// ReadOnly registers only the tools whose read-only hint is set.
	ReadOnly bool
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// AuditPath is the audit log file. It is opened on first use; when it
	// cannot be written, creates and revokes are refused under the
	// policy's audit.required (the default).
	AuditPath string
}

// handlers carries the dependencies of the tool handlers.
type handlers struct {
	api     KeyAPI
	policy  policy.Source
	log     zerolog.Logger
	now     func() time.Time
	audit   *auditLog
	confirm *confirmer
}

// NewServer builds the MCP server: the tools (only read-only ones in
// read-only mode), the policy resource, and the instructions. It does no
// I/O: nothing is fetched until a tool needs it.
func NewServer(d Deps) (*server.MCPServer, error) {
	if d.API == nil || d.Policy == nil {
		return nil, fmt.Errorf("new server: API and Policy are required")
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Version == "" {
		d.Version = "dev"
	}
	conf, err := newConfirmer(d.Now)
	if err != nil {
		return nil, fmt.Errorf("new server: %w", err)
	}
	h := &handlers{api: d.API, policy: d.Policy, log: d.Logger, now: d.Now, audit: &auditLog{path: d.AuditPath}, confirm: conf}
	s := server.NewMCPServer(ServerName, d.Version,
		server.WithToolCapabilities(false),
		server.WithResourceCapabilities(false, false),
		server.WithInstructions(instructions(d.Policy.Current(), d.ReadOnly)),
		server.WithOutputSchemaValidation(),
		server.WithElicitation(),
		server.WithLogger(slog.New(quietSuccess{zerolog.NewSlogHandler(d.Logger)})),
		server.WithRecovery(),
	)
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

// IsReadOnly reports whether a tool declares itself read-only.
func IsReadOnly(t mcp.Tool) bool {
	return t.Annotations.ReadOnlyHint != nil && *t.Annotations.ReadOnlyHint
}

// newTool builds a tool with a hand-written input and output schema and all
// four annotation hints set explicitly (mcp-go's defaults are pessimistic
// and would mark a read as destructive).
func newTool(name, title, description, input, output string, readOnly, destructive, idempotent bool) mcp.Tool {
	t := mcp.NewToolWithRawSchema(name, description, []byte(input))
	t.RawOutputSchema = []byte(output)
	t.Annotations = mcp.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    mcp.ToBoolPtr(readOnly),
		DestructiveHint: mcp.ToBoolPtr(destructive),
		IdempotentHint:  mcp.ToBoolPtr(idempotent),
		OpenWorldHint:   mcp.ToBoolPtr(true),
	}
	return t
}
