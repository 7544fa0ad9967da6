package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestOpenFileRefuses(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenFile("", FileOptions{}); err == nil {
		t.Error("empty path accepted")
	}
	if _, err := OpenFile(filepath.Join(dir, "a.jsonl"), FileOptions{ChainKey: make([]byte, 31)}); err == nil ||
		!strings.Contains(err.Error(), "at least 32") {
		t.Errorf("short key: %v", err)
	}
	target := filepath.Join(dir, "real.jsonl")
	writeFile(t, target, nil)
	link := filepath.Join(dir, "link.jsonl")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(link, FileOptions{}); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlinked log: %v", err)
	}
	// A symlinked sidecar is refused too.
	p := filepath.Join(dir, "b.jsonl")
	if err := os.Symlink(target, p+stateSuffix); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFile(p, FileOptions{}); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Errorf("symlinked journal: %v", err)
	}
	// Files are private.
	s, _ := newStore(t, nil)
	if _, err := s.ConfirmationKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, suffix := range []string{"", checkpointSuffix, stateSuffix, confKeySuffix} {
		fi, err := os.Stat(s.Path() + suffix)
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v", suffix, fi.Mode(), err)
		}
	}
}

// TestFileStoreLegacyLog: a log written before the file store (the lines
// alone, see appendLegacy) stays readable, verifiable and continued;
// records appended that way while a store is open are verified and counted
// incrementally.
func TestFileStoreLegacyLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	c := newClock()
	for _, r := range sampleRecords(6) {
		appendLegacy(t, path, r, c.Now())
		c.Advance(time.Second)
	}
	s := openStore(t, path, nil, c)
	ctx := context.Background()
	q, err := s.Counts(ctx, "", c.Now())
	if err != nil || q.Global.LastHour != 2 || q.Caller.LastHour != 2 {
		t.Fatalf("Counts over a legacy log = %+v, %v", q, err)
	}
	m, err := s.Minted(ctx, []string{"key_b", "key_f"})
	if err != nil || len(m) != 2 || m["key_b"].Tags[0] != "proj-a" {
		t.Fatalf("Minted over a legacy log = %+v, %v", m, err)
	}
	appendLegacy(t, path, createIntent("proj-a"), c.Now()) // an old writer still running
	if q, err := s.Counts(ctx, "", c.Now()); err != nil || q.Global.LastHour != 3 {
		t.Fatalf("Counts after a legacy append = %+v, %v", q, err)
	}
	got := storeAppend(t, s, createIntent("proj-a"))
	if got.Seq != 8 || got.MAC != "" {
		t.Fatalf("continued record: %+v", got)
	}
	if n, err := VerifyFile(path); n != 8 || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
	if recs, err := Tail(path, 2); err != nil || len(recs) != 2 || recs[1].Seq != 8 {
		t.Fatalf("Tail = %v, %v", recs, err)
	}
}

