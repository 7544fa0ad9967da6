//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package callers

import "errors"

// oNoFollow is not available here.
const oNoFollow = 0

// lockFile fails: without flock(2) two editors could lose each other's
// changes (a lost removal would keep a revoked token valid).
func lockFile(string) (func(), error) {
	return nil, errors.New("editing the callers file is not supported on this platform (no file locks)")
}
