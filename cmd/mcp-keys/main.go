// Command mcp-keys is an MCP server, spoken over stdio, that lets an AI agent
// issue, list and revoke scoped Supermemory API keys under a local policy the
// agent cannot change. This package only turns flags and environment into
// configuration, builds the logger and runs a subcommand.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes shared by the subcommands.
const (
	exitOK     = 0
	exitFail   = 1 // a check failed (policy check, doctor, audit verify)
	exitConfig = 2 // bad usage or configuration; nothing was started
	exitDeny   = 3 // policy explain: the request would be refused
)

// app holds what a subcommand may touch: standard streams and the
// environment (nil means the process environment).
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	env    map[string]string
}

func main() {
	// First, before the environment (and so the operator key) is read:
	// fail closed if the process cannot be protected from its own user.
	if err := hardenProcess(); err != nil {
		fmt.Fprintf(os.Stderr, "mcp-keys: %v\n", err)
		os.Exit(exitFail)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}.run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}

// usage is printed by `mcp-keys help` and on a usage error.
const usage = `mcp-keys: issue scoped Supermemory API keys to AI agents, under a local policy.

Usage:
  mcp-keys [serve] [--policy FILE] [--read-only] [--sandbox]   serve MCP over stdio
  mcp-keys demo                                                 run the whole flow against the embedded sandbox
  mcp-keys serve --http ADDR                                    serve MCP over Streamable HTTP at ADDR/mcp (remote mode)
  mcp-keys caller add NAME [--scopes keys:read,keys:write]      make a static caller token (printed once); caller list, caller remove NAME
  mcp-keys connect URL                                          relay stdio MCP to a remote mcp-keys (MCP_KEYS_TOKEN_FILE)
  mcp-keys sandbox [--addr 127.0.0.1:8787] [--state FILE]       serve the API emulator on loopback
  mcp-keys policy check [FILE]                                  validate a policy file
  mcp-keys policy explain --tag T [--tag T2 ...] [--permission read|write] [--expires-in-days N | --lease-minutes N]
                          [--name S] [--rate-limit-max N] [--rate-limit-window-ms N]
                          [--caller-token NAME | --caller-sub S --caller-email E --caller-group G ...]
  mcp-keys doctor                                               check configuration, policy and the API key
  mcp-keys audit verify [FILE]                                  check the store of record's chain (and MACs)
  mcp-keys audit tail [-n N] [FILE]                             print the last audit records
  mcp-keys db migrate                                           apply the schema to MCP_KEYS_DATABASE_URL (serve does it too)
  mcp-keys reap                                                 one pass of the lease reaper (for cron or a systemd timer)
  mcp-keys version                                              print the version

Environment: SUPERMEMORY_API_KEY, SUPERMEMORY_API_KEY_FILE, SUPERMEMORY_BASE_URL, MCP_KEYS_POLICY,
MCP_KEYS_ALLOWED_TAGS, MCP_KEYS_READ_ONLY, MCP_KEYS_AUDIT_LOG, MCP_KEYS_AUDIT_KEY_FILE,
MCP_KEYS_DATABASE_URL, MCP_KEYS_LOG_LEVEL, MCP_KEYS_TIMEOUT; remote mode: MCP_KEYS_HTTP_ADDR,
MCP_KEYS_PUBLIC_URL, MCP_KEYS_OAUTH_ISSUER, MCP_KEYS_OAUTH_AUDIENCE, MCP_KEYS_OAUTH_GROUPS_CLAIM,
MCP_KEYS_CALLERS_FILE, MCP_KEYS_ALLOWED_ORIGINS, MCP_KEYS_TLS_CERT, MCP_KEYS_TLS_KEY,
MCP_KEYS_BEHIND_PROXY, MCP_KEYS_RATE_LIMIT; connect: MCP_KEYS_TOKEN, MCP_KEYS_TOKEN_FILE.
`

// run dispatches to a subcommand and returns the exit code.
func (a app) run(ctx context.Context, args []string) int {
	cmd := "serve"
	if len(args) > 0 && (len(args[0]) == 0 || args[0][0] != '-') {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return a.serve(ctx, args)
	case "demo":
		return a.demo(ctx, args)
	case "connect":
		return a.connect(ctx, args)
	case "caller":
		return a.caller(args)
	case "sandbox":
		return a.sandbox(ctx, args)
	case "policy":
		return a.policy(ctx, args)
	case "doctor":
		return a.doctor(ctx, args)
	case "audit":
		return a.audit(ctx, args)
	case "reap":
		return a.reap(ctx, args)
	case "db":
		return a.db(ctx, args)
	case "version", "--version":
		return a.version(args)
	case "help", "-h", "--help":
		fmt.Fprint(a.stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(a.stderr, "mcp-keys: unknown command %q\n\n%s", cmd, usage)
		return exitConfig
	}
}

// fail prints one line to stderr and returns code.
func (a app) fail(code int, format string, args ...any) int {
	fmt.Fprintf(a.stderr, "mcp-keys: "+format+"\n", args...)
	return code
}
