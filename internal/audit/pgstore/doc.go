// Package pgstore is the store of record in PostgreSQL (audit.Store),
// shared by every replica of mcp-keys that points at the same database.
//
// # Chain
//
// Each audit record is one row of mcp_keys_audit holding the canonical JSON
// line the file store would write (audit.EncodeAfter): its Prev is the
// SHA-256 of the line before and, with a chain key, its MAC is the
// HMAC-SHA256 of the line under the key. One row, mcp_keys_audit_head,
// holds the last record's seq and line hash: every append locks it (SELECT ... FOR
// UPDATE), so appends from any number of replicas queue and the chain never
// forks. Under that lock the append verifies the records after the
// checkpoint (mcp_keys_audit_checkpoint, the last record verified), inserts
// the record, updates the quota and provenance tables, and moves the head
// and the checkpoint, in one transaction. The records table refuses UPDATE,
// DELETE and TRUNCATE (a trigger), and the least-privilege role in role.sql
// may only INSERT and SELECT it.
//
// Verification is incremental: the checkpoint's record must still be there
// with the same chain value (else the chain was cut or rewritten), the
// records after it must follow without a gap and verify, and they must end
// exactly at the head. While it fails, every write (appends, confirmations,
// leases) is refused with the *audit.VerifyError naming the record, until
// an operator repairs the table. VerifyAll checks every record.
//
// # Quotas, provenance, confirmations, leases
//
// Allowed create intents are kept in mcp_keys_quota_intents, indexed by
// time (only rows not freed by a failed result), so that counting reads
// the last 24 hours only; Reserve counts and appends in the transaction
// that holds the head's lock, so replicas never over-mint. Minted keys are
// kept by key id. Used confirmation nonces have a primary key (a nonce is
// accepted once across replicas). Leases are claimed with FOR UPDATE SKIP
// LOCKED and a claim expiry.
//
// # Availability
//
// The schema is applied from embedded migrations at Open (and by Migrate)
// under an advisory lock. When the database cannot be reached every method
// returns an error (writes fail closed) and Ping fails; the connection pool
// reconnects by itself once it is back.
package pgstore
