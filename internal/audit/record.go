package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Event is what a record is about: a decision, or the outcome of an
// allowed write.
type Event string

// Phase marks a write's record as written before (intent) or after (result)
// the upstream call; "" for a decision that called nothing.
type Phase string

// Decision is what was decided.
type Decision string

// Outcome is what an upstream write did.
type Outcome string

// Event names: decision records and their outcomes.
const (
	// EventCreate is the decision on a create_scoped_key call.
	EventCreate Event = "create"
	// EventRevoke is the decision on a revoke_key call.
	EventRevoke Event = "revoke"
	// EventCheck is a check_policy dry run.
	EventCheck Event = "check"
	// EventCreateResult is the outcome of an allowed create (Ref names its intent).
	EventCreateResult Event = "create_result"
	// EventRevokeResult is the outcome of an allowed revoke (Ref names its intent).
	EventRevokeResult Event = "revoke_result"
)

// Phases of a write: the intent is recorded before the upstream call, the
// result after it.
const (
	// PhaseIntent marks a record written before the upstream call.
	PhaseIntent Phase = "intent"
	// PhaseResult marks a record of the upstream call's outcome.
	PhaseResult Phase = "result"
)

// Decisions.
const (
	// DecisionAllowed means the policy allowed the request.
	DecisionAllowed Decision = "allowed"
	// DecisionDenied means the policy (or a quota) refused the request.
	DecisionDenied Decision = "denied"
	// DecisionError means the request failed for another reason.
	DecisionError Decision = "error"
)

// Outcomes of result records.
const (
	// OutcomeCreated means the key was created upstream.
	OutcomeCreated Outcome = "created"
	// OutcomeRevoked means the key was revoked upstream.
	OutcomeRevoked Outcome = "revoked"
	// OutcomeAlreadyRevoked means the key was already disabled.
	OutcomeAlreadyRevoked Outcome = "already_revoked"
	// OutcomeFailed means the upstream call definitely failed.
	OutcomeFailed Outcome = "failed"
	// OutcomeUnknown means it is not known whether the upstream call took effect.
	OutcomeUnknown Outcome = "outcome_unknown"
	// OutcomeNotFound means the key was not found.
	OutcomeNotFound Outcome = "not_found"
)

// Limits on a record. Longer strings are truncated (ending in "…") and
// extra rules are replaced by one summary rule before the record is encoded;
// a line that is still longer than MaxLineBytes is refused with [ErrTooLarge].
// Key-shaped text is redacted before anything is truncated and Reason notes it.
const (
	// MaxLineBytes is the longest line (without "\n") the log writes or reads.
	MaxLineBytes = 16 << 10
	// MaxNameRunes is the longest Name kept.
	MaxNameRunes = 200
	// MaxReasonRunes is the longest Reason kept.
	MaxReasonRunes = 1000
	// MaxDetailRunes is the longest Rule.Detail kept.
	MaxDetailRunes = 300
	// MaxRules is the most rules kept in one record.
	MaxRules = 20
	// maxShortRunes bounds the other strings (tag, key id, client, rule names).
	maxShortRunes = 200
)

// Errors that callers may test with errors.Is.
var (
	// ErrTooLarge: a record's line is longer than MaxLineBytes.
	ErrTooLarge = errors.New("audit record too large")
	// ErrInvalid: a record's fields are missing or not allowed values.
	ErrInvalid = errors.New("invalid audit record")
	// ErrCorrupt: the log file is damaged (an incomplete or unreadable line);
	// nothing is appended until an operator repairs it.
	ErrCorrupt = errors.New("audit log is corrupt")
)

// secretRE matches what looks like a Supermemory API key, sm_<org>_<random>.
// Organisation ids may hold "_" and "-" (the sandbox's is "org_sandbox"), so
// the org part is wider than [A-Za-z0-9]+; this matches a superset of
// `sm_[A-Za-z0-9]+_[A-Za-z0-9]{16,}`.
var secretRE = regexp.MustCompile(`sm_[A-Za-z0-9_-]+_[A-Za-z0-9]{16,}`)

