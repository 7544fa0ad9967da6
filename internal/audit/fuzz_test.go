package audit

import (
	"bytes"
	"errors"
	"testing"
	"time"
)

// FuzzVerify checks that verification never panics on arbitrary bytes, that a
// failure always names a line, and that a log built from valid records, with
// fuzzed names, reasons and tags, always verifies and never holds
// key-shaped text (it is redacted, not refused).
func FuzzVerify(f *testing.F) {
	var seed bytes.Buffer
	var prev []byte
	for i, r := range sampleRecords(4) {
		line, _, err := encodeNext(prev, int64(i), r, time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), 42)
		if err != nil {
			f.Fatal(err)
		}
		seed.Write(line)
		prev = bytes.TrimSuffix(line, []byte("\n"))
	}
	f.Add(seed.Bytes(), "agent-x", "reason", "proj-a", uint8(3))
	f.Add([]byte("{}\n"), "", "", "", uint8(0))
	f.Add([]byte(`{"seq":1}`), "\xff\x00\n", "sm_org_0123456789abcdefXYZ", "\u2028<&>", uint8(30))
	f.Add(bytes.Repeat([]byte("\n"), 5), "名前", "理由", "tag", uint8(1))
	f.Add([]byte{}, "agent-sm_org_sandbox_AbCdEfGhIjKlMnOpQrSt", "sm_a_0123456789abcdef_sm_b-c_0123456789ABCDEFx", "sm_acme-1_0123456789abcdefXY", uint8(5))

	f.Fuzz(func(t *testing.T, data []byte, name, reason, tag string, n uint8) {
		if _, err := verifyStream(bytes.NewReader(data), nil); err != nil {
			var ve *VerifyError
			if !errors.As(err, &ve) || ve.Line < 1 {
				t.Fatalf("verification error without a line: %v", err)
			}
		}

		var log bytes.Buffer
		var prev []byte
		count := 0
		for i := range int(n%8) + 1 {
			r := createIntent(tag)
			r.Name, r.Reason = name, reason
			r.Rules = append(r.Rules, Rule{Rule: tag, Outcome: "fail", Detail: reason})
			if i%2 == 1 && count > 0 {
				r = createResult(int64(count), OutcomeCreated, name)
			}
			line, rec, err := encodeNext(prev, int64(count), r, time.Unix(int64(n)*1000+int64(i), 0), 7)
			if err != nil {
				if errors.Is(err, ErrTooLarge) {
					continue
				}
				t.Fatalf("encodeNext: %v", err)
			}
			if rec.Seq != int64(count+1) {
				t.Fatalf("seq %d, want %d", rec.Seq, count+1)
			}
			log.Write(line)
			prev = bytes.TrimSuffix(line, []byte("\n"))
			count++
		}
		if secretRE.Match(log.Bytes()) {
			t.Fatalf("key-shaped text in the log:\n%s", log.Bytes())
		}
		got, err := verifyStream(bytes.NewReader(log.Bytes()), nil)
		if err != nil || got != count {
			t.Fatalf("valid log: verifyStream = %d, %v; want %d\n%s", got, err, count, log.Bytes())
		}
	})
}
