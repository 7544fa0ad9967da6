package pgstore

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// confirmationKeyBytes is the length of the confirmation key.
const confirmationKeyBytes = 32

// UseConfirmation marks nonce used, once across every process sharing the
// database: it returns false when it was used before. Nonces whose expiry
// has passed are forgotten on the way. Like every write it is refused while
// the chain fails verification.
func (s *Store) UseConfirmation(ctx context.Context, nonce string, expires time.Time) (bool, error) {
	if nonce == "" {
		return false, errors.New("pgstore: use confirmation: empty nonce")
	}
	first := false
	err := s.guarded(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM mcp_keys_used_confirmations WHERE expires < $1", dbTime(s.now())); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `INSERT INTO mcp_keys_used_confirmations (nonce, expires) VALUES ($1, $2)
ON CONFLICT (nonce) DO NOTHING`, clean(nonce), dbTime(expires))
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
