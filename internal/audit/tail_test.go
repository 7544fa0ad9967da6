package audit

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTail(t *testing.T) {
	path, _ := buildLog(t, sampleRecords(10))
	tests := []struct {
		n        int
		wantSeqs []int64
	}{
		{0, nil},
		{1, []int64{10}},
		{3, []int64{8, 9, 10}},
		{10, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{50, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	}
	for _, tt := range tests {
		got, err := Tail(path, tt.n)
		if err != nil {
			t.Fatalf("Tail(%d): %v", tt.n, err)
		}
		var seqs []int64
		for _, r := range got {
			seqs = append(seqs, r.Seq)
		}
		if !equalSeqs(seqs, tt.wantSeqs) {
			t.Errorf("Tail(%d) seqs = %v, want %v", tt.n, seqs, tt.wantSeqs)
		}
	}
	if _, err := Tail(path, -1); err == nil {
		t.Error("Tail(-1) succeeded")
	}
	if _, err := Tail(filepath.Join(t.TempDir(), "missing"), 1); err == nil {
		t.Error("Tail of a missing file succeeded")
	}
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	writeFile(t, empty, nil)
	if got, err := Tail(empty, 5); len(got) != 0 || err != nil {
		t.Errorf("Tail of an empty log = %v, %v", got, err)
	}
	data, _ := os.ReadFile(path)
	ls := lines(data)
	ls[8] = []byte("nope\n")
	writeFile(t, path, join(ls))
	if got, err := Tail(path, 1); len(got) != 1 || err != nil {
		t.Errorf("Tail(1) past a bad line = %v, %v", got, err)
	}
	if _, err := Tail(path, 2); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 9") {
		t.Errorf("Tail(2) over a bad line = %v", err)
	}
	writeFile(t, path, data[:len(data)-7])
	if _, err := Tail(path, 1); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 10 is incomplete") {
		t.Errorf("Tail of a torn log = %v", err)
	}
}

// TestBackScanLongFile reads across chunk boundaries.
func TestBackScanLongFile(t *testing.T) {
	var data []byte
	var want []string
	for i := range 3000 {
		line := strings.Repeat(string(rune('a'+i%26)), 1+i%97)
		want = append(want, line)
		data = append(append(data, line...), '\n')
	}
	var got []string
	var offs []int64
	err := backScan(bytes.NewReader(data), int64(len(data)), func(line []byte, off int64) (bool, error) {
		got = append(got, string(line))
		offs = append(offs, off)
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i := range got {
		w := want[len(want)-1-i]
		if got[i] != w || string(data[offs[i]:offs[i]+int64(len(w))]) != w {
			t.Fatalf("line %d from the end = %q at %d, want %q", i, got[i], offs[i], w)
		}
	}
	if n, err := countLines(bytes.NewReader(data), int64(len(data))); n != 3000 || err != nil {
		t.Fatalf("countLines = %d, %v", n, err)
	}
}

func equalSeqs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
