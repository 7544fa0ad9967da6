package callers

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// newPath is a callers file path in a fresh directory (the file does not
// exist yet).
func newPath(t *testing.T) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "callers")
}

func TestAddLookup(t *testing.T) {
	path := newPath(t)
	tok, err := Add(path, "ci-bot", []string{keys.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	raw, ok := strings.CutPrefix(tok, TokenPrefix)
	if !ok {
		t.Fatalf("token lacks the %s prefix", TokenPrefix)
	}
	if b, err := base64.RawURLEncoding.DecodeString(raw); err != nil || len(b) != 32 {
		t.Fatalf("token body is not 32 bytes of base64url (%d bytes, %v)", len(b), err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("callers file mode %04o, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if strings.Contains(string(data), raw) {
		t.Fatal("the callers file contains the token")
	}
	if !strings.HasPrefix(string(data), "ci-bot sha256:") || !strings.HasSuffix(string(data), " keys:read\n") {
		t.Fatalf("unexpected file content %q", data)
	}

	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	c, ok, err := s.Lookup(tok)
	if err != nil || !ok {
		t.Fatalf("Lookup(new token) = %v, %v", ok, err)
	}
	want := keys.Caller{Kind: keys.CallerToken, TokenName: "ci-bot", Scopes: []string{keys.ScopeRead}}
	if c.Kind != want.Kind || c.TokenName != want.TokenName || !slices.Equal(c.Scopes, want.Scopes) {
		t.Fatalf("caller %+v, want %+v", c, want)
	}
	for _, bad := range []string{"", tok + "x", tok[:len(tok)-1], strings.TrimPrefix(tok, TokenPrefix), TokenPrefix + strings.Repeat("A", 43)} {
		if _, ok, err := s.Lookup(bad); ok || err != nil {
			t.Errorf("Lookup(variant) = %v, %v; want not found", ok, err)
		}
	}
}

func TestAddRefuses(t *testing.T) {
	path := newPath(t)
	if _, err := Add(path, "a", []string{keys.ScopeRead, keys.ScopeWrite}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		scopes []string
	}{
		{"a", []string{keys.ScopeRead}},                     // exists
		{"", []string{keys.ScopeRead}},                      // empty name
		{"has space", []string{keys.ScopeRead}},             // bad name
		{"-dash", []string{keys.ScopeRead}},                 // bad first char
		{strings.Repeat("n", 65), []string{keys.ScopeRead}}, // too long
		{"b", nil},                    // no scope
		{"b", []string{"keys:admin"}}, // unknown scope
		{"b", []string{"keys:read", "keys:read"}},
		{"b", []string{"keys:read,keys:read"}},
		{"b", []string{""}},
	} {
		if _, err := Add(path, tc.name, tc.scopes); err == nil {
			t.Errorf("Add(%q, %q) succeeded", tc.name, tc.scopes)
		}
	}
	l, err := List(path)
	if err != nil || len(l) != 1 {
		t.Fatalf("List = %d entries, %v; want 1", len(l), err)
	}
	// Comma-joined scopes in one argument are accepted too.
	if _, err := Add(path, "c", []string{"keys:write,keys:read"}); err != nil {
		t.Fatal(err)
	}
	l, _ = List(path)
	if got := l[1].Scopes; !slices.Equal(got, []string{keys.ScopeWrite, keys.ScopeRead}) {
		t.Fatalf("scopes %q", got)
	}
}

func TestRemoveRevokesWithoutRestart(t *testing.T) {
	path := newPath(t)
	a, err := Add(path, "a", []string{keys.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Add(path, "b", []string{keys.ScopeWrite})
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Lookup(a); !ok {
		t.Fatal("a not found before removal")
	}
	if err := Remove(path, "a"); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Lookup(a); ok || err != nil {
		t.Fatalf("removed token: Lookup = %v, %v; want refused", ok, err)
	}
	if c, ok, err := s.Lookup(b); !ok || err != nil || c.TokenName != "b" {
		t.Fatalf("remaining token: Lookup = %+v, %v, %v", c, ok, err)
	}
	if err := Remove(path, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Remove = %v, want ErrNotFound", err)
	}
	// A caller added after Open is accepted without a restart too.
	c, err := Add(path, "c", []string{keys.ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Lookup(c); !ok {
		t.Fatal("token added after Open not found")
	}
}

func TestEditInPlaceIsNoticed(t *testing.T) {
	path := newPath(t)
	a, _ := Add(path, "a", []string{keys.ScopeRead})
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	// An editor that rewrites the file in place (same inode).
	if err := os.WriteFile(path, []byte("# emptied by hand\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.Lookup(a); ok || err != nil {
		t.Fatalf("Lookup after in-place edit = %v, %v", ok, err)
	}
}

func TestStoreFailsClosed(t *testing.T) {
	path := newPath(t)
	a, _ := Add(path, "a", []string{keys.ScopeRead})
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(step string, wantOK bool) {
		t.Helper()
		_, ok, err := s.Lookup(a)
		if ok != wantOK || (err == nil) != wantOK {
			t.Fatalf("%s: Lookup = %v, %v; want ok=%v", step, ok, err, wantOK)
		}
		if err != nil && strings.Contains(err.Error(), a) {
			t.Fatalf("%s: the error contains the token", step)
		}
	}
	check("initial", true)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	check("made world-readable", false)
	check("still world-readable", false)
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	check("fixed", true)
	data, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(data, "broken line\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	check("invalid line", false)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	check("fixed again", true)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	check("removed", false)
	// A symlink put in its place is refused.
	real := path + ".real"
	if err := os.WriteFile(real, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, path); err != nil {
		t.Fatal(err)
	}
	check("symlink", false)
}

func TestOpenRefuses(t *testing.T) {
	good := "a sha256:" + strings.Repeat("ab", 32) + " keys:read\n"
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string)
	}{
		{"missing", func(t *testing.T, path string) {}},
		{"mode 0644", func(t *testing.T, path string) { write(t, path, good, 0o644) }},
		{"mode 0640", func(t *testing.T, path string) { write(t, path, good, 0o640) }},
		{"mode 0606", func(t *testing.T, path string) { write(t, path, good, 0o606) }},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
		{"symlink", func(t *testing.T, path string) {
			write(t, path+".real", good, 0o600)
			if err := os.Symlink(path+".real", path); err != nil {
				t.Fatal(err)
			}
		}},
		{"invalid", func(t *testing.T, path string) { write(t, path, "a b\n", 0o600) }},
		{"too large", func(t *testing.T, path string) { write(t, path, "#"+strings.Repeat("x", MaxFileSize)+"\n", 0o600) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := newPath(t)
			tc.setup(t, path)
			if _, err := Open(path); err == nil {
				t.Fatal("Open succeeded")
			}
		})
	}
	t.Run("0600 accepted", func(t *testing.T) {
		path := newPath(t)
		write(t, path, good, 0o600)
		if _, err := Open(path); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("0400 accepted", func(t *testing.T) {
		path := newPath(t)
		write(t, path, good, 0o400)
		if _, err := Open(path); err != nil {
			t.Fatal(err)
		}
	})
}

func write(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func TestParse(t *testing.T) {
	h1 := "sha256:" + strings.Repeat("ab", 32)
	h2 := "sha256:" + strings.Repeat("CD", 32)
	for _, tc := range []struct {
		name, in string
		want     int // entries, or -1 for an error
	}{
		{"empty", "", 0},
		{"comments and blanks", "# x\n\n   \n", 0},
		{"one", "a " + h1 + " keys:read", 1},
		{"two, upper-case hex, tabs", "a " + h1 + " keys:read\nb\t" + h2 + "\tkeys:write,keys:read\n", 2},
		{"two fields", "a " + h1, -1},
		{"four fields", "a " + h1 + " keys:read extra", -1},
		{"no sha256 prefix", "a " + strings.Repeat("ab", 32) + " keys:read", -1},
		{"md5 prefix", "a md5:" + strings.Repeat("ab", 32) + " keys:read", -1},
		{"short hash", "a sha256:abcd keys:read", -1},
		{"non-hex hash", "a sha256:" + strings.Repeat("zz", 32) + " keys:read", -1},
		{"unknown scope", "a " + h1 + " keys:admin", -1},
		{"empty scope item", "a " + h1 + " keys:read,", -1},
		{"duplicate scope", "a " + h1 + " keys:read,keys:read", -1},
		{"duplicate name", "a " + h1 + " keys:read\na " + h2 + " keys:read", -1},
		{"duplicate hash", "a " + h1 + " keys:read\nb " + h1 + " keys:read", -1},
		{"bad name", "a/b " + h1 + " keys:read", -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse([]byte(tc.in))
			if tc.want < 0 {
				if err == nil {
					t.Fatalf("Parse succeeded with %d entries", len(got))
				}
				return
			}
			if err != nil || len(got) != tc.want {
				t.Fatalf("Parse = %d entries, %v; want %d", len(got), err, tc.want)
			}
		})
	}
}

func TestFormatParseRoundTrip(t *testing.T) {
	path := newPath(t)
	for i := range 5 {
		if _, err := Add(path, fmt.Sprintf("c%d", i), []string{keys.ScopeWrite, keys.ScopeRead}); err != nil {
			t.Fatal(err)
		}
	}
	l, err := List(path)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(format(l))
	if err != nil || len(again) != len(l) {
		t.Fatalf("round trip: %d entries, %v", len(again), err)
	}
	for i := range l {
		if l[i].Name != again[i].Name || l[i].Hash != again[i].Hash || !slices.Equal(l[i].Scopes, again[i].Scopes) {
			t.Fatalf("entry %d differs after a round trip", i)
		}
	}
}

func TestConcurrentAddsAllLand(t *testing.T) {
	path := newPath(t)
	const n = 16
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tok, err := Add(path, fmt.Sprintf("c%02d", i), []string{keys.ScopeRead})
			if err != nil {
				t.Error(err)
			}
			tokens[i] = tok
		}()
	}
	wg.Wait()
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range tokens {
		c, ok, err := s.Lookup(tok)
		if !ok || err != nil || c.TokenName != fmt.Sprintf("c%02d", i) {
			t.Fatalf("token %d: %+v, %v, %v", i, c, ok, err)
		}
	}
}

func TestListMissingFileIsEmpty(t *testing.T) {
	l, err := List(newPath(t))
	if err != nil || len(l) != 0 {
		t.Fatalf("List(missing) = %v, %v", l, err)
	}
	if err := Remove(newPath(t), "a"); err == nil {
		t.Fatal("Remove on a missing file succeeded")
	}
}

func BenchmarkLookup(b *testing.B) {
	path := filepath.Join(b.TempDir(), "callers")
	var tok string
	for i := range 50 {
		t, err := Add(path, fmt.Sprintf("c%d", i), []string{keys.ScopeRead})
		if err != nil {
			b.Fatal(err)
		}
		tok = t
	}
	s, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok, err := s.Lookup(tok); !ok || err != nil {
			b.Fatal("lookup failed")
		}
	}
}
