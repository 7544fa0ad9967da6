package main

import (
	"context"
	"fmt"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// reap runs `mcp-keys reap`: one pass of the lease reaper, for a cron job
// or a systemd timer next to a stdio-only setup. It revokes every key
// whose lease has ended and exits 1 when one could not be revoked.
func (a app) reap(ctx context.Context, args []string) int {
	cfg, err := a.loadConfig()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	fs := a.newFlagSet("reap")
	commonFlags(fs, &cfg)
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		return a.fail(exitConfig, "reap takes no arguments, got %q", fs.Arg(0))
	}
	logger, err := newLogger(a.stderr, cfg.LogLevel)
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	svc, _, cleanup, err := a.service(cfg, logger, keys.Config{})
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	defer cleanup()
	rep, err := svc.Reap(ctx)
	fmt.Fprintf(a.stdout, "reaped: %d revoked, %d already gone, %d failed\n", rep.Revoked, rep.Gone, rep.Failed)
	if err != nil {
		return a.fail(exitFail, "reap: %v", err)
	}
	if rep.Failed > 0 {
		return a.fail(exitFail, "reap: %d key(s) whose lease ended could not be revoked (%s); they are tried again on the next pass", rep.Failed, rep.LastError)
	}
	return exitOK
}
