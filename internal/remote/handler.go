package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// Limits of a request to /mcp.
const (
	// MaxBodySize is the largest request body (413 beyond it).
	MaxBodySize = 1 << 20
	// MaxAuthorizationSize is the largest Authorization header (431 beyond).
	MaxAuthorizationSize = 8 << 10
	// readyTimeout bounds the readiness check of /readyz.
	readyTimeout = 5 * time.Second
)

// Paths served by the Handler.
const (
	// EndpointPath is where MCP is served.
	EndpointPath = "/mcp"
	// MetadataPath is the RFC 9728 protected-resource metadata of /mcp.
	MetadataPath = server.WellKnownProtectedResourcePath + EndpointPath
)

// Options are what NewHandler needs. Config.Options fills most of them.
type Options struct {
	// MCP is the mcp-go StreamableHTTPServer (or any handler) that answers
	// authenticated requests to /mcp; the keys.Caller is in their context.
	MCP http.Handler
	// PublicURL is the URL callers use for /mcp: the resource of the
	// metadata and the base of resource_metadata in challenges.
	PublicURL string
	// Issuer is listed in authorization_servers; empty when OAuth is off.
	Issuer string
	// Authenticator checks bearer tokens (see NewAuthenticator).
	Authenticator Authenticator
	// ToolScope says which scope a tool needs (keys:read or keys:write); an
	// empty answer means keys:write.
	ToolScope func(tool string) string
	// Ready is /readyz's check (policy loaded, store and upstream
	// reachable); its error text is shown, so it must be short and hold no
	// secret. Nil means always ready.
	Ready func(ctx context.Context) error
	// AllowedOrigins are the origins (scheme://host[:port]) whose browser
	// requests are accepted; a request with any other Origin gets 403.
	AllowedOrigins []string
	// RateLimit is requests per minute per caller (default 600).
	RateLimit int
	// Logger gets one line per refusal; never a token.
	Logger zerolog.Logger
	// Now is the rate limiter's clock (default time.Now).
	Now func() time.Time
}

// Handler is the HTTP front of remote mode: /mcp behind the checks,
// /healthz, /readyz and the protected-resource metadata. Safe for
// concurrent use.
type Handler struct {
	opts           Options
	mux            *http.ServeMux
	publicHost     string
	metadataURL    string
	allowedOrigins map[string]bool
	limiter        *rateLimiter
	sessions       *sessionOwners
	log            zerolog.Logger
}

// NewHandler checks opts and builds the Handler.
func NewHandler(opts Options) (*Handler, error) {
	if opts.MCP == nil || opts.Authenticator == nil || opts.ToolScope == nil {
		return nil, errors.New("remote.NewHandler: MCP, Authenticator and ToolScope are required")
	}
	pub, err := url.Parse(opts.PublicURL)
	if err != nil || pub.Host == "" {
		return nil, fmt.Errorf("public URL %q is not an absolute URL", opts.PublicURL)
	}
	if opts.RateLimit == 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.RateLimit < 0 {
		return nil, fmt.Errorf("rate limit %d: want a positive number of requests per minute", opts.RateLimit)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	origins := map[string]bool{}
	for _, o := range opts.AllowedOrigins {
		n, err := normalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		origins[n] = true
	}
	metaPath := server.ProtectedResourceMetadataPath(opts.PublicURL)
	h := &Handler{
		opts:           opts,
		mux:            http.NewServeMux(),
		publicHost:     pub.Host,
		metadataURL:    pub.Scheme + "://" + pub.Host + metaPath,
		allowedOrigins: origins,
		limiter:        newRateLimiter(opts.RateLimit, opts.Now),
		sessions:       newSessionOwners(opts.Now),
		log:            opts.Logger,
	}
	md := server.ProtectedResourceMetadataConfig{
		Resource:               opts.PublicURL,
		ScopesSupported:        []string{keys.ScopeRead, keys.ScopeWrite},
		BearerMethodsSupported: []string{"header"},
	}
	if opts.Issuer != "" {
		md.AuthorizationServers = []string{opts.Issuer}
	}
	mdHandler := server.NewProtectedResourceMetadataHandler(md)
	h.mux.Handle(server.WellKnownProtectedResourcePath, mdHandler)
	h.mux.Handle(MetadataPath, mdHandler)
	if metaPath != MetadataPath && metaPath != server.WellKnownProtectedResourcePath {
		h.mux.Handle(metaPath, mdHandler)
	}
	h.mux.HandleFunc("GET /healthz", serveHealthz)
	h.mux.HandleFunc("GET /readyz", h.serveReadyz)
	h.mux.HandleFunc(EndpointPath, h.serveMCP)
	return h, nil
}

// MetadataURL is the resource_metadata URL that challenges name.
func (h *Handler) MetadataURL() string { return h.metadataURL }

// ServeHTTP applies the loopback Host check to every path, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.rebinding(r) {
		h.log.Info().Str("path", r.URL.Path).Str("remote", r.RemoteAddr).Msg("refused: a loopback connection with a foreign Host header (DNS rebinding)")
		http.Error(w, "Forbidden: invalid Host header", http.StatusForbidden)
		return
	}
	h.mux.ServeHTTP(w, r)
}

