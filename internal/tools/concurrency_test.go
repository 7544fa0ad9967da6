// Tests of the server under concurrent use: 200 mixed tool calls at once
// through one in-process client (run the package with -race), every answer
// well-formed and consistent with the sandbox afterwards, then a shutdown
// that leaves no goroutine behind (go.uber.org/goleak).
package tools_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"go.uber.org/goleak"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// concurrentOp is one call of the concurrent mix and what it must give.
type concurrentOp struct {
	tool string
	args map[string]any
	// want is "ok" (a success), "refused" (an isError result), or
	// "allowed" (a check_policy success that allows).
	want string
	res  *mcp.CallToolResult
	err  error
}

// TestConcurrentMixedCalls makes 200 tool calls at once through one
// in-process client: listings, dry runs, creates of allowed and of denied
// tags, and revokes of keys created just before, each revoked by exactly
// one call. Every answer must be the expected, well-formed result, the
// sandbox must have seen exactly the writes the answers report, and after
// the client and the sandbox are closed no goroutine started by the test
// may be left.
func TestConcurrentMixedCalls(t *testing.T) {
	const (
		calls = 200
		kinds = 5 // listing, dry run, allowed create, denied create, revoke
		each  = calls / kinds
	)
	// Goroutines already running belong to the runtime, the test framework
	// or earlier tests (a sandbox of another test may still be closing its
	// connections); only the ones this test starts are checked. The check is
	// registered first so that it runs last, after newEnv's cleanups have
	// closed the client and the sandbox.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })

	e := newEnv(t, envOptions{})
	// Runs first of all cleanups: the API client's idle keep-alive
	// connections each hold a read and a write goroutine until closed.
	t.Cleanup(e.api.CloseIdleConnections)

	victims := make([]string, each)
	for i := range victims {
		victims[i] = mintForTest(t, e, fmt.Sprintf("proj-victim-%02d", i))
	}
	createsBefore := e.sb.Sandbox.Count(sandbox.EndpointCreate)

	ops := make([]*concurrentOp, 0, calls)
	for i := range each {
		listing := &concurrentOp{tool: "list_tags", args: map[string]any{"limit": 500}, want: "ok"}
		check := &concurrentOp{tool: "check_policy", args: map[string]any{"tag": fmt.Sprintf("proj-dry-%03d", i)}, want: "allowed"}
		denied := &concurrentOp{tool: "create_scoped_key", args: map[string]any{"tag": fmt.Sprintf("proj-prod-%03d", i)}, want: "refused"}
		if i%2 == 1 {
			listing = &concurrentOp{tool: "list_keys", args: map[string]any{"kind": "scoped", "include_disabled": true, "limit": 500}, want: "ok"}
			check = &concurrentOp{tool: "check_policy", args: map[string]any{"action": "revoke", "id": victims[i]}, want: "allowed"}
			denied = &concurrentOp{tool: "create_scoped_key", args: map[string]any{"tag": "proj-*", "permission": "full"}, want: "refused"}
		}
		ops = append(ops, listing, check, denied,
			&concurrentOp{tool: "create_scoped_key", args: map[string]any{"tag": fmt.Sprintf("proj-conc-%03d", i)}, want: "ok"},
			&concurrentOp{tool: "revoke_key", args: map[string]any{"id": victims[i]}, want: "ok"},
		)
	}

	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			op.res, op.err = callToolErr(context.Background(), e, op.tool, op.args)
		}()
	}
	close(start)
	wg.Wait()

	secrets := map[string]bool{}
	operatorKey := e.sb.Sandbox.OperatorKey()
	for i, op := range ops {
		name := fmt.Sprintf("call %d %s(%v)", i, op.tool, op.args)
		if op.err != nil {
			t.Errorf("%s: protocol error %v", name, op.err)
			continue
		}
		msg := text(op.res)
		if strings.TrimSpace(msg) == "" {
			t.Errorf("%s: no text", name)
		}
		if strings.Contains(msg, operatorKey) {
			t.Errorf("%s: the operator key is in the answer", name)
		}
		if op.want == "refused" {
			if !op.res.IsError {
				t.Errorf("%s: succeeded, want refused: %.200s", name, redact(msg))
			}
			continue
		}
		if op.res.IsError || op.res.StructuredContent == nil {
			t.Errorf("%s: %.300s", name, redact(msg))
			continue
		}
		switch op.tool {
		case "list_tags":
			var out tagsOut
			structured(t, op.res, &out)
			if out.Total < 5 || len(out.Tags)+out.Omitted != out.Total {
				t.Errorf("%s: %d tags shown, %d omitted, total %d", name, len(out.Tags), out.Omitted, out.Total)
			}
		case "list_keys":
			var out keysOut
			structured(t, op.res, &out)
			if out.Total < each || len(out.Keys)+out.Omitted != out.Total || secretPattern.MatchString(msg) {
				t.Errorf("%s: %d keys shown, %d omitted, total %d (or a secret shown)", name, len(out.Keys), out.Omitted, out.Total)
			}
		case "check_policy":
			var out checkOut
			structured(t, op.res, &out)
			if !out.Allowed {
				t.Errorf("%s: denied: %.300s", name, msg)
			}
		case "create_scoped_key":
			var out createOut
			structured(t, op.res, &out)
			if out.Tag != op.args["tag"] || out.ID == "" || !strings.HasPrefix(out.Key, "sm_") || secrets[out.Key] {
				t.Errorf("%s: created tag %q id %q (secret %d bytes, repeated %v)", name, out.Tag, out.ID, len(out.Key), secrets[out.Key])
			}
			secrets[out.Key] = true
		case "revoke_key":
			var out struct {
				ID             string `json:"id"`
				Revoked        bool   `json:"revoked"`
				AlreadyRevoked bool   `json:"already_revoked"`
			}
			structured(t, op.res, &out)
			if out.ID != op.args["id"] || !out.Revoked || out.AlreadyRevoked {
				t.Errorf("%s: %+v", name, out)
			}
		}
	}

	// The sandbox saw exactly the writes the answers report.
	if n := e.sb.Sandbox.Count(sandbox.EndpointCreate) - createsBefore; n != each {
		t.Errorf("%d creates reached the API, want %d", n, each)
	}
	if n := e.sb.Sandbox.Count(sandbox.EndpointRevoke); n != each {
		t.Errorf("%d revokes reached the API, want %d", n, each)
	}
	keys, err := e.api.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	enabled := map[string]bool{}
	for _, k := range keys {
		enabled[k.ID] = k.Enabled
	}
	for _, id := range victims {
		if enabled[id] {
			t.Errorf("key %s is still enabled after its revoke succeeded", id)
		}
	}
	if strings.Contains(e.logs.String(), operatorKey) {
		t.Error("the operator key reached the logs")
	}
}
