package sandbox

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Defaults for [Options].
const (
	DefaultOrgID   = "org_sandbox"
	DefaultOrgName = "Sandbox Org"
)

// Defaults of POST /v3/auth/scoped-key, as the upstream API documents them.
const (
	DefaultRateLimitMax        = 500
	DefaultRateLimitTimeWindow = 60000
)

const (
	// startLen is how many leading characters of a secret a listing shows.
	startLen = 10
	// secretRandomLen is the length of the random part of a minted secret.
	secretRandomLen = 40
	// maxRecorded bounds the request log; older entries are dropped first.
	maxRecorded = 10000
	// operatorName is the display name of the seeded operator key.
	operatorName = "operator (Full Access)"
)

// Options configures a [Sandbox]. The zero value is ready to use.
type Options struct {
	// OrgID is the organisation id; keys look like sm_<OrgID>_<random>.
	// Letters, digits, '_' and '-', at most 64. Default [DefaultOrgID].
	OrgID string
	// OrgName is the organisation's display name. Default [DefaultOrgName].
	OrgName string
	// StatePath, if set, names a JSON file that holds the organisation. It is
	// loaded if it exists and rewritten atomically (temporary file, rename,
	// mode 0600) after every change to keys or tags.
	StatePath string
	// Now is the clock: key expiry and every time the sandbox shows or
	// records follow it. Default time.Now. Pass a [Clock]'s Now method for a
	// clock that can be advanced.
	Now func() time.Time
	// Unseeded starts a new organisation with only the operator key: no other
	// keys and no tags. It has no effect when StatePath names an existing file.
	Unseeded bool
	// OnRequest, if set, is called after each request has been answered
	// (outside the sandbox's lock), e.g. to log it. It sees what Requests
	// records: never headers or bodies.
	OnRequest func(Request)
}

// NewKey describes a key to seed with [Sandbox.AddKey].
type NewKey struct {
	// Name is the display name; any string is accepted.
	Name string
	// Tags are the container tags the key is scoped to; empty means a Full
	// Access key. Tags are not added to the tag list: use [Sandbox.AddTag].
	Tags []string
	// ExpiresAt is when the key expires; zero means never.
	ExpiresAt time.Time
	// CreatedAt is the creation time; zero means now.
	CreatedAt time.Time
	// Disabled seeds a revoked key.
	Disabled bool
	// Permission is "read" or "write"; "" means write.
	Permission string
}

// Sandbox is an emulated Supermemory organisation served as an
// [net/http.Handler]. It is safe for concurrent use.
type Sandbox struct {
	now       func() time.Time
	statePath string
	onRequest func(Request)

	mu     sync.Mutex
	st     state
	byHash map[string]*keyRecord // hex SHA-256 of the secret → key
	byID   map[string]*keyRecord
	tagIdx map[string]*tagRecord
	dirty  bool // lastRequest times changed since the last write

	seq       uint64 // sequence number of the last recorded request
	requests  []recorded
	forbidden []recorded
	counts    map[Endpoint]int
	allCount  int // requests to any of the five allowed endpoints
	active    int // requests being answered
	faults    []*faultEntry
}

// recorded is a [Request] with the sequence number used to set its status.
type recorded struct {
	seq uint64
	req Request
}

// state is what the state file holds.
type state struct {
	Version     int    `json:"version"`
	OrgID       string `json:"orgId"`
	OrgName     string `json:"orgName"`
	OperatorKey string `json:"operatorKeyId"`
	// OperatorSecret is kept in clear so that the operator key printed by
	// `mcp-keys sandbox --state FILE` keeps working after a restart. That is
	// acceptable for a local emulator whose state file is mode 0600; every
	// other key is stored only as the SHA-256 of its secret.
	OperatorSecret string       `json:"operatorSecret"`
	Keys           []*keyRecord `json:"keys"`
	Tags           []*tagRecord `json:"tags"`
}

// tagStyle says how a listing shows the (absent) tags of a Full Access key,
// to vary like real data. A scoped key always shows both fields.
type tagStyle int

const (
	styleBoth     tagStyle = iota // containerTag and containerTags
	styleTagOnly                  // containerTag only
	styleTagsOnly                 // containerTags only
)

