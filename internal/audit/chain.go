package audit

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
)

// MinChainKeyBytes is the shortest chain key accepted.
const MinChainKeyBytes = 32

// macSuffixLen is the length of `,"mac":"<64 hex>"}`, the end of a keyed
// line.
const macSuffixLen = len(`,"mac":""}`) + 64

// hashLine is the hex SHA-256 of a line's bytes without its "\n".
func hashLine(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:])
}

// hmacHex is the hex HMAC-SHA256 under key of the parts, concatenated.
func hmacHex(key []byte, parts ...[]byte) string {
	m := hmac.New(sha256.New, key)
	for _, p := range parts {
		m.Write(p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

// recordMAC is a record's MAC: the HMAC-SHA256 under key of its line as it
// reads without the mac field.
func recordMAC(key, unsigned []byte) string { return hmacHex(key, unsigned) }

// withMAC returns the canonical line unsigned (which has no mac field) with
// the mac field added as its last field.
func withMAC(unsigned []byte, mac string) []byte {
	out := make([]byte, 0, len(unsigned)+macSuffixLen-1)
	out = append(out, unsigned[:len(unsigned)-1]...)
	out = append(out, `,"mac":"`...)
	out = append(out, mac...)
	return append(out, `"}`...)
}

// unsignedLine returns a keyed line as it reads without its mac field. The
// line must be canonical (see decodeLine) with a mac.
func unsignedLine(line []byte) []byte {
	out := make([]byte, 0, len(line)-macSuffixLen+1)
	out = append(out, line[:len(line)-macSuffixLen]...)
	return append(out, '}')
}

// macEqual compares two hex MACs in constant time.
func macEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

// checkChainKey refuses a key too short to be a secret.
func checkChainKey(key []byte) error {
	if key != nil && len(key) < MinChainKeyBytes {
		return fmt.Errorf("the chain key is %d bytes; at least %d are needed", len(key), MinChainKeyBytes)
	}
	return nil
}

// checkpointMAC authenticates a checkpoint. Its input starts with a label
// so that it can never equal a record's MAC or be used as one.
func checkpointMAC(key []byte, seq, offset int64, sha string) string {
	return hmacHex(key, []byte("mcp-keys audit checkpoint v1\n"),
		[]byte(strconv.FormatInt(seq, 10)+"\n"+strconv.FormatInt(offset, 10)+"\n"+sha))
}

// indexMAC authenticates an index snapshot's body.
func indexMAC(key, body []byte) string {
	return hmacHex(key, []byte("mcp-keys audit index v1\n"), body)
}

// errNoKey is the problem with a keyed record verified without a key.
var errNoKey = errors.New("the record carries an HMAC-SHA256 MAC and no chain key was given: " +
	"it cannot be checked without the key (set MCP_KEYS_AUDIT_KEY_FILE)")
