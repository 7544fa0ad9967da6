package pgstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the advisory lock (pg_advisory_xact_lock) that
// serializes migrations: replicas starting together apply each one once.
const migrationLock int64 = 0x6d63_702d_6b65_7973 // "mcp-keys"

// migration is one embedded SQL file, NNNN_name.sql.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	entries, err := fs.ReadDir(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("read embedded migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		num, rest, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("embedded migration %s: name is not NNNN_name.sql", e.Name())
		}
		b, err := migrationFiles.ReadFile(path.Join("migrations", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read embedded migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(rest, ".sql"), sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("embedded migrations: version %d missing", i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the schema version this build applies and expects.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// Migrate applies the embedded schema migrations that the database at url
// lacks (`mcp-keys db migrate`), each once, in one transaction under an
// advisory lock. It refuses a database whose schema is newer than this
// build. The role needs CREATE on the schema unless nothing is missing.
func Migrate(ctx context.Context, url string) error {
	cfg, err := parseConfig(url)
	if err != nil {
		return err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: connect: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate(ctx, conn)
}

// querier is what migrate needs of a connection.
type querier interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// migrate brings the schema up to date. It first reads the applied version
// without locking or creating anything, so that a least-privilege role can
// open an up-to-date database.
func migrate(ctx context.Context, db querier) error {
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	latest := len(ms)
	v, err := appliedVersion(ctx, db)
	if err != nil {
		return err
	}
	if v > latest {
		return fmt.Errorf("pgstore: the database schema is at version %d, newer than this mcp-keys (%d): upgrade mcp-keys", v, latest)
	}
	if v == latest {
		return nil
	}
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", migrationLock); err != nil {
		return fmt.Errorf("pgstore: migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS mcp_keys_schema_migrations (
	version    integer     PRIMARY KEY,
	name       text        NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)`); err != nil {
		return fmt.Errorf("pgstore: migrate: create mcp_keys_schema_migrations (does the role have CREATE on the schema? run `mcp-keys db migrate` as the owner): %w", err)
	}
	var applied int
	if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM mcp_keys_schema_migrations").Scan(&applied); err != nil {
		return fmt.Errorf("pgstore: migrate: read version: %w", err)
	}
	if applied > latest {
		return fmt.Errorf("pgstore: the database schema is at version %d, newer than this mcp-keys (%d): upgrade mcp-keys", applied, latest)
	}
	for _, m := range ms[applied:] {
		// No arguments: the simple protocol, which runs a whole file.
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("pgstore: migration %04d_%s: %w", m.version, m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO mcp_keys_schema_migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
			return fmt.Errorf("pgstore: migration %04d_%s: record it: %w", m.version, m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgstore: migrate: commit: %w", err)
	}
	return nil
}

// appliedVersion is the highest migration applied, 0 when none is.
func appliedVersion(ctx context.Context, db querier) (int, error) {
	var exists bool
	if err := db.QueryRow(ctx, "SELECT to_regclass('mcp_keys_schema_migrations') IS NOT NULL").Scan(&exists); err != nil {
		return 0, fmt.Errorf("pgstore: read schema version: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v int
	err := db.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM mcp_keys_schema_migrations").Scan(&v)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("pgstore: read schema version: %w", err)
	}
	return v, nil
}
