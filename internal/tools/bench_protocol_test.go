package tools_test

// This file holds the protocol benchmarks: a whole tools/call of check_policy
// and of list_keys through mcp-go's in-process client, against the sandbox
// over loopback HTTP, next to a bare mcp-go server's trivial tool as the
// floor. They run only with -bench; plain `go test` compiles them and nothing
// else. The whole-process figures are made by `go run ./bench`.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"testing"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
	"github.com/mcp-keys/mcp-keys/internal/tools"
)

// benchProtocolPolicy is the design's example policy (designPolicy);
// allow_new is true, so check_policy for a create makes no upstream call.
const benchProtocolPolicy = designPolicy

// benchConnect starts srv behind mcp-go's in-process client and initializes
// it; the client is closed when b ends.
func benchConnect(b *testing.B, srv *server.MCPServer) *mcpclient.Client {
	b.Helper()
	c, err := mcpclient.NewInProcessClient(srv)
	if err != nil {
		b.Fatalf("in-process client: %v", err)
	}
	b.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		b.Fatalf("start: %v", err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "bench", Version: "0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		b.Fatalf("initialize: %v", err)
	}
	return c
}

// benchServer starts a sandbox with extra keys beyond its seed, and builds
// an mcp-keys server as main builds it (logging at info, to nowhere) that
// talks to it over loopback HTTP.
func benchServer(b *testing.B, extraKeys int) *server.MCPServer {
	b.Helper()
	sb, err := sandbox.Start(sandbox.Options{}, "")
	if err != nil {
		b.Fatalf("start sandbox: %v", err)
	}
	b.Cleanup(func() { _ = sb.Close() })
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range extraKeys {
		k := sandbox.NewKey{Name: fmt.Sprintf("agent-proj-%d", i), Tags: []string{fmt.Sprintf("proj-%d", i%97)}, CreatedAt: created.Add(time.Duration(i) * time.Minute)}
		if _, _, err := sb.Sandbox.AddKey(k); err != nil {
			b.Fatalf("add key: %v", err)
		}
	}
	api, err := client.New(client.Config{BaseURL: sb.URL, APIKey: client.Secret(sb.Sandbox.OperatorKey()), Timeout: 5 * time.Second})
	if err != nil {
		b.Fatalf("client: %v", err)
	}
	b.Cleanup(api.CloseIdleConnections)
	p, err := policy.Parse("policy.yaml", []byte(benchProtocolPolicy))
	if err != nil {
		b.Fatalf("policy: %v", err)
	}
	logger := zerolog.New(io.Discard).Level(zerolog.InfoLevel)
	svc, err := keys.New(keys.Config{API: api, Policy: policy.Static(p), Logger: logger, OpenStore: keys.OpenFile(filepath.Join(b.TempDir(), "audit.jsonl"), audit.FileOptions{})})
	if err != nil {
		b.Fatalf("new service: %v", err)
	}
	srv, err := tools.NewServer(tools.Deps{Keys: svc, Logger: logger, Version: "bench"})
	if err != nil {
		b.Fatalf("new server: %v", err)
	}
	return srv
}

// benchFloor is a bare mcp-go server with one trivial tool: the least any
// tools/call through mcp-go can cost.
func benchFloor() *server.MCPServer {
	srv := server.NewMCPServer("floor", "0", server.WithToolCapabilities(false))
	srv.AddTool(mcp.NewTool("ping", mcp.WithDescription("Answers pong.")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("pong"), nil
		})
	return srv
}

// benchCalls are the calls of the protocol benchmarks. extraKeys -1 means
// the floor server.
var benchCalls = []struct {
	name      string
	extraKeys int
	tool      string
	args      map[string]any
}{
	{"floor/ping", -1, "ping", map[string]any{}},
	{"check_policy/create-allowed", 0, "check_policy", map[string]any{"tag": "proj-search", "name": "ci"}},
	{"check_policy/create-denied", 0, "check_policy", map[string]any{"tag": "proj-prod-eu"}},
	{"list_keys/keys=seed", 0, "list_keys", map[string]any{}},
	{"list_keys/keys=1000", 1000, "list_keys", map[string]any{}},
	{"list_keys/keys=10000", 10000, "list_keys", map[string]any{}},
}

// benchServerFor builds the server of a benchCalls case.
func benchServerFor(b *testing.B, extraKeys int) *server.MCPServer {
	if extraKeys < 0 {
		return benchFloor()
	}
	return benchServer(b, extraKeys)
}

// BenchmarkToolCall measures whole tools/call round trips through mcp-go's
// in-process client: check_policy (no upstream call), list_keys over the
// seeded sandbox and over 1,000 and 10,000 extra keys (one GET /v3/auth/keys
// each, default limit 50), and the floor's trivial tool.
func BenchmarkToolCall(b *testing.B) {
	for _, tc := range benchCalls {
		b.Run(tc.name, func(b *testing.B) {
			c := benchConnect(b, benchServerFor(b, tc.extraKeys))
			var req mcp.CallToolRequest
			req.Params.Name = tc.tool
			req.Params.Arguments = tc.args
			ctx := context.Background()
			call := func() {
				res, err := c.CallTool(ctx, req)
				if err != nil {
					b.Fatalf("%s: protocol error: %v", tc.tool, err)
				}
				if res.IsError {
					b.Fatalf("%s: isError result (%d bytes of text)", tc.tool, len(mcp.GetTextFromContent(res.Content[0])))
				}
			}
			call() // warm up: connections, compiled output schemas
			b.ReportAllocs()
			for b.Loop() {
				call()
			}
		})
	}
}

// BenchmarkHandleMessage measures the server's side of the same calls only:
// what mcp-go's stdio transport does with one request line, short of the
// pipe (HandleMessage on the raw request, then marshalling the answer).
// Against BenchmarkToolCall it shows how much of a call is the in-process
// client's own decoding.
func BenchmarkHandleMessage(b *testing.B) {
	for _, tc := range benchCalls {
		b.Run(tc.name, func(b *testing.B) {
			srv := benchServerFor(b, tc.extraKeys)
			args, err := json.Marshal(tc.args)
			if err != nil {
				b.Fatal(err)
			}
			raw := json.RawMessage(fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":%s}}`, tc.tool, args))
			ctx := context.Background()
			call := func() int {
				out, err := json.Marshal(srv.HandleMessage(ctx, raw))
				if err != nil {
					b.Fatal(err)
				}
				if bytes.Contains(out, []byte(`"isError":true`)) || !bytes.Contains(out, []byte(`"result"`)) {
					b.Fatalf("%s: not a success: %.200s", tc.tool, out)
				}
				return len(out)
			}
			b.SetBytes(int64(call())) // also warms up
			b.ReportAllocs()
			for b.Loop() {
				call()
			}
		})
	}
}
