package main

// Binary tests of tampering with the store of record, for the audit file
// and for PostgreSQL, with a chain key and without: each change is found
// by a server before it trusts the store (a create is refused, naming the
// record) and by `mcp-keys audit verify` (exit 1, naming the record); and
// what an unkeyed chain cannot show is asserted as such.

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// tamperChain is a store with a known chain of five records: 1 a check,
// 2 and 4 create intents, 3 and 5 their results (durable appends, so the
// checkpoint names record 5).
type tamperChain struct {
	store storeConfig
	rs    *replicaSet
}

// newTamperChain starts one replica on a fresh store and writes the five
// records through it.
func newTamperChain(t *testing.T, pg, keyed bool) *tamperChain {
	t.Helper()
	store := newStoreConfig(t, pg, keyed)
	rs := startReplicas(t, 1, store, designPolicy)
	c := httpClient(t, rs.servers[0].url, rs.token, "2025-11-25")
	mustCall(t, c, "check_policy", map[string]any{"tag": "proj-search"})
	mustCall(t, c, "create_scoped_key", map[string]any{"tag": "proj-search"})
	mustCall(t, c, "create_scoped_key", map[string]any{"tag": "proj-search"})
	if n := len(readChain(t, store)); n != 5 {
		t.Fatalf("the chain holds %d records, want 5", n)
	}
	// A store in use has been opened before: the running server is a
	// second one, which (for the file) writes the index snapshot that
	// later starts resume from.
	if code, stderr := rs.servers[0].stop(t); code != 0 {
		t.Fatalf("the first server's exit: %d\n%s", code, stderr)
	}
	rs.servers[0] = startHTTPServer(t, rs.env, []string{binary})
	mustCall(t, httpClient(t, rs.servers[0].url, rs.token, "2025-11-25"), "list_keys", map[string]any{})
	if !pg {
		if _, err := os.Stat(store.auditLog + ".idx"); err != nil {
			t.Fatalf("no index snapshot after a second start: %v", err)
		}
	}
	return &tamperChain{store: store, rs: rs}
}

