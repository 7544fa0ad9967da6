// Package policy is the local policy that decides what an agent may do with
// keys: its file format, loading and validation (Parse, Load, FileSource,
// FromAllowedTags, Default), and pure evaluation shared by every write path,
// the dry run and the CLI: EvaluateCreate (one tag or several, read or write
// permission, expiry or lease, limits, name, quotas), EvaluateRevoke and
// EvaluateRotate (both of those, decided before anything is called). Each
// returns a Decision that names every rule with its outcome and a one-line
// reason, and the Effective request that would be sent.
//
// In HTTP mode each remote caller gets its own policy from ForCaller: the
// first callers rule that matches narrows the top level (stricter limits,
// both sets of tag patterns, its own quota, revoke scope own or team); a
// caller that no rule matches can do nothing. Stdio ignores the callers
// section.
//
// Default deny. Deny beats allow. Full Access is refused by code: no setting
// enables it. Evaluation does no I/O and is safe for concurrent use.
package policy
