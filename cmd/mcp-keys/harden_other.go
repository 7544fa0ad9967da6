//go:build !linux

package main

// hardenProcess does nothing outside Linux. On macOS the equivalent,
// ptrace(PT_DENY_ATTACH), has no safe entry point from Go (the standard
// library and golang.org/x/sys expose no ptrace on darwin, and a raw
// syscall there is unsupported), and it would not hide the environment
// anyway (`ps -E` shows it to the same user). Elsewhere the process stays
// readable by its own user; see the README's security model.
func hardenProcess() error { return nil }
