package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

// Limits on exchanges with the remote.
const (
	// sendTimeout bounds the POST of a notification or an answer.
	sendTimeout = 30 * time.Second
	// endSessionTimeout bounds the DELETE that ends a session.
	endSessionTimeout = 5 * time.Second
	// maxReasonBytes is how much of an error body is read for its reason.
	maxReasonBytes = 4 << 10
)

// post sends one message to the remote endpoint with the Streamable HTTP
// headers, and returns the response and the session ID it carried.
func (r *relay) post(ctx context.Context, msg []byte, env envelope) (*http.Response, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.endpoint.String(), bytes.NewReader(msg))
	if err != nil {
		return nil, "", fmt.Errorf("build request: %w", err)
	}
	h := req.Header
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json, text/event-stream")
	h.Set("User-Agent", r.cfg.UserAgent)
	h.Set("Authorization", "Bearer "+r.cfg.Token.Reveal())

	r.mu.Lock()
	version, session := r.version, r.session
	r.mu.Unlock()
	if env.Method == string(mcp.MethodInitialize) {
		// initialize starts a session and negotiates the version itself.
		version, session = "", ""
	}
	if v := metaVersion(env.Params); v != "" {
		// From 2026-07-28 every request states its version in _meta, and
		// the header must agree.
		version = v
	}
	if version != "" {
		h.Set(mcp.HeaderProtocolVersion, version)
	}
	if mcp.IsModernProtocol(version) {
		session = "" // 2026-07-28 has no sessions
		if env.Method != "" {
			for k, v := range mcp.StandardHeaders(version, mcp.MCPMethod(env.Method), env.Params) {
				h.Set(k, v)
			}
		}
		if env.Method == string(mcp.MethodToolsCall) {
			for k, v := range r.paramHeaders(env.Params) {
				h.Set(k, v)
			}
		}
	}
	if session != "" {
		h.Set(mcp.HeaderSessionID, session)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return nil, "", err
	}
	return resp, session, nil
}

// paramHeaders returns the Mcp-Param-* headers of a tools/call, from the
// tool's x-mcp-header annotations as the last tools/list showed them.
func (r *relay) paramHeaders(params json.RawMessage) map[string]string {
	var p struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(params, &p) != nil {
		return nil
	}
	r.mu.Lock()
	tool, ok := r.tools[p.Name]
	r.mu.Unlock()
	if !ok {
		return nil
	}
	return mcp.GenerateParamHeaders(&tool, params)
}

// metaVersion returns params._meta["io.modelcontextprotocol/protocolVersion"].
func metaVersion(params json.RawMessage) string {
	if len(params) == 0 {
		return ""
	}
	var p struct {
		Meta map[string]json.RawMessage `json:"_meta"`
	}
	if json.Unmarshal(params, &p) != nil {
		return ""
	}
	var v string
	if json.Unmarshal(p.Meta[mcp.MetaKeyProtocolVersion], &v) != nil {
		return ""
	}
	return v
}

// call relays one request and writes its answer, or a failure a person can
// act on. A cancelled call writes nothing.
func (r *relay) call(ctx context.Context, st *callState, msg []byte, env envelope, key string) {
	start := time.Now()
	f := r.exchange(ctx, msg, env, key)
	if failed := st.failure(); failed != nil {
		f = failed
	}
	ev := r.log.Debug()
	switch {
	case f == nil && ctx.Err() != nil:
		ev = r.log.Debug().Bool("cancelled", true)
	case f != nil:
		f.message = string(r.scrub([]byte(f.message)))
		ev = r.log.Warn().Int("code", f.code).Str("error", f.message)
		if env.Method == string(mcp.MethodToolsCall) {
			r.emit(toolErrorResponse(env.ID, f.message))
		} else {
			r.emit(errorResponse(env.ID, f.rpc()))
		}
	}
	ev.Str("method", clean(env.Method, 100)).Dur("took", time.Since(start)).Msg("request relayed")
}

