// Package audit is mcp-keys' append-only, tamper-evident audit log: every
// decision (create, revoke, check; allowed, denied or failed) explained and
// recorded as one JSON line.
//
// # Format
//
// The log is a file of JSON Lines. Line n (1-based) is the canonical
// encoding of one [Record] with Seq n, followed by "\n". Each line's Prev
// field is the hex SHA-256 of the exact bytes of the previous line (without
// its "\n"), and "" on the first line, so changing, inserting, removing or
// reordering any line except the last breaks the chain at a line that
// [Verify] names. Like every hash chain without an external anchor, the log
// cannot detect that its final lines were cut off or that the last line was
// rewritten; the tamper evidence covers all lines before the last.
//
// A record never holds a secret. Before a record is encoded, every piece of
// any of its strings (name, tag, reason, rules, client, ...) that looks like
// a Supermemory API key is replaced by "[REDACTED]" and Reason notes that
// key-shaped text was redacted; the record is still written, so a decision
// is never lost because an argument was key-shaped. Neither the line nor any
// error holds the matched text. Records hold argument values only where they
// are policy facts (tag, expiry, limits) plus the key's name.
//
// # Writing
//
// [Log.Append] and [Log.Reserve] open the file (O_APPEND, mode 0600, never
// through a symlink), take an exclusive advisory lock (flock(2)), read the
// last line to learn the next Seq and Prev, write the whole line with one
// write(2), fsync, and unlock. The lock is not held between appends, so
// several mcp-keys processes (one per agent window) can share one file.
// [Log.Reserve] additionally reads the records of the last 24 hours and
// appends only when a check passes, all under the same lock; quotas built on
// it hold across processes and restarts.
//
// A last line without its "\n" (a crash mid-write) is treated as corruption:
// appends are refused with [ErrCorrupt], naming the file and line, until an
// operator removes the incomplete line (the chain before it stays valid).
// Writing a "\n" to repair it automatically would chain a damaged line into
// the log, and skipping it silently would hide a lost decision, so the log
// fails closed instead.
//
// Platforms without flock(2) are not supported: [Open] fails there, so a
// caller that requires the audit log fails closed.
package audit
