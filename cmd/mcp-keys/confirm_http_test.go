package main

// Confirmation over Streamable HTTP, as the README claims it works: a
// 2025-11-25 client gets elicitation/create on its call's event stream
// and answers on a new request to the same server (several replicas need
// sticky routing for that); a 2026-07-28 client gets an input_required
// result and calls again, which any replica can serve (replicas_test.go).

import (
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// acceptAll ticks the confirmation and counts the questions.
type acceptAll struct{ asked *atomic.Int32 }

func (a acceptAll) Elicit(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	a.asked.Add(1)
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action: mcp.ElicitationResponseActionAccept, Content: map[string]any{"confirm": true},
	}}, nil
}

func TestConfirmationOverHTTP(t *testing.T) {
	sb, upstream := startUpstream(t)
	dir := t.TempDir()
	callersFile := filepath.Join(dir, "callers")
	env := append(baseEnv("MCP_KEYS_CALLERS_FILE="+callersFile, "MCP_KEYS_AUDIT_LOG="+filepath.Join(dir, "audit.jsonl")), upstream...)
	token := addCaller(t, env, []string{binary}, "alice", "keys:read,keys:write")
	pol := writePolicy(t, designPolicy+"confirm: always\n")
	s := startHTTPServer(t, env, []string{binary}, "--policy", pol)

	for _, version := range []string{"2025-11-25", mcp.LATEST_PROTOCOL_VERSION} {
		t.Run(version, func(t *testing.T) {
			var asked atomic.Int32
			tr, err := transport.NewStreamableHTTP(s.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
			if err != nil {
				t.Fatal(err)
			}
			c := client.NewClient(tr, client.WithElicitationHandler(acceptAll{asked: &asked}))
			t.Cleanup(func() { _ = c.Close() })
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Start(ctx); err != nil {
				t.Fatal(err)
			}
			init := initRequest(version)
			init.Params.Capabilities.Elicitation = &mcp.ElicitationCapability{}
			if _, err := c.Initialize(ctx, init); err != nil {
				t.Fatalf("initialize: %v", err)
			}
			before := sb.Sandbox.KeyCount()
			res, err := callTool(c, "create_scoped_key", map[string]any{"tag": "proj-confirm"})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			if res.IsError {
				t.Fatalf("create refused: %s", resultText(res))
			}
			if asked.Load() != 1 {
				t.Errorf("the person was asked %d times, want once", asked.Load())
			}
			if got := sb.Sandbox.KeyCount() - before; got != 1 {
				t.Errorf("%d keys minted, want 1", got)
			}
		})
	}
}

// TestSessionBelongsToItsCaller: a session id issued to one caller is not
// usable by another (a 2025-11-25 confirmation is answered by session and
// request id alone, so whoever could use the session could answer it).
func TestSessionBelongsToItsCaller(t *testing.T) {
	_, upstream := startUpstream(t)
	dir := t.TempDir()
	env := append(baseEnv("MCP_KEYS_CALLERS_FILE="+filepath.Join(dir, "callers"), "MCP_KEYS_AUDIT_LOG="+filepath.Join(dir, "audit.jsonl")), upstream...)
	alice := addCaller(t, env, []string{binary}, "alice", "keys:read,keys:write")
	bob := addCaller(t, env, []string{binary}, "bob", "keys:read,keys:write")
	s := startHTTPServer(t, env, []string{binary}, "--policy", writePolicy(t, designPolicy))

	initBody := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`
	code, h, _ := rawPost(t, s.url, "Bearer "+alice, initBody)
	id := h.Get("Mcp-Session-Id")
	if code != http.StatusOK || id == "" {
		t.Fatalf("alice's initialize: %d, session id present %t", code, id != "")
	}
	list := `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`
	post := func(token string) int {
		req, err := http.NewRequest(http.MethodPost, s.url, strings.NewReader(list))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("MCP-Protocol-Version", "2025-11-25")
		req.Header.Set("Mcp-Session-Id", id)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post(bob); got != http.StatusNotFound {
		t.Errorf("bob with alice's session: %d, want 404", got)
	}
	if got := post(alice); got != http.StatusOK {
		t.Errorf("alice with her session: %d, want 200", got)
	}
}
