package main

// Binary tests of the store of record shared by replicas: three
// `serve --http` processes on one PostgreSQL (or one audit file) keep one
// quota, one provenance and one set of used confirmations, and a replica
// killed in the middle of creates leaves a chain the others go on with.

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// replicaPolicy is the design's example policy with revoke.only_minted
// (so that revoking needs provenance) and a global quota of 10 an hour.
const replicaPolicy = designPolicy + "  only_minted: true\nquota:\n  max_keys_per_hour: 10\n"

// createOutcome is one create_scoped_key call's outcome, without its key.
type createOutcome struct {
	replica int
	id      string // the new key's id, when minted
	refusal string // the refusal's text, when refused
	err     error  // a protocol or transport error
}

// createConcurrently calls create_scoped_key n times at once, call i
// through clients[i%len(clients)], and returns the outcomes.
func createConcurrently(t *testing.T, clients []*client.Client, n int, tag string) []createOutcome {
	t.Helper()
	out := make([]createOutcome, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := i % len(clients)
			o := createOutcome{replica: r}
			res, err := callTool(clients[r], "create_scoped_key", map[string]any{"tag": tag})
			switch {
			case err != nil:
				o.err = err
			case res.IsError:
				o.refusal = resultText(res)
			default:
				m, _ := res.StructuredContent.(map[string]any)
				o.id, _ = m["id"].(string)
				if o.id == "" {
					o.err = fmt.Errorf("a create that succeeded returned no id")
				}
			}
			out[i] = o
		})
	}
	wg.Wait()
	return out
}

func TestReplicasShareOnePostgreSQL(t *testing.T) {
	store := newStoreConfig(t, true, true)
	rs := startReplicas(t, 3, store, replicaPolicy)
	clients := make([]*client.Client, len(rs.servers))
	for i, s := range rs.servers {
		clients[i] = httpClient(t, s.url, rs.token, "2025-11-25")
	}
	before := rs.sb.Sandbox.KeyCount()

	// 60 creates at once, 20 through each replica: the quota of 10 an hour
	// holds across the three.
	outcomes := createConcurrently(t, clients, 60, "proj-search")
	var minted []createOutcome
	for _, o := range outcomes {
		switch {
		case o.err != nil:
			t.Errorf("replica %d: %v", o.replica+1, o.err)
		case o.id != "":
			minted = append(minted, o)
		case !strings.Contains(o.refusal, "quota.max_keys_per_hour"):
			t.Errorf("replica %d refused without naming the quota: %q", o.replica+1, o.refusal)
		}
		if strings.Contains(o.refusal, "sm_") {
			t.Errorf("a refusal holds something like a key")
		}
	}
	if len(minted) != 10 {
		t.Fatalf("%d of 60 creates succeeded through three replicas under a quota of 10", len(minted))
	}
	if got := rs.sb.Sandbox.KeyCount() - before; got != 10 {
		t.Fatalf("the upstream holds %d new keys, want 10", got)
	}
	perReplica := make([]int, 3)
	for _, o := range minted {
		perReplica[o.replica]++
	}
	t.Logf("keys minted per replica: %v", perReplica)

	t.Run("provenance crosses replicas", func(t *testing.T) {
		// A key minted through one replica is revoked through another
		// (revoke.only_minted needs the store's provenance to allow it).
		m := minted[0]
		other := (m.replica + 2) % 3
		rev := mustCall(t, clients[other], "revoke_key", map[string]any{"id": m.id})
		if rev["id"] != m.id {
			t.Errorf("revoke_key through replica %d of a key minted through replica %d: %v", other+1, m.replica+1, rev)
		}
		// A key of the right name and tag that mcp-keys did not mint is
		// still refused: the provenance is what allowed the revoke (a
		// remote caller cannot see it at all: it reads as not found).
		foreign, _, err := rs.sb.Sandbox.AddKey(sandbox.NewKey{Name: "agent-foreign", Tags: []string{"proj-search"}})
		if err != nil {
			t.Fatal(err)
		}
		res, err := callTool(clients[other], "revoke_key", map[string]any{"id": foreign})
		if err != nil || !res.IsError || !strings.Contains(resultText(res), "not found") {
			t.Errorf("revoke of a key not minted through mcp-keys: err %v, result %v", err, res != nil && res.IsError)
		}
	})

	t.Run("audit verify over all three", func(t *testing.T) {
		out, code := auditCmd(t, store, "verify")
		if code != 0 || !strings.Contains(out, "chain intact") {
			t.Fatalf("audit verify: exit %d\n%s", code, out)
		}
		recs := auditTail(t, store, 1000)
		pids := map[int]bool{}
		created, quotaDenied := 0, 0
		for _, r := range recs {
			pids[r.pid] = true
			switch {
			case r.event == "create_result" && r.outcome == "created":
				created++
			case r.event == "create" && r.decision == "denied" && strings.Contains(r.line, "max_keys_per_hour"):
				quotaDenied++
			}
		}
		for i, s := range rs.servers {
			if !pids[s.cmd.Process.Pid] {
				t.Errorf("no record of replica %d (pid %d) in the store", i+1, s.cmd.Process.Pid)
			}
		}
		if created != 10 || quotaDenied != 50 {
			t.Errorf("the store records %d keys created and %d creates refused by the quota, want 10 and 50", created, quotaDenied)
		}
	})
}

