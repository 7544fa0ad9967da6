package remote

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Config is remote mode's configuration, from the environment (the tags
// are github.com/caarlos0/env's) and `serve --http`. Resolve checks it and
// fills the defaults.
type Config struct {
	// Addr is the listen address (MCP_KEYS_HTTP_ADDR, --http).
	Addr string `env:"MCP_KEYS_HTTP_ADDR"`
	// PublicURL is the URL callers use for /mcp (default http://ADDR/mcp on
	// loopback; required otherwise).
	PublicURL string `env:"MCP_KEYS_PUBLIC_URL"`
	// OAuthIssuer turns on OAuth access tokens from this issuer.
	OAuthIssuer string `env:"MCP_KEYS_OAUTH_ISSUER"`
	// OAuthAudience is the audience tokens must carry (default PublicURL).
	OAuthAudience string `env:"MCP_KEYS_OAUTH_AUDIENCE"`
	// GroupsClaim names the claim with the caller's groups (default groups).
	GroupsClaim string `env:"MCP_KEYS_OAUTH_GROUPS_CLAIM"`
	// CallersFile is the static caller tokens file.
	CallersFile string `env:"MCP_KEYS_CALLERS_FILE"`
	// AllowedOrigins are the origins browser requests may come from.
	AllowedOrigins []string `env:"MCP_KEYS_ALLOWED_ORIGINS" envSeparator:","`
	// TLSCert and TLSKey are PEM files: serve HTTPS.
	TLSCert string `env:"MCP_KEYS_TLS_CERT"`
	TLSKey  string `env:"MCP_KEYS_TLS_KEY"`
	// BehindProxy accepts plain HTTP on a non-loopback address (a TLS proxy
	// is in front).
	BehindProxy bool `env:"MCP_KEYS_BEHIND_PROXY"`
	// RateLimit is requests per minute per caller (default 600).
	RateLimit int `env:"MCP_KEYS_RATE_LIMIT"`
}

// Resolve checks c and returns it with its defaults filled in. Its errors
// are configuration errors (exit 2): --http without an issuer or a callers
// file (there is no unauthenticated remote mode), a non-loopback address
// with neither TLS nor BehindProxy, a missing public URL off loopback, an
// issuer that is not https (or http to loopback), a public URL that is not
// https off loopback.
func (c Config) Resolve() (Config, error) {
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	host, port, err := net.SplitHostPort(c.Addr)
	if c.Addr == "" || err != nil {
		return c, fmt.Errorf("HTTP address %q (--http, MCP_KEYS_HTTP_ADDR): want HOST:PORT, e.g. 127.0.0.1:8080", c.Addr)
	}
	loopback := host != "" && isLoopbackHost(host)
	tls := c.TLSCert != "" || c.TLSKey != ""

	if c.OAuthIssuer == "" && c.CallersFile == "" {
		fail("--http needs MCP_KEYS_OAUTH_ISSUER or MCP_KEYS_CALLERS_FILE: there is no unauthenticated remote mode")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		fail("MCP_KEYS_TLS_CERT and MCP_KEYS_TLS_KEY go together: give both or neither")
	}
	if !loopback && !tls && !c.BehindProxy {
		fail("HTTP address %q is not loopback: serve TLS (MCP_KEYS_TLS_CERT, MCP_KEYS_TLS_KEY) or set MCP_KEYS_BEHIND_PROXY=true when a TLS proxy is in front", c.Addr)
	}
	if c.PublicURL == "" {
		switch {
		case !loopback:
			fail("MCP_KEYS_PUBLIC_URL is required when the address is not loopback (it is the audience tokens must carry)")
		case port == "0":
			fail("MCP_KEYS_PUBLIC_URL is required when the port is chosen by the system (0)")
		default:
			scheme := "http"
			if tls {
				scheme = "https"
			}
			c.PublicURL = scheme + "://" + c.Addr + EndpointPath
		}
	}
	if c.PublicURL != "" {
		if err := checkPublicURL(c.PublicURL); err != nil {
			fail("MCP_KEYS_PUBLIC_URL %q: %v", c.PublicURL, err)
		}
	}
	if c.OAuthIssuer != "" {
		if _, err := checkIssuer(c.OAuthIssuer); err != nil {
			errs = append(errs, err)
		}
		if c.OAuthAudience == "" {
			c.OAuthAudience = c.PublicURL
		}
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultGroupsClaim
	}
	switch {
	case c.RateLimit == 0:
		c.RateLimit = DefaultRateLimit
	case c.RateLimit < 0:
		fail("MCP_KEYS_RATE_LIMIT %d: want a positive number of requests per minute", c.RateLimit)
	}
	var origins []string
	for _, o := range c.AllowedOrigins {
		if strings.TrimSpace(o) == "" {
			continue
		}
		n, err := normalizeOrigin(o)
		if err != nil {
			fail("MCP_KEYS_ALLOWED_ORIGINS: %v", err)
			continue
		}
		origins = append(origins, n)
	}
	c.AllowedOrigins = origins
	return c, errors.Join(errs...)
}

// checkPublicURL accepts an absolute URL without query or fragment: https,
// or http to a loopback host.
func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return err
	}
	if err := checkSecureURL(u); err != nil {
		return err
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return errors.New("want no query, fragment or user info")
	}
	return nil
}

// Loopback reports whether the resolved address is loopback.
func (c Config) Loopback() bool {
	host, _, err := net.SplitHostPort(c.Addr)
	return err == nil && host != "" && isLoopbackHost(host)
}
