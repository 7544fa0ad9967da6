package bridge

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/client"
)

// Defaults applied by [Run] to zero fields of [Config].
const (
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "mcp-keys-connect"
	// DefaultDrainTimeout bounds how long Run waits for requests still in
	// flight once stdin has ended.
	DefaultDrainTimeout = 60 * time.Second
	// MaxLineBytes caps one message read from stdin: a longer line is
	// answered with a parse error (id null) and discarded as it streams.
	MaxLineBytes = 4 << 20
	// maxServerMessageBytes caps one message from the remote (a JSON body
	// or one SSE event).
	maxServerMessageBytes = 16 << 20
	// maxTokenBytes caps the caller token (a JWT can be long).
	maxTokenBytes = 8 << 10
	// maxURLBytes caps the remote URL.
	maxURLBytes = 2048
)

// ErrConfig marks a configuration error: nothing was started. The command
// maps it to exit code 2.
var ErrConfig = errors.New("connect configuration")

func configError(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, a...)...)
}

// Config configures [Run]. Zero fields take the defaults.
type Config struct {
	// URL is the remote mcp-keys endpoint, e.g.
	// "https://keys.example.com/mcp". It must be https, or http to a
	// loopback host (127.0.0.0/8, ::1, localhost), without userinfo, query
	// or fragment. A URL without a path gets "/mcp".
	URL string
	// Token is the caller's bearer token (see [ReadToken]), sent as
	// "Authorization: Bearer <token>" to URL and nowhere else.
	Token client.Secret
	// UserAgent is sent on every request; default "mcp-keys-connect".
	UserAgent string
	// HTTPClient is used for requests when set. The bridge works on a copy
	// whose CheckRedirect refuses every redirect, so the token never
	// follows one.
	HTTPClient *http.Client
	// DrainTimeout bounds how long Run waits, once stdin has ended, for
	// requests in flight; then they are cancelled. Default 60s.
	DrainTimeout time.Duration
}

// withDefaults returns cfg with defaults applied and the endpoint parsed, or
// an error wrapping [ErrConfig]. Errors never quote the token.
func (cfg Config) withDefaults() (Config, *url.URL, error) {
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.DrainTimeout < 0 {
		return cfg, nil, configError("DrainTimeout must not be negative")
	}
	if err := checkToken(cfg.Token); err != nil {
		return cfg, nil, err
	}
	u, err := parseEndpoint(cfg.URL)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, u, nil
}

// checkToken accepts printable ASCII without spaces, at most maxTokenBytes.
// Its errors say what is wrong, never what the token is.
func checkToken(tok client.Secret) error {
	v := tok.Reveal()
	if v == "" {
		return configError("no caller token: set MCP_KEYS_TOKEN_FILE (or MCP_KEYS_TOKEN) to the token the operator gave you (`mcp-keys caller add NAME`)")
	}
	if len(v) > maxTokenBytes {
		return configError("the caller token is longer than %d bytes", maxTokenBytes)
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c <= ' ' || c >= 0x7f {
			return configError("the caller token has a space, control or non-ASCII character at byte %d", i)
		}
	}
	return nil
}

// parseEndpoint checks the remote URL: https, or http to a loopback host
// only; no userinfo, query or fragment.
func parseEndpoint(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, configError("the remote URL is required, e.g. mcp-keys connect https://keys.example.com/mcp")
	}
	if len(raw) > maxURLBytes {
		return nil, configError("the remote URL is longer than %d bytes", maxURLBytes)
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return nil, configError("the remote URL must not contain spaces or control characters")
		}
	}
	if strings.ContainsAny(raw, "?#") {
		return nil, configError("the remote URL must not have a query or fragment (the token goes in a header, never in the URL)")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return nil, configError("the remote URL is not an absolute URL such as https://keys.example.com/mcp")
	}
	if u.User != nil {
		return nil, configError("the remote URL must not contain userinfo")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, configError("the remote URL must use https (http is allowed only to a loopback host)")
		}
	default:
		return nil, configError("the remote URL scheme must be https")
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/mcp"
	}
	return u, nil
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