// readChain returns the chain's lines (without "\n"), record 1 first.
func readChain(t *testing.T, store storeConfig) []string {
	t.Helper()
	if store.dbURL == "" {
		raw, err := os.ReadFile(store.auditLog)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, store.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT line FROM mcp_keys_audit ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return lines
}

// unlockSQL lets the test server's superuser change and remove records:
// the audit table is append-only by trigger, even for its owner.
const unlockSQL = "ALTER TABLE mcp_keys_audit DISABLE TRIGGER USER"

// appendLine appends a record's line to the store as a forger would: to
// the end of the file, or as a new row (an INSERT needs no unlocking).
func appendLine(t *testing.T, store storeConfig, seq int, line string) {
	t.Helper()
	if store.dbURL != "" {
		storeTestExec(t, store.dbURL, "INSERT INTO mcp_keys_audit (seq, at, line) VALUES ($1, now(), $2)", seq, line)
		return
	}
	f, err := os.OpenFile(store.auditLog, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

// replaceLines rewrites records from..from+len(lines)-1 in place: in the
// file (same inode, as an editor that writes in place would), or the rows.
func replaceLines(t *testing.T, store storeConfig, from int, lines []string) {
	t.Helper()
	if store.dbURL != "" {
		storeTestExec(t, store.dbURL, unlockSQL)
		for i, l := range lines {
			storeTestExec(t, store.dbURL, "UPDATE mcp_keys_audit SET line = $1 WHERE seq = $2", l, from+i)
		}
		return
	}
	all := readChain(t, store)
	copy(all[from-1:], lines)
	if err := os.WriteFile(store.auditLog, []byte(strings.Join(all, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// cutTail removes the last record: truncates the file, or deletes the row.
func cutTail(t *testing.T, store storeConfig) {
	t.Helper()
	lines := readChain(t, store)
	if store.dbURL != "" {
		storeTestExec(t, store.dbURL, unlockSQL)
		storeTestExec(t, store.dbURL, "DELETE FROM mcp_keys_audit WHERE seq = $1", len(lines))
		return
	}
	keep := int64(len(strings.Join(lines[:len(lines)-1], "\n")) + 1)
	if err := os.Truncate(store.auditLog, keep); err != nil {
		t.Fatal(err)
	}
}

// chainedForgery is a record appended after line seq with the right prev
// hash (anyone can compute a SHA-256), claiming a key minted, and no MAC
// (the forger has no chain key).
func chainedForgery(t *testing.T, line string, seq int) string {
	t.Helper()
	r := audit.Record{Event: audit.EventCreateResult, Phase: audit.PhaseResult, Ref: int64(seq - 1), Tool: "create_scoped_key",
		Decision: audit.DecisionAllowed, Outcome: audit.OutcomeCreated, Caller: "token:alice", KeyID: "forged_key_id", Tags: []string{"proj-search"}, Permission: "read"}
	out, _, err := audit.EncodeAfter(audit.LineHash([]byte(line)), int64(seq), r, time.Now(), 4242, nil)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// sameLengthEdit changes one character of a line's tag: the hardest edit
// to see, as no offset moves.
func sameLengthEdit(t *testing.T, line string) string {
	t.Helper()
	out := strings.Replace(line, "proj-search", "proj-searcH", 1)
	if out == line {
		t.Fatalf("no tag to edit in the record")
	}
	return out
}

// rechain edits record 2 and, as someone who can write the store but has
// no chain key would, recomputes every later record's prev and the
// checkpoint: the file's .ckpt is rewritten (its .idx, a cache, removed);
// the database's head and checkpoint rows are moved to the new last hash.
func rechain(t *testing.T, store storeConfig, lines []string) {
	t.Helper()
	out := slices.Clone(lines)
	out[1] = sameLengthEdit(t, lines[1])
	for i := 2; i < len(out); i++ {
		rec, err := audit.DecodeLine([]byte(lines[i]))
		if err != nil {
			t.Fatal(err)
		}
		line, _, err := audit.EncodeAfter(audit.LineHash([]byte(out[i-1])), int64(i), rec, rec.Time, rec.PID, nil)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = string(line)
	}
	replaceLines(t, store, 2, out[1:])
	last := audit.LineHash([]byte(out[len(out)-1]))
	if store.dbURL != "" {
		storeTestExec(t, store.dbURL, "UPDATE mcp_keys_audit_head SET hash = $1", last)
		storeTestExec(t, store.dbURL, "UPDATE mcp_keys_audit_checkpoint SET hash = $1", last)
		return
	}
	fi, err := os.Stat(store.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	ckpt := fmt.Sprintf(`{"v":1,"seq":%d,"offset":%d,"sha256":%q}`, len(out), fi.Size(), last)
	ckpt += strings.Repeat(" ", 255-len(ckpt)) + "\n" // the checkpoint's fixed size
	if err := os.WriteFile(store.auditLog+".ckpt", []byte(ckpt), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(store.auditLog + ".idx"); err != nil {
		t.Fatal(err)
	}
}

// mode is a store and whether its chain is keyed.
type mode struct{ pg, keyed bool }

// want is what finds a change, as the record each names (0: the change
// passes unnoticed): `audit verify`, the server that was running when the
// change was made, and a server started after it.
type want struct{ verify, running, fresh int }

// tamperCase is one change to the chain of five and what finds it, for
// each mode.
type tamperCase struct {
	name   string
	tamper func(t *testing.T, store storeConfig, lines []string)
	want   map[mode]want
}

// everywhere is the same want for the four modes.
func everywhere(w want) map[mode]want {
	return map[mode]want{{false, false}: w, {false, true}: w, {true, false}: w, {true, true}: w}
}

func TestTamperDetected(t *testing.T) {
	cases := []tamperCase{{
		name: "forged record appended",
		tamper: func(t *testing.T, store storeConfig, lines []string) {
			// A copy of the last record numbered 6: its prev is record 4's.
			appendLine(t, store, 6, strings.Replace(lines[4], `"seq":5,`, `"seq":6,`, 1))
		},
		want: everywhere(want{6, 6, 6}),
	}, {
		name: "forged record chained without the key",
		tamper: func(t *testing.T, store storeConfig, lines []string) {
			appendLine(t, store, 6, chainedForgery(t, lines[4], 5))
		},
		want: map[mode]want{
			// Keyed: it has no MAC.
			{false, true}: {6, 6, 6}, {true, true}: {6, 6, 6},
			// Unkeyed, PostgreSQL: it lies beyond the chain head, which
			// every append moves in the same transaction.
			{true, false}: {6, 6, 6},
			// Unkeyed, the file: a record after the checkpoint is what
			// another process's append looks like, and its hash chains.
			// Not detected: only a chain key tells a forger from mcp-keys.
			{false, false}: {0, 0, 0},
		},
	}, {
		name: "record edited in the middle",
		tamper: func(t *testing.T, store storeConfig, lines []string) {
			replaceLines(t, store, 2, []string{sameLengthEdit(t, lines[1])})
		},
		// `audit verify` reads the whole chain: keyed, record 2's MAC
		// fails; unkeyed, record 3's prev no longer matches it. A server
		// verifies incrementally before every write, from the last record
		// it (or, for PostgreSQL, any replica) verified: a record below
		// it, changed without moving any offset, is seen by the full
		// verification a server runs when it starts (writes wait for it)
		// and then every hour (keys.VerifyInterval) — so by the server
		// started afterwards, not yet by the one that was running.
		want: map[mode]want{
			{false, true}: {2, 0, 2}, {true, true}: {2, 0, 2},
			{false, false}: {3, 0, 3}, {true, false}: {3, 0, 3},
		},
	}, {
		name:   "consistent re-chain",
		tamper: rechain,
		want: map[mode]want{
			// Keyed: record 2's MAC fails, and the records after it have
			// none. A running server names the record it checks first: the
			// last it verified (the running file store keeps it in memory)
			// or the checkpoint's (PostgreSQL); a server started after
			// verifies the whole chain first and names record 2.
			{false, true}: {2, 5, 2}, {true, true}: {2, 5, 2},
			// Unkeyed: NOT DETECTED. Whoever can write the file (or is
			// the database's owner) can rewrite the chain consistently
			// and `audit verify` passes, as its output says ("Not
			// detected without a chain key"). Only the file server that
			// was running notices, as its last verified record changed
			// under it; any server started afterwards trusts the rewrite.
			{false, false}: {0, 5, 0}, {true, false}: {0, 0, 0},
		},
	}, {
		name:   "tail cut",
		tamper: func(t *testing.T, store storeConfig, _ []string) { cutTail(t, store) },
		// Record 5 is named by the checkpoint (the file's .ckpt, the
		// database's checkpoint and head rows).
		want: everywhere(want{5, 5, 5}),
	}}
	for _, pg := range []bool{false, true} {
		for _, keyed := range []bool{true, false} {
			for _, tc := range cases {
				t.Run(fmt.Sprintf("%s/keyed=%t/%s", storeKind(pg), keyed, tc.name), func(t *testing.T) {
					testTamper(t, mode{pg, keyed}, tc.tamper, tc.want[mode{pg, keyed}])
				})
			}
		}
	}
}

// storeKind names a store for a subtest.
func storeKind(pg bool) string {
	if pg {
		return "postgres"
	}
	return "file"
}

func testTamper(t *testing.T, m mode, tamper func(*testing.T, storeConfig, []string), w want) {
	ch := newTamperChain(t, m.pg, m.keyed)
	tamper(t, ch.store, readChain(t, ch.store))
	// The server that was running during the change, then one started
	// after it: neither may trust the store.
	checkCreate(t, "the running server", ch.rs.servers[0], ch.rs, w.running)
	checkCreate(t, "a server started after", startHTTPServer(t, ch.rs.env, []string{binary}), ch.rs, w.fresh)
	checkVerify(t, ch.store, w.verify)
}

// checkCreate calls create_scoped_key through s: with want > 0 it must be
// refused with a message that says the chain fails verification and names
// record want, and mint nothing; with want 0 it must succeed.
func checkCreate(t *testing.T, name string, s *httpServer, rs *replicaSet, want int) {
	t.Helper()
	c := httpClient(t, s.url, rs.token, "2025-11-25")
	before := rs.sb.Sandbox.KeyCount()
	res, err := callTool(c, "create_scoped_key", map[string]any{"tag": "proj-search"})
	if err != nil {
		t.Fatalf("%s: create: %v", name, err)
	}
	minted := rs.sb.Sandbox.KeyCount() - before
	text := "(a key)" // never shown
	if res.IsError {
		text = resultText(res)
	}
	if want == 0 {
		if res.IsError || minted != 1 {
			t.Errorf("%s: create on an undetected change: %d keys minted, %q; want it to go through", name, minted, text)
		}
		return
	}
	if !res.IsError || minted != 0 || !strings.Contains(text, "fails verification") || !strings.Contains(text, fmt.Sprintf("line %d:", want)) {
		t.Errorf("%s: create: %d keys minted, %q; want refused naming line %d", name, minted, text, want)
	}
}

// checkVerify runs `audit verify` on the store: with want > 0 it must exit
// 1 naming record want; with want 0, pass.
func checkVerify(t *testing.T, store storeConfig, want int) {
	t.Helper()
	out, code := auditCmd(t, store, "verify")
	if want == 0 {
		if code != 0 || !strings.Contains(out, "intact") {
			t.Errorf("audit verify: exit %d, want 0\n%s", code, out)
		}
		if store.keyFile == "" && !strings.Contains(out, "Not detected without a chain key") {
			t.Errorf("audit verify of an unkeyed chain does not say what it cannot detect:\n%s", out)
		}
		return
	}
	name := fmt.Sprintf("line %d:", want) // PostgreSQL: "... verify all: line N: ..."
	if store.dbURL == "" {
		name = fmt.Sprintf("%s:%d:", store.auditLog, want)
	}
	if code != 1 || !strings.Contains(out, name) {
		t.Errorf("audit verify: exit %d, want 1 naming %q\n%s", code, name, out)
	}
}
