package audit

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenFileCreatesPrivateFiles(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "a", "b", "audit.jsonl")
	c := newClock()
	s := openStore(t, path, nil, c)
	if s.Path() != path {
		t.Errorf("Path = %q, want %q", s.Path(), path)
	}
	for _, c := range []struct {
		p    string
		mode os.FileMode
	}{{filepath.Join(base, "a"), 0o700}, {filepath.Dir(path), 0o700}, {path, 0o600}} {
		fi, err := os.Stat(c.p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.mode {
			t.Errorf("%s: mode %04o, want %04o", c.p, fi.Mode().Perm(), c.mode)
		}
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("new log has %d bytes", fi.Size())
	}
	// Opening again is fine and keeps the content.
	storeAppend(t, s, createIntent("proj-a"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	r := openStore(t, path, nil, c)
	if n, err := r.VerifyAll(context.Background()); n != 1 || err != nil {
		t.Fatalf("VerifyAll after reopening = %d, %v", n, err)
	}
}

func TestOpenFileRefusesUnsafeFiles(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to open
		want  string
	}{
		{"empty path", func(*testing.T, string) string { return "" }, "empty path"},
		{"symlinked file", func(t *testing.T, dir string) string {
			target := filepath.Join(dir, "real.jsonl")
			writeFile(t, target, nil)
			link := filepath.Join(dir, "audit.jsonl")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "symlink"},
		{"dangling symlink", func(t *testing.T, dir string) string {
			link := filepath.Join(dir, "audit.jsonl")
			if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "symlink"},
		{"group-writable file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "audit.jsonl")
			writeFile(t, p, nil)
			if err := os.Chmod(p, 0o620); err != nil {
				t.Fatal(err)
			}
			return p
		}, "writable by group or others"},
		{"world-writable file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "audit.jsonl")
			writeFile(t, p, nil)
			if err := os.Chmod(p, 0o602); err != nil {
				t.Fatal(err)
			}
			return p
		}, "writable by group or others"},
		{"group-writable directory", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "shared")
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(d, 0o770); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(d, "audit.jsonl")
		}, "directory"},
		{"a directory, not a file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "audit.jsonl")
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a regular file"},
		{"parent is a file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "file")
			writeFile(t, p, nil)
			return filepath.Join(p, "audit.jsonl")
		}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t, t.TempDir())
			s, err := OpenFile(path, FileOptions{})
			if err == nil {
				_ = s.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("OpenFile(%q) = %v; want an error with %q", path, err, tt.want)
			}
		})
	}
}

// TestFileStoreLockAndReplacedFile: a lock held by another process makes
// an operation wait until its context ends; a log replaced by a symlink
// after OpenFile is refused.
func TestFileStoreLockAndReplacedFile(t *testing.T) {
	s, _ := newStore(t, nil)
	f, err := openWrite(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := lockFile(context.Background(), f, true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Append(ctx, createIntent("proj-a")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Append while locked: %v", err)
	}
	if _, err := s.Minted(ctx, []string{"key_1"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Minted while locked: %v", err)
	}
	_ = f.Close()
	if err := os.Remove(s.Path()); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(filepath.Dir(s.Path()), "elsewhere"), s.Path()); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(context.Background(), createIntent("proj-a")); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("Append through a symlink: %v", err)
	}
	if _, err := s.Minted(context.Background(), []string{"key_1"}); err == nil {
		t.Fatal("Minted through a symlink")
	}
}