// TestConfirmationAcrossReplicas: a 2026-07-28 client is asked through one
// replica, answers through a second (the request state's signing key is
// the store's, the same for all), and the same answer replayed through the
// third is refused as already used.
func TestConfirmationAcrossReplicas(t *testing.T) {
	store := newStoreConfig(t, true, false)
	rs := startReplicas(t, 3, store, designPolicy+"confirm: always\n")
	before := rs.sb.Sandbox.KeyCount()
	args := map[string]any{"tag": "proj-search"}

	ask := rpcResult(t, modernCall(t, rs.servers[0].url, rs.token, "create_scoped_key", args, nil))
	state, _ := ask["requestState"].(string)
	if ask["resultType"] != "input_required" || state == "" {
		t.Fatalf("replica 1 did not ask for a confirmation: %s", describeResult(ask))
	}
	if n := rs.sb.Sandbox.KeyCount() - before; n != 0 {
		t.Fatalf("%d keys minted before the person answered", n)
	}

	done := rpcResult(t, modernCall(t, rs.servers[1].url, rs.token, "create_scoped_key", args, confirmAnswer(state)))
	if done["isError"] == true || done["resultType"] == "input_required" {
		t.Fatalf("the answer through replica 2 was not accepted: %s", describeResult(done))
	}
	if n := rs.sb.Sandbox.KeyCount() - before; n != 1 {
		t.Fatalf("%d keys minted after the answer, want 1", n)
	}

	replay := rpcResult(t, modernCall(t, rs.servers[2].url, rs.token, "create_scoped_key", args, confirmAnswer(state)))
	if replay["isError"] != true || !strings.Contains(fmtContent(replay), "already used") {
		t.Errorf("the same answer replayed through replica 3: %s, want refused as already used", describeResult(replay))
	}
	// And through the replica that accepted it.
	again := rpcResult(t, modernCall(t, rs.servers[1].url, rs.token, "create_scoped_key", args, confirmAnswer(state)))
	if again["isError"] != true || !strings.Contains(fmtContent(again), "already used") {
		t.Errorf("the same answer replayed through replica 2: %s", describeResult(again))
	}
	if n := rs.sb.Sandbox.KeyCount() - before; n != 1 {
		t.Errorf("%d keys minted in all, want 1", n)
	}
	if out, code := auditCmd(t, store, "verify"); code != 0 {
		t.Errorf("audit verify: exit %d\n%s", code, out)
	}
}

// TestReplicaKilledMidCreate kills one of three replicas (SIGKILL) while
// its creates wait on a slow upstream. The store holds no half-written
// record and no gap: the other replicas go on minting and `audit verify`
// passes. The killed replica's creates stay where they were: an intent
// without a result, which is what "outcome unknown" is in the store (the
// key may exist), so each keeps its quota slot.
func TestReplicaKilledMidCreate(t *testing.T) {
	for _, pg := range []bool{true, false} {
		name := "file"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			testReplicaKilledMidCreate(t, pg)
		})
	}
}

