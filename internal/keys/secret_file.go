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
// context. The directory is created 0700 if missing and must not be a
// symlink or readable or writable by others; the file is created
// exclusively (never overwritten), without following a symlink, mode 0600,
// and synced. It returns the file's path.
func writeSecretFile(dir, id string, key client.Secret) (string, error) {
	if err := client.ValidKeyID(id); err != nil {
		return "", fmt.Errorf("the API returned a key id that cannot be a file name: %w", err)
	}
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("secrets.dir %q is not an absolute path", dir)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create secrets.dir: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return "", fmt.Errorf("secrets.dir: %w", err)
	}
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		return "", fmt.Errorf("secrets.dir %s is a symlink; point it at the real directory", dir)
	case !fi.IsDir():
		return "", fmt.Errorf("secrets.dir %s is not a directory", dir)
	case fi.Mode().Perm()&0o077 != 0:
		return "", fmt.Errorf("secrets.dir %s is accessible by group or others (mode %o); run chmod 700 on it", dir, fi.Mode().Perm())
	}
	path := filepath.Join(dir, id+".env")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%s already exists (or is a symlink); it was not overwritten", path)
		}
		return "", fmt.Errorf("create key file: %w", err)
	}
	_, werr := f.WriteString("SUPERMEMORY_API_KEY=" + key.Reveal() + "\n")
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(path)
		return "", fmt.Errorf("write key file %s: %w", path, err)
	}
	return path, nil
}
