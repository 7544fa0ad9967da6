package keys

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// FailureKind says why a use case did not do what was asked.
type FailureKind int

// Failure kinds.
const (
	// FailRefused: the policy (or a quota, or a person) refused.
	FailRefused FailureKind = iota + 1
	// FailInvalid: the arguments were not acceptable.
	FailInvalid
	// FailNotFound: the key does not exist.
	FailNotFound
	// FailUpstream: the Supermemory API failed or could not be reached.
	FailUpstream
	// FailStore: the store of record could not be written or trusted.
	FailStore
	// FailNotHandedOn: a key was made but could not be handed on.
	FailNotHandedOn
)

// Failure is a use case's answer when it did not do what was asked: a
// refusal or a failure the caller can act on. Message says what happened
// and what to do next, and never holds a secret. Transports show it as is
// (MCP: an isError tool result).
type Failure struct {
	// Kind says why.
	Kind FailureKind
	// Message is the text for the caller.
	Message string
	// Decision is the policy's decision, for a refusal by the policy.
	Decision *policy.Decision
	// Err is the underlying error, if any (never shown as is).
	Err error
}

// Error returns the message.
func (f *Failure) Error() string { return f.Message }

// Unwrap returns the underlying error.
func (f *Failure) Unwrap() error { return f.Err }

// AsFailure returns the Failure in err's chain, or nil.
func AsFailure(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return nil
}

// failf builds a Failure from a format.
func failf(kind FailureKind, format string, a ...any) *Failure {
	return &Failure{Kind: kind, Message: fmt.Sprintf(format, a...)}
}

// DefaultDenyNote is added to every refusal while the policy allows no tag:
// it says whether a policy is configured at all, and how to fix it.
func DefaultDenyNote(p *policy.Policy) string {
	switch {
	case p.Revoke.Scope != "":
		// A remote caller's policy: its caller rule says what is missing,
		// and the operator's configuration is not the caller's business.
		return ""
	case p.Source == policy.SourceDefault:
		return " No policy is configured, so nothing can be minted or revoked: " +
			"the operator must set MCP_KEYS_POLICY (a policy file) or MCP_KEYS_ALLOWED_TAGS."
	}
	return " The policy (" + p.Source + ") allows no tag, so nothing can be minted or revoked until the operator adds tags.allow patterns."
}

// refusal is the isError result for a request the policy refused. It names
// every failed rule with its reason and says what to do next.
func refusal(tool string, p *policy.Policy, d policy.Decision) *Failure {
	var b strings.Builder
	b.WriteString(tool)
	b.WriteString(" refused by the local policy; nothing was changed. ")
	failed := d.Failed()
	for i, r := range failed {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(r.Rule)
		b.WriteString(": ")
		b.WriteString(r.Detail)
	}
	b.WriteString(".")
	b.WriteString(nextStep(failed))
	if p.DeniesAllWrites() {
		b.WriteString(DefaultDenyNote(p))
	}
	return &Failure{Kind: FailRefused, Message: b.String(), Decision: &d}
}

// nextStep says what the agent can do about the first failed rule. A
// rotation's rules carry an old./new. prefix; the advice is the same.
func nextStep(failed []policy.RuleResult) string {
	if len(failed) == 0 {
		return ""
	}
	rule, _ := policy.BaseRule(failed[0].Rule)
	switch rule {
	case "scoped_only":
		return " Ask for a key scoped to allowed tags instead, with permission read or write."
	case "caller":
		return " Your identity matches no rule of the policy; ask the operator to add one for you."
	case "tag_count":
		return " Give either tag (one tag) or tags (several, each once), within the policy's max_tags."
	case "tag_syntax", "tag_deny", "tag_allow", "tag_new":
		return " Pick a tag the policy allows (list_tags marks them), or ask the operator to change the policy; the agent cannot change it."
	case "permission", "tag_read_only":
		return " Ask for permission read: a key that includes a read-only tag may only read."
	case "expiry", "lease", "rate_limit", "rate_window", "name", "grace":
		return " Call again within the named limit (check_policy shows every rule without creating anything)."
	case "quota", "quota_caller":
		return " Wait until the quota frees up (the refusal says when), or ask the operator."
	case "target_found":
		return " Call list_keys to see the current key ids."
	case "old_permission":
		return " Create the replacement with create_scoped_key, naming its permission, and revoke the old key."
	case "rotate_enabled":
		return " The policy does not allow rotation; create a new key and revoke the old one if the policy allows those."
	default:
		return " Only scoped keys inside the policy can be revoked through mcp-keys; a person can revoke others in the Supermemory console."
	}
}

