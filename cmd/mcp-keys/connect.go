package main

import (
	"context"
	"errors"

	"github.com/mcp-keys/mcp-keys/internal/bridge"
	"github.com/mcp-keys/mcp-keys/internal/client"
)

// connectConfig is connect's own environment: the caller's token, never the
// operator key.
type connectConfig struct {
	Token     client.Secret `env:"MCP_KEYS_TOKEN,unset"`
	TokenFile string        `env:"MCP_KEYS_TOKEN_FILE"`
	LogLevel  string        `env:"MCP_KEYS_LOG_LEVEL" envDefault:"info"`
}

// connect runs `mcp-keys connect URL`: a stdio MCP server that relays every
// message to a remote mcp-keys with the caller's token, for hosts that
// speak only stdio. It holds no operator key.
func (a app) connect(ctx context.Context, args []string) int {
	var cfg connectConfig
	if err := a.parseEnv(&cfg); err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	fs := a.newFlagSet("connect")
	fs.StringVar(&cfg.TokenFile, "token-file", cfg.TokenFile, "file holding the caller's bearer token (MCP_KEYS_TOKEN_FILE)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (MCP_KEYS_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() != 1 {
		return a.fail(exitConfig, "connect: want `mcp-keys connect URL` (the remote mcp-keys' https://…/mcp)")
	}
	logger, err := newLogger(a.stderr, cfg.LogLevel)
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	tok, err := bridge.ReadToken(cfg.TokenFile, cfg.Token, logger)
	if err != nil {
		return a.fail(exitConfig, "connect: %v", err)
	}
	err = bridge.Run(ctx, bridge.Config{URL: fs.Arg(0), Token: tok, UserAgent: "mcp-keys/" + buildVersion()}, a.stdin, a.stdout, logger)
	switch {
	case errors.Is(err, bridge.ErrConfig):
		return a.fail(exitConfig, "connect: %v", err)
	case err != nil:
		logger.Error().Err(err).Msg("connect stopped")
		return exitFail
	}
	return exitOK
}
