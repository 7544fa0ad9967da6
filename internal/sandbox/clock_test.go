package sandbox

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	c := NewClock(testEpoch)
	if got := c.Now(); !got.Equal(testEpoch) {
		t.Errorf("new clock reads %v", got)
	}
	time.Sleep(2 * time.Millisecond)
	if got := c.Now(); !got.Equal(testEpoch) {
		t.Errorf("stopped clock moved by itself to %v", got)
	}
	steps := []struct {
		d    time.Duration
		want time.Time
	}{
		{time.Hour, testEpoch.Add(time.Hour)},
		{24 * time.Hour, testEpoch.Add(25 * time.Hour)},
		{-25 * time.Hour, testEpoch},
		{0, testEpoch},
	}
	for _, s := range steps {
		c.Advance(s.d)
		if got := c.Now(); !got.Equal(s.want) {
			t.Errorf("after Advance(%v): %v, want %v", s.d, got, s.want)
		}
	}

	var wall Clock
	wall.Advance(48 * time.Hour)
	if d := wall.Now().Sub(time.Now()); d < 47*time.Hour || d > 49*time.Hour {
		t.Errorf("zero clock advanced by 48h reads %v from the wall clock", d)
	}
}

func TestClockConcurrent(t *testing.T) {
	c := NewClock(testEpoch)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				c.Advance(time.Second)
				_ = c.Now()
			}
		})
	}
	wg.Wait()
	if got, want := c.Now(), testEpoch.Add(8000*time.Second); !got.Equal(want) {
		t.Errorf("clock reads %v, want %v", got, want)
	}
}

// TestExpiryFollowsClock checks that every endpoint refuses a key once the
// sandbox's clock reaches its expiry, and not a moment before.
func TestExpiryFollowsClock(t *testing.T) {
	e := newEnv(t, Options{})
	_, full, err := e.sb.AddKey(NewKey{Name: "full, 2 days", ExpiresAt: testEpoch.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	scoped := e.mint(`{"containerTag":"demo-project","expiresInDays":2}`)
	if k := findKey(e.listKeys(), "id", scoped.ID); k.str("expiresAt") != "2026-03-03T12:00:00.000Z" {
		t.Errorf("expiresAt listed as %s", k["expiresAt"])
	}
	target := e.mint(`{"containerTag":"demo-project"}`).ID
	calls := []struct {
		name, method, path, key, body string
	}{
		{"session", "GET", "/v3/session", full, ""},
		{"list keys", "GET", "/v3/auth/keys", full, ""},
		{"list tags", "GET", "/v3/container-tags/list", full, ""},
		{"create", "POST", "/v3/auth/scoped-key", full, `{"containerTag":"demo-project"}`},
		{"scoped session", "GET", "/v3/session", scoped.Key, ""},
		{"document", "POST", "/v3/documents", scoped.Key, `{"content":"c"}`},
		{"search", "POST", "/v3/search", scoped.Key, `{"q":"x"}`},
		{"revoke", "DELETE", "/v3/auth/scoped-key/" + target, full, ""}, // last: it revokes
	}
	e.clock.Advance(48*time.Hour - time.Millisecond)
	for _, c := range calls {
		if r := e.do(c.method, c.path, c.key, c.body); r.status != http.StatusOK {
			t.Errorf("%s a millisecond before expiry: status %d: %s", c.name, r.status, r.body)
		}
	}
	e.clock.Advance(time.Millisecond)
	for _, c := range calls {
		r := e.do(c.method, c.path, c.key, c.body)
		var body errorBody
		decode(t, r.body, &body)
		if r.status != http.StatusUnauthorized || body.Details != "API key has expired" {
			t.Errorf("%s at expiry: status %d %+v, want 401 expired", c.name, r.status, body)
		}
	}
}
