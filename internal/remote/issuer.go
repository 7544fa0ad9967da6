package remote

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// checkIssuer accepts an OAuth issuer identifier: an https URL, or http to a
// loopback host only, without query, fragment or user info.
func checkIssuer(issuer string) (*url.URL, error) {
	u, err := url.Parse(issuer)
	if err != nil {
		return nil, fmt.Errorf("MCP_KEYS_OAUTH_ISSUER %q is not a URL: %w", issuer, err)
	}
	if err := checkSecureURL(u); err != nil {
		return nil, fmt.Errorf("MCP_KEYS_OAUTH_ISSUER %q: %w", issuer, err)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("MCP_KEYS_OAUTH_ISSUER %q: an issuer has no query, fragment or user info", issuer)
	}
	return u, nil
}

// checkSecureURL accepts an absolute https URL, or http to a loopback host.
func checkSecureURL(u *url.URL) error {
	if u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("want an absolute http(s) URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if isLoopbackHost(u.Hostname()) {
			return nil
		}
		return fmt.Errorf("http is allowed to a loopback host only; use https")
	default:
		return fmt.Errorf("scheme %q: want https", u.Scheme)
	}
}

// isLoopbackHost reports whether host (no port, brackets allowed) is
// "localhost" or a loopback IP address.
func isLoopbackHost(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// isLoopbackHostPort is isLoopbackHost for a host:port (or a bare host).
func isLoopbackHostPort(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		host = hostport
	}
	return isLoopbackHost(host)
}