// Redaction: before a record is encoded, each piece of any of its strings
// that looks like a Supermemory API key is replaced by redactedText, and
// Reason says so (redactedNote appended, or redactedReason when it was
// empty). The record is then written as usual, so that a decision is never
// lost because an argument was key-shaped.
const (
	redactedText   = "[REDACTED]"
	redactedNote   = " (key-shaped text redacted)"
	redactedReason = "key-shaped text redacted"
)

// Record is one line of the audit log.
type Record struct {
	// Seq is the 1-based line number in the file (filled by the log).
	Seq int64 `json:"seq"`
	// Time is when the record was appended, UTC (filled by the log).
	Time time.Time `json:"time"`
	// PID is the id of the process that wrote the record (filled by the log).
	PID int `json:"pid"`
	// Prev is the hex SHA-256 of the previous line's bytes without "\n", or
	// "" on the first line (filled by the log).
	Prev string `json:"prev"`

	// Event is one of the Event constants.
	Event Event `json:"event"`
	// Phase is "", PhaseIntent or PhaseResult.
	Phase Phase `json:"phase,omitempty"`
	// Ref is, on a result, the Seq of its intent; on a folded check
	// record (Count set), the Seq of the first of the identical checks.
	Ref int64 `json:"ref,omitempty"`
	// Tool is the MCP tool that was called.
	Tool string `json:"tool"`
	// Decision is one of the Decision constants.
	Decision Decision `json:"decision"`
	// Rules are the rules that decided.
	Rules []Rule `json:"rules,omitempty"`
	// Reason is one line of explanation.
	Reason string `json:"reason,omitempty"`
	// Tag is the container tag of the key.
	Tag string `json:"tag,omitempty"`
	// Name is the key's name.
	Name string `json:"name,omitempty"`
	// KeyID is the key's id (never the secret).
	KeyID string `json:"key_id,omitempty"`
	// ExpiresInDays is the requested or effective expiry.
	ExpiresInDays int `json:"expires_in_days,omitempty"`
	// RateLimitMax is the requested or effective rate limit.
	RateLimitMax int `json:"rate_limit_max,omitempty"`
	// RateLimitWindowMs is the requested or effective rate-limit window.
	RateLimitWindowMs int `json:"rate_limit_window_ms,omitempty"`
	// Outcome is, on a result, one of the Outcome constants.
	Outcome Outcome `json:"outcome,omitempty"`
	// UpstreamStatus is the HTTP status of the upstream call, if any.
	UpstreamStatus int `json:"upstream_status,omitempty"`
	// DurationMs is how long the call took.
	DurationMs float64 `json:"duration_ms,omitempty"`
	// Client is the MCP client's name from initialize.
	Client string `json:"client,omitempty"`
	// ClientVersion is the MCP client's version from initialize.
	ClientVersion string `json:"client_version,omitempty"`
	// Caller is the Caller.ID of who asked: "local" in stdio mode,
	// "token:NAME" or "oauth:ISS#SUB" in remote mode, "system" for the
	// lease reaper.
	Caller string `json:"caller,omitempty"`
	// Tags are the key's tags when it has several (Tag holds a single one).
	Tags []string `json:"tags,omitempty"`
	// Permission is the key's permission, "read" or "write".
	Permission string `json:"permission,omitempty"`
	// LeaseEndsAt is when a leased key's lease ends (mcp-keys revokes it).
	LeaseEndsAt *time.Time `json:"lease_ends_at,omitempty"`
	// Count is how many identical check decisions this record stands for,
	// when folded (see Store.AppendCheck); 0 means one. The file store
	// writes the first of a run of identical checks at once and the rest as
	// one later record whose Count is their number and whose Ref is the
	// first one's Seq.
	Count int `json:"count,omitempty"`
	// MAC is, in a keyed log, the hex HMAC-SHA256 under the chain key of
	// the record's line as it reads without this field (filled by the
	// store); "" in an unkeyed log. It is always the last field.
	MAC string `json:"mac,omitempty"`
}

