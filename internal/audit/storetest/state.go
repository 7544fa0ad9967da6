package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

func testUseConfirmation(t *testing.T, h *harness) {
	s, other := h.store("a"), h.store("a")
	exp := h.clock.Now().Add(5 * time.Minute)
	use := func(s audit.Store, nonce string, want bool) {
		t.Helper()
		got, err := s.UseConfirmation(ctx, nonce, exp)
		if err != nil || got != want {
			t.Fatalf("UseConfirmation(%q) = %v, %v; want %v", nonce, got, err, want)
		}
	}
	use(s, "n1", true)
	use(s, "n1", false)
	use(other, "n1", false)
	use(other, "n2", true)
	use(s, "n2", false)
	use(h.store("b"), "n1", true) // another backing store knows nothing of these
	if _, err := s.UseConfirmation(ctx, "", exp); err == nil {
		t.Error("an empty nonce was accepted")
	}
	// Many goroutines on two handles use one nonce: exactly one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			st := s
			if w%2 == 1 {
				st = other
			}
			ok, err := st.UseConfirmation(ctx, "race", exp)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d goroutines used one nonce", wins.Load())
	}
	// Used nonces survive a restart.
	for _, st := range []audit.Store{s, other} {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	use(h.store("a"), "n1", false)
	use(h.store("a"), "race", false)
}

