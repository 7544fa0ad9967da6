package callers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ErrNotFound is returned by Remove for a name the file does not list.
var ErrNotFound = errors.New("no such caller")

// Add makes a caller: a fresh token with the given scopes, whose SHA-256 is
// appended to the callers file at path (created 0600 if missing). It
// returns the token, which is stored nowhere: the CLI prints it once. A
// name already in the file is an error.
func Add(path, name string, scopes []string) (string, error) {
	if err := ValidName(name); err != nil {
		return "", err
	}
	if len(scopes) == 0 {
		return "", fmt.Errorf("caller %q needs at least one scope", name)
	}
	clean, err := ParseScopes(strings.Join(scopes, ","))
	if err != nil {
		return "", fmt.Errorf("caller %q: %w", name, err)
	}
	var token string
	err = edit(path, true, func(entries []Entry) ([]Entry, error) {
		for _, e := range entries {
			if e.Name == name {
				return nil, fmt.Errorf("caller %q already exists; remove it first to give it a new token", name)
			}
		}
		t, err := newToken()
		if err != nil {
			return nil, err
		}
		token = t
		return append(entries, Entry{Name: name, Hash: hashToken(t), Scopes: clean}), nil
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// List returns the callers in the file at path, in file order.
func List(path string) ([]Entry, error) {
	entries, _, err := read(path)
	if errors.Is(err, errNotExist) {
		return nil, nil
	}
	return entries, err
}

// Remove deletes the caller name from the file at path; its token is
// refused from the next request on (a Store re-reads the changed file).
func Remove(path, name string) error {
	return edit(path, false, func(entries []Entry) ([]Entry, error) {
		i := slices.IndexFunc(entries, func(e Entry) bool { return e.Name == name })
		if i < 0 {
			return nil, fmt.Errorf("caller %q: %w", name, ErrNotFound)
		}
		return slices.Delete(entries, i, i+1), nil
	})
}

// edit applies change to the file's entries under the lock and replaces
// the file atomically (a temporary file in the same directory, renamed
// over it), so that a reader sees the old or the new file, never half of
// one. create allows a missing file.
func edit(path string, create bool, change func([]Entry) ([]Entry, error)) error {
	unlock, err := lockFile(path)
	if err != nil {
		return err
	}
	defer unlock()
	entries, _, err := read(path)
	switch {
	case errors.Is(err, errNotExist) && create:
	case errors.Is(err, errNotExist):
		return fmt.Errorf("callers file %s does not exist", path)
	case err != nil:
		return err
	}
	entries, err = change(entries)
	if err != nil {
		return err
	}
	return writeAtomic(path, format(entries))
}

// writeAtomic writes data to a new 0600 file next to path, syncs it and
// renames it over path, then syncs the directory.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write the callers file: %w", err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(0o600); err != nil {
		return fmt.Errorf("write the callers file: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("write the callers file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write the callers file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the callers file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("write the callers file: %w", err)
	}
	done = true
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