func testReplicaKilledMidCreate(t *testing.T, pg bool) {
	const (
		perReplica = 3
		quota      = 13 // 9 in flight, 4 after the kill, then refused
	)
	store := newStoreConfig(t, pg, true)
	rs := startReplicas(t, 3, store, fmt.Sprintf("%squota:\n  max_keys_per_hour: %d\n", designPolicy, quota))
	clients := make([]*client.Client, len(rs.servers))
	for i, s := range rs.servers {
		clients[i] = httpClient(t, s.url, rs.token, "2025-11-25")
	}
	before := rs.sb.Sandbox.KeyCount()
	calls := rs.sb.Sandbox.Count(sandbox.EndpointCreate)
	slow := rs.sb.Sandbox.Inject(sandbox.Fault{Endpoint: sandbox.EndpointCreate, Latency: 3 * time.Second})

	result := make(chan []createOutcome, 1)
	go func() { result <- createConcurrently(t, clients, 3*perReplica, "proj-crash") }()
	// Every create's intent is recorded before its upstream call: once the
	// upstream has all nine, all nine intents are in the store.
	deadline := time.Now().Add(20 * time.Second)
	for rs.sb.Sandbox.Count(sandbox.EndpointCreate)-calls < 3*perReplica {
		if time.Now().After(deadline) {
			t.Fatalf("only %d creates reached the upstream", rs.sb.Sandbox.Count(sandbox.EndpointCreate)-calls)
		}
		time.Sleep(10 * time.Millisecond)
	}
	killed := rs.servers[0]
	if err := killed.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed.wait(10 * time.Second)
	outcomes := <-result
	slow()
	for _, o := range outcomes {
		switch {
		case o.replica == 0 && o.err == nil:
			t.Errorf("a create through the killed replica got an answer (id %t, refusal %q)", o.id != "", o.refusal)
		case o.replica != 0 && o.id == "":
			t.Errorf("replica %d: a create failed while another replica was killed: %v %q", o.replica+1, o.err, o.refusal)
		}
	}

	// The others keep minting, until the quota, which still counts the
	// killed replica's creates: their keys may exist.
	after := createConcurrently(t, clients[1:], quota-3*perReplica, "proj-after")
	for _, o := range after {
		if o.id == "" {
			t.Errorf("replica %d after the kill: %v %q", o.replica+2, o.err, o.refusal)
		}
	}
	over := createConcurrently(t, clients[1:2], 1, "proj-over")[0]
	if !strings.Contains(over.refusal, "quota.max_keys_per_hour") {
		t.Errorf("create over the quota (%d intents, %d keys): id %t, err %v, refusal %q", quota, quota-perReplica, over.id != "", over.err, over.refusal)
	}
	if got, want := rs.sb.Sandbox.KeyCount()-before, quota-perReplica; got != want {
		t.Errorf("the upstream holds %d new keys, want %d (nothing minted for the killed replica)", got, want)
	}

	out, code := auditCmd(t, store, "verify")
	if code != 0 {
		t.Fatalf("audit verify after the kill: exit %d\n%s", code, out)
	}
	recs := auditTail(t, store, 1000)
	answered := map[int]bool{}
	for _, r := range recs {
		if r.phase == "result" {
			answered[r.ref] = true
		}
	}
	var unknown, open []int
	for _, r := range recs {
		if r.event != "create" || r.phase != "intent" || answered[r.seq] {
			continue
		}
		open = append(open, r.seq)
		if r.pid == killed.cmd.Process.Pid {
			unknown = append(unknown, r.seq)
		}
	}
	if len(unknown) != perReplica || !slices.Equal(unknown, open) {
		t.Errorf("intents without a result: %v, of which the killed replica's %v; want exactly its %d", open, unknown, perReplica)
	}
}
