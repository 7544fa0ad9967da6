package audit

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"
)

// confKeyBytes is the size of the confirmation key.
const confKeyBytes = 32

// loadConfirmationKey reads the confirmation key file at path, making it
// on first use: 32 random bytes, hex, in a file of mode 0600 written in
// full under a temporary name and then linked into place, so that two
// processes starting together agree on one key and none reads a partial
// file. A key file readable by group or others is refused.
func loadConfirmationKey(path string) ([]byte, error) {
	key, err := readConfirmationKey(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	fresh := make([]byte, confKeyBytes)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("make the confirmation key: %w", err)
	}
	dir, base := filepath.Split(path)
	tmp, err := os.CreateTemp(dir, base+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("make the confirmation key: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	_, err = tmp.WriteString(hex.EncodeToString(fresh) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("make the confirmation key: %w", err)
	}
	if err := os.Link(name, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("make the confirmation key: %w", err)
	}
	return readConfirmationKey(path) // ours, or the one another process linked first
}

// readConfirmationKey reads an existing confirmation key file.
func readConfirmationKey(path string) ([]byte, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("the confirmation key: %w", err)
	}
	if problem := fileperm.Problem("the confirmation key "+path, fi, fileperm.NoAccess); problem != "" {
		return nil, errors.New(problem)
	}
	data, err := io.ReadAll(io.LimitReader(f, 4*confKeyBytes))
	if err != nil {
		return nil, fmt.Errorf("read the confirmation key: %w", err)
	}
	key, err := hex.DecodeString(string(bytes.TrimSpace(data)))
	if err != nil || len(key) != confKeyBytes {
		return nil, fmt.Errorf("the confirmation key %s is not %d bytes in hex", path, confKeyBytes)
	}
	return key, nil
}
