package bridge

import (
	"bytes"
	"encoding/json"
	"errors"
)

// JSON-RPC error codes the bridge answers with. The standard ones come from
// JSON-RPC 2.0; the others are in the range JSON-RPC reserves for servers
// (-32000 to -32099) and clash with no code MCP defines.
const (
	codeParseError     = -32700
	codeInvalidRequest = -32600
	codeInternalError  = -32603

	// CodeTokenRefused: the remote answered HTTP 401, the token is missing,
	// unknown, expired or revoked.
	CodeTokenRefused = -32030
	// CodeForbidden: the remote answered HTTP 403, e.g. a scope the token
	// lacks (data.scope names it).
	CodeForbidden = -32031
	// CodeRateLimited: the remote answered HTTP 429 (data.retryAfterSeconds
	// says how long to wait).
	CodeRateLimited = -32032
	// CodeUnavailable: the remote answered HTTP 5xx or could not be reached.
	CodeUnavailable = -32033
	// CodeRemoteError: any other HTTP failure (a redirect, an unexpected
	// status or content type, a stream that ended before the answer).
	CodeRemoteError = -32034
)

// envelope is the part of a JSON-RPC message the relay looks at.
type envelope struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
	Result json.RawMessage `json:"result"`
	Error  json.RawMessage `json:"error"`
}

// kind is what a JSON-RPC message is.
type kind int

const (
	kindInvalid      kind = iota
	kindRequest           // method and id
	kindNotification      // method, no id
	kindResponse          // id, result or error, no method
)

// hasID reports whether the message carries a non-null id.
func (e envelope) hasID() bool {
	return len(e.ID) > 0 && !bytes.Equal(e.ID, []byte("null"))
}

func (e envelope) kind() kind {
	switch {
	case e.Method != "" && e.hasID():
		return kindRequest
	case e.Method != "":
		return kindNotification
	case e.hasID() && (len(e.Result) > 0 || len(e.Error) > 0):
		return kindResponse
	}
	return kindInvalid
}

// errNotObject is returned by parseMessage for anything but a JSON object.
var errNotObject = errors.New("not a JSON object")

// parseMessage checks that raw is one JSON object and returns it compacted
// onto a single line, with its envelope.
func parseMessage(raw []byte) ([]byte, envelope, error) {
	var env envelope
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, env, errNotObject
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, trimmed); err != nil {
		return nil, env, err
	}
	if err := json.Unmarshal(buf.Bytes(), &env); err != nil {
		return nil, env, err
	}
	return buf.Bytes(), env, nil
}

// idKey is the map key of a JSON-RPC id: its compact JSON text, so that the
// number 1 and the string "1" differ.
func idKey(id json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, id); err != nil {
		return string(id)
	}
	return buf.String()
}

// rpcError is a JSON-RPC error object.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
	Data    any    `json:"data,omitempty"`
}

// errorResponse encodes a JSON-RPC error response; a nil id becomes null.
func errorResponse(id json.RawMessage, e rpcError) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	b, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   rpcError        `json:"error"`
	}{"2.0", id, e})
	if err != nil { // unreachable: every field encodes
		return []byte(`{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}`)
	}
	return b
}

// textContent and toolResult are the shape of a tools/call result.
type textContent struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type toolResult struct {
	Content []textContent `json:"content"`
	IsError bool          `json:"isError"`
}

// toolErrorResponse encodes a tools/call result with isError set, so that the
// model sees the text as the tool's answer and can relay it to a person.
func toolErrorResponse(id json.RawMessage, text string) []byte {
	b, err := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Result  toolResult      `json:"result"`
	}{"2.0", id, toolResult{[]textContent{{"text", text}}, true}})
	if err != nil { // unreachable: every field encodes
		return errorResponse(id, rpcError{Code: codeInternalError, Message: text})
	}
	return b
}
