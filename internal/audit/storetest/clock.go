package storetest

import (
	"sync"
	"time"
)

// Clock is a settable clock for the stores under test. Its times have
// microsecond precision (what PostgreSQL keeps), so that a time read back
// equals the time written.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock at a fixed time.
func NewClock() *Clock {
	return &Clock{t: time.Date(2026, 11, 25, 21, 14, 3, 123456000, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d (rounded to a microsecond).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d.Round(time.Microsecond))
}
