package keys

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// Prompter is the confirmation hook: how a transport lets a person confirm
// a write. The MCP layer implements it with elicitation. The service asks by
// returning an [*Ask]; the transport puts the question to the person and
// calls again with the answer and the state it was given.
type Prompter interface {
	// CanAsk reports whether the client can put a question to a person.
	CanAsk() bool
	// Answer returns the person's answer that came with this call, or nil
	// when the call carries none.
	Answer() *Answer
}

// AnswerAction is what the person did with the question.
type AnswerAction int

// Answer actions.
const (
	// AnswerAccept: the person submitted the form.
	AnswerAccept AnswerAction = iota + 1
	// AnswerDecline: the person said no.
	AnswerDecline
	// AnswerCancel: the person dismissed the question.
	AnswerCancel
)

// Answer is a person's answer to a confirmation question.
type Answer struct {
	// Action is what the person did.
	Action AnswerAction
	// Confirmed is set when the person ticked the confirmation.
	Confirmed bool
	// State is the state the question was asked with, echoed back.
	State string
}

// Ask is returned (as an error) by a write that needs a person's
// confirmation first: the transport asks Question and calls again with the
// answer and State.
type Ask struct {
	// Question is what the person is asked.
	Question string
	// State is opaque and bound to the exact request; it carries no secret.
	State string
}

// Error says that a confirmation is needed.
func (a *Ask) Error() string { return "confirmation needed" }

// confirmer binds a person's answer to the exact request, usable once: the
// request state the client echoes back carries a random nonce and an
// expiry, signed with an HMAC (under a key kept in the store of record, the
// same for every replica) of the action and its effective arguments. An
// answer given for one request cannot approve another, nor the same request
// twice (used nonces are recorded in the store). A confirm argument from
// the model is not consent: the argument decoder refuses it like any
// unknown argument.
type confirmer struct {
	now   func() time.Time
	store *lazyStore
}

// confirmTTL is how long a person has to answer.
const confirmTTL = 10 * time.Minute

// mac signs a nonce, an expiry and a request.
func mac(key []byte, nonce string, expiry int64, binding string) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s\x00%d\x00%s", nonce, expiry, binding)
	return hex.EncodeToString(m.Sum(nil))
}

// key returns the signing key from the store.
func (c *confirmer) key(ctx context.Context) ([]byte, error) {
	st, err := c.store.get(ctx)
	if err != nil {
		return nil, err
	}
	return st.ConfirmationKey(ctx)
}

// issue makes a fresh request state for a request.
func (c *confirmer) issue(ctx context.Context, binding string) (string, error) {
	key, err := c.key(ctx)
	if err != nil {
		return "", fmt.Errorf("confirmation key: %w", err)
	}
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return "", fmt.Errorf("confirmation nonce: %w", err)
	}
	nonce := hex.EncodeToString(n[:])
	expiry := c.now().Add(confirmTTL).Unix()
	return fmt.Sprintf("%s.%d.%s", nonce, expiry, mac(key, nonce, expiry, binding)), nil
}

// redeem checks a request state for a request and uses it up. It says what
// is wrong, or "".
func (c *confirmer) redeem(ctx context.Context, state, binding string) string {
	parts := strings.Split(state, ".")
	if len(parts) != 3 {
		return "the confirmation does not match this request"
	}
	key, err := c.key(ctx)
	if err != nil {
		return "the confirmation could not be checked (the store of record is unavailable)"
	}
	expiry, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !hmac.Equal([]byte(parts[2]), []byte(mac(key, parts[0], expiry, binding))) {
		return "the confirmation does not match this request (the arguments changed after the person was asked)"
	}
	if c.now().Unix() > expiry {
		return "the confirmation has expired"
	}
	st, err := c.store.get(ctx)
	if err != nil {
		return "the confirmation could not be checked (the store of record is unavailable)"
	}
	fresh, err := st.UseConfirmation(ctx, parts[0], time.Unix(expiry, 0))
	switch {
	case err != nil:
		return "the confirmation could not be recorded as used (the store of record is unavailable)"
	case !fresh:
		return "the confirmation was already used"
	}
	return ""
}

// confirmOutcome is what confirm decided.
type confirmOutcome int