// Rule is one rule's verdict.
type Rule struct {
	// Rule is the rule's stable name.
	Rule string `json:"rule"`
	// Outcome is "pass", "fail" or "skip".
	Outcome string `json:"outcome"`
	// Detail is a one-line human explanation.
	Detail string `json:"detail,omitempty"`
}

var (
	validEvents    = set(EventCreate, EventRevoke, EventCheck, EventCreateResult, EventRevokeResult)
	validPhases    = set("", PhaseIntent, PhaseResult)
	validDecisions = set(DecisionAllowed, DecisionDenied, DecisionError)
	validOutcomes  = set("", OutcomeCreated, OutcomeRevoked, OutcomeAlreadyRevoked, OutcomeFailed, OutcomeUnknown, OutcomeNotFound)
)

func set[T ~string](vals ...T) map[T]bool {
	m := make(map[T]bool, len(vals))
	for _, v := range vals {
		m[v] = true
	}
	return m
}

// stringFields lists every string of r with its JSON name.
func (r *Record) stringFields() []struct {
	name string
	val  *string
} {
	type f = struct {
		name string
		val  *string
	}
	out := []f{
		{"prev", &r.Prev}, {"mac", &r.MAC}, {"event", (*string)(&r.Event)}, {"phase", (*string)(&r.Phase)}, {"tool", &r.Tool},
		{"decision", (*string)(&r.Decision)}, {"reason", &r.Reason}, {"tag", &r.Tag}, {"name", &r.Name},
		{"key_id", &r.KeyID}, {"outcome", (*string)(&r.Outcome)}, {"client", &r.Client},
		{"client_version", &r.ClientVersion}, {"caller", &r.Caller}, {"permission", &r.Permission},
	}
	for i := range r.Tags {
		out = append(out, f{fmt.Sprintf("tags[%d]", i), &r.Tags[i]})
	}
	for i := range r.Rules {
		p := fmt.Sprintf("rules[%d].", i)
		out = append(out, f{p + "rule", &r.Rules[i].Rule}, f{p + "outcome", &r.Rules[i].Outcome}, f{p + "detail", &r.Rules[i].Detail})
	}
	return out
}

// redact replaces every key-shaped piece of every string of r with
// redactedText, in place, and reports whether it replaced anything. r's Rules
// must not share memory with the caller's (sanitize copies them). One pass
// suffices: a match cannot span redactedText ("[" and "]" are outside the
// pattern), and ReplaceAll leaves no match in the text between matches.
func (r *Record) redact() bool {
	hit := false
	for _, f := range r.stringFields() {
		if secretRE.MatchString(*f.val) {
			*f.val = secretRE.ReplaceAllLiteralString(*f.val, redactedText)
			hit = true
		}
	}
	return hit
}

// truncate shortens s to at most n runes, ending in "…" when cut.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i, count := 0, 0
	for i < len(s) && count < n-1 {
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
		count++
	}
	return s[:i] + "…"
}

