package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"
)

// The store's files (the log and its sidecars) are private: opened never
// through a symlink, refused when they are not regular files or others can
// write to them or to their directory.

// ensureDir creates dir (0700) when missing and refuses one that others
// can write to.
func ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
		fi, err = os.Stat(dir)
	}
	if err != nil {
		return fmt.Errorf("directory: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if problem := fileperm.DirProblem("directory "+dir, fi, fileperm.NoWrite); problem != "" {
		return errors.New(problem)
	}
	return nil
}

// checkFile refuses what is not a private regular file.
func checkFile(path string, fi fs.FileInfo) error {
	if problem := fileperm.Problem(path, fi, fileperm.NoWrite); problem != "" {
		return errors.New(problem)
	}
	return nil
}

// openFile opens path with flags, never through a symlink, and checks what
// it opened.
func openFile(path string, flags int) (*os.File, error) {
	if fi, err := os.Lstat(path); err == nil {
		if err := checkFile(path, fi); err != nil {
			return nil, err
		}
	}
	f, err := os.OpenFile(path, flags|oNoFollow, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err == nil {
		err = checkFile(path, fi)
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return f, nil
}

// openWrite opens the log for appending (creating it 0600). It is opened
// read-write, not write-only, so that the last line can be read under the
// same lock; O_APPEND still puts every write at the end.
func openWrite(path string) (*os.File, error) {
	return openFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE)
}

// openRead opens the log for reading.
func openRead(path string) (*os.File, error) { return openFile(path, os.O_RDONLY) }