// exchange POSTs a request and relays what comes back until its answer.
// It returns a failure when there is no answer to relay.
func (r *relay) exchange(ctx context.Context, msg []byte, env envelope, key string) *failure {
	resp, session, err := r.post(ctx, msg, env)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return unreachable(r.where, err)
	}
	defer resp.Body.Close()
	status := resp.StatusCode
	switch {
	case status == http.StatusOK:
		return r.relayBody(ctx, resp, env, key)
	case status == http.StatusAccepted:
		return protocolFailure(r.where, "accepted the request (HTTP 202) but sent no answer")
	case status == http.StatusNotFound && session != "":
		r.dropSession(session)
		return &failure{CodeRemoteError, fmt.Sprintf(
			"The remote mcp-keys at %s no longer knows this MCP session (HTTP 404; it may have restarted). "+
				"Restart your MCP client to reconnect.", r.where), map[string]any{"httpStatus": status}}
	case status >= 400 && status < 500 && status != http.StatusUnauthorized &&
		status != http.StatusForbidden && status != http.StatusTooManyRequests:
		// From 2026-07-28 JSON-RPC errors come with 4xx statuses (an
		// unsupported version, a header mismatch, an unknown method):
		// relay them as they are.
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxServerMessageBytes))
		if isJSON(resp.Header) && r.relayAnswer(body, env, key, resp.Header) {
			return nil
		}
		return statusFailure(r.where, resp, body, time.Now())
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReasonBytes))
	return statusFailure(r.where, resp, body, time.Now())
}

// isJSON reports whether the response's content type is application/json.
func isJSON(h http.Header) bool {
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	return mt == "application/json"
}

// relayBody relays a 200 answer: one JSON message, or an event stream.
func (r *relay) relayBody(ctx context.Context, resp *http.Response, env envelope, key string) *failure {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	switch mt {
	case "application/json":
		body, err := io.ReadAll(io.LimitReader(resp.Body, maxServerMessageBytes+1))
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			return unreachable(r.where, err)
		case len(body) > maxServerMessageBytes:
			return protocolFailure(r.where, fmt.Sprintf("sent an answer larger than %d bytes", maxServerMessageBytes))
		}
		if r.relayAnswer(body, env, key, resp.Header) {
			return nil
		}
		return protocolFailure(r.where, "answered with something that is not a JSON-RPC response to this request")
	case "text/event-stream":
		return r.relayStream(ctx, resp, env, key)
	}
	return protocolFailure(r.where, fmt.Sprintf("answered with content type %q instead of JSON or an event stream",
		clean(resp.Header.Get("Content-Type"), 100)))
}

// relayStream relays the messages of an event stream until the answer to
// the request.
func (r *relay) relayStream(ctx context.Context, resp *http.Response, env envelope, key string) *failure {
	events := newSSEReader(resp.Body, maxServerMessageBytes)
	for {
		data, err := events.next()
		switch {
		case ctx.Err() != nil:
			return nil
		case errors.Is(err, io.EOF):
			f := protocolFailure(r.where, "ended the event stream before answering this request")
			f.code = CodeUnavailable
			f.message += " Try again."
			return f
		case errors.Is(err, errEventTooLarge):
			return protocolFailure(r.where, fmt.Sprintf("sent a message larger than %d bytes", maxServerMessageBytes))
		case err != nil:
			return unreachable(r.where, err)
		}
		if r.relayServerMessage(ctx, data, env, key, resp.Header) {
			return nil
		}
	}
}

// relayAnswer writes a JSON body to stdout if it is the answer to the
// request key, and reports whether it was.
func (r *relay) relayAnswer(raw []byte, req envelope, key string, h http.Header) bool {
	msg, env, err := parseMessage(r.scrub(raw))
	if err != nil || env.kind() != kindResponse || idKey(env.ID) != key {
		return false
	}
	r.observe(req, env, h) // before the client can send its next message
	_ = r.out.write(msg)
	return true
}

// relayServerMessage writes one message from the remote to stdout and
// reports whether it was the answer to the request key. A server→client
// request is remembered so that the client's answer can be relayed back;
// once stdin has ended it is refused instead.
func (r *relay) relayServerMessage(ctx context.Context, raw []byte, req envelope, key string, h http.Header) bool {
	msg, env, err := parseMessage(r.scrub(raw))
	if err != nil {
		r.log.Warn().Int("bytes", len(raw)).Msg("dropped a message from the remote that is not a JSON object")
		return false
	}
	switch env.kind() {
	case kindRequest:
		id := idKey(env.ID)
		r.mu.Lock()
		closed := r.closed
		if !closed {
			r.serverReqs[id] = serverRequest{method: clean(env.Method, 100), origin: key}
		}
		r.mu.Unlock()
		if closed {
			r.refuseServerRequest(ctx, env.ID)
			return false
		}
		r.log.Debug().Str("method", clean(env.Method, 100)).Msg("relaying a request from the remote")
		_ = r.out.write(msg)
	case kindNotification:
		_ = r.out.write(msg)
	case kindResponse:
		mine := idKey(env.ID) == key
		if mine {
			r.observe(req, env, h) // before the client can send its next message
		}
		_ = r.out.write(msg)
		if mine {
			return true
		}
	default:
		if len(env.Error) > 0 { // an error with a null id
			_ = r.out.write(msg)
		} else {
			r.log.Warn().Msg("dropped a message from the remote that is not JSON-RPC")
		}
	}
	return false
}

