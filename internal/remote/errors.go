package remote

import "errors"

// ErrInvalidToken is wrapped by every refusal of a token that was given
// but is not acceptable (HTTP 401 with error="invalid_token"). Any other
// error from an Authenticator means the token could not be checked now
// (HTTP 503): fail closed, but do not tell the client to log in again.
var ErrInvalidToken = errors.New("invalid token")

// tokenError is a refused token, with a fixed reason that is safe to log:
// it never contains the token or text taken from it.
type tokenError struct{ reason string }

func (e *tokenError) Error() string { return "invalid token: " + e.reason }

func (e *tokenError) Unwrap() error { return ErrInvalidToken }

// invalid returns a tokenError with reason.
func invalid(reason string) error { return &tokenError{reason: reason} }

// unavailableError is a token that could not be checked because the keys
// or the callers file are unavailable; reason is safe to log.
type unavailableError struct {
	reason string
	err    error
}

func (e *unavailableError) Error() string {
	if e.err == nil {
		return "token check unavailable: " + e.reason
	}
	return "token check unavailable: " + e.reason + ": " + e.err.Error()
}

func (e *unavailableError) Unwrap() error { return e.err }
