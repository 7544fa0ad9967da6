package bridge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"
)

// Run relays MCP between stdin/stdout (newline-delimited JSON-RPC) and the
// remote mcp-keys at cfg.URL until stdin ends, ctx is cancelled or stdout
// fails. At the end of stdin it lets the requests in flight finish (at most
// cfg.DrainTimeout) and returns nil; on cancellation (SIGINT, SIGTERM) it
// cancels them and returns nil. A configuration error wraps [ErrConfig] and
// is returned before anything is read; a failed write to stdout or read from
// stdin is returned as is. Logs go to logger only; stdout carries nothing
// but JSON-RPC messages.
func Run(ctx context.Context, cfg Config, stdin io.Reader, stdout io.Writer, logger zerolog.Logger) error {
	cfg, endpoint, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	r := newRelay(cfg, endpoint, stdout, logger)
	return r.run(ctx, stdin)
}

// relay is one run of the bridge.
type relay struct {
	cfg      Config
	endpoint *url.URL
	where    string // the endpoint as shown in messages and logs
	http     *http.Client
	log      zerolog.Logger
	out      *lineWriter
	queue    chan outgoing // notifications and answers, sent in order

	mu         sync.Mutex
	session    string              // Mcp-Session-Id issued by initialize (protocol ≤ 2025-11-25)
	version    string              // protocol version initialize negotiated
	tools      map[string]mcp.Tool // from tools/list, for Mcp-Param-* headers
	inflight   map[string]*callState
	serverReqs map[string]serverRequest // server→client requests not answered yet, by id
	closed     bool                     // stdin ended: server→client requests cannot be answered

	calls sync.WaitGroup
}

// outgoing is a notification or an answer to a server→client request.
type outgoing struct {
	msg []byte
	env envelope
	// req is the server→client request an answer answers (zero for a
	// notification or a refusal).
	req serverRequest
}

// serverRequest is a server→client request relayed to the client.
type serverRequest struct {
	method string
	origin string // the id key of the call on whose stream it came
}

// callState is a request in flight.
type callState struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	failed *failure
}

// fail ends the call with f: its HTTP request is cancelled and f is what
// the client is told.
func (c *callState) fail(f *failure) {
	c.mu.Lock()
	if c.failed == nil {
		c.failed = f
	}
	c.mu.Unlock()
	c.cancel()
}

