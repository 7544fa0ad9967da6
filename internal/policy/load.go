package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync"
	"sync/atomic"
)

// Load reads and parses the policy file at path. Before reading it refuses a
// symlink (so the policy cannot be redirected through a link), anything but a
// regular file, a file that group or others can write, and a file larger than
// MaxFileSize. Errors are *LoadError (or several joined, see Parse).
func Load(path string) (*Policy, error) {
	p, _, err := load(path)
	return p, err
}

// load is Load that also returns the identity of the file it read.
func load(path string) (*Policy, fileID, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, fileID{}, readError(path, err)
	}
	if err := checkFileInfo(path, fi); err != nil {
		return nil, fileID{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fileID{}, readError(path, err)
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil {
		return nil, fileID{}, readError(path, err)
	}
	if !os.SameFile(fi, ofi) {
		return nil, fileID{}, &LoadError{File: path, Msg: "was replaced while being opened; try again"}
	}
	if err := checkFileInfo(path, ofi); err != nil {
		return nil, fileID{}, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fileID{}, readError(path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fileID{}, tooLarge(path)
	}
	p, err := Parse(path, data)
	if err != nil {
		return nil, fileID{}, err
	}
	return p, idOf(ofi), nil
}

// checkFileInfo applies the file checks of Load to an Lstat or Stat result.
func checkFileInfo(path string, fi fs.FileInfo) error {
	mode := fi.Mode()
	switch {
	case mode&fs.ModeSymlink != 0:
		return &LoadError{File: path, Msg: "is a symlink: point MCP_KEYS_POLICY at the real file"}
	case mode.IsDir():
		return &LoadError{File: path, Msg: "is a directory, not a policy file"}
	case !mode.IsRegular():
		return &LoadError{File: path, Msg: fmt.Sprintf("is not a regular file (mode %s)", mode)}
	case mode.Perm()&0o022 != 0:
		return &LoadError{File: path, Msg: fmt.Sprintf(
			"is writable by group/others (mode %04o), so someone other than its owner could change the policy; chmod go-w %s",
			mode.Perm(), path)}
	case fi.Size() > MaxFileSize:
		return tooLarge(path)
	}
	return nil
}

func tooLarge(path string) error {
	return &LoadError{File: path, Msg: fmt.Sprintf("is larger than %d bytes (1 MiB); a policy is much smaller", MaxFileSize)}
}

// readError wraps an I/O error; the message drops the path that the
// *fs.PathError repeats.
func readError(path string, err error) error {
	msg := err.Error()
	var pe *fs.PathError
	if errors.As(err, &pe) {
		msg = pe.Err.Error()
	}
	return &LoadError{File: path, Msg: "cannot read the policy file: " + msg, Err: err}
}

// Source gives the policy in force. The server asks for it on every call.
type Source interface {
	// Current returns the policy in force now; never nil.
	Current() *Policy
}

// Static returns a Source that always gives p (Default() when p is nil).
func Static(p *Policy) Source {
	if p == nil {
		p = Default()
	}
	return staticSource{p}
}

type staticSource struct{ p *Policy }

func (s staticSource) Current() *Policy { return s.p }

// FileSource is a Source that follows a policy file: each Current call makes
// one os.Lstat and, when the file's size, modification time, inode, change
// time or mode differ from the version in force, loads it again. A new
// version that fails to load is reported once to the error callback, and the
// last good policy stays in force. It is safe for concurrent use.
type FileSource struct {
	path    string
	onError func(error)

	cur atomic.Pointer[snapshot]

	mu  sync.Mutex // serialises reloads; guards bad
	bad version    // the last version reported as bad
}

// snapshot is a loaded policy and the identity of the file it came from.
type snapshot struct {
	p  *Policy
	id fileID
}

// version identifies what was seen at the path: a file, or a stat error.
type version struct {
	id  fileID
	err string
}

// NewFileSource loads the policy file at path; that first load must succeed.
// onError (which may be nil) is called, without locks held, once for each
// version of the file that fails to load later; it must not block for long.
func NewFileSource(path string, onError func(error)) (*FileSource, error) {
	p, id, err := load(path)
	if err != nil {
		return nil, err
	}
	if onError == nil {
		onError = func(error) {}
	}
	s := &FileSource{path: path, onError: onError}
	s.cur.Store(&snapshot{p: p, id: id})
	return s, nil
}

// Current returns the policy in force, reloading the file if it changed.
func (s *FileSource) Current() *Policy {
	snap := s.cur.Load()
	fi, statErr := os.Lstat(s.path)
	if statErr == nil && idOf(fi) == snap.id {
		return snap.p
	}
	p, err := s.reload(fi, statErr)
	if err != nil {
		s.onError(fmt.Errorf("policy %s: keeping the last good policy: %w", s.path, err))
	}
	return p
}

// reload loads a changed file under the lock. It returns the policy in force
// and an error to report, if this version has not been reported yet.
func (s *FileSource) reload(fi fs.FileInfo, statErr error) (*Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := s.cur.Load()
	var v version
	if statErr != nil {
		v.err = statErr.Error()
	} else {
		v.id = idOf(fi)
		if v.id == snap.id { // another caller reloaded it meanwhile
			return snap.p, nil
		}
	}
	if v == s.bad {
		return snap.p, nil
	}
	if statErr != nil {
		s.bad = v
		return snap.p, readError(s.path, statErr)
	}
	p, id, err := load(s.path)
	if err != nil {
		s.bad = v
		return snap.p, err
	}
	s.bad = version{}
	s.cur.Store(&snapshot{p: p, id: id})
	return p, nil
}
