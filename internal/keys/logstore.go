package keys

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// OpenLog is a StoreOpener for the audit log file at path.
func OpenLog(path string) StoreOpener {
	if path == "" {
		return nil
	}
	return func(context.Context) (audit.Store, error) {
		return openLog(path)
	}
}

// ReadLog is a StoreOpener for reading the audit log file at path, for a
// dry run from the command line: a log that does not exist yet reads as
// empty and is not created, and nothing is written.
func ReadLog(path string) StoreOpener {
	if path == "" {
		return nil
	}
	return func(context.Context) (audit.Store, error) {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return readOnly{&emptyStore{}}, nil
		}
		st, err := openLog(path)
		if err != nil {
			return nil, err
		}
		return readOnly{st}, nil
	}
}

// readOnly is a store whose writes are dropped (checks) or refused.
type readOnly struct{ audit.Store }

var errReadOnly = errors.New("the audit log is open read-only")

func (readOnly) Append(_ context.Context, r audit.Record) (audit.Record, error) {
	return r, errReadOnly
}
func (readOnly) AppendCheck(context.Context, audit.Record) error { return nil }
func (readOnly) Reserve(_ context.Context, r audit.Record, _ func(audit.QuotaCounts) error) (audit.Record, error) {
	return r, errReadOnly
}

// emptyStore is a log with no records yet.
type emptyStore struct{ logStore }

func (*emptyStore) Counts(context.Context, string, time.Time) (audit.QuotaCounts, error) {
	return audit.QuotaCounts{}, nil
}
func (*emptyStore) Minted(context.Context, []string) (map[string]audit.Mint, error) { return nil, nil }

// openLog opens the audit log file at path.
func openLog(path string) (*logStore, error) {
	{
		l, err := audit.Open(path)
		if err != nil {
			return nil, err
		}
		var key [32]byte
		if _, err := rand.Read(key[:]); err != nil {
			return nil, fmt.Errorf("confirmation key: %w", err)
		}
		return &logStore{log: l, confKey: key[:], used: make(map[string]time.Time)}, nil
	}
}

// logStore serves the Store interface from an audit log file for one
// process: used confirmations and their key live in memory.
type logStore struct {
	log     *audit.Log
	confKey []byte

	mu   sync.Mutex
	used map[string]time.Time
}

var errNoLeases = errors.New("leases are not supported by this store")

func (s *logStore) Append(ctx context.Context, r audit.Record) (audit.Record, error) {
	return s.log.Append(ctx, r)
}

func (s *logStore) AppendCheck(ctx context.Context, r audit.Record) error {
	_, err := s.log.AppendUnsynced(ctx, r)
	return err
}

func (s *logStore) Reserve(ctx context.Context, r audit.Record, check func(audit.QuotaCounts) error) (audit.Record, error) {
	return s.log.Reserve(ctx, r, func(recent []audit.Record) error {
		return check(quotaCounts(recent, r.Caller, time.Now()))
	})
}

func quotaCounts(recent []audit.Record, caller string, now time.Time) audit.QuotaCounts {
	mine := make([]audit.Record, 0, len(recent))
	for _, r := range recent {
		if r.Caller == caller {
			mine = append(mine, r)
		}
	}
	return audit.QuotaCounts{Global: audit.CountCreates(recent, now), Caller: audit.CountCreates(mine, now)}
}

func (s *logStore) Counts(ctx context.Context, caller string, now time.Time) (audit.QuotaCounts, error) {
	recent, err := s.log.Recent(ctx)
	if err != nil {
		return audit.QuotaCounts{}, err
	}
	return quotaCounts(recent, caller, now), nil
}

func (s *logStore) Minted(ctx context.Context, ids []string) (map[string]audit.Mint, error) {
	found, err := s.log.MintedAmong(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]audit.Mint, len(found))
	for id, ok := range found {
		if ok {
			out[id] = audit.Mint{}
		}
	}
	return out, nil
}

func (s *logStore) UseConfirmation(_ context.Context, nonce string, expires time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Forget nonces that expired well before this one: their states are
	// refused as expired before they get here.
	for n, exp := range s.used {
		if exp.Before(expires.Add(-time.Hour)) {
			delete(s.used, n)
		}
	}
	if _, seen := s.used[nonce]; seen {
		return false, nil
	}
	s.used[nonce] = expires
	return true, nil
}

func (s *logStore) ConfirmationKey(context.Context) ([]byte, error) { return s.confKey, nil }

func (s *logStore) AddLease(context.Context, audit.Lease) error { return errNoLeases }

func (s *logStore) Leases(context.Context, []string) (map[string]audit.Lease, error) {
	return nil, nil
}

func (s *logStore) ClaimDueLeases(context.Context, string, time.Time, time.Time, int) ([]audit.Lease, error) {
	return nil, nil
}

func (s *logStore) FinishLease(context.Context, string, audit.Outcome) error { return errNoLeases }

func (s *logStore) RetryLease(context.Context, string, time.Time, int, string) error {
	return errNoLeases
}

func (s *logStore) Verify(context.Context) error { return nil }

func (s *logStore) VerifyAll(context.Context) (int, error) { return audit.VerifyFile(s.log.Path()) }

func (s *logStore) Tail(_ context.Context, n int) ([]audit.Record, error) {
	return audit.Tail(s.log.Path(), n)
}

func (s *logStore) Ping(context.Context) error { return nil }

func (s *logStore) Keyed() bool { return false }

func (s *logStore) Close() error { return nil }
