package sandbox

import (
	"encoding/json"
	"io"
	"net/http"
	"path"
	"strings"
	"time"
)

// Endpoint names what a request was for: one of the five allowed endpoints,
// one of the two data endpoints, [EndpointForbidden] or [EndpointUnknown].
type Endpoint string

// The endpoints the sandbox tells apart.
const (
	EndpointSession  Endpoint = "GET /v3/session"
	EndpointListKeys Endpoint = "GET /v3/auth/keys"
	EndpointListTags Endpoint = "GET /v3/container-tags/list"
	EndpointCreate   Endpoint = "POST /v3/auth/scoped-key"
	EndpointRevoke   Endpoint = "DELETE /v3/auth/scoped-key/{id}"
	// EndpointAddDocument and EndpointSearch are the data endpoints the
	// sandbox plays, so that a minted key can be tried: they check the key,
	// its permission and its tags, and record the write. mcp-keys itself
	// never calls them.
	EndpointAddDocument Endpoint = "POST /v3/documents"
	EndpointSearch      Endpoint = "POST /v3/search"
	// EndpointForbidden is any endpoint that mcp-keys must never call: those
	// that mint Full Access keys, toggle keys or delete or change tags.
	EndpointForbidden Endpoint = "forbidden"
	// EndpointUnknown is any other method and path.
	EndpointUnknown Endpoint = "unknown"
)

// allowed reports whether e is one of the five endpoints mcp-keys may call.
func (e Endpoint) allowed() bool {
	switch e {
	case EndpointSession, EndpointListKeys, EndpointListTags, EndpointCreate, EndpointRevoke:
		return true
	}
	return false
}

// data reports whether e is a data endpoint, the kind a scoped key may call.
func (e Endpoint) data() bool { return e == EndpointAddDocument || e == EndpointSearch }

// writes reports whether e changes something, so that a read key may not
// call it.
func (e Endpoint) writes() bool {
	switch e {
	case EndpointCreate, EndpointRevoke, EndpointAddDocument:
		return true
	}
	return false
}

// allowedEndpoints are the paths a scoped key may call, as the create
// response lists them.
var allowedEndpoints = [...]string{"/v3/documents", "/v3/memories", "/v4/memories", "/v3/search", "/v4/search", "/v4/profile"}

// Request is one request the sandbox saw. It never holds headers or bodies.
type Request struct {
	Method   string
	Path     string
	Endpoint Endpoint
	// Status is the status sent, or 0 if no response was sent (a dropped
	// connection, or a client that gave up during injected latency).
	Status int
	// Forbidden is true for an endpoint that mcp-keys must never call.
	Forbidden bool
	Time      time.Time
}

// classify maps a method and path to an endpoint. The five allowed ones must
// match exactly; the forbidden ones are recognised after cleaning the path and
// ignoring case, so that no spelling of them goes unrecorded.
func classify(method, p string) Endpoint {
	switch {
	case method == http.MethodGet && p == "/v3/session":
		return EndpointSession
	case method == http.MethodGet && p == "/v3/auth/keys":
		return EndpointListKeys
	case method == http.MethodGet && p == "/v3/container-tags/list":
		return EndpointListTags
	case method == http.MethodPost && p == "/v3/auth/scoped-key":
		return EndpointCreate
	case method == http.MethodDelete && revokeID(p) != "":
		return EndpointRevoke
	case method == http.MethodPost && p == "/v3/documents":
		return EndpointAddDocument
	case method == http.MethodPost && p == "/v3/search":
		return EndpointSearch
	}
	lp := strings.ToLower(path.Clean("/" + p))
	m := strings.ToUpper(method)
	seg := strings.Split(strings.TrimPrefix(lp, "/"), "/")
	switch {
	case lp == "/v3/auth/agent-key", lp == "/v3/auth/key":
		return EndpointForbidden
	case lp == "/api/auth", strings.HasPrefix(lp, "/api/auth/"):
		return EndpointForbidden
	case len(seg) == 5 && seg[0] == "v3" && seg[1] == "auth" && seg[2] == "keys" && seg[4] == "toggle":
		return EndpointForbidden
	case len(seg) == 3 && seg[0] == "v3" && seg[1] == "container-tags" && (m == http.MethodDelete || m == http.MethodPatch):
		return EndpointForbidden
	}
	return EndpointUnknown
}

// revokeID returns the {id} of /v3/auth/scoped-key/{id}, or "".
func revokeID(p string) string {
	id, ok := strings.CutPrefix(p, "/v3/auth/scoped-key/")
	if !ok || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// response is a response before it is written, so that faults can delay,
// cut or replace it.
type response struct {
	status int
	body   []byte
}

func jsonResponse(status int, v any) response {
	body, err := json.Marshal(v)
	if err != nil { // only plain maps and slices are marshalled
		return response{http.StatusInternalServerError, []byte(`{"error":"Internal Server Error"}`)}
	}
	return response{status, body}
}

func errorResponse(status int, msg, details string) response {
	body := map[string]string{"error": msg}
	if details != "" {
		body["details"] = details
	}
	return jsonResponse(status, body)
}

// write sends a response.
func (resp response) write(w http.ResponseWriter) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
	return resp.status
}

