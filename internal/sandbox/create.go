package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mcp-keys/mcp-keys/internal/strictjson"
)

// Limits of POST /v3/auth/scoped-key (maxBody and maxTagLen also bound the
// data endpoints).
const (
	maxBody        = 64 << 10 // bytes; larger bodies get 413
	maxTagLen      = 100
	maxTags        = 50  // tags in containerTags
	maxNameLen     = 200 // characters; upstream is silent, the sandbox is lenient but bounded
	maxExpiresDays = 365
	maxRateLimit   = 10000
	maxRateWindow  = 3600000
	maxQuoted      = 80 // characters of an input quoted in an error message
)

// The permissions a key may have.
const (
	permRead  = "read"
	permWrite = "write"
)

// createRequest is a validated body of POST /v3/auth/scoped-key.
type createRequest struct {
	Tags                []string // 1 to maxTags distinct valid tags
	Permission          string   // permRead or permWrite (the default)
	Name                string   // defaulted to scoped_<first tag>
	ExpiresInDays       int      // 0: never expires
	RateLimitMax        int
	RateLimitTimeWindow int
}

// createFields are the members a create body may have.
var createFields = []string{"containerTag", "containerTags", "permission", "name", "expiresInDays", "rateLimitMax", "rateLimitTimeWindow"}

// readObject decodes one JSON object strictly (internal/strictjson): exact
// (case-sensitive) property names among known, no duplicates, nothing
// after it; known nil accepts any name (the data endpoints' bodies). It
// returns the raw values by name. The error text is safe to return to the
// client.
func readObject(data []byte, known []string) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("request body is empty: expected a JSON object")
	}
	obj, err := strictjson.Decode(data, strictjson.Spec{Known: known, AllowUnknown: known == nil, MaxDepth: 8})
	if err != nil {
		var se *strictjson.Error
		errors.As(err, &se)
		switch {
		case se == nil:
		case se.Kind == strictjson.ErrUnknown:
			return nil, fmt.Errorf("unknown field %s", quote(se.Name))
		case se.Kind == strictjson.ErrDuplicate:
			return nil, fmt.Errorf("duplicate field %s", quote(se.Name))
		case se.Kind == strictjson.ErrNotObject:
			return nil, errors.New("request body must be a JSON object")
		case se.Kind == strictjson.ErrTrailing:
			return nil, errors.New("unexpected data after the JSON object")
		case se.Kind == strictjson.ErrTooDeep:
			return nil, errors.New("request body is nested too deeply")
		}
		if !utf8.Valid(data) {
			return nil, errors.New("request body is not valid UTF-8")
		}
		return nil, errors.New("request body is not valid JSON")
	}
	fields := make(map[string]json.RawMessage, len(obj))
	for _, m := range obj {
		fields[m.Name] = json.RawMessage(m.Value)
	}
	return fields, nil
}

// parseCreateBody decodes and validates a create body strictly: one JSON
// object, exact (case-sensitive) property names, no duplicates, no unknown
// properties, integers where integers are due. The error text is safe to
// return to the client.
func parseCreateBody(data []byte) (createRequest, error) {
	req := createRequest{Permission: permWrite, RateLimitMax: DefaultRateLimitMax, RateLimitTimeWindow: DefaultRateLimitTimeWindow}
	fields, err := readObject(data, createFields)
	if err != nil {
		return req, err
	}

	tags, err := tagFields(fields)
	if err != nil {
		return req, err
	}
	if tags == nil {
		return req, fmt.Errorf("containerTag is required (or containerTags: an array of 1 to %d tags)", maxTags)
	}
	req.Tags = tags

	if raw, ok := fields["permission"]; ok && !isNull(raw) {
		p, err := stringField(raw, "permission")
		if err != nil {
			return req, err
		}
		if p != permRead && p != permWrite {
			return req, fmt.Errorf("permission %s is not one of \"read\" and \"write\"", quote(p))
		}
		req.Permission = p
	}

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
		req.Name = "scoped_" + req.Tags[0]
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

// tagFields reads containerTag (one tag) or containerTags (an array of 1 to
// maxTags distinct tags) of a request object. Giving both, even as null, is
// refused. It returns nil tags when neither is given (or the one given is
// null).
func tagFields(fields map[string]json.RawMessage) ([]string, error) {
	one, hasOne := fields["containerTag"]
	many, hasMany := fields["containerTags"]
	switch {
	case hasOne && hasMany:
		return nil, errors.New("send containerTag or containerTags, not both")
	case hasOne && !isNull(one):
		tag, err := stringField(one, "containerTag")
		if err != nil {
			return nil, err
		}
		if err := checkTagField("containerTag", tag); err != nil {
			return nil, err
		}
		return []string{tag}, nil
	case hasMany && !isNull(many):
		return tagList(many)
	}
	return nil, nil
}

// tagList parses containerTags: a JSON array of 1 to maxTags distinct valid
// tags.
func tagList(raw json.RawMessage) ([]string, error) {
	var items []json.RawMessage
	if len(raw) == 0 || raw[0] != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, errors.New("containerTags must be an array of strings")
	}
	if len(items) == 0 || len(items) > maxTags {
		return nil, fmt.Errorf("containerTags must hold 1 to %d tags, not %d", maxTags, len(items))
	}
	tags := make([]string, 0, len(items))
	seen := make(map[string]bool, len(items))
	for i, item := range items {
		field := fmt.Sprintf("containerTags[%d]", i)
		tag, err := stringField(item, field)
		if err != nil {
			return nil, err
		}
		if err := checkTagField(field, tag); err != nil {
			return nil, err
		}
		if seen[tag] {
			return nil, fmt.Errorf("containerTags lists %s twice", quote(tag))
		}
		seen[tag] = true
		tags = append(tags, tag)
	}
	return tags, nil
}

// checkTag applies the API's container tag rules: 1–100 of letters, digits,
// '-', '_', ':' and '.'.
func checkTag(tag string) error { return checkTagField("containerTag", tag) }

// checkTagField is checkTag naming the field in its error.
func checkTagField(field, tag string) error {
	if tag == "" || len(tag) > maxTagLen {
		return fmt.Errorf("%s must be 1 to %d characters long", field, maxTagLen)
	}
	for i := 0; i < len(tag); i++ {
		if c := tag[i]; !isAlnum(c) && !strings.ContainsRune("-_:.", rune(c)) {
			return fmt.Errorf("%s %s may contain only letters, digits, '-', '_', ':' and '.'", field, quote(tag))
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