type keyRecord struct {
	ID                  string     `json:"id"`
	Name                string     `json:"name"`
	Start               string     `json:"start"`
	Hash                string     `json:"hash"`
	CreatedAt           time.Time  `json:"createdAt"`
	ExpiresAt           *time.Time `json:"expiresAt"`
	LastRequest         *time.Time `json:"lastRequest"`
	Enabled             bool       `json:"enabled"`
	Tags                []string   `json:"tags"`
	Style               tagStyle   `json:"style"`
	RateLimitMax        int        `json:"rateLimitMax"`
	RateLimitTimeWindow int        `json:"rateLimitTimeWindow"`
	Metadata            string     `json:"metadata"`
	// Permission is "read" or "write"; state files written before it
	// existed load as write.
	Permission string `json:"permission"`
	// HidePermission leaves permission out of the key's listing entry, as
	// an API that ignored the field would (see [Fault.OmitPermission]).
	HidePermission bool `json:"hidePermission,omitempty"`
}

func (k *keyRecord) scoped() bool { return len(k.Tags) > 0 }

// readOnly reports whether the key may only read.
func (k *keyRecord) readOnly() bool { return k.Permission == permRead }

// permission is the key's permission, write unless it is read.
func (k *keyRecord) permission() string {
	if k.readOnly() {
		return permRead
	}
	return permWrite
}

func (k *keyRecord) expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

type tagRecord struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Tag            string     `json:"containerTag"`
	Description    *string    `json:"description"`
	CreatedAt      time.Time  `json:"createdAt"`
	UpdatedAt      time.Time  `json:"updatedAt"`
	DocumentCount  int64      `json:"documentCount"`
	MemoryCount    int64      `json:"memoryCount"`
	LastActivityAt *time.Time `json:"lastActivityAt"`
}

