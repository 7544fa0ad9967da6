package main

import (
	"context"
	"fmt"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/audit/pgstore"
	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// openDatabase is the PostgreSQL store of record's opener: it applies the
// embedded migrations (idempotent; replicas starting together take turns)
// and opens a pool. An unreachable database fails the open, and the
// service tries again on its next use.
func openDatabase(url string, key []byte) keys.StoreOpener {
	return func(ctx context.Context) (audit.Store, error) {
		if err := pgstore.Migrate(ctx, url); err != nil {
			return nil, err
		}
		return pgstore.Open(ctx, url, pgstore.Options{ChainKey: key})
	}
}

// db runs `mcp-keys db migrate`: apply the embedded schema migrations to
// MCP_KEYS_DATABASE_URL and exit (the server also applies them at
// start-up).
func (a app) db(ctx context.Context, args []string) int {
	if len(args) != 1 || args[0] != "migrate" {
		return a.fail(exitConfig, "db: want `db migrate`")
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	if cfg.DatabaseURL == "" {
		return a.fail(exitConfig, "db migrate: set MCP_KEYS_DATABASE_URL")
	}
	if err := pgstore.Migrate(ctx, cfg.DatabaseURL); err != nil {
		return a.fail(exitFail, "db migrate: %v", err)
	}
	fmt.Fprintf(a.stdout, "database schema at version %d\n", pgstore.SchemaVersion())
	return exitOK
}