// TestFileStoreSnapshot: the index is read from its snapshot when it
// matches the log, and rebuilt from the log when it does not.
func TestFileStoreSnapshot(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		ctx := context.Background()
		s, c := newStore(t, key)
		fill(t, s, c, 12)
		if err := s.writeSnapshot(); err != nil {
			t.Fatal(err)
		}
		fill(t, s, c, 3) // after the snapshot
		wantQ, _ := s.Counts(ctx, "", c.Now())
		ids := []string{"key_b", "key_f", "key_j", "key_n"}
		wantM, _ := s.Minted(ctx, ids)
		if len(wantM) != 3 || wantQ.Global.LastDay != 4 {
			t.Fatalf("before: %+v %+v", wantQ, wantM)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		path := s.Path()
		snap := readFile(t, path+indexSuffix)

		check := func(name string, wantLoaded bool) {
			t.Helper()
			r := openStore(t, path, key, c)
			if loaded := r.sinceSnap == 3; loaded != wantLoaded {
				t.Errorf("%s: snapshot used %v (records read %d), want %v", name, loaded, r.sinceSnap, wantLoaded)
			}
			q, err := r.Counts(ctx, "", c.Now())
			if err != nil || q.Global != wantQ.Global {
				t.Errorf("%s: Counts = %+v, %v; want %+v", name, q, err, wantQ)
			}
			m, err := r.Minted(ctx, ids)
			if err != nil || fmt.Sprint(m) != fmt.Sprint(wantM) {
				t.Errorf("%s: Minted = %v, %v; want %v", name, m, err, wantM)
			}
			_ = r.Close()
			writeFile(t, path+indexSuffix, snap)
		}
		check("matching snapshot", true)
		writeFile(t, path+indexSuffix, bytes.Replace(snap, []byte(`"key_b"`), []byte(`"key_z"`), 1))
		check("edited snapshot", false)
		writeFile(t, path+indexSuffix, snap[:len(snap)/2])
		check("torn snapshot", false)
		if err := os.Remove(path + indexSuffix); err != nil {
			t.Fatal(err)
		}
		check("missing snapshot", false)
		// A snapshot of another log (the head it names differs) is not used.
		data := readFile(t, path)
		other := filepath.Join(t.TempDir(), "audit.jsonl")
		writeFile(t, other, data[:len(join(lines(data)[:11]))])
		o := openStore(t, other, key, c)
		storeAppend(t, o, createIntent("proj-q"))
		if err := o.writeSnapshot(); err != nil {
			t.Fatal(err)
		}
		_ = o.Close()
		writeFile(t, path+indexSuffix, readFile(t, other+indexSuffix))
		check("another log's snapshot", false)
		// An unkeyed store does not use a keyed snapshot, nor the reverse.
		if key != nil {
			r := openStore(t, path, nil, c)
			if r.v.seq != 0 || r.broken == nil {
				t.Errorf("an unkeyed store over a keyed log: seq %d, broken %v", r.v.seq, r.broken)
			}
		}
	}
}

