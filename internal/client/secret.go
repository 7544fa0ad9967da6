package client

import (
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// redacted is what a Secret shows instead of its value.
const redacted = "[REDACTED]"

// String returns a redaction marker, never the secret.
func (s Secret) String() string { return redacted }

// GoString returns a redaction marker, so that %#v never prints the secret.
func (s Secret) GoString() string { return redacted }

// Format implements [fmt.Formatter]: every verb prints the redaction marker
// (quoted for %q), never the secret, also when the Secret is a field of a
// struct printed with %v, %+v or %#v.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = io.WriteString(f, strconv.Quote(redacted))
		return
	}
	_, _ = io.WriteString(f, redacted)
}

// MarshalJSON encodes the redaction marker as a JSON string, never the secret.
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(redacted)), nil
}

// LogValue implements [slog.LogValuer]: structured logs get the marker.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// Reveal returns the secret itself. Call it only where the value must leave
// the process: an Authorization header, or the one answer that hands a newly
// minted key to its owner.
func (s Secret) Reveal() string { return string(s) }

// Prefix returns the first n characters of the secret, for masked display
// such as "sm_org1_ab…". It never returns more than half of the secret, so a
// short secret is not shown whole; n <= 0 gives "".
func (s Secret) Prefix(n int) string {
	r := []rune(string(s))
	n = min(n, len(r)/2)
	if n <= 0 {
		return ""
	}
	return string(r[:n])
}
