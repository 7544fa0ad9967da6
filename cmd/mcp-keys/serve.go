package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
	"github.com/mcp-keys/mcp-keys/internal/tools"
)

// serve runs the MCP server over stdio until stdin ends or a signal arrives.
// Only MCP messages are written to stdout.
func (a app) serve(ctx context.Context, args []string) int {
	cfg, err := a.loadConfig()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	fs := a.newFlagSet("serve")
	commonFlags(fs, &cfg)
	fs.StringVar(&cfg.HTTPAddr, "http", cfg.HTTPAddr, "serve MCP over Streamable HTTP at ADDR/mcp instead of stdio (MCP_KEYS_HTTP_ADDR)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		return a.fail(exitConfig, "serve takes no arguments, got %q", fs.Arg(0))
	}
	logger, err := newLogger(a.stderr, cfg.LogLevel)
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	if cfg.HTTPAddr != "" {
		return a.serveHTTP(ctx, cfg, logger)
	}
	svc, env, cleanup, err := a.service(cfg, logger, keys.Config{VerifyAtStart: true, ReapOnCall: true})
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	defer cleanup()
	// One reaper pass at start-up, without holding up the first request;
	// then one before every call (ReapOnCall).
	go func() {
		// The whole chain is verified once per session, besides the
		// incremental check before every write.
		_ = svc.VerifyStore(ctx)
		if _, err := svc.Reap(ctx); err != nil && ctx.Err() == nil {
			logger.Warn().Err(err).Msg("reaper pass at start-up failed")
		}
	}()
	s, err := tools.NewServer(tools.Deps{Keys: svc, Logger: logger, Version: buildVersion(), ReadOnly: cfg.ReadOnly})
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	logger.Info().Bool("read_only", cfg.ReadOnly).Bool("sandbox", cfg.Sandbox).Str("policy", env.policy.Current().Source).Msg("serving MCP on stdio")
	// Requests read before stdin ends are answered before the server stops;
	// each can take up to MaxAttempts upstream timeouts.
	drain := newEOFDrain(ctx, 3*cfg.Timeout+5*time.Second)
	in := newLineFilter(a.stdin, maxLineBytes, rewriteOutOfRange, func() {
		logger.Warn().Int("max_bytes", maxLineBytes).Msg("input line too long: dropped and answered with a parse error")
	})
	if err := listen(ctx, s, logger, drain.reader(in), drain.writer(a.stdout)); err != nil {
		logger.Error().Err(err).Msg("server stopped")
		return exitFail
	}
	logger.Info().Msg("server stopped")
	return exitOK
}

// listen serves s over the given streams. End of input and cancellation
// (SIGINT, SIGTERM) are clean exits.
func listen(ctx context.Context, s *server.MCPServer, logger zerolog.Logger, in io.Reader, out io.Writer) error {
	stdio := server.NewStdioServer(s)
	stdio.SetErrorLogger(log.New(logger, "", 0))
	if err := stdio.Listen(ctx, in, out); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// service builds the keys service the way every long-running command does:
// the API client and policy source (environment), the store of record from
// configuration, and the options given in opts (its API, Policy, OpenStore
// and Logger are filled in here). cleanup closes the service and stops an
// embedded sandbox.
func (a app) service(cfg config, logger zerolog.Logger, opts keys.Config) (*keys.Service, environment, func(), error) {
	env, stop, err := a.environment(cfg, logger)
	if err != nil {
		return nil, env, nil, err
	}
	open, err := cfg.storeOpener()
	if err != nil {
		stop()
		return nil, env, nil, err
	}
	if cfg.DatabaseURL == "" {
		warnOpenAuditDir(logger, cfg.auditPath())
	}
	opts.API, opts.Policy, opts.OpenStore, opts.Logger = env.api, env.policy, open, logger
	svc, err := keys.New(opts)
	if err != nil {
		stop()
		return nil, env, nil, err
	}
	return svc, env, func() { _ = svc.Close(); stop() }, nil
}

// environment is what serve and doctor run against: an API client and a
// policy source.
type environment struct {
	api    *client.Client
	policy policy.Source
	// sandboxed is set when the API is the embedded emulator.
	sandboxed bool
}

// environment builds the API client (for the real API, or for an embedded
// sandbox on loopback with --sandbox) and the policy source. The returned
// cleanup stops the sandbox.
func (a app) environment(cfg config, logger zerolog.Logger) (environment, func(), error) {
	nop := func() {}
	src, err := cfg.policySource(logger)
	if err != nil {
		return environment{}, nop, fmt.Errorf("policy: %w", err)
	}
	if cfg.Sandbox {
		sb, err := sandbox.Start(sandbox.Options{}, "")
		if err != nil {
			return environment{}, nop, fmt.Errorf("start sandbox: %w", err)
		}
		cfg.BaseURL = sb.URL
		c, err := newClient(cfg, client.Secret(sb.Sandbox.OperatorKey()))
		if err != nil {
			_ = sb.Close()
			return environment{}, nop, err
		}
		logger.Info().Str("base_url", sb.URL).Msg("using the embedded sandbox API")
		return environment{api: c, policy: src, sandboxed: true}, func() { _ = sb.Close() }, nil
	}
	key, err := cfg.apiKey()
	if err != nil {
		return environment{}, nop, err
	}
	if err := checkKeyFileMode(cfg, logger); err != nil {
		return environment{}, nop, err
	}
	c, err := newClient(cfg, key)
	if err != nil {
		return environment{}, nop, err
	}
	return environment{api: c, policy: src}, nop, nil
}

// checkKeyFileMode looks at who else may read the operator key file: in
// remote mode the key must be the server account's alone (a file readable
// by group or others is refused); over stdio it is the agent's user's
// anyway, and such a file is used with a warning.
func checkKeyFileMode(cfg config, logger zerolog.Logger) error {
	if cfg.APIKeyFile == "" {
		return nil
	}
	fi, err := os.Stat(cfg.APIKeyFile)
	if err != nil || cfg.fromCredentials(cfg.APIKeyFile) {
		return nil // systemd's credentials directory: the service's alone
	}
	problem := fileperm.Problem("SUPERMEMORY_API_KEY_FILE "+cfg.APIKeyFile, fi, fileperm.NoAccess)
	switch {
	case problem == "":
		return nil
	case cfg.HTTPAddr != "":
		return errors.New(problem + ": in remote mode the operator key must be the server account's alone")
	}
	logger.Warn().Msg(problem)
	return nil
}
