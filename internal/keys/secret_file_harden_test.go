//go:build unix

package keys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/client"
)

// TestSecretDirPathsCannotBeRedirected covers the review's finding that a
// secrets.dir with a trailing "/" passed the symlink check (Lstat("link/")
// follows the link) and that parent directories were not checked.
func TestSecretDirPathsCannotBeRedirected(t *testing.T) {
	const secret = client.Secret("sm_org_abcdefghijklmnopqrstuvwxyz012345")
	tests := []struct {
		name  string
		setup func(t *testing.T) (dir, victim string)
		want  string
	}{
		{"trailing slash on a symlink", func(t *testing.T) (string, string) {
			real := filepath.Join(t.TempDir(), "real")
			mustMkdir(t, real, 0o700)
			link := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			return link + "/", real
		}, "symlink"},
		{"symlink as a parent", func(t *testing.T) (string, string) {
			real := filepath.Join(t.TempDir(), "real")
			mustMkdir(t, filepath.Join(real, "keys"), 0o700)
			link := filepath.Join(t.TempDir(), "link")
			if err := os.Symlink(real, link); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(link, "keys"), filepath.Join(real, "keys")
		}, "symlink"},
		{"parent writable by others", func(t *testing.T) (string, string) {
			open := filepath.Join(t.TempDir(), "open")
			mustMkdir(t, open, 0o700)
			if err := os.Chmod(open, 0o777); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(open, "keys")
			mustMkdir(t, dir, 0o700)
			return dir, dir
		}, "writable by group or others"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, victim := tc.setup(t)
			_, err := writeSecretFile(dir, "key_1", secret)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
			if strings.Contains(err.Error(), secret.Reveal()) {
				t.Fatal("the error holds the secret")
			}
			if _, err := os.Stat(filepath.Join(victim, "key_1.env")); !os.IsNotExist(err) {
				t.Errorf("a key file was written through the redirected path")
			}
		})
	}
}

func mustMkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
}

// TestMaskedPrefixIsShort covers the review's finding that the masked
// prefix showed the key up to its last "_", most of the secret when "_"
// occurs in the random part.
func TestMaskedPrefixIsShort(t *testing.T) {
	tests := []struct{ key, want string }{
		{"sm_org1_abcdefghijklmnopqrstuvwxyz", "sm_org1_abcd…"},
		{"sm_org1_abc_defghijklmnop_qrstuvwxyz_0123", "sm_org1_abc_…"},
		{"sm_org_sandbox_Zx9aaaaaaaaaaaaaaaaaa", "sm_org_sand…"},
		{"sm_noUnderscoreAtAll1234567890", "sm_noUn…"},
	}
	for _, tc := range tests {
		got := maskedPrefix(client.Secret(tc.key))
		if got != tc.want {
			t.Errorf("maskedPrefix(%q) = %q, want %q", tc.key, got, tc.want)
		}
		shown := strings.TrimSuffix(got, "…")
		if i := strings.IndexByte(tc.key[3:], '_'); i >= 0 && len(shown) > 3+i+1+4 {
			t.Errorf("maskedPrefix(%q) = %q shows more than 4 characters after the organisation", tc.key, got)
		}
	}
}
