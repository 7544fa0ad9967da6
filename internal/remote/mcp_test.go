package remote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// newMCPServer is a stateless mcp-go server with two tools: whoami (read)
// and create_scoped_key (write), each answering with the caller its
// context carries.
func newMCPServer() *server.StreamableHTTPServer {
	s := server.NewMCPServer("remote-test", "1.0.0", server.WithToolCapabilities(false))
	whoami := func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		c, ok := keys.CallerFromContext(ctx)
		if !ok {
			return mcp.NewToolResultError("no caller in the tool's context"), nil
		}
		return mcp.NewToolResultText(c.ID() + " " + strings.Join(c.Scopes, ",")), nil
	}
	s.AddTool(mcp.NewTool("list_tags"), whoami)
	s.AddTool(mcp.NewTool("create_scoped_key"), whoami)
	return server.NewStreamableHTTPServer(s, server.WithEndpointPath(EndpointPath), server.WithStateLess(true))
}

func TestCallerReachesTheToolThroughMCPGo(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MCP = newMCPServer() })
	ctx := t.Context()
	call := func(token, tool string) (string, error) {
		c, err := client.NewStreamableHttpClient(e.public, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
		if err != nil {
			return "", err
		}
		defer c.Close()
		if err := c.Start(ctx); err != nil {
			return "", err
		}
		init := mcp.InitializeRequest{}
		init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
		init.Params.ClientInfo = mcp.Implementation{Name: "test", Version: "1"}
		if _, err := c.Initialize(ctx, init); err != nil {
			return "", err
		}
		req := mcp.CallToolRequest{}
		req.Params.Name = tool
		res, err := c.CallTool(ctx, req)
		if err != nil {
			return "", err
		}
		if len(res.Content) != 1 {
			t.Fatalf("%d content items", len(res.Content))
		}
		text, _ := res.Content[0].(mcp.TextContent)
		if res.IsError {
			t.Fatalf("tool error: %s", text.Text)
		}
		return text.Text, nil
	}

	got, err := call(e.reader, "list_tags")
	if err != nil || got != "token:reader keys:read" {
		t.Fatalf("static reader: %q, %v", got, err)
	}
	oauth := e.token(e.claims(keys.ScopeRead, keys.ScopeWrite))
	got, err = call(oauth, "create_scoped_key")
	if want := "oauth:" + e.idp.Issuer() + "#user-1 keys:read,keys:write"; err != nil || got != want {
		t.Fatalf("OAuth writer: %q, %v; want %q", got, err, want)
	}
	// The reader's write call never reaches the tool.
	if _, err := call(e.reader, "create_scoped_key"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("static reader calling a write tool: %v", err)
	}
	if _, err := call("mcpk_wrong-token-wrong-token", "list_tags"); err == nil {
		t.Fatal("a wrong token was accepted")
	}
}

// TestMCPGoRebindingCheckStaysOn shows that mcp-go's own Host check is on:
// the StreamableHTTPServer alone, on loopback, refuses a foreign Host.
func TestMCPGoRebindingCheckStaysOn(t *testing.T) {
	srv := httptest.NewServer(newMCPServer())
	defer srv.Close()
	for _, tc := range []struct {
		host   string
		status int
	}{
		{"evil.example.com", http.StatusForbidden},
		{strings.TrimPrefix(srv.URL, "http://"), http.StatusOK},
	} {
		r, _ := http.NewRequest(http.MethodPost, srv.URL+EndpointPath, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", "application/json, text/event-stream")
		r.Host = tc.host
		res, err := srv.Client().Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tc.status {
			t.Fatalf("Host %s: status %d, want %d", tc.host, res.StatusCode, tc.status)
		}
	}
}
