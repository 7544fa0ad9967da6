package callers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

// MaxFileSize bounds the callers file (1 MiB is some ten thousand callers).
const MaxFileSize = 1 << 20

// hashPrefix introduces the token hash on a line.
const hashPrefix = "sha256:"

// Entry is one caller of the file. It holds the token's hash, never the
// token.
type Entry struct {
	// Name identifies the caller: audit records and logs name it token:NAME.
	Name string
	// Hash is the SHA-256 of the caller's token.
	Hash [sha256.Size]byte
	// Scopes are the caller's scopes, keys:read and/or keys:write.
	Scopes []string
}

// namePattern is a caller name: a letter or digit, then up to 63 letters,
// digits, dots, underscores or hyphens.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// ValidName reports whether name can name a caller.
func ValidName(name string) error {
	if !namePattern.MatchString(name) {
		return fmt.Errorf("caller name %q: want 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

// ParseScopes reads a comma-separated scope list: each of keys:read and
// keys:write at most once, at least one.
func ParseScopes(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch f {
		case keys.ScopeRead, keys.ScopeWrite:
		default:
			return nil, fmt.Errorf("scope %q: want %s or %s", f, keys.ScopeRead, keys.ScopeWrite)
		}
		if slices.Contains(out, f) {
			return nil, fmt.Errorf("scope %q is listed twice", f)
		}
		out = append(out, f)
	}
	return out, nil
}

// Parse reads the content of a callers file. Blank lines and lines starting
// with '#' are ignored. Any bad line makes the whole file an error: a
// callers file is all or nothing.
func Parse(data []byte) ([]Entry, error) {
	var out []Entry
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		e, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		for _, o := range out {
			if o.Name == e.Name {
				return nil, fmt.Errorf("line %d: caller %q is listed twice", i+1, e.Name)
			}
			if o.Hash == e.Hash {
				return nil, fmt.Errorf("line %d: caller %q has the same token hash as %q", i+1, e.Name, o.Name)
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// parseLine reads `NAME sha256:HEX SCOPES`.
func parseLine(line string) (Entry, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return Entry{}, fmt.Errorf("want `NAME sha256:HEX SCOPES`, got %d fields", len(f))
	}
	e := Entry{Name: f[0]}
	if err := ValidName(e.Name); err != nil {
		return Entry{}, err
	}
	h, ok := strings.CutPrefix(f[1], hashPrefix)
	if !ok || len(h) != 2*sha256.Size {
		return Entry{}, fmt.Errorf("caller %q: the hash must be sha256: and 64 hex digits", e.Name)
	}
	if _, err := hex.Decode(e.Hash[:], []byte(h)); err != nil {
		return Entry{}, fmt.Errorf("caller %q: the hash must be sha256: and 64 hex digits", e.Name)
	}
	scopes, err := ParseScopes(f[2])
	if err != nil {
		return Entry{}, fmt.Errorf("caller %q: %w", e.Name, err)
	}
	e.Scopes = scopes
	return e, nil
}

// format writes entries as file content, one line each.
func format(entries []Entry) []byte {
	var b bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&b, "%s %s%s %s\n", e.Name, hashPrefix, hex.EncodeToString(e.Hash[:]), strings.Join(e.Scopes, ","))
	}
	return b.Bytes()
}

// checkFileInfo refuses a symlink, anything but a regular file, a file that
// group or others may read or write, and an oversized file.
func checkFileInfo(path string, fi fs.FileInfo) error {
	if problem := fileperm.Problem("callers file "+path, fi, fileperm.NoAccess); problem != "" {
		return errors.New(problem)
	}
	switch {
	case fi.Size() > MaxFileSize:
		return fmt.Errorf("callers file %s is larger than %d bytes", path, MaxFileSize)
	}
	return nil
}

// errNotExist marks a callers file that does not exist yet.
var errNotExist = errors.New("callers file does not exist")

// read loads and parses the callers file after the checks of checkFileInfo,
// both before opening (Lstat) and on the open file, which must be the one
// that was checked. It returns the identity of the version it read.
func read(path string) ([]Entry, fileID, error) {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fileID{}, fmt.Errorf("%w: %s", errNotExist, path)
	}
	if err != nil {
		return nil, fileID{}, fmt.Errorf("callers file: %w", err)
	}
	if err := checkFileInfo(path, fi); err != nil {
		return nil, fileID{}, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return nil, fileID{}, fmt.Errorf("callers file: %w", err)
	}
	defer f.Close()
	ofi, err := f.Stat()
	if err != nil {
		return nil, fileID{}, fmt.Errorf("callers file: %w", err)
	}
	if !os.SameFile(fi, ofi) {
		return nil, fileID{}, fmt.Errorf("callers file %s was replaced while being opened; try again", path)
	}
	if err := checkFileInfo(path, ofi); err != nil {
		return nil, fileID{}, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fileID{}, fmt.Errorf("callers file %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, fileID{}, fmt.Errorf("callers file %s is larger than %d bytes", path, MaxFileSize)
	}
	entries, err := Parse(data)
	if err != nil {
		return nil, fileID{}, fmt.Errorf("callers file %s: %w", path, err)
	}
	return entries, idOf(ofi), nil
}
