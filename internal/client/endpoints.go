package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// endpoint is one of the five endpoints the client may call. The set is
// closed: the type is unexported, only the constants below exist, and every
// path is a constant of this file; the only variable part of any path is a
// key id that passed ValidKeyID.
type endpoint uint8

const (
	epSession endpoint = iota + 1
	epListKeys
	epListTags
	epCreateScopedKey
	epRevokeScopedKey
)

// op names the operation in errors.
func (e endpoint) op() string {
	switch e {
	case epSession:
		return "session"
	case epListKeys:
		return "list keys"
	case epListTags:
		return "list tags"
	case epCreateScopedKey:
		return "create scoped key"
	case epRevokeScopedKey:
		return "revoke key"
	}
	panic("client: unknown endpoint")
}

func (e endpoint) method() string {
	switch e {
	case epCreateScopedKey:
		return http.MethodPost
	case epRevokeScopedKey:
		return http.MethodDelete
	}
	return http.MethodGet
}

// template is the path with {id} for the key id.
func (e endpoint) template() string {
	switch e {
	case epSession:
		return "/v3/session"
	case epListKeys:
		return "/v3/auth/keys"
	case epListTags:
		return "/v3/container-tags/list"
	case epCreateScopedKey:
		return "/v3/auth/scoped-key"
	case epRevokeScopedKey:
		return "/v3/auth/scoped-key/{id}"
	}
	panic("client: unknown endpoint")
}

// path returns the request path for id (used by revoke only). The id is
// checked again here, so that no code path can build a URL from an
// unchecked id.
func (e endpoint) path(id string) (string, error) {
	if e != epRevokeScopedKey {
		return e.template(), nil
	}
	if err := ValidKeyID(id); err != nil {
		return "", err
	}
	return "/v3/auth/scoped-key/" + url.PathEscape(id), nil
}

