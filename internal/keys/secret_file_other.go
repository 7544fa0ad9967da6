//go:build !unix

package keys

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// openPrivateDir checks the directory with Lstat where openat is not
// available: it must not be a symlink nor accessible by group or others.
func openPrivateDir(dir string) (*os.File, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("secrets.dir: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, fmt.Errorf("secrets.dir %s is a symlink; point it at the real directory", dir)
	case !fi.IsDir():
		return nil, fmt.Errorf("secrets.dir %s is not a directory", dir)
	case fi.Mode().Perm()&0o077 != 0:
		return nil, fmt.Errorf("secrets.dir %s is accessible by group or others (mode %o); run chmod 700 on it", dir, fi.Mode().Perm())
	}
	return os.Open(dir)
}

// createPrivateFile creates name in the directory d, exclusively, 0600.
func createPrivateFile(d *os.File, name string) (*os.File, error) {
	return os.OpenFile(filepath.Join(d.Name(), name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// removeAt removes name from the directory d.
func removeAt(d *os.File, name string) { _ = os.Remove(filepath.Join(d.Name(), name)) }
