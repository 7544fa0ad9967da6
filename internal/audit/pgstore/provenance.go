package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// Minted returns, for those of ids minted through mcp-keys (a create
// result with outcome created), who minted them, for which tags and with
// which permission: one lookup by primary key. An id that is not valid
// text (invalid UTF-8, NUL) was never minted.
func (s *Store) Minted(ctx context.Context, ids []string) (map[string]audit.Mint, error) {
	out := make(map[string]audit.Mint)
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, "SELECT key_id, caller, tags, permission, at FROM mcp_keys_minted WHERE key_id = ANY($1)", cleanAll(ids))
	if err != nil {
		return nil, fmt.Errorf("pgstore: minted: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			m  audit.Mint
			at time.Time
		)
		if err := rows.Scan(&id, &m.Caller, &m.Tags, &m.Permission, &at); err != nil {
			return nil, fmt.Errorf("pgstore: minted: %w", err)
		}
		m.At = at.UTC()
		out[id] = m
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgstore: minted: %w", err)
	}
	return out, nil
}
