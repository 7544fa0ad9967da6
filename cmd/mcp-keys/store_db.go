package main

import (
	"context"
	"errors"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// openDatabase is the PostgreSQL store of record's opener.
func openDatabase(url string, key []byte) keys.StoreOpener {
	return func(context.Context) (audit.Store, error) {
		return nil, errors.New("the PostgreSQL store of record is not built in yet")
	}
}
