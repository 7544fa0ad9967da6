package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"sync/atomic"
	"time"
)

// maxErrorBody caps the part of an error answer that is read: only its
// message is wanted.
const maxErrorBody = 64 << 10

// Client calls the five Supermemory key endpoints. It is safe for concurrent
// use. Its only ways to reach the API are its five methods; no method takes
// a path or URL.
type Client struct {
	base *url.URL
	// cred is behind a pointer so that printing a Client (%v, %+v, %#v)
	// shows an address, never the key.
	cred          *credential
	userAgent     string
	timeout       time.Duration
	hc            *http.Client
	knownTrace    bool // hc's transport reports httptrace events
	maxAttempts   int
	minBackoff    time.Duration
	maxBackoff    time.Duration
	maxRetryAfter time.Duration
	maxBody       int64

	// Test hooks.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

type credential struct {
	key           Secret
	authorization string
	// redactor finds the key, in any form, in upstream text.
	redactor *redactor
}

// New returns a client for cfg, or an error naming the first invalid
// setting. The error never quotes the API key or the base URL.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	var hc *http.Client
	if cfg.HTTPClient != nil {
		cp := *cfg.HTTPClient
		hc = &cp
	} else {
		hc = &http.Client{Transport: newTransport()}
	}
	hc.CheckRedirect = refuseRedirect
	known := false
	switch t := hc.Transport.(type) {
	case nil:
		_, known = http.DefaultTransport.(*http.Transport)
	case *http.Transport:
		known = t != nil
	}
	return &Client{
		base:          base,
		cred:          &credential{key: cfg.APIKey, authorization: "Bearer " + cfg.APIKey.Reveal(), redactor: newRedactor(cfg.APIKey.Reveal())},
		userAgent:     cfg.UserAgent,
		timeout:       cfg.Timeout,
		hc:            hc,
		knownTrace:    known,
		maxAttempts:   cfg.MaxAttempts,
		minBackoff:    cfg.MinBackoff,
		maxBackoff:    cfg.MaxBackoff,
		maxRetryAfter: cfg.MaxRetryAfter,
		maxBody:       cfg.MaxBodyBytes,
		sleep:         sleepContext,
		now:           time.Now,
	}, nil
}

func newTransport() http.RoundTripper {
	if t, ok := http.DefaultTransport.(*http.Transport); ok {
		return t.Clone()
	}
	return &http.Transport{Proxy: http.ProxyFromEnvironment, ForceAttemptHTTP2: true}
}

// readAtMost reads up to n bytes of r. A Content-Length hint sizes the
// buffer once (never beyond n), so that a large listing is not copied over
// and over as it grows.
func readAtMost(r io.Reader, n, hint int64) ([]byte, error) {
	size := int64(512)
	if hint > 0 {
		size = min(hint+1, n)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size))
	_, err := buf.ReadFrom(io.LimitReader(r, n))
	return buf.Bytes(), err
}

// refuseRedirect makes the HTTP client return a redirect as it is, so that
// the key is never sent to another location.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// CloseIdleConnections closes connections kept alive for reuse.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// response is a successful attempt: a status and a (capped) body.
type response struct {
	status    int
	header    http.Header
	body      []byte
	oversized bool
	attempts  int
}

func (c *Client) newError(ep endpoint, attempts int) *Error {
	return &Error{Op: ep.op(), Method: ep.method(), Endpoint: ep.template(), Attempts: attempts}
}

// refuse is the error for a call refused before any request.
func (c *Client) refuse(ep endpoint, reason string, err error) *Error {
	e := c.newError(ep, 0)
	e.Category, e.Message, e.Err = ErrInvalidRequest, reason, err
	return e
}

// decodeError is the error for a success answer that cannot be decoded.
// A create that got such an answer probably took effect.
func (c *Client) decodeError(ep endpoint, res *response, err error) *Error {
	e := c.newError(ep, res.attempts)
	e.Category, e.Status = ErrBadResponse, res.status
	e.Message = "the answer could not be decoded"
	e.Err = safeCause(err)
	if ep == epCreateScopedKey {
		e.OutcomeUnknown = true
		e.Message = "the API answered success, but the answer could not be decoded"
	}
	return e
}

