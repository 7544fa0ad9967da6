package audit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestChainVerifierAgreesWithVerify: an unkeyed ChainVerifier accepts a
// log that Verify accepts, line by line, from the start or from any line.
func TestChainVerifierAgreesWithVerify(t *testing.T) {
	_, data := buildLog(t, sampleRecords(8))
	ls := lines(data)
	for from := 0; from < len(ls); from++ {
		var v *ChainVerifier
		if from == 0 {
			v = NewChainVerifier(nil, 0, "")
		} else {
			prev := bytes.TrimSuffix(ls[from-1], []byte("\n"))
			v = NewChainVerifier(nil, int64(from), ChainHash(nil, prev))
		}
		for i := from; i < len(ls); i++ {
			if _, err := v.Next(bytes.TrimSuffix(ls[i], []byte("\n"))); err != nil {
				t.Fatalf("from %d: line %d: %v", from, i+1, err)
			}
		}
		if v.Seq() != int64(len(ls)) {
			t.Errorf("from %d: Seq = %d", from, v.Seq())
		}
	}
}

// TestEncodeAfterKeyedChain builds a keyed chain with EncodeAfter and
// checks that only the right key verifies it, and that each fault is
// named at its record.
func TestEncodeAfterKeyedChain(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	var (
		chain [][]byte
		prev  string
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, r := range sampleRecords(5) {
		line, rec, err := EncodeAfter(prev, int64(i), r, now, 42)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Seq != int64(i+1) || rec.Prev != prev || bytes.HasSuffix(line, []byte("\n")) {
			t.Fatalf("record %d: seq %d prev %q", i+1, rec.Seq, rec.Prev)
		}
		chain = append(chain, line)
		prev = ChainHash(key, line)
	}
	if ChainHash(key, chain[0]) == ChainHash(nil, chain[0]) || ChainHash(key, chain[0]) == ChainHash([]byte(strings.Repeat("j", 32)), chain[0]) {
		t.Fatal("the chain value does not depend on the key")
	}
	run := func(key []byte, lines [][]byte) (int64, error) {
		v := NewChainVerifier(key, 0, "")
		for _, l := range lines {
			if _, err := v.Next(l); err != nil {
				return v.Seq(), err
			}
		}
		return v.Seq(), nil
	}
	edited := bytes.Replace(chain[2], []byte(`"pid":42`), []byte(`"pid":43`), 1)
	for _, tc := range []struct {
		name  string
		key   []byte
		lines [][]byte
		line  int // 0: no error
	}{
		{"right key", key, chain, 0},
		{"no key", nil, chain, 2},
		{"other key", []byte(strings.Repeat("x", 32)), chain, 2},
		{"edited record", key, [][]byte{chain[0], chain[1], edited, chain[3]}, 4},
		{"gap", key, [][]byte{chain[0], chain[2]}, 2},
		{"first removed", key, chain[1:], 1},
		{"too long", key, [][]byte{bytes.Repeat([]byte("x"), MaxLineBytes+1)}, 1},
	} {
		n, err := run(tc.key, tc.lines)
		var ve *VerifyError
		switch {
		case tc.line == 0 && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.line != 0 && (!errors.As(err, &ve) || ve.Line != tc.line || n != int64(tc.line-1)):
			t.Errorf("%s: after %d records: %v, want a VerifyError at %d", tc.name, n, err, tc.line)
		}
	}
}