// TestFileStoreFolding shows how the file store folds checks.
func TestFileStoreFolding(t *testing.T) {
	s, c := newStore(t, nil)
	ctx := context.Background()
	chk := func(tag string, ms float64) Record {
		return Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionAllowed, Tag: tag, Caller: "local", DurationMs: ms}
	}
	appendCheck := func(r Record) {
		t.Helper()
		if err := s.AppendCheck(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	tail := func() []Record {
		t.Helper()
		recs, err := s.Tail(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	appendCheck(chk("proj-a", 1)) // written at once
	if recs := tail(); len(recs) != 1 || recs[0].Count != 0 {
		t.Fatalf("first check: %v", recs)
	}
	sizeAfterFirst := len(readFile(t, s.Path()))
	for i := range 4 {
		c.Advance(10 * time.Second)
		appendCheck(chk("proj-a", float64(i+2))) // folded: nothing written
	}
	if n := len(readFile(t, s.Path())); n != sizeAfterFirst {
		t.Fatalf("folded checks were written (%d bytes, was %d)", n, sizeAfterFirst)
	}
	appendCheck(chk("proj-b", 1)) // another decision: written
	c.Advance(21 * time.Second)   // the first is a minute old
	storeAppend(t, s, createIntent("proj-a"))
	recs := tail()
	if len(recs) != 4 {
		t.Fatalf("%d records: %v", len(recs), recs)
	}
	sum := recs[2]
	if sum.Event != EventCheck || sum.Tag != "proj-a" || sum.Count != 4 || sum.Ref != 1 || sum.DurationMs != 5 || !sum.Time.Equal(c.Now()) {
		t.Fatalf("folded record: %+v", sum)
	}
	if recs[3].Event != EventCreate {
		t.Fatalf("the create is not after the folded record: %v", recs[3])
	}
	// A run with nothing counted writes nothing more; Close writes what is counted.
	appendCheck(chk("proj-a", 1))
	appendCheck(chk("proj-a", 1))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	all, err := Tail(s.Path(), 100)
	if err != nil || len(all) != 6 || all[5].Count != 1 || all[5].Ref != 5 {
		t.Fatalf("after Close: %v, %v", all, err)
	}
	if n, err := VerifyFile(s.Path()); n != 6 || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}

// TestFileStoreFoldTimer: counted checks are written after their minute
// even when nothing else is written.
func TestFileStoreFoldTimer(t *testing.T) {
	s, c := newStore(t, nil)
	s.foldDelay = 20 * time.Millisecond
	ctx := context.Background()
	r := Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionDenied, Caller: "local"}
	for range 3 {
		if err := s.AppendCheck(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	c.Advance(time.Minute)
	deadline := time.Now().Add(5 * time.Second)
	for {
		recs, err := Tail(s.Path(), 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 2 && recs[1].Count == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the timer did not write the counted checks: %v", recs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFileStoreConfirmationKeyFile(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t, nil)
	path := s.Path() + confKeySuffix
	tests := []struct {
		name  string
		setup func(t *testing.T)
		want  string
	}{
		{"readable by others", func(t *testing.T) {
			writeFile(t, path, []byte(strings.Repeat("ab", 32)+"\n"))
			if err := os.Chmod(path, 0o640); err != nil {
				t.Fatal(err)
			}
		}, "readable by group or others"},
		{"too short", func(t *testing.T) { writeFile(t, path, []byte(strings.Repeat("ab", 31)+"\n")) }, "not 32 bytes"},
		{"not hex", func(t *testing.T) { writeFile(t, path, []byte(strings.Repeat("zz", 32)+"\n")) }, "not 32 bytes"},
		{"symlink", func(t *testing.T) {
			target := path + ".real"
			writeFile(t, target, []byte(strings.Repeat("ab", 32)+"\n"))
			if err := os.Symlink(target, path); err != nil {
				t.Fatal(err)
			}
		}, "symlink"},
	}
	for _, tt := range tests {
		_ = os.Remove(path)
		tt.setup(t)
		r := openStore(t, s.Path(), nil, c)
		if _, err := r.ConfirmationKey(ctx); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want %q", tt.name, err, tt.want)
		}
	}
	_ = os.Remove(path)
	key, err := s.ConfirmationKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	data := readFile(t, path)
	if strings.TrimSpace(string(data)) != fmt.Sprintf("%x", key) {
		t.Fatal("the key file does not hold the key")
	}
	if strings.Contains(fmt.Sprint(s), string(data[:8])) {
		t.Fatal("the store prints the key")
	}
}

func TestFileStoreJournalCompaction(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t, nil)
	other := openStore(t, s.Path(), nil, c)
	const min = 40
	for _, st := range []*FileStore{s, other} {
		st.st.minLines, st.st.compactAt = min, min
	}
	if err := s.AddLease(ctx, Lease{KeyID: "k", EndsAt: c.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for i := range min + 10 {
		if ok, err := s.UseConfirmation(ctx, fmt.Sprint("old", i), c.Now().Add(time.Minute)); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if ok, err := s.UseConfirmation(ctx, "young", c.Now().Add(time.Hour)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	// other has read part of the journal; s rewrites it once the old nonces expire.
	if ok, err := other.UseConfirmation(ctx, "old1", c.Now().Add(time.Minute)); ok || err != nil {
		t.Fatal(ok, err)
	}
	c.Advance(2 * time.Minute) // the old nonces expire
	written := s.st.lines
	for i := 0; ; i++ {
		if _, kept := s.st.nonces[nonceHash("old0")]; !kept {
			break
		}
		if i > 4*min {
			t.Fatalf("the journal was not rewritten: %d lines", s.st.lines)
		}
		if _, err := s.UseConfirmation(ctx, fmt.Sprint("new", i), c.Now().Add(time.Second)); err != nil {
			t.Fatal(err)
		}
		written++
	}
	if n := bytes.Count(readFile(t, s.Path()+stateSuffix), []byte("\n")); n != s.st.lines || n > written-min {
		t.Fatalf("journal of %d lines (%d known) after %d entries", n, s.st.lines, written)
	}
	for _, st := range []*FileStore{s, other} {
		if ok, err := st.UseConfirmation(ctx, "young", c.Now().Add(time.Hour)); ok || err != nil {
			t.Fatalf("a live nonce was forgotten: %v, %v", ok, err)
		}
		if l, err := st.Leases(ctx, []string{"k"}); err != nil || len(l) != 1 {
			t.Fatalf("the lease was lost: %v, %v", l, err)
		}
	}
	// A damaged journal fails closed, naming its line.
	writeFile(t, s.Path()+stateSuffix, append(readFile(t, s.Path()+stateSuffix), "{\"op\":\"nope\"}\n"...))
	if _, err := other.UseConfirmation(ctx, "x", c.Now()); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line") {
		t.Fatalf("damaged journal: %v", err)
	}
}

// TestFileStoreRotation: moving the log aside with its checkpoint and index
// starts a new log; moving the log alone is caught as a cut tail.
func TestFileStoreRotation(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t, testKey)
	fill(t, s, c, 3)
	for _, suffix := range []string{"", checkpointSuffix} {
		if err := os.Rename(s.Path()+suffix, s.Path()+".1"+suffix); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, s.Path(), nil)
	if got := storeAppend(t, s, createIntent("proj-a")); got.Seq != 1 {
		t.Fatalf("first record of the new log: seq %d", got.Seq)
	}
	if rep, err := VerifyFileKey(s.Path()+".1", testKey); err != nil || rep.Records != 3 {
		t.Fatalf("the old log: %+v, %v", rep, err)
	}
	if err := os.Rename(s.Path(), s.Path()+".2"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.Path(), nil)
	if _, err := s.Append(ctx, createIntent("proj-a")); !errors.Is(err, ErrChainBroken) {
		t.Fatalf("log moved aside without its checkpoint: %v", err)
	}
}

func TestVerifyFileKeyReport(t *testing.T) {
	s, c := newStore(t, testKey)
	fill(t, s, c, 4)
	rep, err := VerifyFileKey(s.Path(), testKey)
	if err != nil || rep.Records != 4 || !rep.Keyed || rep.Checkpoint != 4 || rep.HeadSHA != hashLine(bytes.TrimSuffix(lines(readFile(t, s.Path()))[3], []byte("\n"))) {
		t.Fatalf("report %+v, %v", rep, err)
	}
	text := rep.String()
	for _, want := range []string{"4 records", "HMAC-SHA256 MAC checked", rep.HeadSHA, "checkpoint (record 4)", "cut off the end", "older copy"} {
		if !strings.Contains(text, want) {
			t.Errorf("report lacks %q:\n%s", want, text)
		}
	}
	if _, err := VerifyFileKey(s.Path(), nil); err == nil || !strings.Contains(err.Error(), "no chain key") {
		t.Fatalf("keyed log without a key: %v", err)
	}
	if _, err := VerifyFile(s.Path()); err == nil {
		t.Fatal("VerifyFile passed a keyed log it cannot check")
	}
	if _, err := VerifyFileKey(s.Path(), []byte("short")); err == nil {
		t.Fatal("a short key was accepted")
	}
	u, uc := newStore(t, nil)
	fill(t, u, uc, 2)
	rep, err = VerifyFileKey(u.Path(), nil)
	if err != nil || rep.Keyed || !strings.Contains(rep.String(), "rewrite it and recompute every hash") {
		t.Fatalf("unkeyed report %+v, %v:\n%s", rep, err, rep.String())
	}
	// Cut tail against the checkpoint.
	writeFile(t, u.Path(), join(lines(readFile(t, u.Path()))[:1]))
	var ve *VerifyError
	if _, err := VerifyFileKey(u.Path(), nil); !errors.As(err, &ve) || ve.Line != 2 || !strings.Contains(ve.Msg, "cut off") {
		t.Fatalf("cut tail: %v", err)
	}
}

// TestFileStoreSkewedClock: a record stamped far ahead by a process with a
// wrong clock does not make the others forget recent creates.
func TestFileStoreSkewedClock(t *testing.T) {
	ctx := context.Background()
	s, c := newStore(t, nil)
	for range 3 {
		storeAppend(t, s, createIntent("proj-a"))
	}
	ahead := &fakeClock{t: c.Now().Add(365 * 24 * time.Hour)}
	skewed := openStore(t, s.Path(), nil, ahead)
	storeAppend(t, skewed, createIntent("proj-a"))
	q, err := s.Counts(ctx, "", c.Now())
	if err != nil || q.Global.LastHour != 4 { // the three, and the one from the future (see Counts)
		t.Fatalf("Counts after a record from the future = %+v, %v", q, err)
	}
}
