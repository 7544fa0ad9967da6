package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// stateVersion is the version of the state file format.
const stateVersion = 1

// loadState reads the state file at path. found is false if it does not exist.
func loadState(path string) (st state, found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return state{}, false, nil
	}
	if err != nil {
		return state{}, false, fmt.Errorf("read state: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return state{}, false, fmt.Errorf("read state %s: %w", path, err)
	}
	if err := st.validate(); err != nil {
		return state{}, false, fmt.Errorf("read state %s: %w", path, err)
	}
	return st, true, nil
}

// validate checks a loaded state for the invariants the sandbox relies on,
// and gives keys from files older than the permission field write.
func (st *state) validate() error {
	if st.Version != stateVersion {
		return fmt.Errorf("unsupported version %d", st.Version)
	}
	if !validOrgID(st.OrgID) {
		return errors.New("invalid orgId")
	}
	ids := make(map[string]bool, len(st.Keys))
	hashes := make(map[string]bool, len(st.Keys))
	for i, k := range st.Keys {
		if k == nil || k.ID == "" || k.Hash == "" {
			return fmt.Errorf("key %d: missing id or hash", i)
		}
		if ids[k.ID] || hashes[k.Hash] {
			return fmt.Errorf("key %d: duplicate id or hash", i)
		}
		switch k.Permission {
		case "":
			k.Permission = permWrite
		case permRead, permWrite:
		default:
			return fmt.Errorf("key %d: permission is not \"read\" or \"write\"", i)
		}
		ids[k.ID], hashes[k.Hash] = true, true
	}
	op := st.findKey(st.OperatorKey)
	if op == nil || op.Hash != hashSecret(st.OperatorSecret) {
		return errors.New("operator key missing or does not match its secret")
	}
	tags := make(map[string]bool, len(st.Tags))
	for i, t := range st.Tags {
		if t == nil || checkTag(t.Tag) != nil || tags[t.Tag] {
			return fmt.Errorf("tag %d: invalid or duplicate", i)
		}
		tags[t.Tag] = true
	}
	return nil
}

func (st *state) findKey(id string) *keyRecord {
	for _, k := range st.Keys {
		if k.ID == id {
			return k
		}
	}
	return nil
}

// persistLocked writes the state file, if any. s.mu must be held (or s not
// yet shared). The write is atomic: a temporary file in the same directory,
// synced, then renamed over the old one; its mode is 0600.
func (s *Sandbox) persistLocked() error {
	if s.statePath == "" {
		return nil
	}
	data, err := json.MarshalIndent(&s.st, "", "  ")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(s.statePath)
	f, err := os.CreateTemp(dir, "."+filepath.Base(s.statePath)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	if err := os.Rename(tmp, s.statePath); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	ok = true
	s.dirty = false
	return nil
}

// commitLocked persists a change; if that fails it calls undo so memory and
// file stay in step. s.mu must be held.
func (s *Sandbox) commitLocked(undo func()) error {
	if err := s.persistLocked(); err != nil {
		undo()
		return err
	}
	return nil
}

// flush writes the state if only last-request times changed since the last
// write; those are not written on every request.
func (s *Sandbox) flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.dirty {
		return nil
	}
	return s.persistLocked()
}
