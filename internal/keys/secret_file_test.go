package keys

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/client"
)

func TestWriteSecretFile(t *testing.T) {
	const secret = client.Secret("sm_org_abcdefghijklmnopqrstuvwxyz012345")
	t.Run("writes 0600 in a 0700 dir", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "keys")
		path, err := writeSecretFile(dir, "key_1", secret)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(path)
		if string(b) != "SUPERMEMORY_API_KEY="+secret.Reveal()+"\n" {
			t.Error("unexpected file content")
		}
	})
	t.Run("never follows a planted symlink", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "keys")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(t.TempDir(), "stolen")
		if err := os.Symlink(target, filepath.Join(dir, "key_2.env")); err != nil {
			t.Fatal(err)
		}
		_, err := writeSecretFile(dir, "key_2", secret)
		if err == nil || strings.Contains(err.Error(), secret.Reveal()) {
			t.Fatalf("err = %v", err)
		}
		if _, err := os.Stat(target); !os.IsNotExist(err) {
			t.Error("the symlink's target was written")
		}
	})
	t.Run("never overwrites", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if _, err := writeSecretFile(dir, "key_3", secret); err != nil {
			t.Fatal(err)
		}
		if _, err := writeSecretFile(dir, "key_3", secret); err == nil {
			t.Error("second write succeeded")
		}
	})
	t.Run("refuses an open directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := writeSecretFile(dir, "key_4", secret); err == nil || !strings.Contains(err.Error(), "chmod 700") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("refuses a bad id and a relative dir", func(t *testing.T) {
		if _, err := writeSecretFile(t.TempDir(), "../x", secret); err == nil {
			t.Error("bad id accepted")
		}
		if _, err := writeSecretFile("rel/dir", "key_5", secret); err == nil {
			t.Error("relative dir accepted")
		}
	})
}