// New returns a sandbox. With opts.StatePath naming an existing file the
// organisation is loaded from it; otherwise a new one is made (seeded unless
// opts.Unseeded) and, with a StatePath, written out at once.
func New(opts Options) (*Sandbox, error) {
	s := &Sandbox{
		now:       opts.Now,
		statePath: opts.StatePath,
		onRequest: opts.OnRequest,
		counts:    make(map[Endpoint]int),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if opts.OrgID != "" && !validOrgID(opts.OrgID) {
		return nil, fmt.Errorf("sandbox: org id %s: use 1-64 letters, digits, '_' or '-'", quote(opts.OrgID))
	}
	if s.statePath != "" {
		st, found, err := loadState(s.statePath)
		if err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
		if found {
			if opts.OrgID != "" && opts.OrgID != st.OrgID {
				return nil, fmt.Errorf("sandbox: state file %s belongs to org %s, not %s",
					s.statePath, quote(st.OrgID), quote(opts.OrgID))
			}
			s.st = st
			s.index()
			return s, nil
		}
	}
	s.st = state{Version: stateVersion, OrgID: opts.OrgID, OrgName: opts.OrgName}
	if s.st.OrgID == "" {
		s.st.OrgID = DefaultOrgID
	}
	if s.st.OrgName == "" {
		s.st.OrgName = DefaultOrgName
	}
	s.index()
	if err := s.seed(opts.Unseeded); err != nil {
		return nil, fmt.Errorf("sandbox: seed: %w", err)
	}
	if s.statePath != "" {
		if err := s.persistLocked(); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	return s, nil
}

// index rebuilds the lookup maps from s.st.
func (s *Sandbox) index() {
	s.byHash = make(map[string]*keyRecord, len(s.st.Keys))
	s.byID = make(map[string]*keyRecord, len(s.st.Keys))
	s.tagIdx = make(map[string]*tagRecord, len(s.st.Tags))
	for _, k := range s.st.Keys {
		s.byHash[k.Hash] = k
		s.byID[k.ID] = k
	}
	for _, t := range s.st.Tags {
		s.tagIdx[t.Tag] = t
	}
}

// seed fills a new organisation: the operator key and, unless unseeded, the
// tags and keys that design.md describes.
func (s *Sandbox) seed(unseeded bool) error {
	now := s.now()
	day := 24 * time.Hour
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	ptr := func(t time.Time) *time.Time { return &t }

	op, secret, err := s.newKey(operatorName, nil, ago(120*day))
	if err != nil {
		return err
	}
	s.st.OperatorKey = op.ID
	s.st.OperatorSecret = secret
	s.insertKey(op)
	if unseeded {
		return nil
	}

	demoDesc := "Demo project of the sandbox organisation"
	tags := []struct {
		tag        string
		docs, mems int64
		created    time.Time
		active     *time.Time
		desc       *string
	}{
		{"demo-project", 42, 128, ago(30 * day), ptr(ago(2 * time.Hour)), &demoDesc},
		{"proj-search", 1250, 3400, ago(200 * day), ptr(ago(day)), nil},
		{"proj-prod-eu", 8120, 21044, ago(300 * day), ptr(ago(10 * time.Minute)), nil},
		{"user_alex", 15, 61, ago(90 * day), ptr(ago(31 * day)), nil},
		{"team:search", 0, 0, ago(5 * day), nil, nil},
	}
	for _, t := range tags {
		rec, err := newTag(t.tag, t.created)
		if err != nil {
			return err
		}
		rec.DocumentCount, rec.MemoryCount = t.docs, t.mems
		rec.LastActivityAt, rec.Description = t.active, t.desc
		if t.active != nil {
			rec.UpdatedAt = *t.active
		}
		s.insertTag(rec)
	}

	keys := []struct {
		name     string
		tags     []string
		created  time.Time
		expires  *time.Time
		last     *time.Time
		disabled bool
		style    tagStyle
	}{
		{"ci-deploy", nil, ago(60 * day), nil, ptr(ago(3 * time.Hour)), false, styleTagOnly},
		{"agent-demo-project-20261101", []string{"demo-project"}, ago(10 * day), ptr(now.Add(20 * day)), ptr(ago(time.Hour)), false, styleBoth},
		{"console-proj-search", []string{"proj-search"}, ago(45 * day), ptr(now.Add(320 * day)), ptr(ago(5 * time.Minute)), false, styleBoth},
		{"agent-old-user_alex", []string{"user_alex"}, ago(40 * day), ptr(now.Add(50 * day)), nil, true, styleBoth},
		{"agent-expired-team", []string{"team:search"}, ago(40 * day), ptr(ago(10 * day)), ptr(ago(12 * day)), false, styleBoth},
	}
	for _, k := range keys {
		rec, _, err := s.newKey(k.name, k.tags, k.created)
		if err != nil {
			return err
		}
		rec.ExpiresAt, rec.LastRequest = k.expires, k.last
		rec.Enabled = !k.disabled
		rec.Style = k.style
		s.insertKey(rec)
	}
	return nil
}

// newKey makes a key record with a fresh secret and id; it does not insert it.
func (s *Sandbox) newKey(name string, tags []string, created time.Time) (*keyRecord, string, error) {
	random, err := randomString(secretRandomLen)
	if err != nil {
		return nil, "", err
	}
	secret := "sm_" + s.st.OrgID + "_" + random
	idPart, err := randomString(20)
	if err != nil {
		return nil, "", err
	}
	meta, err := json.Marshal(map[string]string{"organizationId": s.st.OrgID})
	if err != nil {
		return nil, "", fmt.Errorf("metadata: %w", err)
	}
	return &keyRecord{
		ID:                  "key_" + idPart,
		Name:                name,
		Start:               secret[:startLen],
		Hash:                hashSecret(secret),
		CreatedAt:           created.UTC(),
		Enabled:             true,
		Tags:                append([]string(nil), tags...),
		Permission:          permWrite,
		RateLimitMax:        DefaultRateLimitMax,
		RateLimitTimeWindow: DefaultRateLimitTimeWindow,
		Metadata:            string(meta),
	}, secret, nil
}

func (s *Sandbox) insertKey(k *keyRecord) {
	s.st.Keys = append(s.st.Keys, k)
	s.byHash[k.Hash] = k
	s.byID[k.ID] = k
}

// removeLastKey undoes insertKey of the last key.
func (s *Sandbox) removeLastKey() {
	k := s.st.Keys[len(s.st.Keys)-1]
	s.st.Keys = s.st.Keys[:len(s.st.Keys)-1]
	delete(s.byHash, k.Hash)
	delete(s.byID, k.ID)
}

func newTag(tag string, created time.Time) (*tagRecord, error) {
	idPart, err := randomString(16)
	if err != nil {
		return nil, err
	}
	created = created.UTC()
	return &tagRecord{ID: "ctag_" + idPart, Name: tag, Tag: tag, CreatedAt: created, UpdatedAt: created}, nil
}

func (s *Sandbox) insertTag(t *tagRecord) {
	s.st.Tags = append(s.st.Tags, t)
	s.tagIdx[t.Tag] = t
}

func (s *Sandbox) removeLastTag() {
	t := s.st.Tags[len(s.st.Tags)-1]
	s.st.Tags = s.st.Tags[:len(s.st.Tags)-1]
	delete(s.tagIdx, t.Tag)
}

// OperatorKey returns the secret of the Full Access operator key.
func (s *Sandbox) OperatorKey() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.OperatorSecret
}

// AddKey seeds a key and returns its id and secret. Tags must not be empty
// strings and the permission must be "", "read" or "write"; otherwise any
// name and tags are accepted, so that tests can seed keys that mcp-keys must
// treat with care.
func (s *Sandbox) AddKey(k NewKey) (id, secret string, err error) {
	for i, t := range k.Tags {
		if t == "" {
			return "", "", fmt.Errorf("sandbox: add key: tag %d is empty", i)
		}
	}
	perm := k.Permission
	switch perm {
	case "":
		perm = permWrite
	case permRead, permWrite:
	default:
		return "", "", fmt.Errorf("sandbox: add key: permission %s is not \"read\" or \"write\"", quote(perm))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	created := k.CreatedAt
	if created.IsZero() {
		created = s.now()
	}
	rec, secret, err := s.newKey(k.Name, k.Tags, created)
	if err != nil {
		return "", "", fmt.Errorf("sandbox: add key: %w", err)
	}
	if !k.ExpiresAt.IsZero() {
		t := k.ExpiresAt.UTC()
		rec.ExpiresAt = &t
	}
	rec.Enabled = !k.Disabled
	rec.Permission = perm
	s.insertKey(rec)
	if err := s.commitLocked(s.removeLastKey); err != nil {
		return "", "", fmt.Errorf("sandbox: add key: %w", err)
	}
	return rec.ID, secret, nil
}

// AddTag adds a container tag with the given counts, or sets the counts of
// an existing one. A tag with documents or memories is marked active now.
func (s *Sandbox) AddTag(tag string, documents, memories int64) error {
	if err := checkTag(tag); err != nil {
		return fmt.Errorf("sandbox: add tag: %w", err)
	}
	if documents < 0 || memories < 0 {
		return errors.New("sandbox: add tag: counts must not be negative")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	var active *time.Time
	if documents > 0 || memories > 0 {
		active = &now
	}
	if t, ok := s.tagIdx[tag]; ok {
		old := *t
		t.DocumentCount, t.MemoryCount, t.LastActivityAt, t.UpdatedAt = documents, memories, active, now
		if err := s.commitLocked(func() { *t = old }); err != nil {
			return fmt.Errorf("sandbox: add tag: %w", err)
		}
		return nil
	}
	rec, err := newTag(tag, now)
	if err != nil {
		return fmt.Errorf("sandbox: add tag: %w", err)
	}
	rec.DocumentCount, rec.MemoryCount, rec.LastActivityAt = documents, memories, active
	s.insertTag(rec)
	if err := s.commitLocked(s.removeLastTag); err != nil {
		return fmt.Errorf("sandbox: add tag: %w", err)
	}
	return nil
}

// KeyCount returns the number of keys of the organisation, disabled and
// expired ones included.
func (s *Sandbox) KeyCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.st.Keys)
}

// hashSecret returns the hex SHA-256 of a secret: the only form in which
// minted secrets are kept.
func hashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// randomString returns n base62 characters from crypto/rand, without
// modulo bias.
func randomString(n int) (string, error) {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			return "", fmt.Errorf("random: %w", err)
		}
		for _, b := range buf {
			if b < 248 { // 248 = 4*62: keeps the distribution uniform
				out = append(out, base62[b%62])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out), nil
}

func validOrgID(id string) bool {
	if len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !isAlnum(c) && c != '_' && c != '-' {
			return false
		}
	}
	return id != ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