// failure returns what fail set, if anything.
func (c *callState) failure() *failure {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

func newRelay(cfg Config, endpoint *url.URL, stdout io.Writer, logger zerolog.Logger) *relay {
	return &relay{
		cfg:        cfg,
		endpoint:   endpoint,
		where:      displayURL(endpoint),
		http:       noRedirects(cfg.HTTPClient),
		log:        logger,
		out:        newLineWriter(stdout),
		queue:      make(chan outgoing, 64),
		tools:      make(map[string]mcp.Tool),
		inflight:   make(map[string]*callState),
		serverReqs: make(map[string]serverRequest),
	}
}

// noRedirects returns a copy of c (or of a default client) that follows no
// redirect, so that the token is sent to the configured URL only.
func noRedirects(c *http.Client) *http.Client {
	var hc http.Client
	if c != nil {
		hc = *c
	} else {
		hc.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &hc
}

// input is one line read from stdin.
type input struct {
	line    []byte
	tooLong bool
	err     error
}

func (r *relay) run(ctx context.Context, stdin io.Reader) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	lines := make(chan input)
	go readInput(ctx, newLineReader(stdin, MaxLineBytes), lines)
	senderDone := make(chan struct{})
	go r.sender(ctx, senderDone)
	defer func() {
		close(r.queue) // no call is left to enqueue
		<-senderDone
	}()

	r.log.Info().Str("remote", r.where).Msg("relaying MCP between stdio and the remote mcp-keys")
	for {
		select {
		case <-ctx.Done():
			r.log.Info().Msg("stopping: cancelled")
			r.stop()
			return r.out.failure()
		case <-r.out.broken:
			r.stop()
			return r.out.failure()
		case in, ok := <-lines:
			switch {
			case !ok:
				return r.drain(ctx)
			case in.err != nil:
				r.log.Error().Err(in.err).Msg("stopping: cannot read stdin")
				r.stop()
				return in.err
			}
			r.dispatch(ctx, in)
		}
	}
}

// readInput sends the lines of stdin to lines and closes it at the end of
// stdin; a read error is sent first. It stops early when ctx ends.
func readInput(ctx context.Context, lr *lineReader, lines chan<- input) {
	defer close(lines)
	for {
		line, tooLong, err := lr.next()
		if errors.Is(err, io.EOF) {
			return
		}
		select {
		case lines <- input{line: line, tooLong: tooLong, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// stopWait bounds how long stop waits for cancelled calls, which can only
// be stuck writing to a stdout nobody reads.
const stopWait = 5 * time.Second

// stop cancels the calls in flight and waits for them (at most stopWait).
func (r *relay) stop() {
	r.mu.Lock()
	r.closed = true
	for _, st := range r.inflight {
		st.cancel()
	}
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		r.calls.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(stopWait):
		r.log.Warn().Msg("stopping without waiting for requests stuck writing to stdout")
	}
}

// drain runs at the end of stdin: server→client requests still waiting are
// refused (nobody is left to answer them), the calls in flight may finish
// within DrainTimeout, and the session is ended.
func (r *relay) drain(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	waiting := make([]string, 0, len(r.serverReqs))
	for key := range r.serverReqs {
		waiting = append(waiting, key)
	}
	clear(r.serverReqs)
	inflight := len(r.inflight)
	r.mu.Unlock()
	for _, key := range waiting {
		r.refuseServerRequest(ctx, []byte(key))
	}
	r.log.Info().Int("in_flight", inflight).Msg("stdin ended; finishing the requests in flight")

	done := make(chan struct{})
	go func() {
		r.calls.Wait()
		close(done)
	}()
	timer := time.NewTimer(r.cfg.DrainTimeout)
	defer timer.Stop()
	select {
	case <-done:
	case <-timer.C:
		r.log.Warn().Dur("after", r.cfg.DrainTimeout).Msg("cancelling the requests still in flight")
		r.stop()
	case <-ctx.Done():
		r.stop()
	case <-r.out.broken:
		r.stop()
	}
	r.endSession(ctx)
	r.log.Info().Msg("stopped")
	return r.out.failure()
}

// dispatch handles one line from stdin.
func (r *relay) dispatch(ctx context.Context, in input) {
	if in.tooLong {
		r.log.Warn().Int("max_bytes", MaxLineBytes).Msg("discarded a message longer than the cap")
		r.emit(errorResponse(nil, rpcError{Code: codeParseError,
			Message: fmt.Sprintf("Parse error: a message longer than %d bytes was discarded", MaxLineBytes)}))
		return
	}
	if len(bytes.TrimSpace(in.line)) == 0 {
		return
	}
	msg, env, err := parseMessage(in.line)
	if err != nil {
		if t := bytes.TrimSpace(in.line); t[0] == '[' {
			r.emit(errorResponse(nil, rpcError{Code: codeInvalidRequest,
				Message: "Invalid Request: JSON-RPC batches are not supported; send one message a line"}))
			return
		}
		r.emit(errorResponse(nil, rpcError{Code: codeParseError, Message: "Parse error: a line is not a JSON object"}))
		return
	}
	switch env.kind() {
	case kindRequest:
		r.startCall(ctx, msg, env)
	case kindNotification:
		if env.Method == string(mcp.MethodNotificationCancelled) {
			r.cancelCall(env.Params)
			return
		}
		r.enqueue(ctx, outgoing{msg: msg, env: env})
	case kindResponse:
		r.answer(ctx, msg, env)
	default:
		if env.hasID() || len(env.Error) == 0 { // an error with a null id answers nothing
			r.emit(errorResponse(env.ID, rpcError{Code: codeInvalidRequest,
				Message: "Invalid Request: a message needs a method, or an id with a result or error"}))
		}
	}
}

// emit writes a message of the bridge's own to stdout.
func (r *relay) emit(msg []byte) {
	_ = r.out.write(r.scrub(msg)) // a failure closes out.broken, which stops run
}

// scrub replaces the token, should it ever appear, with a marker.
func (r *relay) scrub(b []byte) []byte {
	tok := r.cfg.Token.Reveal()
	if tok == "" || !bytes.Contains(b, []byte(tok)) {
		return b
	}
	return bytes.ReplaceAll(b, []byte(tok), []byte("[REDACTED]"))
}

// startCall relays a request on its own goroutine.
func (r *relay) startCall(ctx context.Context, msg []byte, env envelope) {
	key := idKey(env.ID)
	r.mu.Lock()
	if _, dup := r.inflight[key]; dup {
		r.mu.Unlock()
		r.emit(errorResponse(env.ID, rpcError{Code: codeInvalidRequest,
			Message: "Invalid Request: this id is already used by a request in flight"}))
		return
	}
	ctx, cancel := context.WithCancel(ctx)
	st := &callState{cancel: cancel}
	r.inflight[key] = st
	r.calls.Add(1)
	r.mu.Unlock()
	go func() {
		defer r.calls.Done()
		defer func() {
			r.mu.Lock()
			delete(r.inflight, key)
			r.mu.Unlock()
			cancel()
		}()
		r.call(ctx, st, msg, env, key)
	}()
}

// cancelCall cancels the call named by a notifications/cancelled, and no
// answer is written for it. Over Streamable HTTP, ending the request's HTTP
// exchange is the cancellation (mcp-go cancels the handler's context with
// the connection), so the notification itself is not relayed: from
// 2026-07-28 it would be refused without a session anyway.
func (r *relay) cancelCall(params []byte) {
	var raw struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	if json.Unmarshal(params, &raw) != nil || len(raw.RequestID) == 0 {
		return
	}
	key := idKey(raw.RequestID)
	r.mu.Lock()
	st := r.inflight[key]
	r.mu.Unlock()
	if st != nil {
		r.log.Debug().Msg("the client cancelled a request")
		st.cancel()
	}
}

// answer relays the stdio client's answer to a server→client request.
func (r *relay) answer(ctx context.Context, msg []byte, env envelope) {
	key := idKey(env.ID)
	r.mu.Lock()
	req, ok := r.serverReqs[key]
	delete(r.serverReqs, key)
	r.mu.Unlock()
	if !ok {
		r.log.Warn().Msg("dropped a response from the client that answers no request from the remote")
		return
	}
	r.enqueue(ctx, outgoing{msg: msg, env: env, req: req})
}

// failCall ends the call key, if still in flight, with f.
func (r *relay) failCall(key string, f *failure) {
	r.mu.Lock()
	st := r.inflight[key]
	r.mu.Unlock()
	if st != nil {
		st.fail(f)
	}
}

// refuseServerRequest answers a server→client request that nobody can answer
// any more (stdin ended), so that the remote need not wait for it.
func (r *relay) refuseServerRequest(ctx context.Context, id []byte) {
	msg := errorResponse(id, rpcError{Code: codeInternalError,
		Message: "the stdio client has gone away (stdin ended); this request cannot be answered"})
	r.enqueue(ctx, outgoing{msg: msg, env: envelope{ID: id, Error: []byte("{}")}})
}

// enqueue hands a notification or answer to the sender, which POSTs them in
// order; it gives up when ctx ends.
func (r *relay) enqueue(ctx context.Context, o outgoing) {
	select {
	case r.queue <- o:
	case <-ctx.Done():
	}
}

// sender POSTs the queued notifications and answers until the queue closes.
func (r *relay) sender(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	for o := range r.queue {
		r.send(ctx, o)
	}
}
