package audit

import "fmt"

// CleanLease checks a lease before a store keeps it and returns it with
// its text made safe as a record's would be (key-shaped text redacted,
// lengths bounded, valid UTF-8) and its times in UTC. A lease without a
// key id or an end, or whose key id is long or key-shaped, is refused with
// ErrInvalid (the value not shown).
func CleanLease(l Lease) (Lease, error) {
	switch {
	case l.KeyID == "":
		return Lease{}, fmt.Errorf("%w: lease without a key id", ErrInvalid)
	case len(l.KeyID) > maxShortRunes || secretRE.MatchString(l.KeyID):
		return Lease{}, fmt.Errorf("%w: a lease's key id must be a short key id (value not shown)", ErrInvalid)
	case l.EndsAt.IsZero():
		return Lease{}, fmt.Errorf("%w: lease without an end", ErrInvalid)
	}
	r := sanitize(Record{Caller: l.Caller, Tags: l.Tags, Name: l.Name})
	l.Caller, l.Tags, l.Name = r.Caller, r.Tags, r.Name
	l.EndsAt, l.RetryAt = l.EndsAt.UTC(), l.RetryAt.UTC()
	l.LastError = CleanErrorText(l.LastError)
	return l, nil
}

// CleanErrorText returns an error text as a store may keep it: key-shaped
// text redacted and at most MaxReasonRunes long, like a record's Reason.
func CleanErrorText(s string) string {
	if s == "" {
		return ""
	}
	return sanitize(Record{Reason: s}).Reason
}