// sanitize returns a copy of r with key-shaped text redacted and its strings
// and rules within the limits. Redaction comes before truncation, so that
// cutting a string can never leave a part of a key that no longer matches.
func sanitize(r Record) Record {
	rules := r.Rules
	if len(rules) > MaxRules {
		extra := len(rules) - (MaxRules - 1)
		rules = append(rules[:MaxRules-1:MaxRules-1], Rule{
			Rule: "audit_truncated", Outcome: "skip",
			Detail: fmt.Sprintf("%d more rules not recorded", extra),
		})
	}
	if rules != nil {
		cp := make([]Rule, len(rules))
		for i, ru := range rules {
			cp[i] = Rule{
				Rule:    truncate(ru.Rule, maxShortRunes),
				Outcome: truncate(ru.Outcome, maxShortRunes),
				Detail:  truncate(ru.Detail, MaxDetailRunes),
			}
		}
		rules = cp
	}
	r.Rules = rules
	if r.Tags != nil { // redaction works in place: never on the caller's slice
		r.Tags = append([]string(nil), r.Tags...)
	}
	for _, f := range r.stringFields() { // as encoding/json would, but canonical
		*f.val = strings.ToValidUTF8(*f.val, "\uFFFD")
	}
	redacted := r.redact() // on exactly the text that will be encoded
	r.Name = truncate(r.Name, MaxNameRunes)
	switch {
	case !redacted:
		r.Reason = truncate(r.Reason, MaxReasonRunes)
	case r.Reason == "":
		r.Reason = redactedReason
	default:
		r.Reason = truncate(r.Reason, MaxReasonRunes-utf8.RuneCountInString(redactedNote)) + redactedNote
	}
	for i := range r.Tags {
		r.Tags[i] = truncate(r.Tags[i], maxShortRunes)
	}
	for _, p := range []*string{&r.Tool, &r.Tag, &r.KeyID, &r.Client, &r.ClientVersion, &r.Caller, &r.Permission} {
		*p = truncate(*p, maxShortRunes)
	}
	return r
}

// validate checks the fields every record must have. It does not check Seq
// against the file or Prev against the previous line.
func validate(r Record) error {
	switch {
	case r.Seq < 1:
		return fmt.Errorf("%w: seq %d is not positive", ErrInvalid, r.Seq)
	case r.Time.IsZero():
		return fmt.Errorf("%w: time is missing", ErrInvalid)
	case r.PID <= 0:
		return fmt.Errorf("%w: pid %d is not positive", ErrInvalid, r.PID)
	case r.Prev != "" && !isHexHash(r.Prev):
		return fmt.Errorf("%w: prev is not a hex SHA-256", ErrInvalid)
	case r.MAC != "" && !isHexHash(r.MAC):
		return fmt.Errorf("%w: mac is not a hex HMAC-SHA256", ErrInvalid)
	case r.Count < 0:
		return fmt.Errorf("%w: count %d is negative", ErrInvalid, r.Count)
	case !validEvents[r.Event]:
		return fmt.Errorf("%w: unknown event %s", ErrInvalid, strconv.Quote(truncate(string(r.Event), 40)))
	case !validPhases[r.Phase]:
		return fmt.Errorf("%w: unknown phase %s", ErrInvalid, strconv.Quote(truncate(string(r.Phase), 40)))
	case r.Tool == "":
		return fmt.Errorf("%w: tool is missing", ErrInvalid)
	case !validDecisions[r.Decision]:
		return fmt.Errorf("%w: unknown decision %s", ErrInvalid, strconv.Quote(truncate(string(r.Decision), 40)))
	case !validOutcomes[r.Outcome]:
		return fmt.Errorf("%w: unknown outcome %s", ErrInvalid, strconv.Quote(truncate(string(r.Outcome), 40)))
	case r.Ref < 0 || r.Ref >= r.Seq:
		return fmt.Errorf("%w: ref %d does not name an earlier record", ErrInvalid, r.Ref)
	case r.Phase == PhaseResult && r.Ref == 0:
		return fmt.Errorf("%w: a result has no ref", ErrInvalid)
	}
	return nil
}

func isHexHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// decodeLine parses one line (without "\n") strictly: a single JSON object
// with only known fields, in exactly the canonical form the log writes, with
// valid field values.
func decodeLine(line []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return Record{}, fmt.Errorf("not a valid audit record: %w", err)
	}
	canon, err := json.Marshal(r)
	if err != nil || !bytes.Equal(canon, line) {
		return Record{}, errors.New("not in the canonical form the log writes (edited, or extra data)")
	}
	if err := validate(r); err != nil {
		return Record{}, err
	}
	return r, nil
}

