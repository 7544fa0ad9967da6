package audit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestChainVerifierAgreesWithVerify: a ChainVerifier accepts, line by line,
// from the start or from any line, the log that verifyStream accepts.
func TestChainVerifierAgreesWithVerify(t *testing.T) {
	_, data := buildLog(t, sampleRecords(8))
	ls := lines(data)
	for from := 0; from < len(ls); from++ {
		prev := ""
		if from > 0 {
			prev = LineHash(bytes.TrimSuffix(ls[from-1], []byte("\n")))
		}
		v := NewChainVerifier(nil, int64(from), prev)
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

// TestEncodeAfterKeyedChain builds a keyed chain with EncodeAfter: verifyStream
// accepts it with its key only, and the ChainVerifier names each fault at
// its record.
func TestEncodeAfterKeyedChain(t *testing.T) {
	key := []byte(strings.Repeat("k", 32))
	var (
		chain [][]byte
		file  bytes.Buffer
		prev  string
	)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, r := range sampleRecords(5) {
		line, rec, err := EncodeAfter(prev, int64(i), r, now, 42, key)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Seq != int64(i+1) || rec.Prev != prev || rec.MAC == "" || bytes.HasSuffix(line, []byte("\n")) {
			t.Fatalf("record %d: seq %d prev %q mac %q", i+1, rec.Seq, rec.Prev, rec.MAC)
		}
		chain = append(chain, line)
		file.Write(append(line, '\n'))
		prev = LineHash(line)
	}
	if n, err := verifyStream(bytes.NewReader(file.Bytes()), key); err != nil || n != 5 {
		t.Fatalf("verifyStream = %d, %v", n, err)
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
		{"no key", nil, chain, 1},
		{"other key", []byte(strings.Repeat("x", 32)), chain, 1},
		{"edited record", key, [][]byte{chain[0], chain[1], edited, chain[3]}, 3},
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
	if CheckChainKey([]byte("short")) == nil || CheckChainKey(nil) != nil || CheckChainKey(key) != nil {
		t.Error("CheckChainKey")
	}
}

func TestCleanLease(t *testing.T) {
	secret := "sm_org1_AbCdEfGhIjKlMnOpQrSt"
	end := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	got, err := CleanLease(Lease{KeyID: "k1", Caller: "token:a", Tags: []string{"t-" + secret}, Name: "n " + secret,
		EndsAt: end, LastError: "upstream 500 for " + secret})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(got.Name+got.LastError+strings.Join(got.Tags, ","), secret) || got.EndsAt.Location() != time.UTC || !got.EndsAt.Equal(end) {
		t.Errorf("CleanLease = %+v", got)
	}
	for _, l := range []Lease{{EndsAt: end}, {KeyID: secret, EndsAt: end}, {KeyID: strings.Repeat("k", 201), EndsAt: end}, {KeyID: "k"}} {
		if _, err := CleanLease(l); !errors.Is(err, ErrInvalid) || strings.Contains(err.Error(), secret) {
			t.Errorf("CleanLease(%.20q) = %v, want ErrInvalid", l.KeyID, err)
		}
	}
	if CleanErrorText("") != "" || strings.Contains(CleanErrorText(secret), secret) {
		t.Error("CleanErrorText")
	}
}
