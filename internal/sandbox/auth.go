package sandbox

import (
	"crypto/subtle"
	"net/http"
	"strings"
)

// credential returns the key a request presents, as `Authorization: Bearer
// <key>` or as `x-api-key: <key>` (the header Supermemory's own CLI sends),
// or why it presents none that can be used. Each header may appear at most
// once; when both do, they must name the same key. The problem text never
// quotes a token.
func credential(h http.Header) (token, problem string) {
	auths, xkeys := h.Values("Authorization"), h.Values("X-Api-Key")
	switch {
	case len(auths) == 0 && len(xkeys) == 0:
		return "", "missing Authorization or x-api-key header"
	case len(auths) > 1 || len(xkeys) > 1:
		return "", "send the key in one Authorization or x-api-key header"
	}
	var bearer, xkey string
	if len(auths) == 1 {
		scheme, tok, ok := strings.Cut(auths[0], " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" || strings.ContainsAny(tok, " \t") {
			return "", "Authorization header must be 'Bearer <key>'"
		}
		bearer = tok
	}
	if len(xkeys) == 1 {
		xkey = xkeys[0]
		if xkey == "" || strings.ContainsAny(xkey, " \t") {
			return "", "x-api-key header must hold the key alone"
		}
	}
	switch {
	case bearer == "":
		return xkey, ""
	case xkey == "":
		return bearer, ""
	case subtle.ConstantTimeCompare([]byte(bearer), []byte(xkey)) != 1:
		return "", "Authorization and x-api-key headers name different keys"
	}
	return bearer, ""
}

// authenticateLocked finds the key of the request's credential and records
// its use. It refuses an unknown, revoked or expired key (as of the
// sandbox's clock) with 401, and never puts the token in a response.
func (s *Sandbox) authenticateLocked(r *http.Request) (*keyRecord, *response) {
	unauthorized := func(details string) (*keyRecord, *response) {
		resp := errorResponse(http.StatusUnauthorized, "Unauthorized", details)
		return nil, &resp
	}
	token, problem := credential(r.Header)
	if problem != "" {
		return unauthorized(problem)
	}
	k := s.byHash[hashSecret(token)]
	now := s.now()
	switch {
	case k == nil:
		return unauthorized("invalid API key")
	case !k.Enabled:
		return unauthorized("API key has been revoked")
	case k.expired(now):
		return unauthorized("API key has expired")
	}
	t := now.UTC()
	k.LastRequest = &t
	s.dirty = true
	return k, nil
}

// stillValidLocked re-checks a caller authenticated before its request body
// was read: it may have been revoked, or have expired, meanwhile.
func (s *Sandbox) stillValidLocked(k *keyRecord) *response {
	var details string
	switch {
	case !k.Enabled:
		details = "API key has been revoked"
	case k.expired(s.now()):
		details = "API key has expired"
	default:
		return nil
	}
	resp := errorResponse(http.StatusUnauthorized, "Unauthorized", details)
	return &resp
}

// authorize applies what a key may call: a scoped key only the data
// endpoints and the session, a read key nothing that writes.
func authorize(k *keyRecord, ep Endpoint) *response {
	forbidden := func(details string) *response {
		resp := errorResponse(http.StatusForbidden, "Forbidden", details)
		return &resp
	}
	if k.scoped() && !ep.data() && ep != EndpointSession {
		return forbidden("scoped keys may only call data endpoints")
	}
	if k.readOnly() && ep.writes() {
		return forbidden("this key has read permission only")
	}
	return nil
}
