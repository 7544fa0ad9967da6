package keys

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// API is the part of the Supermemory key API the service uses.
// *client.Client implements it.
type API interface {
	ListKeys(ctx context.Context) ([]client.Key, error)
	ListTags(ctx context.Context) ([]client.Tag, error)
	CreateScopedKey(ctx context.Context, req client.CreateScopedKeyRequest) (*client.CreatedKey, error)
	RevokeKey(ctx context.Context, id string) (*client.RevokeResult, error)
}

// StoreOpener opens the store of record. The service calls it on first
// use, and again after a failure, so that start-up does no I/O that can
// wait and a store that comes back is used without a restart.
type StoreOpener func(ctx context.Context) (audit.Store, error)

// Config are the service's dependencies.
type Config struct {
	// API is the Supermemory key API client.
	API API
	// Policy gives the current policy on every call.
	Policy policy.Source
	// OpenStore opens the store of record; nil means there is none, and
	// every write that the policy requires to be recorded is refused.
	OpenStore StoreOpener
	// Logger writes to stderr; never to stdout.
	Logger zerolog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// VerifyAtStart makes writes wait for the first full verification of
	// the chain (VerifyStore, RunVerifier), which the caller starts: a
	// record edited before the last verified one is then seen before the
	// store is trusted. Reads do not wait.
	VerifyAtStart bool
	// ReapOnCall runs a pass of the lease reaper before every use case
	// (stdio mode, where no server runs between calls); a long-running
	// server runs RunReaper instead.
	ReapOnCall bool
}

// Service runs the key use cases for a caller. It is safe for concurrent
// use.
type Service struct {
	api    API
	policy policy.Source
	log    zerolog.Logger
	now    func() time.Time
	store  *lazyStore
	conf   *confirmer

	reapOnCall bool
	reaperID   string
	chainMu    sync.Mutex
	chainErr   error         // the last full verification's failure, if any
	verified   chan struct{} // closed after the first full verification (VerifyAtStart)
	verifyOnce sync.Once

	reaperMu    sync.Mutex
	lastReapErr error
	// failing are the keys whose lease ended and whose revoke failed, with
	// the last error, until a pass revokes them.
	failing map[string]string
}

// New builds the service. It does no I/O.
func New(c Config) (*Service, error) {
	if c.API == nil || c.Policy == nil {
		return nil, errors.New("keys: API and Policy are required")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	st := &lazyStore{open: c.OpenStore}
	return &Service{api: c.API, policy: c.Policy, log: c.Logger, now: c.Now, store: st, conf: &confirmer{now: c.Now, store: st}, reaperID: reaperID(), reapOnCall: c.ReapOnCall, failing: make(map[string]string),
		verified: verifiedChan(c.VerifyAtStart)}, nil
}

// Policy returns the policy in force now (the top level; see PolicyFor for
// a caller's).
func (s *Service) Policy() *policy.Policy { return s.policy.Current() }

// PolicyFor returns the policy that applies to a caller now: the top level
// for the local (stdio) caller and the system, and for a remote caller the
// policy of the first callers: rule that fits it (narrowed by the top
// level), or one that allows nothing when none fits.
func (s *Service) PolicyFor(c Caller) *policy.Policy {
	p := s.policy.Current()
	if !c.Remote() {
		return p
	}
	id := policy.CallerIdentity{Sub: c.Subject, Email: c.Email, Groups: c.Groups}
	if c.Kind == CallerToken {
		id = policy.CallerIdentity{Token: c.TokenName}
	}
	cp, _ := p.ForCaller(id)
	return cp
}

// Close releases the store, if it was opened.
func (s *Service) Close() error { return s.store.close() }

// lazyStore opens the store of record on first use and keeps it. A failed
// open is retried on the next use.
type lazyStore struct {
	open StoreOpener

	mu sync.Mutex
	st audit.Store
}

// errNoStore is returned when no store of record is configured.
var errNoStore = errors.New("no audit log path is configured (set MCP_KEYS_AUDIT_LOG, or XDG_STATE_HOME or HOME)")

// get returns the open store, or an error saying why there is none.
func (l *lazyStore) get(ctx context.Context) (audit.Store, error) {
	if l == nil || l.open == nil {
		return nil, errNoStore
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st != nil {
		return l.st, nil
	}
	st, err := l.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("open the store of record: %w", err)
	}
	l.st = st
	return st, nil
}

// close closes the store if it is open.
func (l *lazyStore) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.st == nil {
		return nil
	}
	err := l.st.Close()
	l.st = nil
	return err
}