// encodeRecord turns r into the line with Seq prevSeq+1 and Prev prev (the
// hex SHA-256 of the previous line, "" for the first), with its MAC under
// key when key is not nil. It returns the line with its "\n" and the record
// exactly as written.
func encodeRecord(prev string, prevSeq int64, r Record, now time.Time, pid int, key []byte) ([]byte, Record, error) {
	r = sanitize(r)
	r.Seq = prevSeq + 1
	r.Time = now.UTC()
	r.PID = pid
	r.Prev = prev
	r.MAC = ""
	if err := validate(r); err != nil {
		return nil, Record{}, err
	}
	line, err := json.Marshal(r)
	if err != nil {
		return nil, Record{}, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if key != nil {
		line = withMAC(line, recordMAC(key, line))
	}
	if len(line) > MaxLineBytes {
		return nil, Record{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(line), MaxLineBytes)
	}
	if secretRE.Match(line) { // defence in depth: cannot happen after redact
		return nil, Record{}, fmt.Errorf("%w: key-shaped text survived redaction (value not shown)", ErrInvalid)
	}
	written, err := decodeLine(line) // what Verify will see, e.g. invalid UTF-8 replaced
	if err != nil {
		return nil, Record{}, fmt.Errorf("%w: does not read back: %w", ErrInvalid, err)
	}
	return append(line, '\n'), written, nil
}

// String returns the record as one readable line, for example
//
//	2026-11-25T21:14:03Z create allowed phase=intent tag=proj-search name=agent-x key=key_123 client=claude-code/1.2 pid=123 seq=7 [tag_allow=pass, expiry=pass]
//
// Values with spaces, quotes or control characters are quoted.
func (r Record) String() string {
	var b strings.Builder
	t := "-"
	if !r.Time.IsZero() {
		t = r.Time.UTC().Format(time.RFC3339)
	}
	b.WriteString(t)
	b.WriteString(" " + disp(string(r.Event)) + " " + disp(string(r.Decision)))
	kv := func(k, v string) {
		if v != "" {
			b.WriteString(" " + k + "=" + disp(v))
		}
	}
	num := func(k string, v int64) {
		if v != 0 {
			b.WriteString(" " + k + "=" + strconv.FormatInt(v, 10))
		}
	}
	kv("phase", string(r.Phase))
	kv("outcome", string(r.Outcome))
	kv("tag", r.Tag)
	kv("name", r.Name)
	kv("key", r.KeyID)
	num("expires_in_days", int64(r.ExpiresInDays))
	if r.RateLimitMax != 0 || r.RateLimitWindowMs != 0 {
		fmt.Fprintf(&b, " rate_limit=%d/%dms", r.RateLimitMax, r.RateLimitWindowMs)
	}
	num("upstream", int64(r.UpstreamStatus))
	if r.DurationMs != 0 {
		b.WriteString(" duration=" + strconv.FormatFloat(r.DurationMs, 'f', -1, 64) + "ms")
	}
	client := r.Client
	if r.ClientVersion != "" {
		client += "/" + r.ClientVersion
	}
	kv("client", client)
	num("pid", int64(r.PID))
	num("seq", r.Seq)
	num("ref", r.Ref)
	if len(r.Rules) > 0 {
		b.WriteString(" [")
		for i, ru := range r.Rules {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(disp(ru.Rule) + "=" + disp(ru.Outcome))
			if ru.Detail != "" {
				b.WriteString(": " + disp(ru.Detail))
			}
		}
		b.WriteString("]")
	}
	kv("reason", r.Reason)
	return b.String()
}

// disp quotes s when it would not read as one token on one line.
func disp(s string) string {
	if s == "" {
		return `""`
	}
	for _, c := range s {
		if c == ' ' || c == '"' || c == '=' || c == ',' || c == '[' || c == ']' || !unicode.IsGraphic(c) || c == utf8.RuneError {
			return strconv.Quote(s)
		}
	}
	return s
}
