// Package audit is mcp-keys' store of record: the append-only,
// tamper-evident audit chain — every decision (create, revoke, check;
// allowed, denied or failed) explained and recorded — with the quota
// counts, the provenance of minted keys, used confirmations and leases
// that the key workflow keeps. [Store] is its interface; [FileStore] is
// the implementation in a JSONL file (the embedded default), and the
// conformance suite in package storetest checks every implementation.
//
// # Format
//
// The log is a file of JSON Lines. Line n (1-based) is the canonical
// encoding of one [Record] with Seq n, followed by "\n". Each line's Prev
// field is the hex SHA-256 of the exact bytes of the previous line (without
// its "\n"), and "" on the first line, so changing, inserting, removing or
// reordering any line except the last breaks the chain at a line that
// verification names. Records may gain fields; a line without them reads
// as before, so old logs stay readable and verifiable.
//
// # Keyed chain
//
// With a chain key (MCP_KEYS_AUDIT_KEY_FILE, at least 32 bytes), every
// record also carries a MAC, its last field: the hex HMAC-SHA256 under the
// key of the record's line as it reads without the mac field. Prev still
// chains the lines by SHA-256, so each line is authenticated by its own MAC
// (the last one included) and its place by the chain: without the key, no
// line can be forged, changed, inserted, removed or reordered without
// verification failing at it. A keyed store accepts only keyed records: an
// unkeyed record in a keyed log (the log begun before the key was set, or a
// record forged without the key) fails, and so does a keyed log verified
// without the key. To key an existing deployment, move the old log aside
// with its .ckpt and .idx files (it still verifies without the key) and
// let a new one begin.
//
// # What verification cannot detect
//
// Without a chain key, anyone who can write the log can rewrite it and
// recompute every hash, and the checkpoint too: an unkeyed chain shows
// damage and careless edits, not a deliberate rewrite. A running store
// still notices when the last record it verified changes or the log is
// cut below it.
//
// With a chain key but no external anchor, records cut off the end of the
// log are detected only against the checkpoint (below), and someone who
// can write the directory can delete the checkpoint or put back an older
// copy. `mcp-keys audit verify` prints the last record's number and
// SHA-256; kept elsewhere, they anchor the log. [VerifyLimits] gives these
// two statements for operators.
//
// A record never holds a secret. Before a record is encoded, every piece of
// any of its strings (name, tag, reason, rules, client, ...) that looks like
// a Supermemory API key is replaced by "[REDACTED]" and Reason notes that
// key-shaped text was redacted; the record is still written, so a decision
// is never lost because an argument was key-shaped. Neither the line nor any
// error holds the matched text. Records hold argument values only where they
// are policy facts (tag, expiry, limits) plus the key's name.
//
// # The file store
//
// A [FileStore] keeps its log at PATH and, beside it, with mode 0600:
//
//   - PATH.ckpt, the checkpoint: the Seq, end offset and SHA-256 of the
//     last record made durable, with a MAC when keyed. It is rewritten in
//     place after every fsynced append. The log must always hold that
//     record, unchanged: a log that ends before it has lost its tail.
//   - PATH.idx, the index snapshot: the create intents of the last two days
//     (by caller, for quotas) and every minted key id with its provenance,
//     as of a verified record, authenticated under the key (or checksummed).
//     It is a cache: when it is missing, damaged, fails its MAC or does not
//     match the log, the index is rebuilt by verifying the whole log (about
//     14 s per million records on a small, busy machine), and a new
//     snapshot is written.
//   - PATH.state, the journal of used confirmation nonces (as SHA-256) and
//     leases: JSON lines, each an upsert or a removal, fsynced, rewritten
//     with its live entries when it has doubled. Leases are durable there
//     and survive restarts; a claim is a lease's owner and expiry. The
//     journal is protected by its mode, not by the chain.
//   - PATH.confirmation-key, the key that signs confirmation request
//     states: 32 random bytes in hex, made on first use and linked into
//     place whole, so every process sharing the log uses the same one.
//
// Every operation takes the log's flock(2) — exclusive to write, shared to
// read — so several processes (one mcp-keys per agent window) share the
// files safely. Under the lock an operation first verifies incrementally:
// the last record it verified must be unchanged, the records appended
// since (by any process) are verified and added to its in-memory index,
// and the log must hold the checkpoint's record. This costs a few system
// calls plus the new records, however long the log is, so quotas
// ([FileStore.Counts], [FileStore.Reserve]) and provenance
// ([FileStore.Minted]) cost the same with a million records as with ten.
// [FileStore.VerifyAll] re-reads the whole log. While verification fails,
// every write and every trusted read (counts, provenance) returns an error
// wrapping [ErrChainBroken] and the [*VerifyError] naming the record; once
// the log is repaired the store writes again (after a failed VerifyAll,
// once a VerifyAll passes).
//
// An append encodes the record after the verified head, writes the whole
// line with one write(2), fsyncs (except a check's record) and moves the
// checkpoint. A last line without its "\n" (a crash mid-write) fails
// verification, naming the line, until an operator removes it: writing a
// "\n" to repair it would chain a damaged line into the log, and skipping
// it silently would hide a lost decision.
//
// # Dry runs
//
// [FileStore.AppendCheck] writes a check's record without fsync, and folds
// identical decisions: the first of a run is written at once; identical
// ones by the same caller (same tool, decision, rules, reason, effective
// fields and client) within a minute of it are only counted, and written
// as one more record whose Count is their number and whose Ref is the
// first's Seq, after the minute — at the next write, from a timer, or at
// Close. Nothing written is ever rewritten, so the chain stays
// append-only; counted checks not yet written are lost if the process
// dies, which a dry run may be.
//
// # Reading a log file
//
// [Tail], [VerifyFile] and [VerifyFileKey] read a log file for the command
// line, under a shared lock. A log written before the file store (an
// unkeyed chain, without the files beside it) is read, verified and
// continued by an unkeyed FileStore like any other.
//
// Platforms without flock(2) are not supported: [OpenFile] fails there, so
// a caller that requires the audit log fails closed.
package audit
