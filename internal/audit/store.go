package audit

import (
	"context"
	"time"
)

// Store is the store of record: everything the key workflow persists —
// audit records (a chain, keyed with HMAC-SHA256 when a chain key is set),
// quota counts, provenance of minted keys by caller, used confirmations and
// leases. Two implementations satisfy it: the JSONL file (the embedded
// default) and PostgreSQL (shared by replicas). Both pass one conformance
// suite.
//
// Every write method fails closed: when the chain cannot be verified (see
// Verify) or the store cannot be reached, it returns an error and writes
// nothing. Read methods used for display may still answer.
type Store interface {
	// Append writes a record durably and returns it with Seq, Time and the
	// chain fields filled in.
	Append(ctx context.Context, r Record) (Record, error)
	// AppendCheck writes a dry-run (check) record. It need not be durable
	// before the next Append, and an identical check decision by the same
	// caller within a minute of the previous one may be folded into it
	// (its Count raised) instead of written again.
	AppendCheck(ctx context.Context, r Record) error
	// Reserve appends a create intent only when check, given the create
	// counts at that moment (globally and for r.Caller), returns nil; the
	// counting and the append are one atomic step across processes and
	// replicas, so a quota is never exceeded. check's error is returned as
	// is.
	Reserve(ctx context.Context, r Record, check func(QuotaCounts) error) (Record, error)
	// Counts returns the create counts for quotas at now, globally and for
	// one caller. It costs the same however many records the store holds.
	Counts(ctx context.Context, caller string, now time.Time) (QuotaCounts, error)
	// Minted returns, for those of ids that were minted through mcp-keys
	// (a create_result with outcome created), who minted them and for
	// which tags. It costs the same however many records the store holds.
	Minted(ctx context.Context, ids []string) (map[string]Mint, error)
	// UseConfirmation marks a confirmation nonce used, once across every
	// process sharing the store: it returns false when the nonce was used
	// before. Nonces may be forgotten after expires.
	UseConfirmation(ctx context.Context, nonce string, expires time.Time) (bool, error)
	// ConfirmationKey returns the secret (32 bytes) that signs confirmation
	// request states, the same for every process sharing the store; it is
	// made on first use.
	ConfirmationKey(ctx context.Context) ([]byte, error)

	// AddLease records a lease on a minted key: mcp-keys revokes the key
	// at l.EndsAt.
	AddLease(ctx context.Context, l Lease) error
	// Leases returns the open leases of those of ids that have one.
	Leases(ctx context.Context, ids []string) (map[string]Lease, error)
	// ClaimDueLeases claims up to limit open leases that have ended at now
	// and whose retry time (if any) has come, for owner until claimUntil:
	// no other claimer gets them before then. A claimed lease is finished
	// with FinishLease or, after a failed revoke, released with RetryLease.
	ClaimDueLeases(ctx context.Context, owner string, now, claimUntil time.Time, limit int) ([]Lease, error)
	// FinishLease closes a lease for good (its key revoked, or already gone).
	FinishLease(ctx context.Context, keyID string, outcome Outcome) error
	// RetryLease releases a claimed lease after a failed revoke, to be
	// claimed again at retryAt; attempts counts the failures so far.
	RetryLease(ctx context.Context, keyID string, retryAt time.Time, attempts int, lastError string) error

	// Verify checks the chain from the last verified record (a checkpoint
	// kept beside the records) to the head. It returns a *VerifyError
	// naming the record and the problem when a record fails verification,
	// a sequence number is missing, or the chain is shorter than the
	// checkpoint (a cut tail). Writes are refused while it fails.
	Verify(ctx context.Context) error
	// VerifyAll checks the whole chain from its first record and returns
	// how many records it holds.
	VerifyAll(ctx context.Context) (int, error)
	// Tail returns the last n records, oldest first.
	Tail(ctx context.Context, n int) ([]Record, error)
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	// Keyed reports whether the chain is keyed (HMAC-SHA256).
	Keyed() bool
	// Close releases the store's resources.
	Close() error
}

// QuotaCounts are the create counts a quota decision needs.
type QuotaCounts struct {
	// Global counts every caller's creates.
	Global Counts
	// Caller counts the creates of the caller asked about.
	Caller Counts
}

// Mint is the provenance of a key minted through mcp-keys.
type Mint struct {
	// Caller is the Caller.ID that minted the key.
	Caller string
	// Tags are the tags the key was minted for.
	Tags []string
	// Permission is the permission it was minted with.
	Permission string
	// At is when the create result was recorded.
	At time.Time
}

// Lease is a key that mcp-keys revokes itself when EndsAt has passed.
type Lease struct {
	// KeyID is the leased key.
	KeyID string
	// Caller is the Caller.ID that holds the lease.
	Caller string
	// Tags are the key's tags, for the reaper's record.
	Tags []string
	// Name is the key's name, for the reaper's record.
	Name string
	// EndsAt is when the key must stop working.
	EndsAt time.Time
	// Attempts counts failed revokes; RetryAt is when to try again.
	Attempts int
	RetryAt  time.Time
	// LastError is the last failed revoke's error text (no secret).
	LastError string
}
