package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"sync"
	"time"
)

// ErrNotLoopback is returned by [Start] for an address that is not on the
// loopback interface: the sandbox is for local use only.
var ErrNotLoopback = errors.New("sandbox: address is not a loopback address")

// shutdownGrace is how long Close waits for requests in progress.
const shutdownGrace = 5 * time.Second

// Server is a [Sandbox] served over HTTP on loopback.
type Server struct {
	// URL is the base URL, e.g. "http://127.0.0.1:8787".
	URL string
	// Sandbox is the organisation being served.
	Sandbox *Sandbox

	srv       *http.Server
	cancel    context.CancelFunc
	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start makes a [Sandbox] with opts and serves it on addr, which must be a
// loopback address such as "127.0.0.1:8787" or "localhost:0"; "" means
// "127.0.0.1:0" (any free port). Any other address is refused with
// [ErrNotLoopback].
func Start(opts Options, addr string) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: address %s: %w", quote(addr), err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("%w: %s", ErrNotLoopback, quote(addr))
	}
	sb, err := New(opts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: listen: %w", err)
	}
	// "localhost" may resolve to a non-loopback address on a broken host.
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		_ = ln.Close()
		return nil, fmt.Errorf("%w: %s", ErrNotLoopback, quote(addr))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		URL:     "http://" + ln.Addr().String(),
		Sandbox: sb,
		srv: &http.Server{
			Handler:           sb,
			ReadHeaderTimeout: 10 * time.Second,
			BaseContext:       func(net.Listener) context.Context { return ctx },
			// Keep the server quiet: the sandbox never logs.
			ErrorLog: log.New(io.Discard, "", 0),
		},
		cancel: cancel,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	return s, nil
}

// Close stops the server: it cancels injected delays and slow bodies in
// progress, waits for requests to finish (up to a few seconds, then closes
// their connections), writes any pending state, and returns once no goroutine
// of the server is left. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		var errs []error
		if err := s.srv.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: shutdown: %w", err))
			_ = s.srv.Close()
		}
		<-s.done
		if err := s.Sandbox.flush(); err != nil {
			errs = append(errs, fmt.Errorf("sandbox: close: %w", err))
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}
