package audit

import "time"

// This file exports the pieces of the chain that a store other than the
// file (PostgreSQL) needs to write the same lines and verify them the same
// way, one record at a time from a checkpoint.

// EncodeAfter turns r into the canonical line (without "\n") of record
// prevSeq+1 whose Prev is prev (the [LineHash] of the previous record's
// line, "" for the first), with its MAC under key when key is not nil. It
// sanitizes r as the file store does and returns the line and the record
// exactly as written; it refuses a record that is too large (ErrTooLarge)
// or invalid (ErrInvalid).
func EncodeAfter(prev string, prevSeq int64, r Record, now time.Time, pid int, key []byte) ([]byte, Record, error) {
	line, rec, err := encodeRecord(prev, prevSeq, r, now, pid, key)
	if err != nil {
		return nil, Record{}, err
	}
	return line[:len(line)-1], rec, nil
}

// LineHash is the hex SHA-256 of a record's line (without "\n"): what the
// next record's Prev holds.
func LineHash(line []byte) string { return hashLine(line) }

// DecodeLine parses one line (without "\n") strictly, as verification
// does: a single JSON object with only known fields, in exactly the
// canonical form the stores write, with valid field values. It does not
// check the MAC.
func DecodeLine(line []byte) (Record, error) { return decodeLine(line) }

// CheckChainKey refuses a chain key shorter than MinChainKeyBytes; nil is
// no key.
func CheckChainKey(key []byte) error { return checkChainKey(key) }

// ChainVerifier checks a chain one line at a time, as [VerifyFileKey] does,
// from a point already verified (the start of the chain, or a checkpoint).
// Make one with [NewChainVerifier].
type ChainVerifier struct{ v verifier }

// NewChainVerifier returns a verifier positioned after record seq, whose
// line has the hex SHA-256 prevSHA; seq 0 and prevSHA "" for the start of
// the chain. With a key (not nil) every record must carry a MAC that is
// right under it; without one, a record with a MAC fails.
func NewChainVerifier(key []byte, seq int64, prevSHA string) *ChainVerifier {
	return &ChainVerifier{v: verifier{key: key, seq: seq, prevSHA: prevSHA}}
}

// Seq is the last record verified (0 before the first).
func (c *ChainVerifier) Seq() int64 { return c.v.seq }

// Hash is the hex SHA-256 of the last record's line ("" before the first).
func (c *ChainVerifier) Hash() string { return c.v.prevSHA }

// Next checks the line (without "\n") of the record that follows: at most
// MaxLineBytes, a valid record in canonical form, Seq one more than the
// last, Prev the last line's SHA-256, and the MAC as the key requires. It
// returns the record, or a *VerifyError whose Line is the record's
// expected Seq; after an error the verifier does not move on.
func (c *ChainVerifier) Next(line []byte) (Record, error) { return c.v.next(line) }