// statusError is the error for an answer that is not a success.
func (c *Client) statusError(ep endpoint, res *response, attempt int, retryAfter time.Duration) *Error {
	e := c.newError(ep, attempt)
	e.Status, e.Category, e.RetryAfter = res.status, categoryFor(res.status), retryAfter
	if res.status >= 300 && res.status <= 399 {
		e.Message = "the API answered with a redirect, which is never followed"
	} else {
		e.Message = cleanMessage(upstreamMessage(res.body, res.status), c.cred.redactor)
	}
	if ep == epCreateScopedKey {
		// A gateway error or an internal error may come after the key was
		// stored; 503 and the 4xx mean the request was not carried out.
		switch res.status {
		case http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout:
			e.OutcomeUnknown = true
		}
	}
	return e
}

// call sends one request to ep, retrying where ep allows, and returns a
// success answer or an *Error.
func (c *Client) call(ctx context.Context, ep endpoint, id string, body []byte) (*response, error) {
	p, err := ep.path(id)
	if err != nil {
		return nil, c.refuse(ep, keyIDProblem(id), nil)
	}
	u := *c.base
	u.Path += p
	target := u.String()
	limit := 1
	if ep.retryTransport() {
		limit = c.maxAttempts
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			e := c.newError(ep, attempt-1)
			e.Category, e.Err = ErrUnavailable, err
			return nil, e
		}
		res, sent, err := c.attempt(ctx, ep, target, body)
		var (
			e     *Error
			retry bool
			ra    time.Duration
			raOK  bool
		)
		switch {
		case err == nil && res.status >= 200 && res.status <= 299:
			if res.oversized {
				e = c.newError(ep, attempt)
				e.Category, e.Status = ErrBadResponse, res.status
				e.Message = fmt.Sprintf("the answer is larger than %d bytes", c.maxBody)
				e.OutcomeUnknown = ep == epCreateScopedKey
				return nil, e
			}
			res.attempts = attempt
			return res, nil
		case err == nil:
			ra, raOK = parseRetryAfter(res.header.Get("Retry-After"), c.now())
			e = c.statusError(ep, res, attempt, ra)
			retry = ep.retryStatus(res.status)
		default:
			e = c.newError(ep, attempt)
			e.Category, e.Err = ErrUnavailable, redactErr(err, c.cred.redactor)
			if res != nil {
				e.Status = res.status // the body of a success could not be read
			}
			if ep == epCreateScopedKey && sent {
				e.Category, e.OutcomeUnknown = ErrOutcomeUnknown, true
			}
			cerr := ctx.Err()
			if cerr == nil && errors.Is(err, context.DeadlineExceeded) {
				e.Message = "no answer within " + c.timeout.String()
			}
			if cerr != nil {
				if !errors.Is(e.Err, cerr) {
					e.Err = fmt.Errorf("%w: %w", cerr, e.Err)
				}
				return nil, e
			}
			retry = ep.retryTransport() && transient(err)
		}
		if !retry || attempt >= limit {
			return nil, e
		}
		wait := c.backoff(attempt)
		if raOK {
			wait = max(wait, min(ra, c.maxRetryAfter))
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return nil, e // the context would end before the next attempt
		}
		if err := c.sleep(ctx, wait); err != nil {
			if e.Err == nil {
				e.Err = err
			} else {
				e.Err = fmt.Errorf("%w: %w", err, e.Err)
			}
			return nil, e
		}
	}
}

// attempt sends one request. sent reports whether the request may have
// reached the server; it is false only when the transport says the request
// was never written, or the failure was in dialling.
func (c *Client) attempt(ctx context.Context, ep endpoint, target string, body []byte) (res *response, sent bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var wrote atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{
		WroteHeaders: func() { wrote.Store(true) },
	})
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, ep.method(), target, rd)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Authorization", c.cred.authorization)
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if c.knownTrace {
			return nil, wrote.Load(), err
		}
		return nil, wrote.Load() || !isDialError(err), err
	}
	defer resp.Body.Close()
	res = &response{status: resp.StatusCode, header: resp.Header}
	success := resp.StatusCode >= 200 && resp.StatusCode <= 299
	limit := c.maxBody
	if !success {
		limit = min(limit, maxErrorBody)
	}
	data, err := readAtMost(resp.Body, limit+1, resp.ContentLength)
	if int64(len(data)) > limit {
		res.oversized = true
		data = data[:limit]
	}
	res.body = data
	if err != nil && success && !res.oversized {
		return res, true, fmt.Errorf("reading the answer: %w", err)
	}
	return res, true, nil
}
