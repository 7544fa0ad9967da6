package bridge

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// failure is why the remote gave no answer to a message, told so that a
// person can act on it. Its text never holds the token. It is not an error
// value: it is only ever answered to the client, as a JSON-RPC error object
// (rpc) or a tool's error result, and logged by its message.
type failure struct {
	code    int
	message string
	data    map[string]any
}

// rpc returns the JSON-RPC error object for f.
func (f *failure) rpc() rpcError {
	return rpcError{Code: f.code, Message: f.message, Data: f.data}
}

// statusFailure explains an HTTP answer that carries no JSON-RPC answer:
// 401, 403, 429, 5xx, a redirect, or another unexpected status. body is
// (the start of) the response body, shown only as a short, cleaned reason.
func statusFailure(where string, resp *http.Response, body []byte, now time.Time) *failure {
	status := resp.StatusCode
	data := map[string]any{"httpStatus": status}
	auth := authParams(resp.Header.Values("WWW-Authenticate"))
	switch {
	case status == http.StatusUnauthorized:
		detail := ""
		if e := auth["error"]; e != "" {
			detail = ", " + clean(e, 40)
			data["error"] = clean(e, 40)
		}
		return &failure{CodeTokenRefused, fmt.Sprintf(
			"The remote mcp-keys at %s refused the caller token (HTTP 401%s). "+
				"Check that MCP_KEYS_TOKEN_FILE (or MCP_KEYS_TOKEN) holds the token the operator gave you; "+
				"if it was revoked or has expired, ask the operator for a new one (`mcp-keys caller add NAME`) "+
				"and restart this MCP server.", where, detail), data}
	case status == http.StatusForbidden && auth["error"] == "insufficient_scope":
		data["error"] = "insufficient_scope"
		need := "a scope this call needs"
		if s := clean(auth["scope"], 100); s != "" {
			need = "the scope " + s
			data["scope"] = s
		}
		return &failure{CodeForbidden, fmt.Sprintf(
			"The remote mcp-keys at %s refused this call: the caller token lacks %s (HTTP 403 insufficient_scope). "+
				"Ask the operator for a token with it (`mcp-keys caller add NAME --scopes keys:read,keys:write`) "+
				"and put it in MCP_KEYS_TOKEN_FILE.", where, need), data}
	case status == http.StatusForbidden:
		return &failure{CodeForbidden, fmt.Sprintf(
			"The remote mcp-keys at %s refused the request (HTTP 403%s). "+
				"Ask its operator to allow this caller (an Origin or Host it does not accept is refused the same way).",
			where, reason(body)), data}
	case status == http.StatusTooManyRequests:
		wait := "Wait a minute and try again."
		if secs, ok := retryAfter(resp.Header, now); ok {
			wait = fmt.Sprintf("Wait %d seconds and try again.", secs)
			data["retryAfterSeconds"] = secs
		}
		return &failure{CodeRateLimited, fmt.Sprintf(
			"The remote mcp-keys at %s is rate-limiting this caller (HTTP 429). %s", where, wait), data}
	case status >= 500:
		return &failure{CodeUnavailable, fmt.Sprintf(
			"The remote mcp-keys at %s is unavailable (HTTP %d %s). "+
				"Try again later; if it persists, tell its operator.", where, status, http.StatusText(status)), data}
	case status >= 300 && status < 400:
		to := "another address"
		if loc, err := resp.Location(); err == nil {
			to = displayURL(loc)
		}
		return &failure{CodeRemoteError, fmt.Sprintf(
			"The remote mcp-keys at %s answered with a redirect (HTTP %d to %s), which is not followed so that "+
				"the token goes nowhere else. Give `mcp-keys connect` the final URL.", where, status, to), data}
	}
	return &failure{CodeRemoteError, fmt.Sprintf(
		"The remote mcp-keys at %s answered HTTP %d%s. If it persists, tell its operator.", where, status, reason(body)), data}
}

// unreachable explains a request that got no HTTP answer at all.
func unreachable(where string, err error) *failure {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // the URL is in where already
	}
	return &failure{CodeUnavailable, fmt.Sprintf(
		"The remote mcp-keys at %s is unavailable: %s. "+
			"Check the URL given to `mcp-keys connect` and the network; if it persists, tell its operator.",
		where, clean(err.Error(), 300)), nil}
}

// protocolFailure explains an answer the bridge could not relay: a wrong
// content type, a body that is not JSON-RPC, a stream that ended early.
func protocolFailure(where, what string) *failure {
	return &failure{CodeRemoteError, fmt.Sprintf(
		"The remote mcp-keys at %s %s. Check that the URL points at an mcp-keys /mcp endpoint; "+
			"if it does, tell its operator.", where, what), nil}
}

// reason is ": <first line of body>", cleaned and short, or "" when there
// is nothing printable.
func reason(body []byte) string {
	line, _, _ := strings.Cut(string(body), "\n")
	if c := clean(line, 200); c != "" {
		return ": " + c
	}
	return ""
}

// clean keeps printable characters of s, at most n bytes (cut on a rune
// boundary), trimmed.
func clean(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError || r < ' ' || r == 0x7f {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		b.WriteRune(r)
	}
	return strings.TrimSpace(b.String())
}

// displayURL is scheme://host/path: no userinfo, query or fragment.
func displayURL(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}
