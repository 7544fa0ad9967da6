package tools

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/client"
)

// errorResult is a tool result with isError set: a refusal or failure the
// model can act on. The text must say what to do next.
func errorResult(format string, a ...any) *mcp.CallToolResult {
	return mcp.NewToolResultError(fmt.Sprintf(format, a...))
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
func upstreamFailure(action string, kind callKind, err error) *mcp.CallToolResult {
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
	return errorResult("%s failed: %s.", action, strings.TrimSuffix(next, "."))
}