// ServeHTTP answers one request as the Supermemory API would, after any
// matching injected fault, and records it.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ep := classify(r.Method, r.URL.Path)
	seq, fault := s.begin(r, ep)
	status := 0
	defer func() {
		s.finish(seq, status)
		if s.onRequest != nil {
			s.onRequest(Request{Method: r.Method, Path: r.URL.Path, Endpoint: ep, Status: status, Forbidden: ep == EndpointForbidden, Time: s.now()})
		}
	}()
	status = s.serveWithFault(w, r, ep, fault)
}

// handle performs the real operation of a request. f, if not nil, is the
// fault that applies; its create tweaks change what a create mints.
func (s *Sandbox) handle(r *http.Request, ep Endpoint, f *Fault) response {
	switch ep {
	case EndpointForbidden:
		return errorResponse(http.StatusForbidden, "this endpoint is not available in the sandbox", "")
	case EndpointUnknown:
		return errorResponse(http.StatusNotFound, "Not Found", "no such endpoint in the sandbox")
	}
	s.mu.Lock()
	caller, fail := s.authenticateLocked(r)
	if fail == nil {
		fail = authorize(caller, ep)
	}
	switch {
	case fail != nil:
		s.mu.Unlock()
		return *fail
	case ep == EndpointSession:
		defer s.mu.Unlock()
		return s.sessionLocked(caller)
	case ep == EndpointListKeys:
		defer s.mu.Unlock()
		return s.listKeysLocked()
	case ep == EndpointListTags:
		defer s.mu.Unlock()
		return s.listTagsLocked()
	case ep == EndpointRevoke:
		defer s.mu.Unlock()
		return s.revokeLocked(revokeID(r.URL.Path))
	}
	// The endpoints with a body: it is read without the lock, so that a
	// slow client holds up nobody else.
	s.mu.Unlock()
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return errorResponse(http.StatusBadRequest, "could not read the request body", "")
	}
	if len(data) > maxBody {
		return errorResponse(http.StatusRequestEntityTooLarge, "request body is larger than 64 KiB", "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if fail := s.stillValidLocked(caller); fail != nil { // revoked or expired meanwhile
		return *fail
	}
	switch ep {
	case EndpointAddDocument:
		return s.addDocumentLocked(caller, data)
	case EndpointSearch:
		return s.searchLocked(caller, data)
	}
	return s.createLocked(data, f)
}

func (s *Sandbox) sessionLocked(k *keyRecord) response {
	access := "full"
	scope := map[string]any{"type": "full", "permission": k.permission()}
	if k.scoped() {
		access = "scoped"
		scope = map[string]any{
			"type": "scoped", "permission": k.permission(),
			"tag": k.Tags[0], "tags": k.Tags,
			"rateLimit": k.RateLimitMax, "expires": jsonTimePtr(k.ExpiresAt),
		}
	}
	return jsonResponse(http.StatusOK, map[string]any{
		"user": map[string]string{"id": "user_sandbox", "email": "operator@sandbox.invalid", "name": "Sandbox Operator"},
		"org":  map[string]string{"id": s.st.OrgID, "name": s.st.OrgName, "slug": slug(s.st.OrgName)},
		"plan": "pro", "role": "owner", "accessType": access,
		"scope": scope,
	})
}

// keyJSON is one key of a listing. Its fields are in alphabetical order,
// as encoding/json writes a map's, and a nil ContainerTag or ContainerTags
// leaves the field out, as a Full Access key's style asks; an empty
// Permission is left out for a key minted under [Fault.OmitPermission].
type keyJSON struct {
	ContainerTag  json.RawMessage `json:"containerTag,omitempty"`
	ContainerTags *[]string       `json:"containerTags,omitempty"`
	CreatedAt     string          `json:"createdAt"`
	Enabled       bool            `json:"enabled"`
	ExpiresAt     *string         `json:"expiresAt"`
	ID            string          `json:"id"`
	IsScoped      bool            `json:"isScoped"`
	LastRequest   *string         `json:"lastRequest"`
	Metadata      string          `json:"metadata"`
	Name          string          `json:"name"`
	Permission    string          `json:"permission,omitempty"`
	Start         string          `json:"start"`
}

// jsonNull is the containerTag of a Full Access key.
var jsonNull = json.RawMessage("null")

// timeString is jsonTime of t, or nil for a nil t.
func timeString(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := jsonTime(*t)
	return &s
}

