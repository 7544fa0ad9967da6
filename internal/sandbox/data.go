package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
)

// The data endpoints are played only as far as a key's scope goes: a body
// must be a JSON object (exact names, no duplicates; fields other than those
// read here are ignored, as the real API takes many), with a non-empty
// string `content` (documents) or `q` (search), and optionally containerTag
// or containerTags. A scoped key may name only its own tags, and without a
// tag acts on its own (a document needs exactly one then). A read key may
// search but not add a document (see authorize). Nothing is stored but the
// tag counts.

// addDocumentLocked answers POST /v3/documents: it counts one document in
// each of the tags written to, adding tags that do not exist yet.
func (s *Sandbox) addDocumentLocked(k *keyRecord, body []byte) response {
	fields, fail := dataBody(body, "content")
	if fail != nil {
		return *fail
	}
	tags, fail := dataScope(k, fields)
	if fail != nil {
		return *fail
	}
	switch {
	case tags == nil: // a Full Access key that names no tag
		return errorResponse(http.StatusBadRequest, "containerTag is required", "")
	case len(tags) > 1 && !hasTagField(fields):
		return errorResponse(http.StatusBadRequest, "containerTag is required for a key with several tags", "")
	}
	id, err := randomString(16)
	if err != nil {
		return errorResponse(http.StatusInternalServerError, "could not add the document", "")
	}
	now := s.now().UTC()
	added, err := s.ensureTagsLocked(tags, now)
	if err != nil {
		return errorResponse(http.StatusInternalServerError, "could not add the document", "")
	}
	old := make([]tagRecord, len(tags))
	for i, tag := range tags {
		t := s.tagIdx[tag]
		old[i] = *t
		t.DocumentCount++
		t.LastActivityAt, t.UpdatedAt = &now, now
	}
	undo := func() {
		for i, tag := range tags {
			*s.tagIdx[tag] = old[i]
		}
		for range added {
			s.removeLastTag()
		}
	}
	if err := s.commitLocked(undo); err != nil {
		return errorResponse(http.StatusInternalServerError, "could not save the sandbox state", "")
	}
	return jsonResponse(http.StatusOK, map[string]string{"id": "doc_" + id, "status": "queued"})
}

// searchLocked answers POST /v3/search with no results, once the key's
// scope allows the tags searched.
func (s *Sandbox) searchLocked(k *keyRecord, body []byte) response {
	fields, fail := dataBody(body, "q")
	if fail != nil {
		return *fail
	}
	if _, fail := dataScope(k, fields); fail != nil {
		return *fail
	}
	return jsonResponse(http.StatusOK, map[string]any{"results": []any{}, "total": 0, "timing": 0})
}

// dataBody decodes a data endpoint's body, which must hold the non-empty
// string field required.
func dataBody(body []byte, required string) (map[string]json.RawMessage, *response) {
	bad := func(msg string) (map[string]json.RawMessage, *response) {
		resp := errorResponse(http.StatusBadRequest, msg, "")
		return nil, &resp
	}
	fields, err := readObject(body, nil)
	if err != nil {
		return bad(err.Error())
	}
	raw, ok := fields[required]
	if !ok || isNull(raw) {
		return bad(required + " is required")
	}
	v, err := stringField(raw, required)
	if err != nil {
		return bad(err.Error())
	}
	if v == "" {
		return bad(required + " must not be empty")
	}
	return fields, nil
}

// dataScope returns the tags a data request acts on: those it names, or,
// if it names none, the key's own (nil for a Full Access key: every tag). A
// scoped key naming a tag outside its scope is refused with 403.
func dataScope(k *keyRecord, fields map[string]json.RawMessage) ([]string, *response) {
	tags, err := tagFields(fields)
	if err != nil {
		resp := errorResponse(http.StatusBadRequest, err.Error(), "")
		return nil, &resp
	}
	if tags == nil {
		if !k.scoped() {
			return nil, nil
		}
		return append([]string(nil), k.Tags...), nil
	}
	if k.scoped() {
		for _, tag := range tags {
			if !slices.Contains(k.Tags, tag) {
				resp := errorResponse(http.StatusForbidden, "Forbidden",
					fmt.Sprintf("container tag %s is outside this key's scope", quote(tag)))
				return nil, &resp
			}
		}
	}
	return tags, nil
}

// hasTagField reports whether a request names its tags.
func hasTagField(fields map[string]json.RawMessage) bool {
	for _, f := range []string{"containerTag", "containerTags"} {
		if raw, ok := fields[f]; ok && !isNull(raw) {
			return true
		}
	}
	return false
}
