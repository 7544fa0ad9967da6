package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/mcp-keys/mcp-keys/internal/client"
)

// writeSecretFile writes a new key to <dir>/<id>.env as
// SUPERMEMORY_API_KEY=<key>, so that the secret never enters the model's
// context. The directory is created 0700 if missing. It is then opened
// component by component from the root without following a symlink (a
// symlink owned by root, such as macOS's /tmp, is trusted), every parent
// must not be writable by group or others unless it is sticky, and the
// directory itself must not be accessible by group or others. The file is
// created relative to the opened directory (openat), exclusively (never
// overwritten), without following a symlink, mode 0600, and synced: no
// path component can be swapped between the checks and the write. It
// returns the file's path.
func writeSecretFile(dir, id string, key client.Secret) (string, error) {
	if err := client.ValidKeyID(id); err != nil {
		return "", fmt.Errorf("the API returned a key id that cannot be a file name: %w", err)
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("secrets.dir %q is not an absolute path", dir)
	}
	dir = filepath.Clean(dir) // "link/" would make the kernel follow "link"
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return "", fmt.Errorf("create secrets.dir: %w", err)
		}
	}
	d, err := openPrivateDir(dir)
	if err != nil {
		return "", err
	}
	defer d.Close()
	name := id + ".env"
	path := filepath.Join(dir, name)
	f, err := createPrivateFile(d, name)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%s already exists (or is a symlink); it was not overwritten", path)
		}
		return "", fmt.Errorf("create key file %s: %w", path, err)
	}
	_, werr := f.WriteString("SUPERMEMORY_API_KEY=" + key.Reveal() + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		removeAt(d, name)
		return "", fmt.Errorf("write key file %s: %w", path, err)
	}
	return path, nil
}