// Ready reports whether the service can do its work: the store of record
// opens, answers and verifies, the upstream API answers, and the lease
// reaper has no key it failed to revoke. Its errors are short and hold no
// secret; /readyz shows them.
func (s *Service) Ready(ctx context.Context) error {
	st, err := s.store.get(ctx)
	if err != nil {
		return errors.New("the store of record cannot be opened")
	}
	if err := st.Ping(ctx); err != nil {
		return errors.New("the store of record does not answer")
	}
	s.chainMu.Lock()
	chainErr := s.chainErr
	s.chainMu.Unlock()
	if chainErr != nil || chainBroken(st.Verify(ctx)) {
		return errors.New("the audit chain does not verify; run mcp-keys audit verify")
	}
	if _, err := s.api.ListTags(ctx); err != nil {
		return errors.New("the Supermemory API does not answer")
	}
	if h := s.ReaperHealth(); h != "" {
		// /readyz answers anyone: fixed words here, the detail in the log.
		s.log.Warn().Str("reaper", h).Msg("not ready")
		return errors.New("the lease reaper could not revoke every key whose lease ended; see the server log")
	}
	return nil
}

// begin runs what every use case runs first: in stdio mode, a pass of the
// lease reaper, so that an ended lease is enforced at the next call. Its
// failures are logged, never the call's.
func (s *Service) begin(ctx context.Context) {
	if !s.reapOnCall {
		return
	}
	_, err := s.Reap(context.WithoutCancel(ctx))
	if err != nil {
		s.log.Warn().Err(err).Msg("reaper pass failed")
	}
}

// VerifyInterval is how often a long-running server verifies the whole
// chain, besides the incremental check before every write.
const VerifyInterval = time.Hour

// VerifyStore checks the whole chain of the store of record, from its
// first record: the incremental check before every write starts from the
// last verified record, and so cannot see a record edited before it. While
// this fails, every create, revoke and rotate is refused, naming the
// record; a later pass that succeeds lifts that.
func (s *Service) VerifyStore(ctx context.Context) error {
	// Writes waiting for the first verification go on after it, whatever
	// its outcome: a store that cannot be opened refuses them by itself.
	defer s.verifyOnce.Do(func() {
		if s.verified != nil {
			close(s.verified)
		}
	})
	st, err := s.store.get(ctx)
	if err != nil {
		return err
	}
	_, err = st.VerifyAll(ctx)
	s.chainMu.Lock()
	defer s.chainMu.Unlock()
	switch {
	case err == nil:
		s.chainErr = nil
	case chainBroken(err):
		s.chainErr = err
		s.log.Error().Err(err).Msg("the audit chain fails verification: every create, revoke and rotate is refused")
	}
	return err
}

// RunVerifier verifies the whole chain at start and then every interval
// until ctx ends.
func (s *Service) RunVerifier(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.VerifyStore(ctx); err != nil && ctx.Err() == nil && !chainBroken(err) {
			s.log.Warn().Err(err).Msg("verifying the audit chain")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// trusted says why the store of record cannot be trusted for a write, or
// nil: the last full verification failed, or the incremental check from the
// last verified record fails. A store that cannot be reached is not this
// function's business: the write fails when it tries to record its intent.
func (s *Service) trusted(ctx context.Context, call Call) *Failure {
	if s.verified != nil {
		select {
		case <-s.verified:
		case <-ctx.Done():
			return &Failure{Kind: FailStore, Err: ctx.Err(), Message: call.Tool + " was not done: the audit chain was still being verified when the call ended. Nothing was changed; call again."}
		}
	}
	s.chainMu.Lock()
	err := s.chainErr
	s.chainMu.Unlock()
	if err == nil {
		if st, serr := s.store.get(ctx); serr == nil {
			err = st.Verify(ctx)
		}
	}
	if chainBroken(err) {
		return storeFailure(call, "write", err)
	}
	return nil
}

// verifiedChan is the channel writes wait on for the first verification,
// or nil when they do not wait.
func verifiedChan(wait bool) chan struct{} {
	if !wait {
		return nil
	}
	return make(chan struct{})
}
