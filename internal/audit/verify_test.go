package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVerifyRealLog(t *testing.T) {
	path, data := buildLog(t, sampleRecords(100))
	n, err := VerifyFile(path)
	if err != nil || n != 100 {
		t.Fatalf("VerifyFile = %d, %v; want 100, nil", n, err)
	}
	if got := len(lines(data)); got != 100 {
		t.Fatalf("%d lines, want 100", got)
	}
	if n, err := verifyStream(bytes.NewReader(nil), nil); n != 0 || err != nil {
		t.Fatalf("empty log: %d, %v", n, err)
	}
}

// join concatenates lines.
func join(ls [][]byte) []byte { return bytes.Join(ls, nil) }

func TestVerifyTampering(t *testing.T) {
	_, data := buildLog(t, sampleRecords(10))
	ls := lines(data)
	at := func(k int, sub string) int { // offset of sub in line k (1-based)
		i := bytes.Index(ls[k-1], []byte(sub))
		if i < 0 {
			t.Fatalf("line %d has no %q: %s", k, sub, ls[k-1])
		}
		return i
	}
	edit := func(k int, f func(line []byte) []byte) []byte {
		cp := make([][]byte, len(ls))
		for i := range ls {
			cp[i] = bytes.Clone(ls[i])
		}
		cp[k-1] = f(cp[k-1])
		return join(cp)
	}
	flip := func(k, off int) []byte {
		return edit(k, func(l []byte) []byte { l[off] ^= 0x01; return l })
	}
	swapped := make([][]byte, len(ls))
	copy(swapped, ls)
	swapped[4], swapped[5] = swapped[5], swapped[4]
	firstPrev := edit(1, func(l []byte) []byte {
		return bytes.Replace(l, []byte(`"prev":""`), []byte(`"prev":"`+strings.Repeat("0", 64)+`"`), 1)
	})

	tests := []struct {
		name     string
		data     []byte
		wantLine int
		wantMsg  string
	}{
		{"byte in name still parses", flip(3, at(3, `proj-prod-eu`)+1), 4, "prev hash does not match line 3"},
		{"byte in tag of line 1", flip(1, at(1, `proj-a`)+2), 2, "prev hash does not match line 1"},
		{"brace no longer parses", flip(3, 0), 3, "not a valid audit record"},
		{"quote no longer parses", flip(5, at(5, `"event"`)), 5, "not a valid audit record"},
		{"seq digit changed", edit(6, func(l []byte) []byte { return bytes.Replace(l, []byte(`"seq":6`), []byte(`"seq":7`), 1) }), 6, "seq is 7, want 6"},
		{"prev changed", edit(7, func(l []byte) []byte {
			i := at(7, `"prev":"`) + 8 // another hex digit
			l[i] = map[bool]byte{true: '1', false: '0'}[l[i] == '0']
			return l
		}), 7, "prev hash does not match line 6"},
		{"line removed", join(append(append([][]byte{}, ls[:3]...), ls[4:]...)), 4, "seq is 5, want 4"},
		{"lines reordered", join(swapped), 5, "seq is 6, want 5"},
		{"first line removed", join(ls[1:]), 1, "seq is 2, want 1"},
		{"non-JSON line", join(append(append([][]byte{}, ls[:2]...), []byte("hello\n"))), 3, "not a valid audit record"},
		{"blank line", join(append(append([][]byte{}, ls[:2]...), []byte("\n"))), 3, "not a valid audit record"},
		{"whitespace added", edit(2, func(l []byte) []byte { return append([]byte(" "), l...) }), 2, "canonical"},
		{"unknown field", edit(2, func(l []byte) []byte { return bytes.Replace(l, []byte(`{`), []byte(`{"x":1,`), 1) }), 2, "unknown field"},
		{"case-variant field", edit(2, func(l []byte) []byte { return bytes.Replace(l, []byte(`"tool"`), []byte(`"Tool"`), 1) }), 2, "canonical"},
		{"trailing data", edit(2, func(l []byte) []byte { return bytes.Replace(l, []byte("}\n"), []byte("}{}\n"), 1) }), 2, "canonical"},
		{"bad event", edit(2, func(l []byte) []byte {
			return bytes.Replace(l, []byte(`"event":"create_result"`), []byte(`"event":"create_resulX"`), 1)
		}), 2, "unknown event"},
		{"first prev not empty", firstPrev, 1, "prev must be empty"},
		{"torn last line", data[:len(data)-5], 10, "incomplete last line"},
		{"missing final newline", data[:len(data)-1], 10, "incomplete last line"},
		{"too long", append(bytes.Clone(data), bytes.Repeat([]byte("x"), MaxLineBytes+10)...), 11, "longer than"},
		{"too long with newline", append(append(bytes.Clone(data), bytes.Repeat([]byte("x"), MaxLineBytes+1)...), '\n'), 11, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := verifyStream(bytes.NewReader(tt.data), nil)
			var ve *VerifyError
			if !errors.As(err, &ve) {
				t.Fatalf("verifyStream = %d, %v; want a *VerifyError", n, err)
			}
			if ve.Line != tt.wantLine || !strings.Contains(ve.Msg, tt.wantMsg) {
				t.Fatalf("got %q; want line %d with %q", err, tt.wantLine, tt.wantMsg)
			}
			if n != tt.wantLine-1 {
				t.Errorf("records = %d, want %d (the good ones before the bad line)", n, tt.wantLine-1)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("message %q does not start with the line", err)
			}
		})
	}
}

// TestVerifyEveryByte flips each byte of one record in turn: verification
// must fail, naming that line or the next.
func TestVerifyEveryByte(t *testing.T) {
	_, data := buildLog(t, sampleRecords(5))
	ls := lines(data)
	const k = 3
	start := len(join(ls[:k-1]))
	for i := range len(ls[k-1]) {
		for _, mask := range []byte{0x01, 0x20, 0x80} {
			mod := bytes.Clone(data)
			mod[start+i] ^= mask
			_, err := verifyStream(bytes.NewReader(mod), nil)
			var ve *VerifyError
			if !errors.As(err, &ve) || (ve.Line != k && ve.Line != k+1) {
				t.Fatalf("byte %d ^ %#x: got %v, want line %d or %d", i, mask, err, k, k+1)
			}
		}
	}
}

type failReader struct{ data []byte }

func (r *failReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errors.New("disk on fire")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestVerifyErrors(t *testing.T) {
	_, data := buildLog(t, sampleRecords(3))
	_, err := verifyStream(&failReader{data: data}, nil)
	var ve *VerifyError
	if err == nil || errors.As(err, &ve) || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("read error: got %v", err)
	}

	dir := t.TempDir()
	if _, err := VerifyFile(filepath.Join(dir, "missing.jsonl")); err == nil {
		t.Fatal("missing file verified")
	}
	bad := filepath.Join(dir, "bad.jsonl")
	writeFile(t, bad, append(bytes.Clone(data), "oops\n"...))
	n, err := VerifyFile(bad)
	if !errors.As(err, &ve) || ve.Line != 4 || n != 3 || !strings.Contains(err.Error(), bad) {
		t.Fatalf("VerifyFile = %d, %v; want line 4 naming the file", n, err)
	}
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(bad, link); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyFile(link); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("symlink: got %v", err)
	}
}
