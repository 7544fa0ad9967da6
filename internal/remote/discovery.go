package remote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// maxDocumentSize bounds a metadata document or JWKS read from the issuer.
const maxDocumentSize = 1 << 20

// errNotFound is a metadata path the issuer does not serve.
var errNotFound = errors.New("not found")

// discoverJWKS reads the issuer's metadata — RFC 8414
// /.well-known/oauth-authorization-server first, then OpenID Connect's
// /.well-known/openid-configuration if the first is not served — checks
// that it names exactly this issuer, and returns its jwks_uri (https, or
// http to loopback when the issuer is).
func discoverJWKS(ctx context.Context, client *http.Client, issuer *url.URL) (string, error) {
	iss := issuer.String()
	var firstErr error
	for _, u := range metadataURLs(issuer) {
		var md struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		err := getJSON(ctx, client, u, &md)
		if errors.Is(err, errNotFound) {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", u, err)
			}
			continue
		}
		if err != nil {
			return "", fmt.Errorf("issuer metadata %s: %w", u, err)
		}
		if md.Issuer != iss {
			return "", fmt.Errorf("issuer metadata %s names issuer %q, not %q", u, md.Issuer, iss)
		}
		j, err := url.Parse(md.JWKSURI)
		if err != nil || md.JWKSURI == "" {
			return "", fmt.Errorf("issuer metadata %s: jwks_uri %q is not a URL", u, md.JWKSURI)
		}
		if err := checkSecureURL(j); err != nil {
			return "", fmt.Errorf("issuer metadata %s: jwks_uri %q: %w", u, md.JWKSURI, err)
		}
		if j.Scheme != "https" && issuer.Scheme == "https" {
			return "", fmt.Errorf("issuer metadata %s: jwks_uri %q must be https", u, md.JWKSURI)
		}
		return md.JWKSURI, nil
	}
	return "", fmt.Errorf("issuer metadata: neither RFC 8414 nor OpenID discovery is served: %w", firstErr)
}

// metadataURLs are the RFC 8414 URL (the well-known segment between the host
// and the issuer's path) and the OpenID Connect one (appended to the
// issuer).
func metadataURLs(issuer *url.URL) []string {
	path := strings.TrimSuffix(issuer.EscapedPath(), "/")
	base := issuer.Scheme + "://" + issuer.Host
	return []string{
		base + "/.well-known/oauth-authorization-server" + path,
		base + path + "/.well-known/openid-configuration",
	}
}

// getJSON GETs u and decodes a JSON document of at most maxDocumentSize.
// 404 and 410 are errNotFound.
func getJSON(ctx context.Context, client *http.Client, u string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return errNotFound
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return err
	}
	if len(data) > maxDocumentSize {
		return fmt.Errorf("document larger than %d bytes", maxDocumentSize)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("not a JSON document: %w", err)
	}
	return nil
}

// newIdPClient is the HTTP client for the issuer: a 10 s timeout and no
// redirects (the metadata and the JWKS are fetched from where they are
// named, nowhere else).
func newIdPClient() *http.Client {
	return &http.Client{
		Timeout: idpTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("redirects are not followed")
		},
	}
}
