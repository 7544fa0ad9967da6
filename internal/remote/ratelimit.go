package remote

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// DefaultRateLimit is MCP_KEYS_RATE_LIMIT's default: requests per minute
// per caller.
const DefaultRateLimit = 600

// rateLimiter is a token bucket per caller ID: perMinute tokens a minute,
// bursts of up to perMinute. Callers idle long enough for a full bucket are
// forgotten.
type rateLimiter struct {
	perMinute int
	now       func() time.Time

	mu        sync.Mutex
	buckets   map[string]*bucket
	lastSweep time.Time
}

type bucket struct {
	lim  *rate.Limiter
	seen time.Time
}

func newRateLimiter(perMinute int, now func() time.Time) *rateLimiter {
	return &rateLimiter{perMinute: perMinute, now: now, buckets: map[string]*bucket{}}
}

// allow takes one token from id's bucket; when there is none it reports how
// long until there is.
func (l *rateLimiter) allow(id string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	b := l.buckets[id]
	if b == nil {
		b = &bucket{lim: rate.NewLimiter(rate.Limit(float64(l.perMinute)/60), l.perMinute)}
		l.buckets[id] = b
	}
	b.seen = now
	r := b.lim.ReserveN(now, 1)
	if !r.OK() {
		return false, time.Minute
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// sweep forgets, at most once a minute, buckets unused for two minutes:
// they are full again, so forgetting them changes nothing.
func (l *rateLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for id, b := range l.buckets {
		if now.Sub(b.seen) > 2*time.Minute {
			delete(l.buckets, id)
		}
	}
}