// observe learns from the answer to req what later requests need: the
// session and version initialize negotiated, and the tools tools/list shows.
func (r *relay) observe(req, resp envelope, h http.Header) {
	if len(resp.Result) == 0 || bytes.Equal(resp.Result, []byte("null")) {
		return
	}
	switch req.Method {
	case string(mcp.MethodInitialize):
		var res struct {
			ProtocolVersion string `json:"protocolVersion"`
		}
		_ = json.Unmarshal(resp.Result, &res)
		session := h.Get(mcp.HeaderSessionID)
		if !validSessionID(session) {
			if session != "" {
				r.log.Warn().Msg("ignoring a session ID from the remote that is not visible ASCII")
			}
			session = ""
		}
		r.mu.Lock()
		r.version, r.session = clean(res.ProtocolVersion, 40), session
		r.mu.Unlock()
		r.log.Info().Str("protocol", clean(res.ProtocolVersion, 40)).Bool("session", session != "").Msg("initialized")
	case string(mcp.MethodToolsList):
		var res mcp.ListToolsResult
		if json.Unmarshal(resp.Result, &res) != nil {
			return
		}
		r.mu.Lock()
		for _, t := range res.Tools {
			r.tools[t.Name] = t
		}
		r.mu.Unlock()
	}
}

// validSessionID reports whether s is 1 to 256 visible ASCII characters.
func validSessionID(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// dropSession forgets session once the remote no longer knows it.
func (r *relay) dropSession(session string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.session == session {
		r.session = ""
	}
}

// send POSTs a notification or an answer; the remote acknowledges with 202.
// A failed notification can only be logged. A failed answer also ends the
// call on whose stream the request came, which would otherwise wait for
// the answer forever.
func (r *relay) send(parent context.Context, o outgoing) {
	ctx, cancel := context.WithTimeout(parent, sendTimeout)
	defer cancel()
	what := "notification " + clean(o.env.Method, 100)
	if o.env.Method == "" {
		what = "answer to a request from the remote"
	}
	f := r.deliver(ctx, o)
	if parent.Err() != nil {
		return // shutting down
	}
	if f == nil {
		r.log.Debug().Msg("relayed the " + what)
		return
	}
	f.message = string(r.scrub([]byte(f.message)))
	r.log.Warn().Str("error", f.message).Msg("could not relay the " + what)
	if o.req.origin != "" {
		r.failCall(o.req.origin, &failure{f.code, fmt.Sprintf(
			"The answer to the remote's %s could not be delivered, so this call cannot finish. %s",
			o.req.method, f.message), f.data})
	}
}

// deliver POSTs o and returns why the remote did not accept it, if it did
// not.
func (r *relay) deliver(ctx context.Context, o outgoing) *failure {
	resp, _, err := r.post(ctx, o.msg, o.env)
	if err != nil {
		return unreachable(r.where, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxReasonBytes))
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
		return nil
	}
	return statusFailure(r.where, resp, body, time.Now())
}

// endSession ends a session initialize opened (protocol ≤ 2025-11-25) with
// a DELETE, best effort.
func (r *relay) endSession(ctx context.Context) {
	r.mu.Lock()
	session, version := r.session, r.version
	r.mu.Unlock()
	if session == "" || mcp.IsModernProtocol(version) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endSessionTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, r.endpoint.String(), nil)
	if err != nil {
		return
	}
	req.Header.Set("User-Agent", r.cfg.UserAgent)
	req.Header.Set("Authorization", "Bearer "+r.cfg.Token.Reveal())
	req.Header.Set(mcp.HeaderSessionID, session)
	if version != "" {
		req.Header.Set(mcp.HeaderProtocolVersion, version)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxReasonBytes))
	_ = resp.Body.Close()
}
