package keys

import (
	"fmt"
	"time"
)

// timeOrNil formats a time as RFC 3339 in UTC, or nil for the zero time.
func timeOrNil(t time.Time) *string {
	if t.IsZero() {
		return nil
	}
	s := t.UTC().Format(time.RFC3339)
	return &s
}

// deref returns *s, or def when s is nil.
func deref(s *string, def string) string {
	if s == nil {
		return def
	}
	return *s
}

// Text is the readable form of a new key: what it is, and where its secret
// is (the secret itself, shown once, when it is not in a file).
func (c *Created) Text() string {
	head := fmt.Sprintf("Created scoped %s key %q (id %s) for %s, expires %s, rate limit %d requests per %d ms.\n",
		c.Permission, c.Name, c.ID, tagsText(c.Tags), deref(timeOrNil(c.ExpiresAt), "never"), c.RateLimitMax, c.RateLimitWindowMs)
	if !c.LeaseEndsAt.IsZero() {
		head += fmt.Sprintf("Leased: mcp-keys revokes it at %s.\n", c.LeaseEndsAt.UTC().Format(time.RFC3339))
	}
	if c.KeyFile != "" {
		return head + fmt.Sprintf("The secret was written to %s (mode 0600) and is not shown here; it starts %s. Tell the user where it is.", c.KeyFile, c.KeyPrefix)
	}
	return head + "The secret is shown once, here only; hand it to the user now (it cannot be shown again):\n" + c.Secret
}

// Text is the readable form of a revoke's answer.
func (r *Revoked) Text() string {
	if r.AlreadyRevoked {
		return fmt.Sprintf("Key %q (id %s) was already revoked; nothing to do.", r.Name, r.ID)
	}
	return fmt.Sprintf("Revoked key %q (id %s); it stops working at once. Memories and tags are untouched.", r.Name, r.ID)
}

// Text is the readable form of a rotation: the new key as a create shows
// it, then what became of the old one.
func (r *Rotated) Text() string {
	var old string
	switch {
	case r.OldProblem != "":
		old = fmt.Sprintf("The old key %s (%q) is still active: %s.", r.OldID, r.OldName, r.OldProblem)
	case !r.OldLeaseEndsAt.IsZero():
		old = fmt.Sprintf("The old key %s (%q) keeps working until %s, then mcp-keys revokes it.", r.OldID, r.OldName, r.OldLeaseEndsAt.UTC().Format(time.RFC3339))
	case r.OldRevoked:
		old = fmt.Sprintf("The old key %s (%q) was revoked; it stops working at once.", r.OldID, r.OldName)
	default:
		old = fmt.Sprintf("The old key %s (%q) was already revoked.", r.OldID, r.OldName)
	}
	return "Rotated. " + old + "\n" + r.New.Text()
}
