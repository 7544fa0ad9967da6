package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/client"
)

// doctor checks, one line each: the configuration, the policy, that the API
// answers, and that the key is valid and Full Access (GET /v3/session).
// Exit 0 when every check passes, 1 otherwise.
func (a app) doctor(ctx context.Context, args []string) int {
	cfg, err := a.loadConfig()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	fs := a.newFlagSet("doctor")
	commonFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	logger, err := newLogger(a.stderr, cfg.LogLevel)
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	failed := false
	check := func(name string, err error, ok string) {
		if err != nil {
			failed = true
			fmt.Fprintf(a.stdout, "FAIL  %-8s %v\n", name, err)
			return
		}
		fmt.Fprintf(a.stdout, "ok    %-8s %s\n", name, ok)
	}

	env, cleanup, err := a.environment(cfg, logger)
	defer cleanup()
	if err != nil {
		check("config", err, "")
		return exitFail
	}
	where := cfg.BaseURL
	if env.sandboxed {
		where = "embedded sandbox"
	}
	check("config", nil, fmt.Sprintf("API %s, timeout %s, read-only %t, audit log %s", where, cfg.Timeout, cfg.ReadOnly, orNone(cfg.auditPath())))

	p := env.policy.Current()
	summary := strings.ReplaceAll(strings.TrimSpace(p.Summary()), "\n", "; ")
	if p.DeniesAllWrites() {
		fmt.Fprintf(a.stdout, "warn  %-8s %s\n", "policy", summary)
	} else {
		check("policy", nil, p.Source+": "+summary)
	}

	s, err := env.api.Session(ctx)
	if err != nil {
		check("api", err, "")
		switch {
		case errors.Is(err, client.ErrUnauthorized):
			fmt.Fprintln(a.stdout, "      the key is invalid, expired or revoked: create a Full Access key in the Supermemory console")
		case errors.Is(err, client.ErrUnavailable):
			fmt.Fprintln(a.stdout, "      check SUPERMEMORY_BASE_URL and the network")
		}
		return exitFail
	}
	check("api", nil, fmt.Sprintf("reachable; key belongs to org %q (%s), role %s", s.OrgName, s.OrgID, orNone(s.Role)))
	if s.IsFullAccess() {
		check("key", nil, "Full Access: can mint and revoke scoped keys")
	} else {
		check("key", fmt.Errorf("the key is %s, not Full Access: it cannot mint keys; configure a Full Access key", orNone(s.ScopeType)), "")
	}
	if failed {
		return exitFail
	}
	return exitOK
}

// orNone returns s, or "none" when s is empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
