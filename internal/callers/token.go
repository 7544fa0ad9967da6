package callers

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// TokenPrefix starts every static caller token, so that a leaked token is
// recognisable (and secret scanners can find it).
const TokenPrefix = "mcpk_"

// tokenBytes is the token's entropy: 256 bits.
const tokenBytes = 32

// newToken returns a fresh token: TokenPrefix and 256 random bits in
// unpadded base64url.
func newToken() (string, error) {
	var b [tokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generate a caller token: %w", err)
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// hashToken is what the file stores for a token.
func hashToken(token string) [sha256.Size]byte { return sha256.Sum256([]byte(token)) }
