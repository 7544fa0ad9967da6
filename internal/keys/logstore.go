package keys

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// OpenFile is a StoreOpener for the audit log file at path (the embedded
// default store of record) with options (the chain key, the clock; the zero
// options: an unkeyed chain and the real clock).
func OpenFile(path string, opts audit.FileOptions) StoreOpener {
	if path == "" {
		return nil
	}
	return func(context.Context) (audit.Store, error) {
		return audit.OpenFile(path, opts)
	}
}

// ReadOnly wraps a StoreOpener for a dry run from the command line: a log
// file that does not exist yet reads as empty and is not created, and
// nothing is written (a check record is dropped, a write refused).
func ReadOnly(open StoreOpener, path string) StoreOpener {
	if open == nil {
		return nil
	}
	return func(ctx context.Context) (audit.Store, error) {
		if path != "" {
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				return readOnly{emptyStore{}}, nil
			}
		}
		st, err := open(ctx)
		if err != nil {
			return nil, err
		}
		return readOnly{st}, nil
	}
}

// readOnly is a store whose writes are dropped (checks) or refused.
type readOnly struct{ audit.Store }

var errReadOnly = errors.New("the store of record is open read-only")

func (readOnly) Append(_ context.Context, r audit.Record) (audit.Record, error) {
	return r, errReadOnly
}
func (readOnly) AppendCheck(context.Context, audit.Record) error { return nil }
func (readOnly) Reserve(_ context.Context, r audit.Record, _ func(audit.QuotaCounts) error) (audit.Record, error) {
	return r, errReadOnly
}
func (readOnly) UseConfirmation(context.Context, string, time.Time) (bool, error) {
	return false, errReadOnly
}
func (readOnly) AddLease(context.Context, audit.Lease) error { return errReadOnly }
func (readOnly) ClaimDueLeases(context.Context, string, time.Time, time.Time, int) ([]audit.Lease, error) {
	return nil, nil
}

// emptyStore is a store with no records yet, for reading only.
type emptyStore struct{ audit.Store }

func (emptyStore) Counts(context.Context, string, time.Time) (audit.QuotaCounts, error) {
	return audit.QuotaCounts{}, nil
}
func (emptyStore) Minted(context.Context, []string) (map[string]audit.Mint, error) { return nil, nil }
func (emptyStore) Leases(context.Context, []string) (map[string]audit.Lease, error) {
	return nil, nil
}
func (emptyStore) Verify(context.Context) error { return nil }
func (emptyStore) Close() error                 { return nil }
