//go:build unix

package keys

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"
	"golang.org/x/sys/unix"
)

// openPrivateDir opens an absolute, clean directory path one component at a
// time with openat(O_DIRECTORY|O_NOFOLLOW), so that no component can be a
// symlink planted by another user or be swapped while it is walked. Every
// parent must not be writable by group or others unless it is sticky (as
// /tmp is); the directory itself must not be accessible by group or others.
func openPrivateDir(dir string) (*os.File, error) {
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("secrets.dir: open /: %w", err)
	}
	walked := ""
	parts := strings.Split(strings.TrimPrefix(dir, "/"), "/")
	for i, part := range parts {
		if part == "" {
			continue
		}
		if err := checkParent(fd, walked); err != nil {
			unix.Close(fd)
			return nil, err
		}
		walked += "/" + part
		next, err := unix.Openat(fd, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil && (errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR)) && i < len(parts)-1 && walked == "/"+part && trustedSymlink(fd, part) {
			next, err = unix.Openat(fd, part, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		}
		unix.Close(fd)
		if err != nil {
			if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
				return nil, fmt.Errorf("secrets.dir: %s is a symlink or not a directory; point secrets.dir at the real directory", walked)
			}
			return nil, fmt.Errorf("secrets.dir: open %s: %w", walked, err)
		}
		fd = next
	}
	d := os.NewFile(uintptr(fd), dir)
	fi, err := d.Stat()
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("secrets.dir: %w", err)
	}
	if problem := fileperm.DirProblem("secrets.dir "+dir, fi, fileperm.NoAccess); problem != "" {
		d.Close()
		return nil, errors.New(problem)
	}
	return d, nil
}

// checkParent refuses a parent directory that group or others can write to
// (they could swap what it holds), unless it is sticky.
func checkParent(fd int, name string) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("secrets.dir: %w", err)
	}
	if st.Mode&0o022 != 0 && st.Mode&unix.S_ISVTX == 0 {
		if name == "" {
			name = "/"
		}
		return fmt.Errorf("secrets.dir: the parent directory %s is writable by group or others (mode %o); secrets.dir must be inside directories only its owner can change", name, st.Mode&0o777)
	}
	return nil
}

// trustedSymlink reports whether name in the directory fd (the root
// directory: only top-level links are trusted) is a symlink that only root
// could have made (owned by root, in a root-owned directory that others
// cannot write): a system link such as macOS's /tmp.
func trustedSymlink(fd int, name string) bool {
	var parent, link unix.Stat_t
	if unix.Fstat(fd, &parent) != nil || unix.Fstatat(fd, name, &link, unix.AT_SYMLINK_NOFOLLOW) != nil {
		return false
	}
	return link.Mode&unix.S_IFMT == unix.S_IFLNK && link.Uid == 0 && parent.Uid == 0 && parent.Mode&0o022 == 0
}

// createPrivateFile creates name in the open directory d: exclusively,
// never through a symlink, mode 0600.
func createPrivateFile(d *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(d.Fd()), name, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ELOOP) {
			return nil, os.ErrExist
		}
		return nil, err
	}
	return os.NewFile(uintptr(fd), name), nil
}

// removeAt removes name from the open directory d.
func removeAt(d *os.File, name string) { _ = unix.Unlinkat(int(d.Fd()), name, 0) }
