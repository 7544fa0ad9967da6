package fileperm

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestProblem(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file("target", 0o600), link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		path   string
		closed Closed
		want   string // "" = no problem
	}{
		{"private file, private rule", file("a", 0o600), NoAccess, ""},
		{"readable file, private rule", file("b", 0o640), NoAccess, "readable by group or others (mode 0640); chmod 600 it"},
		{"writable file, private rule", file("c", 0o666), NoAccess, "writable by group or others"},
		{"readable file, no-write rule", file("d", 0o644), NoWrite, ""},
		{"group-writable file, no-write rule", file("e", 0o664), NoWrite, "writable by group or others (mode 0664)"},
		{"symlink", link, NoAccess, "is a symlink"},
		{"directory", dir, NoWrite, "not a regular file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fi, err := os.Lstat(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			got := Problem("the file "+tc.path, fi, tc.closed)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("Problem = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestDirProblem(t *testing.T) {
	for _, tc := range []struct {
		mode   os.FileMode
		closed Closed
		bad    bool
	}{{0o700, NoAccess, false}, {0o755, NoAccess, true}, {0o755, NoWrite, false}, {0o775, NoWrite, true}} {
		d := filepath.Join(t.TempDir(), "d")
		if err := os.Mkdir(d, tc.mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, tc.mode); err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Lstat(d)
		if got := DirProblem("dir", fi, tc.closed); (got != "") != tc.bad {
			t.Errorf("mode %o closed %o: %q", tc.mode, tc.closed, got)
		}
	}
}
