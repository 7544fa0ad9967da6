package client

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// errShape is the cause of an answer whose JSON is valid but not of the
// expected shape.
var errShape = errors.New("unexpected JSON shape")

// maxListedPrefix caps Key.Prefix: a listing shows a prefix, but if the API
// ever sent a whole secret, only this much of it is kept.
const maxListedPrefix = 12

// Field names are matched exactly (case-sensitively); unknown fields are
// skipped; a field of an unexpected JSON type reads as missing.

// flexTime reads RFC 3339 (and a few close variants) or epoch milliseconds;
// anything else, including null, is the zero time.
func (r *reader) flexTime() time.Time {
	switch k, b := r.scalar(); k {
	case '"':
		if t, ok := parseRFC3339Z(b); ok {
			return t
		}
		return parseTime(string(b))
	case '0':
		return parseEpoch(string(b))
	}
	return time.Time{}
}

// timeLayouts are tried in order by parseTime.
var timeLayouts = [...]string{
	time.RFC3339Nano, // also accepts RFC 3339 without fractional seconds
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTime parses a timestamp string; an unparseable one is the zero time.
// A string of digits is taken as epoch milliseconds.
func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	if c := s[0]; c >= '0' && c <= '9' && !strings.ContainsAny(s, "-:T ") {
		return parseEpoch(s)
	}
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// parseRFC3339Z parses the usual form of a timestamp in an answer,
// "2006-01-02T15:04:05Z" with zero to nine digits of fraction, without
// allocating; ok is false for anything else (parseTime then decides). It
// agrees with parseTime wherever ok is true (a test checks).
func parseRFC3339Z(b []byte) (t time.Time, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return t, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return t, false
	}
	if day > time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day() {
		return t, false // no such day in that month
	}
	nsec := 0
	switch frac := b[19 : len(b)-1]; {
	case len(frac) == 0:
	case len(frac) < 2 || len(frac) > 10 || frac[0] != '.':
		return t, false
	default:
		f, ok := num(frac[1:])
		if !ok {
			return t, false
		}
		for range 10 - len(frac) {
			f *= 10
		}
		nsec = f
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// parseEpoch parses epoch milliseconds. Values below 1e11 are taken as
// seconds: as milliseconds they would fall in 1973, long before any key.
func parseEpoch(s string) time.Time {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || f > 1e15 {
		return time.Time{}
	}
	if f < 1e11 {
		f *= 1000
	}
	return time.UnixMilli(int64(f)).UTC()
}

// rawKey is one item of GET /v3/auth/keys, a union of the fields seen in
// first-party clients.
// The byte slices alias the body and are copied only if used: "key" may
// hold a whole secret, and only a short prefix of it is ever kept.
type rawKey struct {
	id, name                          string
	start, key                        []byte
	createdAt, expiresAt, lastRequest time.Time
	enabled                           optBool
	// scopedTrue and scopedNotTrue record every isScoped member: true, and
	// false or not a boolean (null is absent). A field sent twice counts
	// twice, so the duplicate that makes the key less revocable wins.
	scopedTrue, scopedNotTrue bool
	tags                      tagSet
	perm                      permSet
	metadata                  map[string]string
}

// readKeyItem reads one key object.
func (r *reader) readKeyItem() Key {
	var k rawKey
	r.object(func(name []byte) {
		switch string(name) {
		case "id":
			k.id = r.flexString()
		case "name":
			k.name = r.flexString()
		case "start":
			k.start = r.flexBytes()
		case "key":
			k.key = r.flexBytes()
		case "createdAt":
			k.createdAt = r.flexTime()
		case "expiresAt":
			k.expiresAt = r.flexTime()
		case "lastRequest":
			k.lastRequest = r.flexTime()
		case "enabled":
			k.enabled = r.flexBool()
		case "isScoped":
			kind, v := r.scalar()
			switch b := boolOf(kind, v); {
			case b.set && b.v:
				k.scopedTrue = true
			case b.set || kind != 'n':
				k.scopedNotTrue = true
			}
		case "containerTag":
			r.readContainerTag(&k.tags)
		case "containerTags":
			r.readContainerTags(&k.tags)
		case "permission":
			k.perm.add(r.scalar())
		case "metadata":
			k.metadata = r.flexMeta()
		default:
			r.skip()
		}
	})
	return k.toKey()
}

// unreadableTagBytes is UnreadableTag for readTagBytes. It is never written.
var unreadableTagBytes = []byte(UnreadableTag)

// readTagBytes reads containerTag: a non-empty string is the tag and null is
// no tag; anything else (an empty string, a number, ...) is UnreadableTag.
// The result may alias the input.
func (r *reader) readTagBytes() []byte {
	switch k, b := r.scalar(); k {
	case 'n':
		return nil
	case '"':
		if len(b) > 0 {
			return b
		}
	case 0:
		return nil // r failed
	}
	return unreadableTagBytes
}

// readTagList reads containerTags and appends it to out: an array (each
// element that is not a non-empty string is read as UnreadableTag, at most
// once) or null (no tags); any other value is one UnreadableTag.
func (r *reader) readTagList(out []string) []string {
	switch r.peek() {
	case 'n':
		r.token()
		return out
	case '[':
		odd := false
		r.array(func() {
			if k, s := r.scalar(); k == '"' && len(s) > 0 {
				out = append(out, string(s))
				return
			}
			if !odd && r.err == nil {
				odd = true
				out = append(out, UnreadableTag)
			}
		})
		return out
	}
	r.skip()
	return append(out, UnreadableTag)
}

// toKey converts the wire form so that ambiguity makes a key less
// revocable: see Key.Kind and Key.Tags for the rules. Tags, names and ids
// are kept exactly as sent: the caller's policy checks must see what the API
// sees.
func (k *rawKey) toKey() Key {
	out := Key{
		ID:         k.id,
		Name:       k.name,
		Permission: k.perm.String(),
		CreatedAt:  k.createdAt,
		ExpiresAt:  k.expiresAt,
		LastUsedAt: k.lastRequest,
		Enabled:    !k.enabled.set || k.enabled.v,
		Metadata:   k.metadata,
		Kind:       KindFull,
	}
	tags := k.tags.tags()
	out.Tags = tags
	switch {
	case k.scopedNotTrue:
	case k.scopedTrue, len(tags) > 0:
		out.Kind = KindScoped
	}
	prefix := k.start
	if len(prefix) == 0 {
		prefix = k.key
	}
	out.Prefix = listedPrefix(prefix)
	return out
}

// hasTag reports whether tags holds t, without allocating.
func hasTag(tags []string, t []byte) bool {
	for _, s := range tags {
		if s == string(t) {
			return true
		}
	}
	return false
}

// dedupTags removes later duplicates from tags, in place.
func dedupTags(tags []string) []string {
	if len(tags) < 2 {
		return tags
	}
	out := tags[:1]
	if len(tags) <= 16 {
		for _, t := range tags[1:] {
			if !hasTagString(out, t) {
				out = append(out, t)
			}
		}
		return out
	}
	seen := make(map[string]struct{}, len(tags))
	seen[tags[0]] = struct{}{}
	for _, t := range tags[1:] {
		if _, dup := seen[t]; !dup {
			seen[t] = struct{}{}
			out = append(out, t)
		}
	}
	return out
}

func hasTagString(tags []string, t string) bool {
	for _, s := range tags {
		if s == t {
			return true
		}
	}
	return false
}

// permission returns p as a string, without allocating for the usual values.
func permission(p []byte) string {
	switch string(p) {
	case "":
		return ""
	case "write":
		return "write"
	case "read":
		return "read"
	}
	return string(p)
}

// listedPrefix returns at most maxListedPrefix printable characters of a
// listed key prefix; only those are copied.
func listedPrefix(p []byte) string {
	n := 0
	for i := 0; i < len(p); {
		if n == maxListedPrefix {
			p = p[:i]
			break
		}
		r, size := utf8.DecodeRune(p[i:])
		if !unicode.IsPrint(r) || r == utf8.RuneError {
			return filteredPrefix(p)
		}
		i += size
		n++
	}
	return string(p)
}

// filteredPrefix is listedPrefix for a prefix with characters to drop.
func filteredPrefix(p []byte) string {
	var b strings.Builder
	n := 0
	for i := 0; i < len(p) && n < maxListedPrefix; {
		r, size := utf8.DecodeRune(p[i:])
		i += size
		if unicode.IsPrint(r) && r != utf8.RuneError {
			b.WriteRune(r)
			n++
		}
	}
	return b.String()
}

// decodeKeys decodes GET /v3/auth/keys: {"keys":[...]} (null keys means
// none), or defensively a bare array. Null items are skipped. An object with
// two "keys" members is refused.
func decodeKeys(data []byte) ([]Key, error) {
	r := newReader(data)
	var keys []Key
	found := false
	list := func() {
		found = true
		switch r.peek() {
		case 'n':
			r.token()
		case '[':
			keys = make([]Key, 0, 16)
			r.array(func() {
				switch r.peek() {
				case '{':
					keys = append(keys, r.readKeyItem())
				case 'n':
					r.token()
				default:
					r.skip()
					r.shape()
				}
			})
		default:
			r.skip()
			r.shape()
		}
	}
	switch r.peek() {
	case '{':
		r.object(func(name []byte) {
			switch {
			case string(name) != "keys":
				r.skip()
			case found:
				// Two lists: which one the API meant is ambiguous.
				r.skip()
				r.shape()
			default:
				list()
			}
		})
	case '[':
		list()
	default:
		r.skip()
		r.shape()
	}
	r.end()
	switch {
	case r.err != nil:
		return nil, r.err
	case !found:
		return nil, errShape // no "keys" field: not a listing
	case keys == nil:
		keys = []Key{}
	}
	return keys, nil
}

// readTagItem reads one tag: an object, or a bare string taken as the tag.
// Items of other types, and objects without a tag, give ok=false.
func (r *reader) readTagItem() (t Tag, ok bool) {
	switch r.peek() {
	case '"':
		t.Tag = r.readString()
		return t, t.Tag != ""
	case '{':
	default:
		r.skip()
		return t, false
	}
	var alt string
	r.object(func(name []byte) {
		switch string(name) {
		case "containerTag":
			t.Tag = r.flexString()
		case "tag":
			alt = r.flexString()
		case "name":
			t.Name = r.flexString()
		case "description":
			t.Description = r.flexString()
		case "documentCount":
			t.DocumentCount = r.flexInt()
		case "memoryCount":
			t.MemoryCount = r.flexInt()
		case "createdAt":
			t.CreatedAt = r.flexTime()
		case "lastActivityAt":
			t.LastActivityAt = r.flexTime()
		default:
			r.skip()
		}
	})
	if t.Tag == "" {
		t.Tag = alt
	}
	return t, t.Tag != ""
}

// decodeTags decodes GET /v3/container-tags/list: a bare array, or
// defensively {"tags":[...]} or {"containerTags":[...]} ("tags" wins if
// both are present). Items without a tag are dropped.
func decodeTags(data []byte) ([]Tag, error) {
	r := newReader(data)
	list := func() (tags []Tag, found bool) {
		switch r.peek() {
		case 'n':
			r.token()
			return nil, true
		case '[':
			tags = make([]Tag, 0, 16)
			r.array(func() {
				if t, ok := r.readTagItem(); ok {
					tags = append(tags, t)
				}
			})
			return tags, true
		}
		r.skip()
		r.shape()
		return nil, false
	}
	var (
		tags, alt       []Tag
		found, foundAlt bool
	)
	switch r.peek() {
	case '[':
		tags, found = list()
	case '{':
		r.object(func(name []byte) {
			switch string(name) {
			case "tags":
				tags, found = list()
			case "containerTags":
				alt, foundAlt = list()
			default:
				r.skip()
			}
		})
		if !found {
			tags, found = alt, foundAlt
		}
	default:
		r.skip()
		r.shape()
	}
	r.end()
	switch {
	case r.err != nil:
		return nil, r.err
	case !found:
		return nil, errShape
	case tags == nil:
		tags = []Tag{}
	}
	return tags, nil
}

// readNamed reads {"id","email","name","slug"}; other types read as empty.
func (r *reader) readNamed() (id, email, name, slug string) {
	if r.peek() != '{' {
		r.skip()
		return
	}
	r.object(func(key []byte) {
		switch string(key) {
		case "id":
			id = r.flexString()
		case "email":
			email = r.flexString()
		case "name":
			name = r.flexString()
		case "slug":
			slug = r.flexString()
		default:
			r.skip()
		}
	})
	return
}

// readScope reads the session's scope: an object, or a bare string type.
func (r *reader) readScope(s *Session) {
	switch r.peek() {
	case '"':
		s.ScopeType = r.readString()
		return
	case '{':
	default:
		r.skip()
		return
	}
	var tag string
	var tags []string
	r.object(func(key []byte) {
		switch string(key) {
		case "type":
			s.ScopeType = r.flexString()
		case "permission":
			s.ScopePermission = r.flexString()
		case "tag":
			tag = r.flexString()
		case "tags":
			tags = r.flexStrings()
		default:
			r.skip()
		}
	})
	switch {
	case len(tags) > 0:
		s.ScopeTags = tags
	case tag != "":
		s.ScopeTags = []string{tag}
	}
}

// decodeSession decodes GET /v3/session. "org" wins over "organization".
func decodeSession(data []byte) (*Session, error) {
	r := newReader(data)
	if r.peek() != '{' {
		r.skip()
		r.shape()
		return nil, r.err
	}
	s := &Session{}
	var orgSeen bool
	r.object(func(key []byte) {
		switch string(key) {
		case "user":
			s.UserID, s.UserEmail, s.UserName, _ = r.readNamed()
		case "org", "organization":
			isOrg := string(key) == "org"
			id, _, name, slug := r.readNamed()
			if isOrg || !orgSeen {
				s.OrgID, s.OrgName, s.OrgSlug = id, name, slug
			}
			orgSeen = orgSeen || isOrg
		case "plan":
			s.Plan = r.flexString()
		case "role":
			s.Role = r.flexString()
		case "accessType":
			s.AccessType = r.flexString()
		case "scope":
			r.readScope(s)
		default:
			r.skip()
		}
	})
	r.end()
	if r.err != nil {
		return nil, r.err
	}
	return s, nil
}

// IsFullAccess reports whether the session's key is a Full Access key:
// accessType or scope.type is "full", and nothing says it is scoped (a
// scope type or access type of "scoped", or scope tags).
func (s *Session) IsFullAccess() bool {
	if s == nil {
		return false
	}
	scoped := strings.EqualFold(s.AccessType, "scoped") || strings.EqualFold(s.ScopeType, "scoped") || len(s.ScopeTags) > 0
	full := strings.EqualFold(s.AccessType, "full") || strings.EqualFold(s.ScopeType, "full")
	return full && !scoped
}

// errNoSecret is the cause of a create answer without a key.
var errNoSecret = errors.New("the answer holds no key")

// decodeCreated decodes POST /v3/auth/scoped-key. An answer without a
// secret is unusable. Tags and permission are read as in a listing (see
// CreatedKey).
func decodeCreated(data []byte) (*CreatedKey, error) {
	r := newReader(data)
	if r.peek() != '{' {
		r.skip()
		r.shape()
		return nil, r.err
	}
	ck := &CreatedKey{}
	var (
		secret []byte
		tags   tagSet
		perm   permSet
	)
	r.object(func(key []byte) {
		switch string(key) {
		case "key":
			// Kept as written until the answer has been read: the secret
			// is copied once, and only from a readable answer.
			secret = r.rawScalar()
		case "id":
			ck.ID = r.flexString()
		case "name":
			ck.Name = r.flexString()
		case "containerTag":
			r.readContainerTag(&tags)
		case "containerTags":
			r.readContainerTags(&tags)
		case "permission":
			perm.add(r.scalar())
		case "scope":
			r.readScopePermission(&perm)
		case "expiresAt":
			ck.ExpiresAt = r.flexTime()
		case "allowedEndpoints":
			ck.AllowedEndpoints = r.flexStrings()
		default:
			r.skip()
		}
	})
	r.end()
	if r.err != nil {
		return nil, r.err
	}
	ck.Tags, ck.Permission = tags.tags(), perm.String()
	if ck.Key = secretOf(secret); ck.Key == "" {
		return nil, errNoSecret
	}
	return ck, nil
}

// decodeRevoke decodes DELETE /v3/auth/scoped-key/{id}. The status already
// said success: an empty or unreadable body is a success for id, and only
// an explicit "success": false says otherwise.
func decodeRevoke(data []byte, id string) *RevokeResult {
	res := &RevokeResult{ID: id, Success: true}
	r := newReader(data)
	if r.peek() != '{' {
		return res
	}
	var success optBool
	var gotID string
	r.object(func(key []byte) {
		switch string(key) {
		case "success":
			success = r.flexBool()
		case "id":
			gotID = r.flexString()
		default:
			r.skip()
		}
	})
	r.end()
	if r.err != nil {
		return res
	}
	if success.set {
		res.Success = success.v
	}
	if gotID != "" {
		res.ID = gotID
	}
	return res
}
