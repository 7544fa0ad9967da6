package main

import (
	"fmt"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/callers"
)

// callerConfig is the environment of `mcp-keys caller`.
type callerConfig struct {
	File string `env:"MCP_KEYS_CALLERS_FILE"`
}

// caller runs `mcp-keys caller add|list|remove`: static caller tokens for
// remote mode. The callers file holds only each token's SHA-256; a new
// token is printed once, on stdout.
func (a app) caller(args []string) int {
	var cfg callerConfig
	if err := a.parseEnv(&cfg); err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	if len(args) == 0 {
		return a.fail(exitConfig, "caller: want `caller add NAME [--scopes keys:read,keys:write]`, `caller list` or `caller remove NAME`")
	}
	sub, args := args[0], args[1:]
	fs := a.newFlagSet("caller " + sub)
	fs.StringVar(&cfg.File, "file", cfg.File, "the callers file (MCP_KEYS_CALLERS_FILE)")
	scopes := "keys:read,keys:write"
	if sub == "add" {
		fs.StringVar(&scopes, "scopes", scopes, "comma-separated scopes: keys:read, keys:write")
	}
	// The name comes first (caller add NAME --scopes ...); flags may follow.
	var name string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		return a.fail(exitConfig, "caller %s: unexpected argument %q", sub, fs.Arg(0))
	}
	if cfg.File == "" {
		return a.fail(exitConfig, "caller: set MCP_KEYS_CALLERS_FILE (or --file) to the callers file the server reads")
	}
	switch sub {
	case "add":
		if name == "" {
			return a.fail(exitConfig, "caller add: want a NAME")
		}
		sc, err := callers.ParseScopes(scopes)
		if err != nil {
			return a.fail(exitConfig, "caller add: %v", err)
		}
		token, err := callers.Add(cfg.File, name, sc)
		if err != nil {
			return a.fail(exitFail, "caller add: %v", err)
		}
		fmt.Fprintln(a.stdout, token)
		fmt.Fprintf(a.stderr, "mcp-keys: caller %q added with scopes %s; the token above is shown once: give it to the caller (MCP_KEYS_TOKEN_FILE for mcp-keys connect, or an Authorization: Bearer header).\n", name, strings.Join(sc, ","))
		return exitOK
	case "list":
		entries, err := callers.List(cfg.File)
		if err != nil {
			return a.fail(exitFail, "caller list: %v", err)
		}
		for _, e := range entries {
			fmt.Fprintf(a.stdout, "%s %s\n", e.Name, strings.Join(e.Scopes, ","))
		}
		return exitOK
	case "remove":
		if name == "" {
			return a.fail(exitConfig, "caller remove: want a NAME")
		}
		if err := callers.Remove(cfg.File, name); err != nil {
			return a.fail(exitFail, "caller remove: %v", err)
		}
		fmt.Fprintf(a.stderr, "mcp-keys: caller %q removed; its token is refused from the next request on.\n", name)
		return exitOK
	}
	return a.fail(exitConfig, "caller: unknown subcommand %q (want add, list or remove)", sub)
}
