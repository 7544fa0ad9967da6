//go:build !unix

package keys

// oNoFollow is not available here; O_EXCL still refuses an existing path,
// including a symlink.
const oNoFollow = 0
