package remote

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// errBadCall is a tools/call whose params cannot be read.
var errBadCall = errors.New("a tools/call message without a readable params.name")

// requiredScopes lists the scopes the JSON-RPC body (one message or a batch)
// needs: for each tools/call, toolScope of the tool name (an empty answer
// means keys:write: an unmapped tool needs the most); keys:read for
// resources/read and resources/subscribe. It decodes with encoding/json,
// as mcp-go does, so both read the same method and name. A body that is not
// JSON needs nothing here (mcp-go answers it with a parse error); a
// tools/call without a readable name is errBadCall.
func requiredScopes(body []byte, toolScope func(string) string) ([]string, error) {
	body = bytes.TrimLeft(body, " \t\r\n")
	var msgs []json.RawMessage
	if len(body) > 0 && body[0] == '[' {
		if err := json.Unmarshal(body, &msgs); err != nil {
			return nil, nil
		}
	} else {
		msgs = []json.RawMessage{body}
	}
	var out []string
	add := func(s string) {
		for _, have := range out {
			if have == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, m := range msgs {
		var msg struct {
			Method string          `json:"method"`
			Params json.RawMessage `json:"params"`
		}
		if err := json.Unmarshal(m, &msg); err != nil {
			continue
		}
		switch msg.Method {
		case "tools/call":
			var p struct {
				Name string `json:"name"`
			}
			if err := json.Unmarshal(msg.Params, &p); err != nil || p.Name == "" {
				return nil, errBadCall
			}
			s := toolScope(p.Name)
			if s == "" {
				s = keys.ScopeWrite
			}
			add(s)
		case "resources/read", "resources/subscribe":
			add(keys.ScopeRead)
		}
	}
	return out, nil
}
