package tools

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// confirmID keys the elicitation in the multi round-trip exchange.
const confirmID = "confirm"

// confirmer asks a person, through MCP elicitation, to confirm a create or
// revoke. The answer is bound to the exact request and usable once: the
// request state the client echoes back carries a random nonce and an
// expiry, signed with an HMAC (under a key that never leaves this process)
// of the action and its effective arguments. An answer given for one request
// cannot approve another, nor the same request twice. A confirm argument
// from the model is not consent: the argument decoder refuses it like any
// unknown argument.
type confirmer struct {
	key [32]byte
	now func() time.Time

	mu   sync.Mutex
	used map[string]time.Time // nonce → its expiry, until then
}

// confirmTTL is how long a person has to answer.
const confirmTTL = 10 * time.Minute

// newConfirmer makes a confirmer with a fresh random key.
func newConfirmer(now func() time.Time) (*confirmer, error) {
	c := &confirmer{now: now, used: make(map[string]time.Time)}
	if _, err := rand.Read(c.key[:]); err != nil {
		return nil, fmt.Errorf("confirmation key: %w", err)
	}
	return c, nil
}

// mac signs a nonce, an expiry and a request.
func (c *confirmer) mac(nonce string, expiry int64, binding string) string {
	m := hmac.New(sha256.New, c.key[:])
	fmt.Fprintf(m, "%s\x00%d\x00%s", nonce, expiry, binding)
	return hex.EncodeToString(m.Sum(nil))
}

// issue makes a fresh request state for a request.
func (c *confirmer) issue(binding string) (string, error) {
	var n [16]byte
	if _, err := rand.Read(n[:]); err != nil {
		return "", fmt.Errorf("confirmation nonce: %w", err)
	}
	nonce := hex.EncodeToString(n[:])
	expiry := c.now().Add(confirmTTL).Unix()
	return fmt.Sprintf("%s.%d.%s", nonce, expiry, c.mac(nonce, expiry, binding)), nil
}

// redeem checks a request state for a request and uses it up. It says what
// is wrong, or "".
func (c *confirmer) redeem(state, binding string) string {
	parts := strings.Split(state, ".")
	if len(parts) != 3 {
		return "the confirmation does not match this request"
	}
	expiry, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !hmac.Equal([]byte(parts[2]), []byte(c.mac(parts[0], expiry, binding))) {
		return "the confirmation does not match this request (the arguments changed after the person was asked)"
	}
	now := c.now()
	if now.Unix() > expiry {
		return "the confirmation has expired"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for n, exp := range c.used {
		if now.Unix() > exp.Unix() {
			delete(c.used, n)
		}
	}
	if _, seen := c.used[parts[0]]; seen {
		return "the confirmation was already used"
	}
	c.used[parts[0]] = time.Unix(expiry, 0)
	return ""
}

// confirmOutcome is what confirm decided.
type confirmOutcome int

const (
	confirmProceed confirmOutcome = iota // go on: confirmed, or not required
	confirmAsk                           // return the result: it asks the client
	confirmRefused                       // return the result: it is an isError refusal
)

// canElicit reports whether the client declared the elicitation capability.
func canElicit(ctx context.Context) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Elicitation != nil
	}
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		return s.GetClientCapabilities().Elicitation != nil
	}
	return false
}

// confirm applies a confirm mode to a request. binding identifies the exact
// request; summary tells the person what will happen. It returns whether to
// proceed, and otherwise the result to return (a question or a refusal),
// plus a note for the audit log.
func (c *confirmer) confirm(ctx context.Context, req mcp.CallToolRequest, mode policy.ConfirmMode, binding, summary string) (confirmOutcome, *mcp.CallToolResult, string) {
	if mode == "" || mode == policy.ConfirmNever {
		return confirmProceed, nil, ""
	}
	if answer := server.ElicitationResponse(req.Params.InputResponses, confirmID); answer != nil {
		if problem := c.redeem(req.Params.RequestState, binding); problem != "" {
			return confirmRefused, errorResult("%s was not done: %s. Call again to ask again.", req.Params.Name, problem), problem
		}
		switch answer.Action {
		case mcp.ElicitationResponseActionAccept:
			if m, ok := answer.Content.(map[string]any); ok && m["confirm"] == true {
				return confirmProceed, nil, "confirmed by the user"
			}
			return confirmRefused, errorResult("%s was not done: the person did not tick the confirmation. Nothing was changed.", req.Params.Name), "not confirmed"
		case mcp.ElicitationResponseActionDecline:
			return confirmRefused, errorResult("%s was not done: the person declined. Nothing was changed; do not retry unless they ask.", req.Params.Name), "declined by the user"
		default:
			return confirmRefused, errorResult("%s was not done: the person cancelled the confirmation. Nothing was changed.", req.Params.Name), "cancelled by the user"
		}
	}
	if !canElicit(ctx) {
		if mode == policy.ConfirmAlways {
			return confirmRefused, errorResult("%s was not done: the policy requires a person to confirm it (confirm: always), and this MCP client cannot ask (it does not support elicitation). "+
				"Use a client that supports MCP elicitation, or ask the operator.", req.Params.Name), "refused: client cannot confirm"
		}
		return confirmProceed, nil, "not confirmed: client cannot ask (confirm: if-supported)"
	}
	params := mcp.ElicitationParams{
		Mode:    mcp.ElicitationModeForm,
		Message: summary,
		RequestedSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"confirm": map[string]any{"type": "boolean", "title": "Confirm", "description": "Tick to go ahead"},
			},
			"required": []string{"confirm"},
		},
	}
	state, err := c.issue(binding)
	if err != nil {
		return confirmRefused, errorResult("%s was not done: %v.", req.Params.Name, err), "confirmation could not be prepared"
	}
	return confirmAsk, server.NewInputRequestBuilder(state).Elicit(confirmID, params).ToolResult(), ""
}

// createBinding identifies a create request for confirmation.
func createBinding(e policy.Effective) string {
	return fmt.Sprintf("create\x00%s\x00%s\x00%d\x00%d\x00%d", e.Tag, e.Name, e.ExpiresInDays, e.RateLimitMax, e.RateLimitWindowMs)
}

// createSummary is what the person is asked to confirm.
func createSummary(e policy.Effective) string {
	return fmt.Sprintf("An AI agent asks mcp-keys to create a Supermemory API key scoped to tag %s, named %q, expiring in %d days, limited to %d requests per %d ms. Create it?",
		policy.Quote(e.Tag), e.Name, e.ExpiresInDays, e.RateLimitMax, e.RateLimitWindowMs)
}

// revokeBinding identifies a revoke request for confirmation.
func revokeBinding(id string) string { return "revoke\x00" + id }

// revokeSummary is what the person is asked to confirm.
func revokeSummary(id, name string, tags []string) string {
	return fmt.Sprintf("An AI agent asks mcp-keys to revoke the scoped key %s (%q, tags %v). It stops working at once. Revoke it?", id, clean(name), cleanAll(tags))
}
