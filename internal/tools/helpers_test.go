package tools_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
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

// designPolicy is the example policy of the design, used by most tests.
const designPolicy = `version: 1
tags:
  allow: ["demo-project", "proj-*", "user_*", "team:search"]
  deny:  ["proj-prod*"]
  allow_new: true
keys:
  name_prefix: "agent-"
  default_expiry_days: 30
  max_expiry_days: 90
  max_rate_limit: 1000
  max_rate_window_ms: 3600000
revoke:
  enabled: true
  only_prefixed: true
`

// testEnv is a server built exactly as main builds it, talking HTTP to a
// sandbox on loopback, with mcp-go's in-process client connected.
type testEnv struct {
	t         *testing.T
	sb        *sandbox.Server
	api       *client.Client
	client    *mcpclient.Client
	logs      *strings.Builder
	version   string
	srv       *server.MCPServer
	auditPath string
}

// envOptions tune newEnv.
type envOptions struct {
	policyYAML      string // "" = design policy; "-" = no policy (default deny)
	readOnly        bool
	protocolVersion string // "" = the newest
	sandbox         sandbox.Options
	clientConfig    func(*client.Config)
	auditPath       string // "" = a fresh file in t.TempDir()
	clientOptions   []mcpclient.ClientOption
}

// syncWriter is a strings.Builder safe for the server's concurrent logs.
type syncWriter struct {
	mu chan struct{}
	b  *strings.Builder
}

func (w syncWriter) Write(p []byte) (int, error) {
	w.mu <- struct{}{}
	defer func() { <-w.mu }()
	return w.b.Write(p)
}

func newEnv(t *testing.T, o envOptions) *testEnv {
	t.Helper()
	sb, err := sandbox.Start(o.sandbox, "")
	if err != nil {
		t.Fatalf("start sandbox: %v", err)
	}
	t.Cleanup(func() {
		if f := sb.Sandbox.ForbiddenRequests(); len(f) != 0 {
			t.Errorf("forbidden endpoints were called: %+v", f)
		}
		_ = sb.Close()
	})
	cfg := client.Config{BaseURL: sb.URL, APIKey: client.Secret(sb.Sandbox.OperatorKey()), MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, MaxRetryAfter: 10 * time.Millisecond, Timeout: 5 * time.Second}
	if o.clientConfig != nil {
		o.clientConfig(&cfg)
	}
	api, err := client.New(cfg)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	var p *policy.Policy
	switch o.policyYAML {
	case "":
		p, err = policy.Parse("policy.yaml", []byte(designPolicy))
	case "-":
		p = policy.Default()
	default:
		p, err = policy.Parse("policy.yaml", []byte(o.policyYAML))
	}
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	logs := &strings.Builder{}
	logger := zerolog.New(syncWriter{mu: make(chan struct{}, 1), b: logs})
	if o.auditPath == "" {
		o.auditPath = filepath.Join(t.TempDir(), "audit", "audit.jsonl")
	}
	svc, err := keys.New(keys.Config{API: api, Policy: policy.Static(p), Logger: logger, OpenStore: keys.OpenFile(o.auditPath, audit.FileOptions{}),
		Now: func() time.Time { return time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatalf("new service: %v", err)
	}
	srv, err := tools.NewServer(tools.Deps{Keys: svc, Logger: logger, Version: "test", ReadOnly: o.readOnly})
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	c, err := mcpclient.NewInProcessClientWithOptions(srv, o.clientOptions...)
	if err != nil {
		t.Fatalf("in-process client: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = o.protocolVersion
	init.Params.ClientInfo = mcp.Implementation{Name: "tools-test", Version: "0"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if o.protocolVersion != "" && res.ProtocolVersion != o.protocolVersion {
		t.Fatalf("negotiated %q, want %q", res.ProtocolVersion, o.protocolVersion)
	}
	return &testEnv{t: t, sb: sb, api: api, client: c, logs: logs, version: res.ProtocolVersion, srv: srv, auditPath: o.auditPath}
}

// call makes a tool call and fails the test on a protocol error: refusals
// must be isError results, never JSON-RPC errors.
func (e *testEnv) call(name string, args map[string]any) *mcp.CallToolResult {
	e.t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := e.client.CallTool(context.Background(), req)
	if err != nil {
		e.t.Fatalf("%s(%v): protocol error %v; refusals must be isError results", name, args, err)
	}
	return res
}

// text is the concatenated text content of a result.
func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		b.WriteString(mcp.GetTextFromContent(c))
	}
	return b.String()
}

// structured decodes a result's structured content into v.
func structured(t *testing.T, res *mcp.CallToolResult, v any) {
	t.Helper()
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatalf("marshal structured content: %v", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("structured content %s: %v", raw, err)
	}
}

// mustOK fails unless res is a success with structured content.
func mustOK(t *testing.T, res *mcp.CallToolResult) {
	t.Helper()
	if res.IsError {
		t.Fatalf("unexpected isError result: %s", text(res))
	}
	if res.StructuredContent == nil {
		t.Fatalf("success without structured content: %s", text(res))
	}
	if strings.TrimSpace(text(res)) == "" {
		t.Fatalf("success without readable text")
	}
}

// mustRefuse fails unless res is an isError result containing every want.
func mustRefuse(t *testing.T, res *mcp.CallToolResult, want ...string) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("expected an isError result, got success: %s", text(res))
	}
	for _, w := range want {
		if !strings.Contains(text(res), w) {
			t.Errorf("refusal %q does not contain %q", text(res), w)
		}
	}
}
