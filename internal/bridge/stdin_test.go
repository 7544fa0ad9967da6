package bridge

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	keysclient "github.com/mcp-keys/mcp-keys/internal/client"
)

func TestRelayLongLine(t *testing.T) {
	rm := newRemote(t)
	b := startBridge(t, rm.url(), goodToken)
	out := b.raw()
	pad := strings.Repeat("x", 5<<20)
	b.send(t, `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"pad":"`+pad+`"}}`)
	b.send(t, rpcRequest(2, "tools/list", nil))

	m := out.next(t)
	if id, ok := m["id"]; !ok || id != nil {
		t.Errorf("the long line's answer has id %v, want null", id)
	}
	if code, msg := errorOf(t, m); code != codeParseError || !strings.Contains(msg, "longer than 4194304 bytes") {
		t.Errorf("got %d %q, want a parse error naming the cap", code, msg)
	}
	m = out.next(t)
	if m["id"] != 2.0 || m["result"] == nil {
		t.Errorf("the next request was not answered: %v", m)
	}
	lists := 0
	for _, r := range rm.requests() {
		if r.RPC == "tools/list" {
			lists++
		}
	}
	if lists != 1 {
		t.Errorf("the remote saw %d tools/list, want 1 (the long line must not reach it)", lists)
	}
}

func TestRelayInvalidInput(t *testing.T) {
	tests := []struct {
		name string
		line string
		// want are the answers before the ping's: id ("null" for null)
		// and code.
		want []struct {
			id   any
			code int
		}
	}{
		{"not JSON", "not json", []struct {
			id   any
			code int
		}{{nil, codeParseError}}},
		{"a JSON string", `"hello"`, []struct {
			id   any
			code int
		}{{nil, codeParseError}}},
		{"a batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, []struct {
			id   any
			code int
		}{{nil, codeInvalidRequest}}},
		{"an id and nothing else", `{"jsonrpc":"2.0","id":3}`, []struct {
			id   any
			code int
		}{{3.0, codeInvalidRequest}}},
		{"a blank line", "   ", nil},
		{"an answer to no request from the remote", `{"jsonrpc":"2.0","id":77,"result":{}}`, nil},
	}
	rm := newRemote(t)
	b := startBridge(t, rm.url(), goodToken)
	out := b.raw()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pingID := 1000 + i
			b.send(t, tt.line)
			b.send(t, rpcRequest(pingID, "ping", nil))
			var got []map[string]any
			for {
				m := out.next(t)
				if m["id"] == float64(pingID) {
					break
				}
				got = append(got, m)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d answers before the ping's, want %d: %v", len(got), len(tt.want), got)
			}
			for j, w := range tt.want {
				if got[j]["id"] != w.id {
					t.Errorf("answer %d id = %v, want %v", j, got[j]["id"], w.id)
				}
				if code, _ := errorOf(t, got[j]); code != w.code {
					t.Errorf("answer %d code = %d, want %d", j, code, w.code)
				}
			}
		})
	}
	if !strings.Contains(b.logs.String(), "answers no request from the remote") {
		t.Errorf("the stray answer was not logged")
	}
}

func TestRelayCancelAndDuplicateID(t *testing.T) {
	rm := newRemote(t)
	b := startBridge(t, rm.url(), goodToken)
	out := b.raw()
	slow := rpcRequest(5, "tools/call", map[string]any{"name": "slow"})
	b.send(t, slow)
	waitFor(t, func() bool {
		for _, r := range rm.requests() {
			if r.RPC == "tools/call" {
				return true
			}
		}
		return false
	})
	b.send(t, slow) // the same id while the first is in flight
	m := out.next(t)
	if code, msg := errorOf(t, m); m["id"] != 5.0 || code != codeInvalidRequest || !strings.Contains(msg, "already used") {
		t.Errorf("duplicate id: got %v", m)
	}

	b.send(t, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":5,"reason":"user"}}`)
	select {
	case <-rm.slowCancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the remote's handler was not cancelled")
	}
	b.send(t, rpcRequest(6, "ping", nil))
	if m := out.next(t); m["id"] != 6.0 {
		t.Errorf("after the cancel the next line is %v, want the ping's answer (a cancelled request gets none)", m)
	}
	for _, r := range rm.requests() {
		if r.RPC == "notifications/cancelled" {
			t.Errorf("notifications/cancelled was relayed; ending the exchange is the cancellation")
		}
	}
}

func TestRelayFinishesInFlightAtEOF(t *testing.T) {
	rm := newRemote(t)
	b := startBridge(t, rm.url(), goodToken)
	out := b.raw()
	b.send(t, rpcRequest(1, "tools/call", map[string]any{"name": "greet", "arguments": map[string]any{"name": "Eve"}}))
	_ = b.stdin.Close()
	m := out.next(t)
	res, _ := m["result"].(map[string]any)
	if m["id"] != 1.0 || res == nil || !strings.Contains(must(jsonText(res)), "Hello, Eve!") {
		t.Errorf("the request in flight at EOF was not answered: %v", m)
	}
}

func TestRelayStopsOnCancel(t *testing.T) {
	rm := newRemote(t)
	b := startBridge(t, rm.url(), goodToken)
	b.send(t, rpcRequest(1, "tools/call", map[string]any{"name": "slow"}))
	waitFor(t, func() bool { return len(rm.requests()) > 0 })
	b.cancel()
	go func() { _, _ = io.Copy(io.Discard, b.stdout) }()
	select {
	case err := <-b.done:
		if err != nil {
			t.Errorf("Run after cancel: %v", err)
		}
		b.done <- nil
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	select {
	case <-rm.slowCancelled:
	case <-time.After(5 * time.Second):
		t.Error("the call in flight was not cancelled")
	}
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestRelayStdoutFailure(t *testing.T) {
	rm := newRemote(t)
	logs := &syncBuffer{}
	err := Run(context.Background(), Config{URL: rm.url(), Token: keysclient.Secret(goodToken)},
		strings.NewReader(rpcRequest(1, "ping", nil)+"\n"), failingWriter{}, zerolog.New(logs))
	if err == nil || !strings.Contains(err.Error(), "write stdout") {
		t.Errorf("Run = %v, want a stdout write error", err)
	}
	assertNoToken(t, "logs", logs.String())
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// jsonText returns the text of the first content item of a tool result.
func jsonText(res map[string]any) (string, error) {
	content, _ := res["content"].([]any)
	if len(content) == 0 {
		return "", errors.New("no content")
	}
	first, _ := content[0].(map[string]any)
	text, _ := first["text"].(string)
	return text, nil
}
