package bridge

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// authParams returns the auth-params of the Bearer challenges in the
// WWW-Authenticate header values (RFC 9110 §11.6.1), names lower-cased.
// Values may be tokens or quoted strings; the first occurrence of a name
// wins. Malformed input yields what could be read.
func authParams(values []string) map[string]string {
	params := make(map[string]string)
	for _, v := range values {
		rest := strings.TrimSpace(v)
		for rest != "" {
			name, after, ok := authToken(rest)
			if !ok {
				rest = strings.TrimLeft(rest[1:], " \t,")
				continue
			}
			after = strings.TrimLeft(after, " \t")
			if !strings.HasPrefix(after, "=") {
				// A scheme name ("Bearer"), or a token68.
				rest = strings.TrimLeft(after, " \t,")
				continue
			}
			after = strings.TrimLeft(after[1:], " \t")
			var value string
			if strings.HasPrefix(after, `"`) {
				value, after = quotedString(after)
			} else {
				value, after, _ = authToken(after)
			}
			name = strings.ToLower(name)
			if _, seen := params[name]; !seen {
				params[name] = value
			}
			rest = strings.TrimLeft(after, " \t,")
		}
	}
	return params
}

// authToken splits off a leading RFC 9110 token.
func authToken(s string) (tok, rest string, ok bool) {
	i := 0
	for i < len(s) && isTokenChar(s[i]) {
		i++
	}
	return s[:i], s[i:], i > 0
}

func isTokenChar(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// quotedString reads a quoted string (s starts with '"'), undoing
// backslash escapes; an unterminated one runs to the end.
func quotedString(s string) (value, rest string) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '"':
			return b.String(), s[i+1:]
		default:
			b.WriteByte(s[i])
		}
	}
	return b.String(), ""
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP-date. It
// returns whole seconds, at least 1, and false when the header is absent or
// unreadable.
func retryAfter(h http.Header, now time.Time) (int, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		return max(n, 1), n >= 0
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(int(t.Sub(now).Round(time.Second)/time.Second), 1), true
	}
	return 0, false
}
