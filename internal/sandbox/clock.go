package sandbox

import (
	"sync"
	"time"
)

// Clock is a clock that a test or the demo can move forward, for use as
// [Options.Now] (pass its Now method): key expiry, "expired → 401",
// createdAt, lastRequest and the request log all read it. It is safe for
// concurrent use.
//
// The zero Clock follows the wall clock, shifted by every [Clock.Advance].
// A stopped clock (the tests make one) moves only when advanced.
type Clock struct {
	mu      sync.Mutex
	stopped bool
	start   time.Time // the stopped clock's time before any Advance
	offset  time.Duration
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return c.start.Add(c.offset)
	}
	return time.Now().Add(c.offset)
}

// Advance moves the clock by d; a negative d moves it back.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}
