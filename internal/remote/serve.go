package remote

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
)

// Server timeouts.
const (
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout = 10 * time.Second
	// readTimeout bounds reading a whole request (1 MiB at most).
	readTimeout = 60 * time.Second
	// idleTimeout closes idle keep-alive connections.
	idleTimeout = 120 * time.Second
	// maxHeaderBytes bounds all request headers (431 beyond).
	maxHeaderBytes = 64 << 10
	// DefaultShutdownTimeout bounds how long in-flight requests may take to
	// finish once the context ends.
	DefaultShutdownTimeout = 30 * time.Second
)

// ServerConfig configures Serve.
type ServerConfig struct {
	// TLSCert and TLSKey are PEM files; both empty serves plain HTTP.
	TLSCert, TLSKey string
	// ShutdownTimeout bounds the wait for in-flight requests (default 30 s).
	ShutdownTimeout time.Duration
	// DrainDelay keeps accepting (and answering 503) this long after the
	// context ends, before closing the listener, so that load balancers
	// see /readyz fail first. Default 0.
	DrainDelay time.Duration
	// Logger gets the server's own errors (TLS handshakes and the like).
	Logger zerolog.Logger
}

// Serve serves h on ln until ctx ends, then shuts down gracefully: new
// requests get 503 (with Connection: close), in-flight requests finish
// within ShutdownTimeout, and then the rest are cut off. It returns nil
// after a clean shutdown. Write timeouts are not set: a tool call may wait
// for a user's confirmation on its response stream.
func Serve(ctx context.Context, ln net.Listener, cfg ServerConfig, h http.Handler) error {
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return errors.New("serve: give both a TLS certificate and key, or neither")
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = DefaultShutdownTimeout
	}
	gate := &drainGate{next: h}
	srv := &http.Server{
		Handler:           gate,
		ReadHeaderTimeout: ReadHeaderTimeout,
		ReadTimeout:       readTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(cfg.Logger, "", 0),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
	}
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- srv.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- srv.Serve(ln)
		}
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	gate.draining.Store(true)
	if cfg.DrainDelay > 0 {
		t := time.NewTimer(cfg.DrainDelay)
		select {
		case <-t.C:
		case err := <-errc:
			t.Stop()
			return fmt.Errorf("serve: %w", err)
		}
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("shutdown: in-flight requests did not finish within %s: %w", cfg.ShutdownTimeout, err)
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = fmt.Errorf("serve: %w", serr)
	}
	return err
}

// drainGate answers 503 once draining is set.
type drainGate struct {
	next     http.Handler
	draining atomic.Bool
}

func (g *drainGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if g.draining.Load() {
		w.Header().Set("Connection", "close")
		w.Header().Set("Retry-After", "1")
		http.Error(w, "Service Unavailable: shutting down", http.StatusServiceUnavailable)
		return
	}
	g.next.ServeHTTP(w, r)
}
