package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"
)

// Categories of failure. Every error returned by a [Client] method is an
// [*Error] that matches exactly one of them with [errors.Is] (a create whose
// outcome is unknown matches [ErrOutcomeUnknown] as well).
var (
	// ErrUnauthorized: HTTP 401, the key is missing, invalid, expired or revoked.
	ErrUnauthorized = errors.New("unauthorized: the API key is invalid, expired or revoked")
	// ErrForbidden: HTTP 403, the key may not call this endpoint (for
	// instance a scoped key, or a user who is not an admin).
	ErrForbidden = errors.New("forbidden: the API key may not call this endpoint")
	// ErrNotFound: HTTP 404.
	ErrNotFound = errors.New("not found")
	// ErrRateLimited: HTTP 429, too many requests.
	ErrRateLimited = errors.New("rate limited")
	// ErrInvalidRequest: HTTP 400, 409 or 422, or a request the client
	// refused to send (an invalid key id, container tag or permission).
	ErrInvalidRequest = errors.New("invalid request")
	// ErrPaymentRequired: HTTP 402, the organisation's credits are used up.
	ErrPaymentRequired = errors.New("payment required: the organisation's credits are used up")
	// ErrServer: HTTP 5xx.
	ErrServer = errors.New("server error")
	// ErrOutcomeUnknown: a create was sent but its answer was lost (timeout,
	// dropped connection, gateway error, unreadable body), so the key may exist.
	ErrOutcomeUnknown = errors.New("outcome unknown: the key may or may not have been created; list keys to check before trying again")
	// ErrUnavailable: the API could not be reached, or the attempt timed out
	// or was cancelled, before any usable answer (after retries where allowed).
	ErrUnavailable = errors.New("API unavailable")
	// ErrBadResponse: an answer the client cannot use: malformed JSON, a body
	// over the size cap, an unexpected shape, a redirect or an unexpected status.
	ErrBadResponse = errors.New("unusable response")
)

// Error describes a failed call. Use [errors.Is] with the sentinel errors to
// test the category, and [errors.As] to get the details. Its text never
// holds the API key, an Authorization header or a minted secret.
type Error struct {
	// Op names the operation: "session", "list keys", "list tags",
	// "create scoped key" or "revoke key".
	Op string
	// Method and Endpoint are the HTTP method and path template, such as
	// "DELETE" and "/v3/auth/scoped-key/{id}".
	Method, Endpoint string
	// Status is the HTTP status of the last answer, 0 if none came.
	Status int
	// Category is one of the sentinel errors above.
	Category error
	// Message is the API's own message (its "error" field, else "message",
	// else the status text), trimmed to at most 300 characters, stripped
	// of control, bidi and zero-width characters, and redacted (the
	// operator key in any case, spacing or base64 form, and anything shaped
	// like a credential); or the client's reason for refusing a request.
	Message string
	// RetryAfter is the wait the last answer asked for in its Retry-After
	// header (uncapped), 0 if none.
	RetryAfter time.Duration
	// Attempts is the number of requests sent; 0 if the client refused the
	// call before sending anything.
	Attempts int
	// OutcomeUnknown is set on a create that may have taken effect even
	// though it failed; [errors.Is](err, [ErrOutcomeUnknown]) is then true.
	OutcomeUnknown bool
	// Err is the underlying cause, if any (a transport or context error).
	Err error
}

