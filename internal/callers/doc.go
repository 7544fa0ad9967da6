// Package callers is the static caller tokens file of remote mode
// (MCP_KEYS_CALLERS_FILE): one caller per line, `NAME sha256:HEX SCOPES`,
// where HEX is the SHA-256 of the caller's bearer token and SCOPES is a
// comma-separated list of keys:read and keys:write.
//
// The file holds no token, only hashes. It must be a regular file that only
// its owner can read or write (0600) and not a symlink; anything else is
// refused. [Add] makes a token (printed once by the CLI), [List] and
// [Remove] edit the file under a lock, and a [Store] answers lookups,
// re-reading the file when it changes so that a removed caller is refused
// without a restart.
package callers
