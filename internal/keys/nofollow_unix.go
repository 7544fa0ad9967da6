//go:build unix

package keys

import "syscall"

// oNoFollow makes opening a key file fail if its last element is a symlink.
const oNoFollow = syscall.O_NOFOLLOW