const (
	confirmProceed confirmOutcome = iota // go on: confirmed, or not required
	confirmAsk                           // return the *Ask
	confirmRefused                       // return the *Failure
)

// confirm applies a confirm mode to a request. binding identifies the exact
// request; summary tells the person what will happen. It returns whether to
// proceed, and otherwise the error to return (an *Ask or a *Failure), plus a
// note for the audit log.
func (c *confirmer) confirm(ctx context.Context, call Call, mode policy.ConfirmMode, binding, summary string) (confirmOutcome, error, string) {
	if mode == "" || mode == policy.ConfirmNever {
		return confirmProceed, nil, ""
	}
	// The answer is bound to who asked as well as to what: another caller
	// cannot answer, or replay, this caller's confirmation.
	binding = call.Caller.ID() + "\x00" + binding
	if call.Confirm != nil {
		if answer := call.Confirm.Answer(); answer != nil {
			if problem := c.redeem(ctx, answer.State, binding); problem != "" {
				return confirmRefused, failf(FailRefused, "%s was not done: %s. Call again to ask again.", call.Tool, problem), problem
			}
			switch answer.Action {
			case AnswerAccept:
				if answer.Confirmed {
					return confirmProceed, nil, "confirmed by the user"
				}
				return confirmRefused, failf(FailRefused, "%s was not done: the person did not tick the confirmation. Nothing was changed.", call.Tool), "not confirmed"
			case AnswerDecline:
				return confirmRefused, failf(FailRefused, "%s was not done: the person declined. Nothing was changed; do not retry unless they ask.", call.Tool), "declined by the user"
			default:
				return confirmRefused, failf(FailRefused, "%s was not done: the person cancelled the confirmation. Nothing was changed.", call.Tool), "cancelled by the user"
			}
		}
	}
	if call.Confirm == nil || !call.Confirm.CanAsk() {
		if mode == policy.ConfirmAlways {
			return confirmRefused, failf(FailRefused, "%s was not done: the policy requires a person to confirm it (confirm: always), and this MCP client cannot ask (it does not support elicitation). "+
				"Use a client that supports MCP elicitation, or ask the operator.", call.Tool), "refused: client cannot confirm"
		}
		return confirmProceed, nil, "not confirmed: client cannot ask (confirm: if-supported)"
	}
	state, err := c.issue(ctx, binding)
	if err != nil {
		return confirmRefused, failf(FailStore, "%s was not done: %s.", call.Tool, clean(err.Error())), "confirmation could not be prepared"
	}
	return confirmAsk, &Ask{Question: summary, State: state}, ""
}

// createBinding identifies a create request for confirmation.
func createBinding(e policy.Effective) string {
	return fmt.Sprintf("create\x00%s\x00%s\x00%s\x00%d\x00%d\x00%d\x00%d", strings.Join(e.Tags, "\x01"), e.Permission, e.Name,
		e.ExpiresInDays, e.LeaseMinutes, e.RateLimitMax, e.RateLimitWindowMs)
}

// createSummary is what the person is asked to confirm.
func createSummary(e policy.Effective) string {
	return "An AI agent asks mcp-keys to create a Supermemory API key " + KeyTerms(e) + ". Create it?"
}

// KeyTerms describes a key to be minted, for a person: its permission,
// tags, name, lifetime and rate limit.
func KeyTerms(e policy.Effective) string {
	life := fmt.Sprintf("expiring in %d days", e.ExpiresInDays)
	if e.LeaseMinutes > 0 {
		life = fmt.Sprintf("revoked by mcp-keys after %d minutes", e.LeaseMinutes)
	}
	return fmt.Sprintf("with %s access, scoped to %s, named %q, %s, limited to %d requests per %d ms",
		e.Permission, tagsText(e.Tags), e.Name, life, e.RateLimitMax, e.RateLimitWindowMs)
}

// revokeBinding identifies a revoke request for confirmation.
func revokeBinding(id string) string { return "revoke\x00" + id }

// revokeSummary is what the person is asked to confirm.
func revokeSummary(id, name string, tags []string) string {
	return fmt.Sprintf("An AI agent asks mcp-keys to revoke the scoped key %s (%q, tags %v). It stops working at once. Revoke it?", id, clean(name), cleanAll(tags))
}
