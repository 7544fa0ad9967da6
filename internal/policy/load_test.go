package policy

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// writePolicy replaces path atomically (a new inode) with data and mode.
func writePolicy(t *testing.T, path, data string, mode fs.FileMode) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := "tags: {allow: [proj-*]}\n"
	path := func(name string) string { return filepath.Join(dir, name) }

	writePolicy(t, path("ok600.yaml"), good, 0o600)
	writePolicy(t, path("ok644.yaml"), good, 0o644)
	writePolicy(t, path("group.yaml"), good, 0o664)
	writePolicy(t, path("other.yaml"), good, 0o602)
	writePolicy(t, path("bad.yaml"), "tags: {alow: []}\n", 0o600)
	if err := os.Symlink(path("ok600.yaml"), path("link.yaml")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path("dir.yaml"), 0o700); err != nil {
		t.Fatal(err)
	}
	big, err := os.Create(path("big.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := big.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	big.Close()

	tests := []struct {
		name string
		want string // "" means success
	}{
		{"ok600.yaml", ""},
		{"ok644.yaml", ""},
		{"group.yaml", path("group.yaml") + ": is writable by group/others (mode 0664), so someone other than its owner could change the policy; chmod go-w " + path("group.yaml")},
		{"other.yaml", path("other.yaml") + ": is writable by group/others (mode 0602), so someone other than its owner could change the policy; chmod go-w " + path("other.yaml")},
		{"link.yaml", path("link.yaml") + ": is a symlink: point MCP_KEYS_POLICY at the real file"},
		{"dir.yaml", path("dir.yaml") + ": is a directory, not a policy file"},
		{"big.yaml", path("big.yaml") + ": is larger than 1048576 bytes (1 MiB); a policy is much smaller"},
		{"bad.yaml", path("bad.yaml") + `:1:8: unknown field "alow" in tags (did you mean "allow"?)`},
		{"missing.yaml", path("missing.yaml") + ": cannot read the policy file: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Load(path(tt.name))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if p.Source != path(tt.name) || len(p.Tags.Allow) != 1 {
					t.Errorf("Load = %+v", p)
				}
				return
			}
			if err == nil || err.Error() != tt.want {
				t.Fatalf("Load error\n got %v\nwant %s", err, tt.want)
			}
			var le *LoadError
			if !errors.As(err, &le) || le.File != path(tt.name) {
				t.Errorf("not a *LoadError for the file: %#v", err)
			}
		})
	}
	if _, err := Load(path("missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: errors.Is(err, fs.ErrNotExist) = false for %v", err)
	}
}

func TestLoadFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fifo.yaml")
	if err := mkfifo(path); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	_, err := Load(path)
	if err == nil || !strings.HasPrefix(err.Error(), path+": is not a regular file (mode p") {
		t.Errorf("Load(fifo) = %v", err)
	}
}

func TestStatic(t *testing.T) {
	p := mustParse(t, "tags: {allow: [a]}\n")
	if Static(p).Current() != p {
		t.Error("Static(p).Current() != p")
	}
	if d := Static(nil).Current(); d == nil || !d.DeniesAllWrites() {
		t.Errorf("Static(nil).Current() = %+v, want a deny-all policy", d)
	}
}

// recorder collects the errors a FileSource reports.
type recorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *recorder) add(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}

func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return ""
	}
	return r.errs[len(r.errs)-1].Error()
}

func TestFileSource(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "policy.yaml")

	if _, err := NewFileSource(path, nil); err == nil {
		t.Fatal("NewFileSource of a missing file succeeded")
	}
	writePolicy(t, path, "tags: {allow: [one]}\n", 0o600)
	var rec recorder
	s, err := NewFileSource(path, rec.add)
	if err != nil {
		t.Fatal(err)
	}
	allowed := func(tag string) bool { ok, _ := s.Current().CheckTag(tag); return ok }

	first := s.Current()
	if !allowed("one") || s.Current() != first {
		t.Fatal("initial policy not in force, or not reused while unchanged")
	}

	// An edit is picked up without a restart.
	writePolicy(t, path, "tags: {allow: [two]}\n", 0o600)
	if !allowed("two") || allowed("one") {
		t.Fatalf("edit not picked up: %+v", s.Current().Tags)
	}

	// An invalid edit keeps the last good policy and is reported once.
	writePolicy(t, path, "tags: {alow: [three]}\n", 0o600)
	for range 5 {
		if !allowed("two") {
			t.Fatal("last good policy not kept")
		}
	}
	if rec.count() != 1 {
		t.Fatalf("onError called %d times for one bad version, want 1", rec.count())
	}
	want := "policy " + path + ": keeping the last good policy: " + path + `:1:8: unknown field "alow" in tags (did you mean "allow"?)`
	if rec.last() != want {
		t.Errorf("reported\n got %s\nwant %s", rec.last(), want)
	}
	var le *LoadError
	if !errors.As(rec.errs[0], &le) {
		t.Error("reported error does not wrap a *LoadError")
	}

	// Another bad version is reported again.
	writePolicy(t, path, "tags: {allow: [three]}\n", 0o666)
	if !allowed("two") || allowed("three") {
		t.Fatal("group-writable file was loaded")
	}
	if rec.count() != 2 || !strings.Contains(rec.last(), "is writable by group/others") {
		t.Fatalf("count=%d last=%s", rec.count(), rec.last())
	}

	// Fixing it loads the new version.
	writePolicy(t, path, "tags: {allow: [four]}\n", 0o600)
	if !allowed("four") || allowed("two") {
		t.Fatal("fixed file not loaded")
	}

	// A deleted file keeps the last good policy, reported once.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if !allowed("four") {
			t.Fatal("last good policy not kept after delete")
		}
	}
	if rec.count() != 3 || !strings.Contains(rec.last(), "no such file or directory") {
		t.Fatalf("count=%d last=%s", rec.count(), rec.last())
	}

	// A symlink put in its place is refused.
	real := filepath.Join(dir, "real.yaml")
	writePolicy(t, real, "tags: {allow: ['*']}\n", 0o600)
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	if allowed("anything") {
		t.Fatal("policy followed a symlink")
	}
	if rec.count() != 4 || !strings.Contains(rec.last(), "is a symlink") {
		t.Fatalf("count=%d last=%s", rec.count(), rec.last())
	}

	// A changed mode alone is noticed.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	writePolicy(t, path, "tags: {allow: [five]}\n", 0o600)
	if !allowed("five") {
		t.Fatal("new file not loaded")
	}
	if err := os.Chmod(path, 0o620); err != nil {
		t.Fatal(err)
	}
	if !allowed("five") || rec.count() != 5 {
		t.Fatalf("chmod g+w: count=%d last=%s", rec.count(), rec.last())
	}
}

func TestFileSourceConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	writePolicy(t, path, "tags: {allow: [v0]}\n", 0o600)
	var rec recorder
	s, err := NewFileSource(path, rec.add)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 300 {
				p := s.Current()
				if p == nil || len(p.Tags.Allow) != 1 {
					t.Error("Current returned an incomplete policy")
					return
				}
			}
		})
	}
	for _, v := range []string{"v1", "v22", "v333", "v4444"} {
		writePolicy(t, path, "tags: {allow: ["+v+"]}\n", 0o600)
	}
	wg.Wait()
	if ok, _ := s.Current().CheckTag("v4444"); !ok {
		t.Errorf("final version not in force: %+v", s.Current().Tags)
	}
	if rec.count() != 0 {
		t.Errorf("unexpected errors: %s", rec.last())
	}
}
