package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of POST /v3/auth/scoped-key.
const (
	maxCreateBody  = 64 << 10 // bytes; larger bodies get 413
	maxTagLen      = 100
	maxNameLen     = 200 // characters; upstream is silent, the sandbox is lenient but bounded
	maxExpiresDays = 365
	maxRateLimit   = 10000
	maxRateWindow  = 3600000
	maxQuoted      = 80 // characters of an input quoted in an error message
)

// createRequest is a validated body of POST /v3/auth/scoped-key.
type createRequest struct {
	ContainerTag        string
	Name                string // defaulted to scoped_<tag>
	ExpiresInDays       int    // 0: never expires
	RateLimitMax        int
	RateLimitTimeWindow int
}

// parseCreateBody decodes and validates a create body strictly: one JSON
// object, exact (case-sensitive) property names, no duplicates, no unknown
// properties, integers where integers are due. The error text is safe to
// return to the client.
func parseCreateBody(data []byte) (createRequest, error) {
	req := createRequest{RateLimitMax: DefaultRateLimitMax, RateLimitTimeWindow: DefaultRateLimitTimeWindow}
	if len(bytes.TrimSpace(data)) == 0 {
		return req, errors.New("request body is empty: expected a JSON object")
	}
	if !utf8.Valid(data) {
		return req, errors.New("request body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return req, errors.New("request body must be a JSON object")
	}
	var names []string
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return req, errors.New("request body is not valid JSON")
		}
		name, ok := tok.(string)
		if !ok {
			return req, errors.New("request body is not valid JSON")
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return req, errors.New("request body is not valid JSON")
		}
		if _, dup := fields[name]; dup {
			return req, fmt.Errorf("duplicate field %s", quote(name))
		}
		fields[name] = raw
		names = append(names, name)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return req, errors.New("request body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return req, errors.New("unexpected data after the JSON object")
	}

	for _, name := range names {
		switch name {
		case "containerTag", "name", "expiresInDays", "rateLimitMax", "rateLimitTimeWindow":
		case "permission":
			// Every key of this sandbox can write: "write" is what it mints.
			if string(fields[name]) != `"write"` {
				return req, errors.New(`field "permission" supports only "write" here`)
			}
		case "containerTags":
			return req, fmt.Errorf("field %q is not supported by this endpoint: send one containerTag", name)
		default:
			return req, fmt.Errorf("unknown field %s", quote(name))
		}
	}

	raw, ok := fields["containerTag"]
	if !ok || isNull(raw) {
		return req, errors.New("containerTag is required")
	}
	tag, err := stringField(raw, "containerTag")
	if err != nil {
		return req, err
	}
	if err := checkTag(tag); err != nil {
		return req, err
	}
	req.ContainerTag = tag

	if raw, ok := fields["name"]; ok && !isNull(raw) {
		name, err := stringField(raw, "name")
		if err != nil {
			return req, err
		}
		if n := utf8.RuneCountInString(name); n > maxNameLen {
			return req, fmt.Errorf("name is %d characters long; at most %d are allowed", n, maxNameLen)
		}
		req.Name = name
	}
	if req.Name == "" {
		req.Name = "scoped_" + tag
	}

	ints := []struct {
		field    string
		min, max int
		dst      *int
	}{
		{"expiresInDays", 1, maxExpiresDays, &req.ExpiresInDays},
		{"rateLimitMax", 1, maxRateLimit, &req.RateLimitMax},
		{"rateLimitTimeWindow", 1, maxRateWindow, &req.RateLimitTimeWindow},
	}
	for _, f := range ints {
		raw, ok := fields[f.field]
		if !ok || isNull(raw) {
			continue
		}
		v, err := intField(raw, f.field, f.min, f.max)
		if err != nil {
			return req, err
		}
		*f.dst = v
	}
	return req, nil
}

func isNull(raw json.RawMessage) bool { return string(raw) == "null" }

func stringField(raw json.RawMessage, field string) (string, error) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", fmt.Errorf("%s must be a string", field)
	}
	return s, nil
}

// intField parses a JSON integer in [min, max]; fractions, exponents, strings
// and other types are refused.
func intField(raw json.RawMessage, field string, min, max int) (int, error) {
	text := string(raw)
	if text == "" || strings.ContainsAny(text, ".eE") || !(text[0] == '-' || text[0] >= '0' && text[0] <= '9') {
		return 0, fmt.Errorf("%s must be an integer from %d to %d", field, min, max)
	}
	v, err := strconv.Atoi(text)
	if err != nil || v < min || v > max {
		return 0, fmt.Errorf("%s must be an integer from %d to %d", field, min, max)
	}
	return v, nil
}

// checkTag applies the API's container tag rules: 1–100 of letters, digits,
// '-', '_', ':' and '.'.
func checkTag(tag string) error {
	if tag == "" || len(tag) > maxTagLen {
		return fmt.Errorf("containerTag must be 1 to %d characters long", maxTagLen)
	}
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; !isAlnum(c) && !strings.ContainsRune("-_:.", rune(c)) {
			return fmt.Errorf("containerTag %s may contain only letters, digits, '-', '_', ':' and '.'", quote(tag))
		}
	}
	return nil
}

// quote returns s quoted and escaped, cut to maxQuoted characters.
func quote(s string) string {
	if utf8.RuneCountInString(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	r := []rune(s)
	return strconv.Quote(string(r[:maxQuoted])) + "…"
}