// upstreamMessage is the API's own message, cleaned for the model, or "".
func upstreamMessage(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Message != "" {
		return ": " + clean(ce.Message)
	}
	return ""
}

// callKind says whether a failed upstream call was a read (a listing) or a
// write (create, revoke): the advice differs.
type callKind int

const (
	readCall callKind = iota
	writeCall
)

// upstreamFailure turns a client error into an isError result whose text
// says what happened and what to do next. The client's errors never carry
// the operator key, and the upstream message is cleaned before use.
func upstreamFailure(action string, kind callKind, err error) *Failure {
	msg := upstreamMessage(err)
	var next string
	switch {
	case errors.Is(err, client.ErrOutcomeUnknown):
		next = "the request was sent but no usable answer came back, so the key may or may not have been created. " +
			"Do not retry blindly: call list_keys for the tag to see whether the key exists, and create again only if it does not"
	case errors.Is(err, client.ErrUnauthorized):
		next = "the Supermemory API rejected the operator key (401): it is invalid, expired or revoked. " +
			"Ask the operator to configure a valid Full Access key (SUPERMEMORY_API_KEY) and run `mcp-keys doctor`"
	case errors.Is(err, client.ErrForbidden):
		next = "the Supermemory API refused (403): the operator key may not manage keys (it is scoped, or its user is not an admin). " +
			"Ask the operator to configure a Full Access key and run `mcp-keys doctor`"
	case errors.Is(err, client.ErrPaymentRequired):
		next = "the Supermemory API refused (402): the organisation's credits are used up. Ask the operator to check billing"
	case errors.Is(err, client.ErrRateLimited):
		next = "the Supermemory API is rate limiting requests (429). Wait a minute, then try again"
	case errors.Is(err, client.ErrNotFound) && kind == writeCall:
		next = "the Supermemory API answered 404 (not found). Call list_keys to see current ids"
	case errors.Is(err, client.ErrNotFound):
		next = "the Supermemory API answered 404 to a listing, so the API address looks wrong. Ask the operator to check SUPERMEMORY_BASE_URL and run `mcp-keys doctor`"
	case errors.Is(err, client.ErrInvalidRequest) && kind == writeCall:
		next = "the Supermemory API refused the request as invalid" + msg + ". Check the arguments with check_policy and try again"
		msg = ""
	case errors.Is(err, client.ErrInvalidRequest):
		next = "the Supermemory API refused a listing as invalid" + msg + "; that is not something the arguments can fix. Ask the operator to run `mcp-keys doctor`"
		msg = ""
	case errors.Is(err, client.ErrServer):
		next = "the Supermemory API failed (server error). Try again in a minute; if it persists ask the operator to run `mcp-keys doctor`"
	case errors.Is(err, client.ErrUnavailable):
		next = "the Supermemory API could not be reached. Try again in a minute; if it persists ask the operator to run `mcp-keys doctor`"
	case errors.Is(err, client.ErrBadResponse):
		next = "the Supermemory API sent an answer mcp-keys could not read. Try again later; if it persists ask the operator to run `mcp-keys doctor`"
	default:
		next = "the request failed. Try again in a minute; if it persists ask the operator to run `mcp-keys doctor`"
	}
	if msg != "" {
		next += " (API said" + msg + ")"
	}
	return &Failure{Kind: FailUpstream, Message: fmt.Sprintf("%s failed: %s.", action, strings.TrimSuffix(next, ".")), Err: err}
}
