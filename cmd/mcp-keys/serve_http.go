package main

import (
	"context"
	"errors"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/remote"
	"github.com/mcp-keys/mcp-keys/internal/tools"
)

// softMemoryLimit is remote mode's soft memory limit (runtime/debug).
const softMemoryLimit = 40 << 20

// serveHTTP runs remote mode: the MCP server over Streamable HTTP at /mcp,
// behind remote's handler (limits, Origin, caller authentication, scope
// challenges, per-caller rate limit), with the lease reaper running every
// 30 s. It stops gracefully on SIGINT or SIGTERM.
func (a app) serveHTTP(ctx context.Context, cfg config, logger zerolog.Logger) int {
	var rcfg remote.Config
	if err := a.parseEnv(&rcfg); err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	rcfg.Addr = cfg.HTTPAddr
	rcfg, err := rcfg.Resolve()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		// A soft limit keeps a burst of concurrent sessions from growing
		// the heap by the garbage collector's default headroom; GOMEMLIMIT
		// overrides it. Measured: 200 sessions calling at once peak at
		// about 47 MiB with it, 65 MiB without (docs/performance.md).
		debug.SetMemoryLimit(softMemoryLimit)
	}
	svc, env, cleanup, err := a.service(cfg, logger, keys.Config{VerifyAtStart: true})
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	defer cleanup()
	s, err := tools.NewServer(tools.Deps{Keys: svc, Logger: logger, Version: buildVersion(), ReadOnly: cfg.ReadOnly, Remote: true})
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	// Session ids are issued but never checked, so any replica answers any
	// request; a 2025-11-25 client's answer to a confirmation must reach
	// the replica that asked (2026-07-28 clients retry the call instead,
	// which any replica can serve).
	mcpHTTP := server.NewStreamableHTTPServer(s, server.WithEndpointPath(remote.EndpointPath))
	h, err := remote.New(ctx, rcfg, remote.Deps{MCP: mcpHTTP, ToolScope: tools.RequiredScope, Ready: svc.Ready, Logger: logger})
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	ln, err := net.Listen("tcp", rcfg.Addr)
	if err != nil {
		return a.fail(exitConfig, "listen on %s: %v", rcfg.Addr, err)
	}
	reapCtx, stopReaper := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReaper()
	go svc.RunReaper(reapCtx, keys.ReapInterval)
	go svc.RunVerifier(reapCtx, keys.VerifyInterval)
	logger.Info().Str("addr", ln.Addr().String()).Str("public_url", rcfg.PublicURL).Bool("oauth", rcfg.OAuthIssuer != "").
		Bool("static_tokens", rcfg.CallersFile != "").Str("policy", env.policy.Current().Source).Msg("serving MCP over Streamable HTTP")
	err = remote.Serve(ctx, ln, remote.ServerConfig{TLSCert: rcfg.TLSCert, TLSKey: rcfg.TLSKey, ShutdownTimeout: 30 * time.Second, Logger: logger}, h)
	if err != nil && !errors.Is(err, context.Canceled) {
		logger.Error().Err(err).Msg("server stopped")
		return exitFail
	}
	logger.Info().Msg("server stopped")
	return exitOK
}
