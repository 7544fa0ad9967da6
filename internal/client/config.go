package client

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by [New] to zero fields of [Config].
const (
	// DefaultUserAgent is sent when Config.UserAgent is empty.
	DefaultUserAgent = "mcp-keys/dev"
	// DefaultTimeout bounds one attempt when Config.Timeout is zero.
	DefaultTimeout = 15 * time.Second
	// DefaultMaxAttempts bounds the attempts of a retryable call.
	DefaultMaxAttempts = 3
	// DefaultMinBackoff is the first pause between attempts (before jitter).
	DefaultMinBackoff = 200 * time.Millisecond
	// DefaultMaxBackoff caps the pause between attempts.
	DefaultMaxBackoff = 2 * time.Second
	// DefaultMaxRetryAfter caps an honoured Retry-After header.
	DefaultMaxRetryAfter = 10 * time.Second
	// DefaultMaxBodyBytes caps a response body: 8 MiB.
	DefaultMaxBodyBytes = 8 << 20
)

// Limits on configuration values.
const (
	maxAttemptsLimit = 10
	maxAPIKeyLen     = 1024
	maxUserAgentLen  = 256
	maxBaseURLLen    = 2048
)

// Config configures a [Client]. Zero fields take the Default* values.
type Config struct {
	// BaseURL is the API root, e.g. "https://api.supermemory.ai". It must be
	// https, or http for a loopback host (127.0.0.0/8, ::1, localhost); it
	// must not carry userinfo, a query or a fragment, and must be at most
	// 2048 bytes. A path prefix of plain segments is allowed for self-hosted
	// instances ("https://host/supermemory").
	BaseURL string
	// APIKey is the operator's key, sent as "Authorization: Bearer <key>".
	// Required: printable ASCII without spaces, at most 1024 bytes.
	APIKey Secret
	// UserAgent is sent on every request; default "mcp-keys/dev".
	UserAgent string
	// Timeout bounds each attempt, including reading the body; default 15s.
	Timeout time.Duration
	// HTTPClient is used for requests when set. The client works on a copy
	// whose CheckRedirect refuses every redirect: a redirect is an error and
	// the key is never forwarded anywhere.
	HTTPClient *http.Client
	// MaxAttempts bounds attempts of retryable calls; default 3, at most 10.
	MaxAttempts int
	// MinBackoff is the base pause between attempts: the n-th retry waits
	// min(MaxBackoff, MinBackoff*2^(n-1)) with equal jitter (between half
	// and all of it). Default 200ms.
	MinBackoff time.Duration
	// MaxBackoff caps the pause between attempts; default 2s (raised to
	// MinBackoff if that is larger).
	MaxBackoff time.Duration
	// MaxRetryAfter caps an honoured Retry-After header; default 10s. With
	// the header, the pause is the larger of the backoff and the capped
	// Retry-After.
	MaxRetryAfter time.Duration
	// MaxBodyBytes caps a response body; a larger one is an error. Default 8 MiB.
	MaxBodyBytes int64
}

// errConfig prefixes every configuration error.
var errConfig = errors.New("client config")

func configError(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{errConfig}, a...)...)
}

// withDefaults returns cfg with zero fields set to the defaults, or an
// error naming the first invalid field. Errors never quote the API key or
// the base URL (which could hold a password in its userinfo).
func (cfg Config) withDefaults() (Config, error) {
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.MaxAttempts == 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = max(DefaultMaxBackoff, cfg.MinBackoff)
	}
	if cfg.MaxRetryAfter == 0 {
		cfg.MaxRetryAfter = DefaultMaxRetryAfter
	}
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	switch {
	case cfg.Timeout < 0:
		return cfg, configError("Timeout must not be negative")
	case cfg.MaxAttempts < 0 || cfg.MaxAttempts > maxAttemptsLimit:
		return cfg, configError("MaxAttempts must be between 1 and %d", maxAttemptsLimit)
	case cfg.MinBackoff < 0 || cfg.MaxBackoff < 0 || cfg.MaxRetryAfter < 0:
		return cfg, configError("backoff durations must not be negative")
	case cfg.MinBackoff > cfg.MaxBackoff:
		return cfg, configError("MinBackoff must not exceed MaxBackoff")
	case cfg.MaxBodyBytes < 0:
		return cfg, configError("MaxBodyBytes must not be negative")
	}
	if err := checkAPIKey(cfg.APIKey); err != nil {
		return cfg, err
	}
	if err := checkHeaderValue(cfg.UserAgent, maxUserAgentLen, true); err != nil {
		return cfg, configError("UserAgent %v", err)
	}
	return cfg, nil
}

func checkAPIKey(key Secret) error {
	if key == "" {
		return configError("APIKey is required")
	}
	if err := checkHeaderValue(key.Reveal(), maxAPIKeyLen, false); err != nil {
		// The message says what is wrong, never what the key is.
		return configError("APIKey %v", err)
	}
	return nil
}

// checkHeaderValue accepts printable ASCII (and, if spaces, the space) of at
// most maxLen bytes. Its errors never quote v.
func checkHeaderValue(v string, maxLen int, spaces bool) error {
	if len(v) > maxLen {
		return fmt.Errorf("is longer than %d bytes", maxLen)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' && spaces {
			continue
		}
		if c <= ' ' || c >= 0x7f {
			return fmt.Errorf("has a space, control or non-ASCII character at byte %d", i)
		}
	}
	return nil
}

// parseBaseURL checks BaseURL and returns it without a trailing slash.
func parseBaseURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, configError("BaseURL is required")
	}
	// Bounded so that a request's line and headers fit the transport's
	// 4 KiB write buffer: nothing reaches the wire before httptrace says
	// the headers were written, which is what tells a create that was never
	// sent from one whose outcome is unknown.
	if len(raw) > maxBaseURLLen {
		return nil, configError("BaseURL is longer than %d bytes", maxBaseURLLen)
	}
	if strings.ContainsAny(raw, "?#") {
		return nil, configError("BaseURL must not have a query or fragment")
	}
	for _, r := range raw {
		if r <= ' ' || r == 0x7f {
			return nil, configError("BaseURL must not contain spaces or control characters")
		}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, configError("BaseURL is not a valid URL")
	}
	if u.Opaque != "" || u.Host == "" {
		return nil, configError("BaseURL must be an absolute URL such as https://api.supermemory.ai")
	}
	if u.User != nil {
		return nil, configError("BaseURL must not contain userinfo")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, configError("BaseURL must use https (http is allowed only for loopback hosts)")
		}
	default:
		return nil, configError("BaseURL scheme must be https")
	}
	if port := u.Port(); port != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, configError("BaseURL has an invalid port")
		}
	}
	p := strings.TrimSuffix(u.Path, "/")
	if u.RawPath != "" || strings.Contains(raw, "%") {
		return nil, configError("BaseURL path must not contain escapes")
	}
	if p != "" {
		for _, seg := range strings.Split(strings.TrimPrefix(p, "/"), "/") {
			if seg == "" || seg == "." || seg == ".." || !isPathSegment(seg) {
				return nil, configError("BaseURL path prefix must be plain segments of letters, digits, '-', '_', '.' and '~'")
			}
		}
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host, Path: p}, nil
}

func isPathSegment(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isIDChar(c) && c != '.' && c != '~' {
			return false
		}
	}
	return true
}

// isLoopback reports whether host is localhost or a loopback IP address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
