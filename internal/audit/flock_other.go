//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package audit

import (
	"errors"
	"os"
)

// oNoFollow is not available here; lockSupported fails first anyway.
const oNoFollow = 0

// errNoLocking is returned on platforms without flock(2), so that a caller
// requiring the audit log fails closed.
var errNoLocking = errors.New("audit log locking is not supported on this platform")

func lockSupported() error { return errNoLocking }

func tryLock(*os.File, bool) (bool, error) { return false, errNoLocking }

func unlock(*os.File) error { return errNoLocking }