func testConfirmationKey(t *testing.T, h *harness) {
	stores := []audit.Store{h.store("a"), h.store("a"), h.store("a")}
	keys := make([][]byte, len(stores))
	var wg sync.WaitGroup
	for i, s := range stores { // first use, concurrently
		wg.Go(func() {
			k, err := s.ConfirmationKey(ctx)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	wg.Wait()
	for i, k := range keys {
		if len(k) != 32 || !bytes.Equal(k, keys[0]) {
			t.Fatalf("key %d: %d bytes, equal to the first: %v", i, len(k), bytes.Equal(k, keys[0]))
		}
	}
	if bytes.Equal(keys[0], make([]byte, 32)) {
		t.Fatal("the key is all zero")
	}
	keys[0][0] ^= 0xff // the caller's copy
	again, err := stores[0].ConfirmationKey(ctx)
	if err != nil || !bytes.Equal(again, keys[1]) {
		t.Fatalf("the key changed: %v", err)
	}
	for _, s := range stores {
		_ = s.Close()
	}
	later, err := h.store("a").ConfirmationKey(ctx)
	if err != nil || !bytes.Equal(later, keys[1]) {
		t.Fatalf("the key after a restart differs: %v", err)
	}
	fresh, err := h.store("b").ConfirmationKey(ctx)
	if err != nil || bytes.Equal(fresh, keys[1]) {
		t.Fatalf("another backing store has the same key: %v", err)
	}
}

// keys returns the key ids of leases, in order.
func keys(ls []audit.Lease) string {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.KeyID
	}
	return strings.Join(ids, ",")
}

func testLeases(t *testing.T, h *harness) {
	s, other := h.store("a"), h.store("a")
	t0 := h.clock.Now()
	for _, bad := range []audit.Lease{{EndsAt: t0}, {KeyID: "k"}} {
		if err := s.AddLease(ctx, bad); err == nil {
			t.Errorf("AddLease(%+v) succeeded", bad)
		}
	}
	add := func(id string, ends time.Duration) audit.Lease {
		l := audit.Lease{KeyID: id, Caller: "token:a", Tags: []string{"proj-a", "proj-b"}, Name: "agent-" + id, EndsAt: t0.Add(ends)}
		if err := s.AddLease(ctx, l); err != nil {
			t.Fatal(err)
		}
		return l
	}
	l1, l2, l3 := add("k1", 10*time.Minute), add("k2", 20*time.Minute), add("k3", 5*time.Minute)
	claim := func(s audit.Store, owner string, limit int, want string) []audit.Lease {
		t.Helper()
		now := h.clock.Now()
		got, err := s.ClaimDueLeases(ctx, owner, now, now.Add(time.Minute), limit)
		if err != nil || keys(got) != want {
			t.Fatalf("ClaimDueLeases(%s, limit %d) at +%v = [%s], %v; want [%s]", owner, limit, now.Sub(t0), keys(got), err, want)
		}
		return got
	}
	leases := func(s audit.Store, ids ...string) map[string]audit.Lease {
		t.Helper()
		got, err := s.Leases(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}

	got := leases(other, "k1", "k2", "k9")
	if len(got) != 2 || got["k1"].Name != l1.Name || !got["k1"].EndsAt.Equal(l1.EndsAt) || !slices.Equal(got["k2"].Tags, l2.Tags) ||
		got["k2"].Caller != "token:a" || got["k1"].Attempts != 0 || !got["k1"].RetryAt.IsZero() {
		t.Fatalf("Leases = %+v", got)
	}
	claim(s, "a", 10, "") // none has ended
	h.clock.Advance(15 * time.Minute)
	claimed := claim(s, "a", 10, "k3,k1") // earliest end first
	if claimed[0].Name != l3.Name || !claimed[0].EndsAt.Equal(l3.EndsAt) {
		t.Fatalf("claimed lease: %+v", claimed[0])
	}
	claim(other, "b", 10, "") // claimed by a until +16m
	claim(s, "a", 10, "")     // not twice, even to its owner
	if err := s.FinishLease(ctx, "k3", audit.OutcomeRevoked); err != nil {
		t.Fatal(err)
	}
	if got := leases(other, "k3"); len(got) != 0 {
		t.Fatalf("a finished lease is open: %+v", got)
	}
	retryAt := h.clock.Now().Add(5 * time.Minute)
	if err := other.RetryLease(ctx, "k1", retryAt, 1, "upstream 500 for "+secret); err != nil {
		t.Fatal(err)
	}
	got = leases(s, "k1")
	if l := got["k1"]; l.Attempts != 1 || !l.RetryAt.Equal(retryAt) || !strings.HasPrefix(l.LastError, "upstream 500") || secretRE.MatchString(l.LastError) {
		t.Fatalf("after RetryLease: %+v", l)
	}
	claim(other, "b", 10, "")        // k1 waits for its retry, k2 has not ended
	h.clock.Advance(6 * time.Minute) // +21m
	claim(other, "b", 1, "k1")
	claim(other, "b", 5, "k2")
	claim(s, "a", 5, "")
	h.clock.Advance(2 * time.Minute) // b's claims have expired, unfinished
	claim(s, "a", 5, "k1,k2")

	now := h.clock.Now()
	if got, err := s.ClaimDueLeases(ctx, "a", now, now.Add(time.Minute), 0); err != nil || len(got) != 0 {
		t.Errorf("limit 0: %v, %v", got, err)
	}
	if _, err := s.ClaimDueLeases(ctx, "", now, now.Add(time.Minute), 5); err == nil {
		t.Error("a claim without an owner succeeded")
	}
	if _, err := s.ClaimDueLeases(ctx, "a", now, now, 5); err == nil {
		t.Error("a claim that ends when it starts succeeded")
	}
	if err := s.FinishLease(ctx, "nope", audit.OutcomeRevoked); err != nil {
		t.Errorf("finishing an unknown lease: %v", err)
	}
	if err := s.RetryLease(ctx, "nope", now, 1, "x"); err != nil {
		t.Errorf("retrying an unknown lease: %v", err)
	}
	if got := leases(s, "nope"); len(got) != 0 {
		t.Errorf("RetryLease made a lease: %+v", got)
	}
	// Re-adding replaces.
	add("k2", 60*time.Minute)
	if got := leases(other, "k2"); !got["k2"].EndsAt.Equal(t0.Add(60 * time.Minute)) {
		t.Errorf("re-added lease: %+v", got["k2"])
	}
	// Durable.
	for _, st := range []audit.Store{s, other} {
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := leases(h.store("a"), "k1", "k2", "k3"); len(got) != 2 || got["k1"].Attempts != 1 {
		t.Fatalf("after a restart: %+v", got)
	}
}

// testLeasesConcurrent: claimers on two handles never get the same lease.
func testLeasesConcurrent(t *testing.T, h *harness) {
	s, other := h.store("a"), h.store("a")
	const n = 24
	for i := range n {
		if err := s.AddLease(ctx, audit.Lease{KeyID: fmt.Sprintf("k%02d", i), EndsAt: h.clock.Now().Add(-time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			st := s
			if w%2 == 1 {
				st = other
			}
			for {
				now := h.clock.Now()
				ls, err := st.ClaimDueLeases(ctx, fmt.Sprintf("w%d", w), now, now.Add(time.Hour), 3)
				if err != nil {
					t.Error(err)
					return
				}
				if len(ls) == 0 {
					return
				}
				mu.Lock()
				for _, l := range ls {
					got = append(got, l.KeyID)
				}
				over := len(got) > n // some were claimed twice: stop
				mu.Unlock()
				if over {
					return
				}
			}
		})
	}
	wg.Wait()
	sort.Strings(got)
	if len(got) != n || len(slices.Compact(slices.Clone(got))) != n {
		t.Fatalf("claimed %d leases (%d distinct), want %d once each: %v", len(got), len(slices.Compact(slices.Clone(got))), n, got)
	}
}