// rebinding reports a request that came in on a loopback address but names
// another host (DNS rebinding): neither a loopback host nor the public
// URL's. mcp-go makes the same check for /mcp; this one covers every path.
func (h *Handler) rebinding(r *http.Request) bool {
	local, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || local == nil || !isLoopbackHostPort(local.String()) {
		return false
	}
	return !isLoopbackHostPort(r.Host) && !strings.EqualFold(r.Host, h.publicHost)
}

func serveHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, "ok\n")
}

func (h *Handler) serveReadyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if h.opts.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := h.opts.Ready(ctx); err != nil {
			msg := err.Error()
			if len(msg) > 200 {
				msg = msg[:200]
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+msg+"\n")
			return
		}
	}
	_, _ = io.WriteString(w, "ready\n")
}

// serveMCP is /mcp: limits, Origin, authentication, scopes, rate limit, then
// the MCP handler with the caller in the context.
func (h *Handler) serveMCP(w http.ResponseWriter, r *http.Request) {
	// 1. Limits.
	if r.ContentLength > MaxBodySize {
		h.refuse(w, r, http.StatusRequestEntityTooLarge, "", "request body too large", nil)
		return
	}
	if r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodySize)
	}
	authz := r.Header.Values("Authorization")
	if len(authz) > 1 {
		h.refuse(w, r, http.StatusBadRequest, `error="invalid_request"`, "more than one Authorization header", nil)
		return
	}
	if len(authz) == 1 && len(authz[0]) > MaxAuthorizationSize {
		h.refuse(w, r, http.StatusRequestHeaderFieldsTooLarge, "", "Authorization header too large", nil)
		return
	}

	// 2. Origin.
	if origins := r.Header.Values("Origin"); len(origins) > 0 {
		n, err := normalizeOrigin(origins[0])
		if len(origins) > 1 || err != nil || !h.allowedOrigins[n] {
			h.refuse(w, r, http.StatusForbidden, "", "Origin not allowed", nil)
			return
		}
		setCORS(w, origins[0])
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}

	// 3. Authentication.
	if r.URL.Query().Has("access_token") {
		h.refuse(w, r, http.StatusBadRequest, `error="invalid_request"`, "access token in the query string", nil)
		return
	}
	token, given := bearerToken(authz)
	if token == "" {
		if given {
			h.refuse(w, r, http.StatusUnauthorized, `error="invalid_token"`, "malformed bearer token", nil)
		} else {
			h.refuse(w, r, http.StatusUnauthorized, "", "no bearer token", nil)
		}
		return
	}
	caller, err := h.opts.Authenticator.Authenticate(r.Context(), token)
	if err != nil {
		if errors.Is(err, ErrInvalidToken) {
			h.refuse(w, r, http.StatusUnauthorized, `error="invalid_token"`, "token refused", redact(err, token))
		} else {
			h.log.Error().Str("error", redact(err, token).Error()).Str("remote", r.RemoteAddr).Msg("cannot check tokens now")
			w.Header().Set("Retry-After", "5")
			http.Error(w, "Service Unavailable: tokens cannot be checked now", http.StatusServiceUnavailable)
		}
		return
	}

	// 4. Scopes.
	if r.Method == http.MethodPost && r.Body != nil {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				h.refuse(w, r, http.StatusRequestEntityTooLarge, "", "request body too large", nil)
			} else {
				h.refuse(w, r, http.StatusBadRequest, "", "cannot read the request body", nil)
			}
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		need, err := requiredScopes(body, h.opts.ToolScope)
		if err != nil {
			h.refuse(w, r, http.StatusBadRequest, "", err.Error(), nil)
			return
		}
		for _, s := range need {
			if !caller.HasScope(s) {
				h.log.Info().Str("caller", caller.String()).Str("scope", s).Str("remote", r.RemoteAddr).Msg("refused: insufficient scope")
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q, resource_metadata=%q`, s, h.metadataURL))
				http.Error(w, "Forbidden: this call needs the scope "+s, http.StatusForbidden)
				return
			}
		}
	}

	// 5. Rate limit.
	if ok, wait := h.limiter.allow(caller.ID()); !ok {
		secs := int(math.Ceil(wait.Seconds()))
		if secs < 1 {
			secs = 1
		}
		h.log.Info().Str("caller", caller.String()).Int("retry_after", secs).Msg("refused: rate limit")
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		http.Error(w, "Too Many Requests", http.StatusTooManyRequests)
		return
	}

	// 6. A session belongs to the caller it was issued to.
	if id := r.Header.Get(sessionHeader); id != "" && !h.sessions.allow(id, caller.ID()) {
		h.log.Warn().Str("caller", caller.String()).Str("remote", r.RemoteAddr).Msg("refused: a session issued to another caller")
		http.Error(w, "Not Found: no such session", http.StatusNotFound)
		return
	}
	rec := &ownerRecorder{ResponseWriter: w, note: func(id string) { h.sessions.issued(id, caller.ID()) }}
	h.opts.MCP.ServeHTTP(rec, r.WithContext(keys.ContextWithCaller(r.Context(), caller)))
}

// refuse answers status; for 400 and 401 it adds the Bearer challenge with
// resource_metadata (and the given error attribute). The log line names
// the reason, never the token or the query.
func (h *Handler) refuse(w http.ResponseWriter, r *http.Request, status int, errAttr, reason string, cause error) {
	ev := h.log.Info()
	if status == http.StatusUnauthorized && errAttr == "" {
		ev = h.log.Debug() // the normal first step of a client's auth flow
	}
	ev = ev.Int("status", status).Str("path", r.URL.Path).Str("remote", r.RemoteAddr)
	if cause != nil {
		ev = ev.Str("error", cause.Error())
	}
	ev.Msg("refused: " + reason)
	if status == http.StatusUnauthorized || status == http.StatusBadRequest && errAttr != "" {
		v := "Bearer "
		if errAttr != "" {
			v += errAttr + ", "
		}
		w.Header().Set("WWW-Authenticate", v+fmt.Sprintf("resource_metadata=%q", h.metadataURL))
	}
	http.Error(w, http.StatusText(status)+": "+reason, status)
}

// bearerToken reads `Bearer TOKEN` from the Authorization header values.
// given reports an Authorization header with the Bearer scheme; token is
// empty when it is missing or malformed (not a token68).
func bearerToken(authz []string) (token string, given bool) {
	if len(authz) != 1 {
		return "", false
	}
	scheme, rest, _ := strings.Cut(authz[0], " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	rest = strings.TrimLeft(rest, " ")
	if !isToken68(rest) {
		return "", true
	}
	return rest, true
}

// isToken68 reports whether s is an RFC 7235 token68.
func isToken68(s string) bool {
	if s == "" {
		return false
	}
	end := len(strings.TrimRight(s, "="))
	if end == 0 {
		return false
	}
	for i := 0; i < end; i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// redact removes token from err's text, for errors of Authenticators that
// might quote it.
func redact(err error, token string) error {
	if token == "" || !strings.Contains(err.Error(), token) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), token, "[redacted]"))
}

// setCORS answers an allowed Origin.
func setCORS(w http.ResponseWriter, origin string) {
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", origin)
	hd.Add("Vary", "Origin")
	hd.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
	hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, Accept, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID")
	hd.Set("Access-Control-Expose-Headers", "Mcp-Session-Id, WWW-Authenticate, Retry-After")
	hd.Set("Access-Control-Max-Age", "600")
}

// normalizeOrigin checks an origin (scheme://host[:port], http or https)
// and lower-cases it for comparison.
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(o))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", fmt.Errorf("origin %q: want scheme://host[:port] with http or https", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