// Error returns a one-line description: operation, endpoint, category,
// status, message, and cause.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	if e.Method != "" {
		b.WriteString(" (" + e.Method + " " + e.Endpoint + ")")
	}
	if e.Category != nil && e.Category != ErrOutcomeUnknown {
		b.WriteString(": " + e.Category.Error())
	}
	if e.Status != 0 {
		b.WriteString(" (HTTP " + strconv.Itoa(e.Status) + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.RetryAfter > 0 {
		b.WriteString("; retry after " + e.RetryAfter.String())
	}
	if e.Attempts > 1 {
		b.WriteString("; " + strconv.Itoa(e.Attempts) + " attempts")
	}
	if e.Err != nil {
		b.WriteString(": " + e.Err.Error())
	}
	if e.OutcomeUnknown || e.Category == ErrOutcomeUnknown {
		b.WriteString("; " + ErrOutcomeUnknown.Error())
	}
	return b.String()
}

// Unwrap returns the category, [ErrOutcomeUnknown] when OutcomeUnknown is
// set, and the cause, so that [errors.Is] matches any of them.
func (e *Error) Unwrap() []error {
	errs := make([]error, 0, 3)
	if e.Category != nil {
		errs = append(errs, e.Category)
	}
	if e.OutcomeUnknown && e.Category != ErrOutcomeUnknown {
		errs = append(errs, ErrOutcomeUnknown)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// categoryFor maps an HTTP status that is not a success to a category.
func categoryFor(status int) error {
	switch {
	case status == http.StatusBadRequest, status == http.StatusConflict, status == http.StatusUnprocessableEntity:
		return ErrInvalidRequest
	case status == http.StatusUnauthorized:
		return ErrUnauthorized
	case status == http.StatusPaymentRequired:
		return ErrPaymentRequired
	case status == http.StatusForbidden:
		return ErrForbidden
	case status == http.StatusNotFound:
		return ErrNotFound
	case status == http.StatusTooManyRequests:
		return ErrRateLimited
	case status >= 500 && status <= 599:
		return ErrServer
	}
	// 1xx, 3xx (redirects are never followed) and the other 4xx: the API
	// answered something this client does not expect.
	return ErrBadResponse
}

// maxMessageRunes caps Error.Message.
const maxMessageRunes = 300

// upstreamMessage extracts the API's message from an error body: the
// "error" field (rendered compactly when it is not a string), else
// "message", else the status text. "details" is appended when present.
// The result is raw: clean it before use.
func upstreamMessage(body []byte, status int) string {
	body = bytes.TrimSpace(body)
	var msg string
	if len(body) > 0 {
		switch body[0] {
		case '{':
			var obj map[string]json.RawMessage
			if json.Unmarshal(body, &obj) == nil {
				msg = renderField(obj["error"])
				if msg == "" {
					msg = renderField(obj["message"])
				}
				if d := renderField(obj["details"]); d != "" && d != msg {
					if msg == "" {
						msg = d
					} else {
						msg += ": " + d
					}
				}
			}
		case '"':
			_ = json.Unmarshal(body, &msg)
		}
	}
	if cleanMessage(msg, nil) == "" {
		msg = http.StatusText(status)
	}
	if msg == "" {
		msg = "HTTP " + strconv.Itoa(status)
	}
	return msg
}

// renderField renders one field of an error body: a string as itself, an
// object with a string "message" as that message, null as "", anything
// else as compact JSON.
func renderField(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '{':
		var inner struct {
			Message *string `json:"message"`
		}
		if json.Unmarshal(raw, &inner) == nil && inner.Message != nil && *inner.Message != "" {
			return *inner.Message
		}
	}
	// Compacted with its strings re-encoded: an escaped secret
	// ("\u0073m_...") shows as itself, and is redacted as such.
	v := jsontext.Value(bytes.Clone(raw))
	if v.Compact(jsontext.PreserveRawStrings(false)) != nil {
		return ""
	}
	return string(v)
}

// cleanMessage makes s safe to show: invalid UTF-8 replaced, line breaks and
// tabs turned into spaces, control and format (bidi, zero-width)
// characters removed, runs of spaces collapsed, everything rd finds (the
// operator key in any case or spacing, encoded, and anything shaped like a
// credential) replaced by a redaction marker, and the result cut to
// maxMessageRunes. A nil rd redacts credential shapes only.
func cleanMessage(s string, rd *redactor) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(min(len(s), 4*maxMessageRunes+64))
	space := true // drop leading spaces
	n := 0
	for i := 0; i < len(s) && n < 4*maxMessageRunes; {
		// Only the start is shown: redacting more than four times what
		// is kept changes nothing that is kept (a match that reaches past
		// this point starts inside it and is still found).
		if c := s[i]; c > ' ' && c < 0x7f {
			// A run of printable ASCII is copied as it is.
			j := i + 1
			for j < len(s) && j-i < 4*maxMessageRunes-n && s[j] > ' ' && s[j] < 0x7f {
				j++
			}
			b.WriteString(s[i:j])
			n += j - i
			i, space = j, false
			continue
		}
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r':
		case r < ' ' || r == 0x7f:
			continue // control
		case r < utf8.RuneSelf:
			b.WriteByte(byte(r))
			space = false
			n++
			continue
		case unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r):
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r):
			continue
		default:
			b.WriteRune(r)
			space = false
			n++
			continue
		}
		if !space { // a line break or tab becomes a space
			b.WriteByte(' ')
			space = true
			n++
		}
	}
	out := strings.TrimRight(b.String(), " ")
	// Redact after stripping: a secret split by a zero-width character
	// becomes whole again once that character is gone.
	out = rd.redact(out)
	if utf8.RuneCountInString(out) > maxMessageRunes {
		r := []rune(out)
		out = strings.TrimRight(string(r[:maxMessageRunes-1]), " ") + "…"
	}
	return out
}

// redactedError hides secrets in the text of a cause while keeping it
// available to errors.Is and errors.As.
type redactedError struct {
	text string
	err  error
}

func (e *redactedError) Error() string { return e.text }
func (e *redactedError) Unwrap() error { return e.err }

// redactErr returns err unchanged unless rd finds something in its text,
// in which case the text is redacted.
func redactErr(err error, rd *redactor) error {
	if err == nil {
		return nil
	}
	text := err.Error()
	if red := rd.redact(text); red != text {
		return &redactedError{text: red, err: err}
	}
	return err
}

// safeCause returns a decoding error fit for an error message. The
// decoders' own errors give an offset or a shape, never content; anything
// else is replaced, since a create answer holds a secret.
func safeCause(err error) error {
	var syn *syntaxError
	if errors.As(err, &syn) || errors.Is(err, errShape) || errors.Is(err, errNoSecret) {
		return err
	}
	return errors.New("malformed JSON")
}