// listKeysLocked encodes the listing from structs, not maps: with 10,000
// keys that is several times faster, and the bytes are the same.
func (s *Sandbox) listKeysLocked() response {
	keys := make([]keyJSON, 0, len(s.st.Keys))
	for _, k := range s.st.Keys {
		item := keyJSON{
			ID:          k.ID,
			Name:        k.Name,
			Start:       k.Start,
			CreatedAt:   jsonTime(k.CreatedAt),
			ExpiresAt:   timeString(k.ExpiresAt),
			LastRequest: timeString(k.LastRequest),
			Enabled:     k.Enabled,
			IsScoped:    k.scoped(),
			Metadata:    k.Metadata,
		}
		if !k.HidePermission {
			item.Permission = k.permission()
		}
		if k.scoped() {
			// A scoped key shows both: its first tag and all of them.
			item.ContainerTag, _ = json.Marshal(k.Tags[0])
			tags := k.Tags
			item.ContainerTags = &tags
		} else {
			tags := []string{}
			if k.Style != styleTagsOnly {
				item.ContainerTag = jsonNull
			}
			if k.Style != styleTagOnly {
				item.ContainerTags = &tags
			}
		}
		keys = append(keys, item)
	}
	return jsonResponse(http.StatusOK, struct {
		Keys []keyJSON `json:"keys"`
	}{keys})
}

func (s *Sandbox) listTagsLocked() response {
	tags := make([]map[string]any, 0, len(s.st.Tags))
	for _, t := range s.st.Tags {
		var desc any
		if t.Description != nil {
			desc = *t.Description
		}
		tags = append(tags, map[string]any{
			"id":             t.ID,
			"name":           t.Name,
			"containerTag":   t.Tag,
			"description":    desc,
			"createdAt":      jsonTime(t.CreatedAt),
			"updatedAt":      jsonTime(t.UpdatedAt),
			"isExperimental": false,
			"isNova":         false,
			"documentCount":  t.DocumentCount,
			"memoryCount":    t.MemoryCount,
			"lastActivityAt": jsonTimePtr(t.LastActivityAt),
		})
	}
	return jsonResponse(http.StatusOK, tags)
}

// createLocked mints a key from a create body. f, if not nil, may tweak
// what is minted (see [Fault.IgnorePermission] and the fields after it): the
// answer, the listing and the session then all show the key as minted.
func (s *Sandbox) createLocked(body []byte, f *Fault) response {
	req, err := parseCreateBody(body)
	if err != nil {
		return errorResponse(http.StatusBadRequest, err.Error(), "")
	}
	tags, perm, hidePerm := f.tweakMint(req.Tags, req.Permission)
	now := s.now()
	k, secret, err := s.newKey(req.Name, tags, now)
	if err != nil {
		return errorResponse(http.StatusInternalServerError, "could not mint a key", "")
	}
	k.Permission, k.HidePermission = perm, hidePerm
	if req.ExpiresInDays > 0 {
		t := now.Add(time.Duration(req.ExpiresInDays) * 24 * time.Hour).UTC()
		k.ExpiresAt = &t
	}
	k.RateLimitMax, k.RateLimitTimeWindow = req.RateLimitMax, req.RateLimitTimeWindow
	s.insertKey(k)
	// A tag comes into being when a key is minted for it.
	added, err := s.ensureTagsLocked(tags, now)
	undo := func() {
		for range added {
			s.removeLastTag()
		}
		s.removeLastKey()
	}
	if err != nil {
		undo()
		return errorResponse(http.StatusInternalServerError, "could not mint a key", "")
	}
	if err := s.commitLocked(undo); err != nil {
		return errorResponse(http.StatusInternalServerError, "could not save the sandbox state", "")
	}
	answer := map[string]any{
		"key":              secret,
		"id":               k.ID,
		"name":             k.Name,
		"containerTags":    append([]string{}, tags...),
		"expiresAt":        jsonTimePtr(k.ExpiresAt),
		"allowedEndpoints": allowedEndpoints,
	}
	if len(tags) == 1 {
		answer["containerTag"] = tags[0]
	}
	if !hidePerm {
		answer["permission"] = perm
	}
	return jsonResponse(http.StatusOK, answer)
}

// ensureTagsLocked adds to the tag list those of tags that are not on it,
// created at now, and returns how many it added. On an error it has added
// nothing.
func (s *Sandbox) ensureTagsLocked(tags []string, now time.Time) (added int, err error) {
	for _, tag := range tags {
		if _, ok := s.tagIdx[tag]; ok {
			continue
		}
		t, err := newTag(tag, now)
		if err != nil {
			for range added {
				s.removeLastTag()
			}
			return 0, err
		}
		s.insertTag(t)
		added++
	}
	return added, nil
}

// revokeLocked disables any key by id, Full Access ones included, as the
// upstream route does.
func (s *Sandbox) revokeLocked(id string) response {
	k := s.byID[id]
	if k == nil {
		return errorResponse(http.StatusNotFound, "Key not found", "")
	}
	if k.Enabled {
		k.Enabled = false
		if err := s.commitLocked(func() { k.Enabled = true }); err != nil {
			return errorResponse(http.StatusInternalServerError, "could not save the sandbox state", "")
		}
	}
	return jsonResponse(http.StatusOK, map[string]any{"success": true, "id": k.ID})
}

const jsonTimeLayout = "2006-01-02T15:04:05.000Z"

func jsonTime(t time.Time) string { return t.UTC().Format(jsonTimeLayout) }

// jsonTimePtr returns nil (JSON null) for a nil time.
func jsonTimePtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return jsonTime(*t)
}

// slug makes a URL slug of an organisation name.
func slug(name string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(name) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