// retryStatus reports whether an answer with this status may be retried.
// Reads retry 429, 502, 503 and 504; revoke (idempotent) also 500; create
// never.
func (e endpoint) retryStatus(status int) bool {
	switch e {
	case epCreateScopedKey:
		return false
	case epRevokeScopedKey:
		if status == http.StatusInternalServerError {
			return true
		}
	}
	switch status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryTransport reports whether a transport failure may be retried.
func (e endpoint) retryTransport() bool { return e != epCreateScopedKey }

// Session returns who the configured key belongs to (GET /v3/session). Use
// [Session.IsFullAccess] to check that it can manage keys.
func (c *Client) Session(ctx context.Context) (*Session, error) {
	res, err := c.call(ctx, epSession, "", nil)
	if err != nil {
		return nil, err
	}
	s, derr := decodeSession(res.body)
	if derr != nil {
		return nil, c.decodeError(epSession, res, derr)
	}
	return s, nil
}

// ListKeys returns every key of the organisation (GET /v3/auth/keys). Keys
// carry only a short prefix, never a secret.
func (c *Client) ListKeys(ctx context.Context) ([]Key, error) {
	res, err := c.call(ctx, epListKeys, "", nil)
	if err != nil {
		return nil, err
	}
	keys, derr := decodeKeys(res.body)
	if derr != nil {
		return nil, c.decodeError(epListKeys, res, derr)
	}
	return keys, nil
}

// ListTags returns the organisation's container tags
// (GET /v3/container-tags/list).
func (c *Client) ListTags(ctx context.Context) ([]Tag, error) {
	res, err := c.call(ctx, epListTags, "", nil)
	if err != nil {
		return nil, err
	}
	tags, derr := decodeTags(res.body)
	if derr != nil {
		return nil, c.decodeError(epListTags, res, derr)
	}
	return tags, nil
}

// Limits the client enforces on a create request before sending it. They
// are a second line of defence: the caller checks its policy first.
const (
	maxContainerTagLen = 100
	maxTags            = 50
)

// createBody is the JSON body of POST /v3/auth/scoped-key: one tag goes in
// containerTag, several in containerTags, never both.
type createBody struct {
	ContainerTag        string   `json:"containerTag,omitempty"`
	ContainerTags       []string `json:"containerTags,omitempty"`
	Permission          string   `json:"permission"`
	Name                string   `json:"name,omitempty"`
	ExpiresInDays       int      `json:"expiresInDays"`
	RateLimitMax        int      `json:"rateLimitMax,omitempty"`
	RateLimitTimeWindow int      `json:"rateLimitTimeWindow,omitempty"`
}

// CreateScopedKey mints a scoped key (POST /v3/auth/scoped-key). It sends
// containerTag (one tag) or containerTags (several), permission and
// expiresInDays always, and name, rateLimitMax and rateLimitTimeWindow when
// non-zero. It does not check policy, but refuses before sending, as a
// bug of the caller: no tag or more than 50, a tag that is empty, longer
// than 100 bytes or has a character other than A-Z, a-z, 0-9, '-', '_',
// ':' and '.', a tag given twice, a permission other than "read" or
// "write", an expiry below one day (the API would read a missing or zero
// expiry as "never") and negative rate limits.
//
// A create is never retried. When its outcome is unknown (a timeout or a
// broken connection after the request was sent, a gateway error, or an
// unreadable success answer), the error matches [ErrOutcomeUnknown]: the
// key may exist, and [Client.ListKeys] will tell.
//
// The answer says which tags and permission the key got (see [CreatedKey]);
// the caller must check them before handing the key on.
func (c *Client) CreateScopedKey(ctx context.Context, req CreateScopedKeyRequest) (*CreatedKey, error) {
	ep := epCreateScopedKey
	if reason := createProblem(req); reason != "" {
		return nil, c.refuse(ep, reason, nil)
	}
	b := createBody{
		Permission:          req.Permission,
		Name:                req.Name,
		ExpiresInDays:       req.ExpiresInDays,
		RateLimitMax:        req.RateLimitMax,
		RateLimitTimeWindow: req.RateLimitWindowMs,
	}
	if len(req.Tags) == 1 {
		b.ContainerTag = req.Tags[0]
	} else {
		b.ContainerTags = req.Tags
	}
	body, err := json.Marshal(b)
	if err != nil { // cannot happen: strings and ints only
		return nil, c.refuse(ep, "cannot encode the request", err)
	}
	res, cerr := c.call(ctx, ep, "", body)
	if cerr != nil {
		return nil, cerr
	}
	if res.status != http.StatusOK && res.status != http.StatusCreated {
		e := c.newError(ep, res.attempts)
		e.Category, e.Status, e.OutcomeUnknown = ErrBadResponse, res.status, true
		e.Message = fmt.Sprintf("unexpected status %d for a create", res.status)
		return nil, e
	}
	created, derr := decodeCreated(res.body)
	if derr != nil {
		return nil, c.decodeError(ep, res, derr)
	}
	return created, nil
}

// createProblem says what is wrong with req, or "". It never quotes a tag.
func createProblem(req CreateScopedKeyRequest) string {
	switch {
	case len(req.Tags) == 0:
		return "no container tag"
	case len(req.Tags) > maxTags:
		return fmt.Sprintf("%d container tags; at most %d are allowed", len(req.Tags), maxTags)
	}
	for i, t := range req.Tags {
		if problem := tagProblem(t); problem != "" {
			return fmt.Sprintf("container tag %d %s", i+1, problem)
		}
		for j, u := range req.Tags[:i] {
			if t == u {
				return fmt.Sprintf("container tag %d repeats tag %d", i+1, j+1)
			}
		}
	}
	switch {
	case req.Permission != "read" && req.Permission != "write":
		return `permission must be "read" or "write"`
	case req.ExpiresInDays < 1:
		return "expiresInDays must be at least 1 (a key that never expires is not minted)"
	case req.RateLimitMax < 0 || req.RateLimitWindowMs < 0:
		return "rate limits must not be negative"
	}
	return ""
}

// isTagChar reports whether c may appear in a container tag: an ASCII
// letter or digit, '-', '_', ':' or '.'.
func isTagChar(c byte) bool { return isIDChar(c) || c == ':' || c == '.' }

// tagProblem says what is wrong with a container tag, or "".
func tagProblem(t string) string {
	switch {
	case t == "":
		return "is empty"
	case len(t) > maxContainerTagLen:
		return fmt.Sprintf("is longer than %d bytes", maxContainerTagLen)
	}
	for i := 0; i < len(t); i++ {
		if !isTagChar(t[i]) {
			return fmt.Sprintf("has a character other than A-Z, a-z, 0-9, '-', '_', ':' or '.' at byte %d", i)
		}
	}
	return ""
}

// RevokeKey revokes (disables) the key with this id
// (DELETE /v3/auth/scoped-key/{id}). The id must pass [ValidKeyID]; an
// invalid id is refused before any request is made. A 404 matches
// [ErrNotFound]. The API accepts this route for Full Access keys too: call
// it only for a key that a fresh listing shows as Scoped.
func (c *Client) RevokeKey(ctx context.Context, id string) (*RevokeResult, error) {
	ep := epRevokeScopedKey
	if problem := keyIDProblem(id); problem != "" {
		return nil, c.refuse(ep, problem, nil)
	}
	res, err := c.call(ctx, ep, id, nil)
	if err != nil {
		return nil, err
	}
	return decodeRevoke(res.body, id), nil
}

// Key ids: conservative on purpose. Upstream ids are letters, digits, '-'
// and '_'; '.' is not allowed, so that no id can be a dot segment or hold
// "..", and every valid id path-escapes to itself.
const maxKeyIDLen = 128

func isIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// ValidKeyID reports whether id may be used as a key id: 1 to 128
// characters, each an ASCII letter, a digit, '-' or '_'. Such an id is one
// path segment that escapes to itself. The error matches
// [ErrInvalidRequest] and never quotes the id.
func ValidKeyID(id string) error {
	if problem := keyIDProblem(id); problem != "" {
		return fmt.Errorf("%w: %s", ErrInvalidRequest, problem)
	}
	return nil
}

// keyIDProblem says what is wrong with id, or "" if nothing is.
func keyIDProblem(id string) string {
	switch {
	case id == "":
		return "key id is empty"
	case len(id) > maxKeyIDLen:
		return fmt.Sprintf("key id is longer than %d characters", maxKeyIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !isIDChar(id[i]) {
			return fmt.Sprintf("key id has a character other than A-Z, a-z, 0-9, '-' or '_' at byte %d", i)
		}
	}
	return ""
}
