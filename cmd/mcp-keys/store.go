package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// chainKey reads the audit chain key from MCP_KEYS_AUDIT_KEY_FILE: nil when
// none is configured. The file must be a private regular file of at least
// audit.MinChainKeyBytes bytes.
func (cfg config) chainKey() ([]byte, error) {
	if cfg.AuditKeyFile == "" {
		return nil, nil
	}
	fi, err := os.Lstat(cfg.AuditKeyFile)
	if err != nil {
		return nil, fmt.Errorf("MCP_KEYS_AUDIT_KEY_FILE: %w", err)
	}
	closed := fileperm.NoAccess
	if cfg.fromCredentials(cfg.AuditKeyFile) {
		closed = 0 // systemd's credentials directory: the service's alone
	}
	if problem := fileperm.Problem("MCP_KEYS_AUDIT_KEY_FILE "+cfg.AuditKeyFile, fi, closed); problem != "" {
		return nil, errors.New(problem)
	}
	b, err := readSmallFile(cfg.AuditKeyFile, 4096)
	if err != nil {
		return nil, fmt.Errorf("MCP_KEYS_AUDIT_KEY_FILE: %w", err)
	}
	if len(b) < audit.MinChainKeyBytes {
		return nil, fmt.Errorf("MCP_KEYS_AUDIT_KEY_FILE %s holds %d bytes; the chain key must be at least %d (e.g. head -c 32 /dev/urandom > FILE)", cfg.AuditKeyFile, len(b), audit.MinChainKeyBytes)
	}
	return b, nil
}

// storeOpener is how the service opens the store of record: PostgreSQL
// when MCP_KEYS_DATABASE_URL is set, else the audit file. It does no I/O
// beyond reading the chain key.
func (cfg config) storeOpener() (keys.StoreOpener, error) {
	key, err := cfg.chainKey()
	if err != nil {
		return nil, err
	}
	if cfg.DatabaseURL != "" {
		return openDatabase(cfg.DatabaseURL, key), nil
	}
	if cfg.auditPath() == "" {
		return nil, nil
	}
	return keys.OpenFile(cfg.auditPath(), audit.FileOptions{ChainKey: key}), nil
}

// openStore opens the configured store of record now, for the commands
// that read it (audit, reap).
func (cfg config) openStore(ctx context.Context) (audit.Store, error) {
	open, err := cfg.storeOpener()
	switch {
	case err != nil:
		return nil, err
	case open == nil:
		return nil, errors.New("no store of record: set MCP_KEYS_AUDIT_LOG (or XDG_STATE_HOME or HOME), or MCP_KEYS_DATABASE_URL")
	}
	return open(ctx)
}

// storeName says where the store of record is, for messages: the audit
// file's path, or "PostgreSQL" (the URL may hold a password).
func (cfg config) storeName() string {
	if cfg.DatabaseURL != "" {
		return "PostgreSQL (MCP_KEYS_DATABASE_URL)"
	}
	return cfg.auditPath()
}
