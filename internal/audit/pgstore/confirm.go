package pgstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// confirmationKeyBytes is the length of the confirmation key.
const confirmationKeyBytes = 32

// nonceHash is what is kept of a nonce: its hex SHA-256.
func nonceHash(nonce string) string {
	sum := sha256.Sum256([]byte(nonce))
	return hex.EncodeToString(sum[:])
}

// UseConfirmation marks nonce used (its SHA-256 is kept), once across every process sharing the
// database: it returns false when it was used before. Nonces whose expiry
// has passed are forgotten on the way. Like every write it is refused while
// the chain fails verification.
func (s *Store) UseConfirmation(ctx context.Context, nonce string, expires time.Time) (bool, error) {
	if nonce == "" {
		return false, fmt.Errorf("pgstore: use confirmation: %w: empty nonce", audit.ErrInvalid)
	}
	first := false
	err := s.guarded(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM mcp_keys_used_confirmations WHERE expires < $1", dbTime(s.now())); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO mcp_keys_used_confirmations (nonce, expires) VALUES ($1, $2)
ON CONFLICT (nonce) DO NOTHING`, nonceHash(nonce), dbTime(expires))
		if err != nil {
			return err
		}
		first = tag.RowsAffected() == 1
		return nil
	})
	if err != nil {
		return false, refused("use confirmation", err)
	}
	return first, nil
}

// ConfirmationKey returns the 32-byte secret that signs confirmation
// request states: made by the first process to ask, then the same for
// every process sharing the database.
func (s *Store) ConfirmationKey(ctx context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.confKey != nil {
		return bytes.Clone(s.confKey), nil
	}
	fresh := make([]byte, confirmationKeyBytes)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("pgstore: confirmation key: %w", err)
	}
	var key []byte
	err := s.pool.QueryRow(ctx, `WITH ins AS (
	INSERT INTO mcp_keys_confirmation_key (key) VALUES ($1) ON CONFLICT (one) DO NOTHING RETURNING key)
SELECT key FROM ins UNION ALL SELECT key FROM mcp_keys_confirmation_key`, fresh).Scan(&key)
	if errors.Is(err, pgx.ErrNoRows) {
		// Another process inserted it after this statement's snapshot: it
		// is committed now.
		err = s.pool.QueryRow(ctx, "SELECT key FROM mcp_keys_confirmation_key").Scan(&key)
	}
	if err != nil {
		return nil, fmt.Errorf("pgstore: confirmation key: %w", err)
	}
	if len(key) != confirmationKeyBytes {
		return nil, fmt.Errorf("pgstore: confirmation key: %d bytes stored, want %d", len(key), confirmationKeyBytes)
	}
	s.confKey = key
	return bytes.Clone(key), nil
}
