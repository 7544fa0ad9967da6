// Package policy is the local policy that decides what an agent may do with
// keys: its file format, loading and validation, and Evaluate, one pure
// function that every write path, the dry run and the CLI share.
//
// Default deny. Deny beats allow. Full Access is refused by code: no setting
// enables it. Evaluation does no I/O and is safe for concurrent use.
package policy
