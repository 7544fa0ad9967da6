//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package callers

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// oNoFollow makes open(2) fail on a symlink.
const oNoFollow = syscall.O_NOFOLLOW

// lockFile takes an exclusive flock(2) on path+".lock" (made 0600 if
// missing), waiting for another editor to finish. The returned func
// releases it.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE|oNoFollow, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock the callers file: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock the callers file: %w", err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		_ = f.Close()
	}, nil
}
