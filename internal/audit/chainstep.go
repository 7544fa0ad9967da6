package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
)

// ChainHash is the chain value of a record's line (without "\n"): the hex
// HMAC-SHA256 of the line under key, or its hex SHA-256 when key is empty.
// The next record's Prev holds it.
func ChainHash(key, line []byte) string {
	if len(key) == 0 {
		return hashLine(line)
	}
	m := hmac.New(sha256.New, key)
	m.Write(line)
	return hex.EncodeToString(m.Sum(nil))
}

// DecodeLine parses one line (without "\n") strictly, as verification
// does: a single JSON object with only known fields, in exactly the
// canonical form the stores write, with valid field values.
func DecodeLine(line []byte) (Record, error) { return decodeLine(line) }

// ChainVerifier checks a chain one line at a time, from a point already
// verified (the start of the chain, or a checkpoint). The zero value is not
// usable; make one with [NewChainVerifier].
type ChainVerifier struct {
	key  []byte
	seq  int64
	hash string
}

// NewChainVerifier returns a verifier positioned after record seq, whose
// line has the chain value hash ([ChainHash] under key); seq 0 and hash ""
// for the start of the chain.
func NewChainVerifier(key []byte, seq int64, hash string) *ChainVerifier {
	return &ChainVerifier{key: key, seq: seq, hash: hash}
}

// Seq is the last record verified (0 before the first).
func (v *ChainVerifier) Seq() int64 { return v.seq }

// Hash is the chain value of the last record verified ("" before the first).
func (v *ChainVerifier) Hash() string { return v.hash }

// Next checks the line of the record that follows: at most MaxLineBytes, a
// valid record in canonical form, Seq one more than the last, and Prev the
// last record's chain value. It returns the record, or a *VerifyError whose
// Line is the record's expected Seq; the verifier does not move on after an
// error.
func (v *ChainVerifier) Next(line []byte) (Record, error) {
	want := v.seq + 1
	if len(line) > MaxLineBytes {
		return Record{}, &VerifyError{Line: int(want), Msg: fmt.Sprintf("longer than %d bytes", MaxLineBytes)}
	}
	rec, err := decodeLine(line)
	if err != nil {
		return Record{}, &VerifyError{Line: int(want), Msg: err.Error()}
	}
	if rec.Seq != want {
		return Record{}, &VerifyError{Line: int(want), Msg: fmt.Sprintf("seq is %d, want %d (a record was removed, inserted or moved)", rec.Seq, want)}
	}
	switch {
	case want == 1 && rec.Prev != "":
		return Record{}, &VerifyError{Line: 1, Msg: "prev must be empty on the first record (records before it were removed?)"}
	case want > 1 && rec.Prev != v.hash:
		what := "hash"
		if len(v.key) > 0 {
			what = "MAC"
		}
		return Record{}, &VerifyError{Line: int(want), Msg: fmt.Sprintf("prev %s does not match record %d (a record was changed, or the chain key differs)", what, want-1)}
	}
	v.seq = want
	v.hash = ChainHash(v.key, line)
	return rec, nil
}
