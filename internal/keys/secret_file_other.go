//go:build !unix

package keys

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"
)

// openPrivateDir checks the directory with Lstat where openat is not
// available: it must not be a symlink nor accessible by group or others.
func openPrivateDir(dir string) (*os.File, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, fmt.Errorf("secrets.dir: %w", err)
	}
	if problem := fileperm.DirProblem("secrets.dir "+dir, fi, fileperm.NoAccess); problem != "" {
		return nil, errors.New(problem)
	}
	return os.Open(dir)
}

// createPrivateFile creates name in the directory d, exclusively, 0600.
func createPrivateFile(d *os.File, name string) (*os.File, error) {
	return os.OpenFile(filepath.Join(d.Name(), name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
}

// removeAt removes name from the directory d.
func removeAt(d *os.File, name string) { _ = os.Remove(filepath.Join(d.Name(), name)) }
