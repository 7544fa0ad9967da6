package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// wireTools returns the tools/list result exactly as the server writes it.
func wireTools(t *testing.T, e *testEnv) (raw json.RawMessage, tools []json.RawMessage) {
	t.Helper()
	resp := e.srv.HandleMessage(context.Background(), json.RawMessage(`{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}}`))
	msg, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var envelope struct {
		Result struct {
			Tools []json.RawMessage `json:"tools"`
		} `json:"result"`
		Error any `json:"error"`
	}
	if err := json.Unmarshal(msg, &envelope); err != nil || envelope.Error != nil {
		t.Fatalf("tools/list: %s (%v)", msg, err)
	}
	result, _ := json.Marshal(envelope.Result)
	return result, envelope.Result.Tools
}

// TestToolSnapshots compares each tool's JSON, exactly as the server sends it
// in tools/list, with __toolsnaps__/<name>.snap. UPDATE_TOOLSNAPS=true rewrites
// them; a missing snapshot fails, so a new tool cannot slip in unreviewed.
func TestToolSnapshots(t *testing.T) {
	e := newEnv(t, envOptions{})
	_, tools := wireTools(t, e)
	if len(tools) != 6 {
		t.Fatalf("got %d tools, want 6", len(tools))
	}
	update := os.Getenv("UPDATE_TOOLSNAPS") == "true"
	for _, raw := range tools {
		var tool struct{ Name string }
		if err := json.Unmarshal(raw, &tool); err != nil {
			t.Fatal(err)
		}
		got := append(canonical(t, raw), '\n')
		path := filepath.Join("__toolsnaps__", tool.Name+".snap")
		if update {
			if err := os.MkdirAll("__toolsnaps__", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: no snapshot (run UPDATE_TOOLSNAPS=true go test ./internal/tools/ and review the diff): %v", tool.Name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s changed; if intended, run UPDATE_TOOLSNAPS=true go test ./internal/tools/ and review.\ngot:\n%s", tool.Name, got)
		}
	}
}

// canonical re-encodes JSON with sorted keys, so snapshots do not depend on
// map order.
func canonical(t *testing.T, raw []byte) []byte {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	out, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestToolAnnotations checks that every tool sets all four hints explicitly
// and that they say what the design says.
func TestToolAnnotations(t *testing.T) {
	e := newEnv(t, envOptions{})
	list, err := e.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	type hints struct{ readOnly, destructive, idempotent, openWorld bool }
	want := map[string]hints{
		"list_tags":         {true, false, true, true},
		"list_keys":         {true, false, true, true},
		"check_policy":      {true, false, true, true},
		"create_scoped_key": {false, false, false, true},
		"revoke_key":        {false, true, true, true},
		"rotate_key":        {false, true, false, true},
	}
	for _, tool := range list.Tools {
		a := tool.Annotations
		if a.ReadOnlyHint == nil || a.DestructiveHint == nil || a.IdempotentHint == nil || a.OpenWorldHint == nil {
			t.Errorf("%s does not set all four hints: %+v", tool.Name, a)
			continue
		}
		got := hints{*a.ReadOnlyHint, *a.DestructiveHint, *a.IdempotentHint, *a.OpenWorldHint}
		if w, ok := want[tool.Name]; !ok || got != w {
			t.Errorf("%s hints = %+v, want %+v", tool.Name, got, w)
		}
		var in map[string]any
		if err := json.Unmarshal(tool.RawInputSchema, &in); err != nil {
			raw, _ := json.Marshal(tool.InputSchema)
			_ = json.Unmarshal(raw, &in)
		}
		if in["additionalProperties"] != false {
			t.Errorf("%s input schema allows unknown properties", tool.Name)
		}
	}
}

// TestToolListSize keeps the tools/list result within its context budget.
func TestToolListSize(t *testing.T) {
	e := newEnv(t, envOptions{})
	raw, _ := wireTools(t, e)
	t.Logf("tools/list result: %d bytes", len(raw))
	if len(raw) > 6*1024 {
		t.Errorf("tools/list result is %d bytes; the budget is 6 KiB", len(raw))
	}
}
