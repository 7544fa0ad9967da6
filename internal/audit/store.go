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
// nothing. Counts and Minted are trusted reads and fail the same way;
// reads used for display (Leases, Tail) may still answer. After Close,
// every method returns an error.
type Store interface {
	// Append writes a record durably and returns it with Seq, Time, PID
	// and the chain fields filled in (whatever r held there). Key-shaped
	// text in any string is written as "[REDACTED]" and Reason says so; a
	// record with invalid fields is refused with ErrInvalid, one too large
	// with ErrTooLarge, and nothing is written.
	Append(ctx context.Context, r Record) (Record, error)
	// AppendCheck writes a dry-run (check) record; r.Event must be
	// EventCheck (ErrInvalid otherwise). It need not be durable before the
	// next Append, and identical check decisions by the same caller within
	// a minute may be folded into one record whose Count says how many it
	// stands for (0 means one). Once Close has returned, every check is
	// accounted for: over the records of one decision, the sum of
	// max(Count, 1) is the number of AppendCheck calls.
	AppendCheck(ctx context.Context, r Record) error
	// Reserve appends a create intent (durably) only when check, given the
	// create counts at the store's clock (globally and for r.Caller),
	// returns nil; the counting and the append are one atomic step across
	// processes and replicas, so a quota is never exceeded. check's error
	// is returned as is, and nothing is written; a nil check is an error.
	Reserve(ctx context.Context, r Record, check func(QuotaCounts) error) (Record, error)
	// Counts returns the create counts for quotas at now, globally and for
	// one caller (see [Counts] for what counts). It costs the same
	// however many records the store holds.
	Counts(ctx context.Context, caller string, now time.Time) (QuotaCounts, error)
	// Minted returns, for those of ids that were minted through mcp-keys
	// (a create_result with outcome created), who minted them and for
	// which tags: the result's Caller, Tags (or Tag alone) and Permission,
	// and where it leaves one empty, its intent's (Ref); At is the
	// result's Time. Ids not minted are absent. It costs the same however
	// many records the store holds.
	Minted(ctx context.Context, ids []string) (map[string]Mint, error)
	// UseConfirmation marks a confirmation nonce used, once across every
	// process sharing the store, durably: it returns false when the nonce
	// was used before. Nonces may be forgotten after expires. An empty
	// nonce is an error.
	UseConfirmation(ctx context.Context, nonce string, expires time.Time) (bool, error)
	// ConfirmationKey returns the secret (32 bytes) that signs confirmation
	// request states, the same for every process sharing the store; it is
	// made on first use.
	ConfirmationKey(ctx context.Context) ([]byte, error)

	// AddLease records a lease on a minted key, durably: mcp-keys revokes
	// the key at l.EndsAt. KeyID and EndsAt are required; adding a lease
	// on a key that has one replaces it. Strings are redacted like a
	// record's.
	AddLease(ctx context.Context, l Lease) error
	// Leases returns the open leases of those of ids that have one.
	Leases(ctx context.Context, ids []string) (map[string]Lease, error)
	// ClaimDueLeases claims up to limit open leases that have ended at now
	// and whose retry time (if any) has come, earliest end first, for
	// owner until claimUntil: no claimer (not even owner) gets them again
	// before then, in any process or replica. A claimed lease is finished
	// with FinishLease or, after a failed revoke, released with
	// RetryLease; one left claimed is due again after claimUntil. owner
	// must not be empty and claimUntil must be after now; limit 0 or less
	// claims nothing.
	ClaimDueLeases(ctx context.Context, owner string, now, claimUntil time.Time, limit int) ([]Lease, error)
	// FinishLease closes a lease for good (its key revoked, or already
	// gone). Finishing a lease that is not open does nothing.
	FinishLease(ctx context.Context, keyID string, outcome Outcome) error
	// RetryLease releases a claimed lease after a failed revoke, to be
	// claimed again at retryAt; attempts counts the failures so far and
	// lastError is redacted like a record's strings. Retrying a lease that
	// is not open does nothing.
	RetryLease(ctx context.Context, keyID string, retryAt time.Time, attempts int, lastError string) error

	// Verify checks the chain from the last verified record (a checkpoint
	// kept beside the records) to the head. It returns a *VerifyError
	// naming the record and the problem when a record fails verification,
	// a sequence number is missing, or the chain is shorter than the
	// checkpoint (a cut tail). The error wraps ErrChainBroken. Writes are
	// refused while it fails.
	Verify(ctx context.Context) error
	// VerifyAll checks the whole chain from its first record and returns
	// how many records it holds. Writes are refused after it fails until
	// it passes.
	VerifyAll(ctx context.Context) (int, error)
	// Tail returns the last n records, oldest first.
	Tail(ctx context.Context, n int) ([]Record, error)
	// Ping reports whether the store can be reached.
	Ping(ctx context.Context) error
	// Keyed reports whether the chain is keyed (HMAC-SHA256).
	Keyed() bool
	// Close writes what AppendCheck folded and not yet wrote, and releases
	// the store's resources. Calling it again does nothing.
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
