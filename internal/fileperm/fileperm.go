// Package fileperm checks that a file or directory holding something of
// the operator's — a key, a token file, the audit log, the callers file —
// is what it should be: not a symlink, of the right type, and closed to
// group and others as far as its contents require. Every package that
// opens such a file asks it, so the rule and its message are written once.
package fileperm

import (
	"fmt"
	"io/fs"
)

// Closed says which permission bits group and others must not have.
type Closed fs.FileMode

const (
	// NoWrite: group and others may read, not write (the audit log, whose
	// records hold no secret).
	NoWrite Closed = 0o022
	// NoAccess: group and others may neither read nor write (a key, a
	// token, the callers file).
	NoAccess Closed = 0o077
)

// Problem says what is wrong with a file for these rules, or "": it is a
// symlink (fi must come from Lstat to see that), not a regular file, or
// open to group or others beyond closed. what names the file in the
// message ("the callers file /etc/mcp-keys/callers").
func Problem(what string, fi fs.FileInfo, closed Closed) string {
	mode := fi.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return what + " is a symlink; give the real path"
	case !mode.IsRegular():
		return fmt.Sprintf("%s is not a regular file (mode %s)", what, mode)
	}
	return openTo(what, mode, closed, "600")
}

// DirProblem is Problem for a directory.
func DirProblem(what string, fi fs.FileInfo, closed Closed) string {
	mode := fi.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return what + " is a symlink; give the real path"
	case !mode.IsDir():
		return what + " is not a directory"
	}
	return openTo(what, mode, closed, "700")
}

// openTo says how a mode is too open, or "". private is the mode to chmod
// to when nothing may be open to group and others.
func openTo(what string, mode fs.FileMode, closed Closed, private string) string {
	perm := mode.Perm()
	if perm&fs.FileMode(closed) == 0 {
		return ""
	}
	fix, verb := "chmod go-w", "writable"
	if closed == NoAccess {
		fix = "chmod " + private
		if perm&0o022 == 0 {
			verb = "readable"
		}
	}
	return fmt.Sprintf("%s is %s by group or others (mode %04o); %s it", what, verb, perm, fix)
}
