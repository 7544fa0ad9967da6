package keys_test

// Replicas never revoke the same lease twice: two services sharing one
// store of record (the audit file, and PostgreSQL when a test database is
// configured) reap at the same moment, and the sandbox sees exactly one
// DELETE per ended lease.

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/keys"
)

func TestLeaseReplicasRevokeOnce(t *testing.T) {
	stores := []struct {
		name             string
		rounds, perRound int // PostgreSQL writes are slower: fewer rounds
		open             func(e *leaseEnv) keys.StoreOpener
	}{
		{"file", 4, 5, func(e *leaseEnv) keys.StoreOpener { return e.open }},
		{"postgres", 2, 4, func(e *leaseEnv) keys.StoreOpener { return e.pgOpener(pgURL(e.t)) }},
	}
	for _, st := range stores {
		rounds, perRound := st.rounds, st.perRound
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			e := newLeaseEnv(t, leasePolicy)
			open := st.open(e)
			a, b := e.serviceOn(open, false), e.serviceOn(open, false)
			total := keys.ReapReport{}
			for round := range rounds {
				var ids []string
				for range perRound {
					ids = append(ids, e.createLeased(a, "proj-replica", 1).ID)
				}
				e.clock.Advance(time.Minute + time.Second)
				// Both replicas reap at once, twice each.
				var wg sync.WaitGroup
				reps := make([]keys.ReapReport, 4)
				errs := make([]error, 4)
				start := make(chan struct{})
				for i, svc := range []*keys.Service{a, b, a, b} {
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						reps[i], errs[i] = svc.Reap(ctx)
					}()
				}
				close(start)
				wg.Wait()
				revoked := 0
				for i := range reps {
					if errs[i] != nil || reps[i].Failed != 0 || reps[i].Gone != 0 {
						t.Errorf("round %d, pass %d: %+v, %v", round, i, reps[i], errs[i])
					}
					revoked += reps[i].Revoked
					total.Revoked += reps[i].Revoked
				}
				if revoked != perRound {
					t.Errorf("round %d: %d revoked in all, want %d (%+v)", round, revoked, perRound, reps)
				}
				for _, id := range ids {
					if n := e.deletes(id); n != 1 {
						t.Errorf("round %d: key %s got %d DELETEs, want exactly 1", round, id, n)
					}
					if e.enabled(id) {
						t.Errorf("round %d: key %s is still enabled", round, id)
					}
				}
			}
			if n := e.deletes(""); n != rounds*perRound || total.Revoked != rounds*perRound {
				t.Errorf("%d DELETEs and %d revoked over %d leases", n, total.Revoked, rounds*perRound)
			}
			// Neither replica finds anything left to do.
			for _, svc := range []*keys.Service{a, b} {
				if rep, err := svc.Reap(ctx); err != nil || rep != (keys.ReapReport{}) {
					t.Errorf("a later pass: %+v, %v", rep, err)
				}
			}
		})
	}
}
