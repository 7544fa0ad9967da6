package pgstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// connectTimeout bounds opening one connection when the URL sets none, so
// that an unreachable database refuses writes quickly.
const connectTimeout = 5 * time.Second

// Options configure a Store.
type Options struct {
	// ChainKey keys the chain when set: every record carries an
	// HMAC-SHA256 MAC under it, as in the file store; at least
	// audit.MinChainKeyBytes long. Empty: no MAC (plain SHA-256 chain).
	ChainKey []byte
	// Now is the clock (nil: time.Now).
	Now func() time.Time
}

// Store is the store of record in PostgreSQL. It is safe for concurrent
// use, and any number of processes (replicas) may share one database.
type Store struct {
	pool *pgxpool.Pool
	key  []byte
	now  func() time.Time
	pid  int

	mu      sync.Mutex // guards confKey
	confKey []byte
}

var _ audit.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or a libpq
// keyword string), applies the embedded migrations it lacks and returns the
// store. The URL's password never appears in an error.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	var key []byte // nil: unkeyed
	if len(opts.ChainKey) > 0 {
		key = bytes.Clone(opts.ChainKey)
	}
	if err := audit.CheckChainKey(key); err != nil {
		return nil, fmt.Errorf("pgstore: %w", err)
	}
	cfg, err := parseConfig(url)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open: %w", err)
	}
	s := &Store{pool: pool, key: key, now: opts.Now, pid: os.Getpid()}
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.prepare(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// parseConfig parses url into a pool configuration with a connect timeout.
func parseConfig(url string) (*pgxpool.Config, error) {
	if strings.TrimSpace(url) == "" {
		return nil, errors.New("pgstore: empty database URL")
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors do not hold the password; say nothing more of the URL.
		return nil, fmt.Errorf("pgstore: database URL: %w", err)
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = connectTimeout
	}
	if _, set := cfg.ConnConfig.RuntimeParams["jit"]; !set {
		// The chain-state query is over-estimated on tables autovacuum has
		// not analyzed yet, and JIT-compiling it on every append made a
		// new database 55–85× slower (60–200 ms an append instead of
		// 0.5 ms). The store's queries are all index lookups: no JIT.
		cfg.ConnConfig.RuntimeParams["jit"] = "off"
	}
	return cfg, nil
}

// prepare checks the server and migrates.
func (s *Store) prepare(ctx context.Context) error {
	var enc string
	if err := s.pool.QueryRow(ctx, "SHOW server_encoding").Scan(&enc); err != nil {
		return fmt.Errorf("pgstore: open: %w", err)
	}
	if enc != "UTF8" && enc != "SQL_ASCII" {
		// Lines must come back byte for byte, or their chain values change.
		return fmt.Errorf("pgstore: open: the database's encoding is %s; create it with ENCODING 'UTF8'", enc)
	}
	return migrate(ctx, s.pool)
}

// Keyed reports whether the chain is keyed (a MAC on every record).
func (s *Store) Keyed() bool { return len(s.key) > 0 }

// Ping reports whether the database can be reached.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("pgstore: ping: %w", err)
	}
	return nil
}

// Close releases the connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction and commits it; on any error it rolls back.
// The queries that prelude queues are sent with the BEGIN, in one round
// trip, and their callbacks have run when fn is called. When durable is
// false the commit does not wait for the WAL flush.
func (s *Store) inTx(ctx context.Context, durable bool, prelude func(*pgx.Batch), fn func(pgx.Tx) error) error {
	b := &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	if !durable {
		b.Queue("SET LOCAL synchronous_commit = off")
	}
	if prelude != nil {
		prelude(b)
	}
	br := s.pool.SendBatch(ctx, b)
	tx := br.Tx()
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := br.Close(); err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// dbTime is t as PostgreSQL keeps it: UTC, microseconds.
func dbTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// maxColumnRunes bounds the free text kept in a column (lease names,
// errors, tags).
const maxColumnRunes = 1000

// clean makes s storable in a text column: valid UTF-8 without NUL, at
// most maxColumnRunes runes.
func clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	if utf8.RuneCountInString(s) > maxColumnRunes {
		r := []rune(s)
		s = string(r[:maxColumnRunes-1]) + "…"
	}
	return s
}

// cleanAll is clean over a slice, never nil.
func cleanAll(ss []string) []string {
	out := make([]string, 0, len(ss))
	for _, s := range ss {
		out = append(out, clean(s))
	}
	return out
}
