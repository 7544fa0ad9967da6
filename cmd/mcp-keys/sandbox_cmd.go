package main

import (
	"context"
	"fmt"

	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// sandbox serves the API emulator on loopback until interrupted. It prints
// exactly two lines on stdout, the base URL and a Full Access operator key,
// in a form a shell can eval; everything else goes to stderr.
func (a app) sandbox(ctx context.Context, args []string) int {
	cfg, err := a.loadConfig()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	fs := a.newFlagSet("sandbox")
	addr := fs.String("addr", "127.0.0.1:8787", "loopback address to listen on")
	state := fs.String("state", "", "keep the sandbox's data in this file across restarts")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		return a.fail(exitConfig, "sandbox takes only flags, got %q", fs.Arg(0))
	}
	logger, err := newLogger(a.stderr, cfg.LogLevel)
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	srv, err := sandbox.Start(sandbox.Options{StatePath: *state, OnRequest: func(r sandbox.Request) {
		ev := logger.Info()
		if r.Forbidden {
			ev = logger.Warn().Bool("forbidden", true)
		}
		ev.Str("method", r.Method).Str("path", r.Path).Int("status", r.Status).Msg("request")
	}}, *addr)
	if err != nil {
		return a.fail(exitFail, "sandbox: %v", err)
	}
	fmt.Fprintf(a.stdout, "SUPERMEMORY_BASE_URL=%s\nSUPERMEMORY_API_KEY=%s\n", srv.URL, srv.Sandbox.OperatorKey())
	logger.Info().Str("url", srv.URL).Str("state", orNone(*state)).Msg("sandbox serving; Ctrl-C to stop")
	<-ctx.Done()
	logSummary(logger, srv.Sandbox)
	if err := srv.Close(); err != nil {
		logger.Error().Err(err).Msg("sandbox shutdown")
		return exitFail
	}
	logger.Info().Msg("sandbox stopped")
	return exitOK
}

// logSummary says how many requests the sandbox answered and how many went
// to an endpoint mcp-keys must never call.
func logSummary(logger zerolog.Logger, sb *sandbox.Sandbox) {
	logger.Info().Int("requests", len(sb.Requests())).Int("forbidden", len(sb.ForbiddenRequests())).Msg("sandbox summary")
}
