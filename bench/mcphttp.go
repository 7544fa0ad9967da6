package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// httpProtocol is the protocol version the HTTP sessions speak: what MCP
// hosts use today, with the initialize handshake and a session id.
const httpProtocol = "2025-11-25"

// newHTTPTransport is the load generator's connection pool: keep-alive,
// room for every session's connections (a POST one and a GET one each), no
// proxy, no compression. Loopback only.
func newHTTPTransport(maxConns int) *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        2 * maxConns,
		MaxIdleConnsPerHost: 2 * maxConns,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
}

// mcpSession is one MCP client session over Streamable HTTP, driven with
// raw JSON-RPC POSTs (as light a client as can be, since it shares the
// machine with the server). Not safe for concurrent use: each simulated
// caller has its own.
type mcpSession struct {
	c       *http.Client
	url     string
	auth    string // the Authorization header, or ""
	session string // Mcp-Session-Id, once initialized
	nextID  int
}

// newSession is a session of url (…/mcp) authenticated with token ("" for
// none). Requests time out after 30 s.
func newSession(tr *http.Transport, url, token string) *mcpSession {
	s := &mcpSession{c: &http.Client{Transport: tr, Timeout: 30 * time.Second}, url: url}
	if token != "" {
		s.auth = "Bearer " + token
	}
	return s
}

// initialize performs the handshake: initialize, then
// notifications/initialized (answered 202).
func (s *mcpSession) initialize(ctx context.Context) error {
	init := []byte(`{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":"` + httpProtocol + `","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}`)
	if _, _, err := s.request(ctx, init, false); err != nil {
		return fmt.Errorf("initialize: %w", err)
	}
	if s.session == "" {
		return errors.New("initialize: no Mcp-Session-Id")
	}
	resp, err := s.post(ctx, []byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}`))
	if err != nil {
		return fmt.Errorf("notifications/initialized: %w", err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return fmt.Errorf("notifications/initialized: HTTP %d", resp.StatusCode)
	}
	return nil
}

// post sends one message.
func (s *mcpSession) post(ctx context.Context, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("Mcp-Protocol-Version", httpProtocol)
	if s.session != "" {
		h.Set("Mcp-Session-Id", s.session)
	}
	if s.auth != "" {
		h.Set("Authorization", s.auth)
	}
	return s.c.Do(req)
}

// call makes one tools/call (format with a %d for the id) and returns the
// time from the start of the request to the end of the answer's body, and
// the answer's size. A refusal, a JSON-RPC error or an isError result is an
// error; checking happens after the clock stops.
func (s *mcpSession) call(ctx context.Context, format []byte) (time.Duration, int, error) {
	return s.request(ctx, format, true)
}

// request sends a request and reads its answer (a JSON body, or an SSE
// stream carrying it).
func (s *mcpSession) request(ctx context.Context, format []byte, tool bool) (time.Duration, int, error) {
	s.nextID++
	id := s.nextID
	body := fmt.Appendf(nil, string(format), id)
	t0 := time.Now()
	resp, err := s.post(ctx, body)
	if err != nil {
		return 0, 0, err
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	resp.Body.Close()
	d := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("HTTP %d: %.200q", resp.StatusCode, data)
	}
	if sid := resp.Header.Get("Mcp-Session-Id"); sid != "" {
		s.session = sid
	}
	msg := data
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		if msg = sseAnswer(data, id); msg == nil {
			return 0, 0, fmt.Errorf("no answer with id %d on the SSE stream", id)
		}
	}
	res, ok, err := answer(msg, id)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, fmt.Errorf("answer for another id: %.80q", msg)
	}
	if tool {
		var tr struct {
			IsError bool `json:"isError"`
		}
		if err := json.Unmarshal(res, &tr); err != nil || tr.IsError {
			return 0, 0, fmt.Errorf("tool call failed (isError=%v, %v): %.200q", tr.IsError, err, res)
		}
	}
	return d, len(res), nil
}

// sseAnswer finds the data line of an SSE body that answers id.
func sseAnswer(body []byte, id int) []byte {
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 8<<20)
	for sc.Scan() {
		line, ok := bytes.CutPrefix(sc.Bytes(), []byte("data:"))
		if !ok {
			continue
		}
		line = bytes.TrimSpace(line)
		if _, ok, err := answer(line, id); ok || err != nil {
			return bytes.Clone(line)
		}
	}
	return nil
}

// listen opens the session's standalone GET stream (server→client
// messages), as the TypeScript SDK does after initialization, and drains it
// until ctx ends. It returns once the stream is open (HTTP 200).
func (s *mcpSession) listen(ctx context.Context, tr *http.Transport) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", httpProtocol)
	req.Header.Set("Mcp-Session-Id", s.session)
	if s.auth != "" {
		req.Header.Set("Authorization", s.auth)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req) // no timeout: ctx ends it
	if err != nil {
		return fmt.Errorf("GET stream: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return fmt.Errorf("GET stream: HTTP %d", resp.StatusCode)
	}
	go func() {
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
	}()
	return nil
}
