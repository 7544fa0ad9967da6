package tools

import "time"

// timeOrNil formats a time as RFC 3339 in UTC, or nil for the zero time.
func timeOrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}
