package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestOpenCreatesPrivateFiles(t *testing.T) {
	base := t.TempDir()
	path := filepath.Join(base, "a", "b", "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if l.Path() != path {
		t.Errorf("Path = %q, want %q", l.Path(), path)
	}
	for _, c := range []struct {
		p    string
		mode os.FileMode
	}{{filepath.Join(base, "a"), 0o700}, {filepath.Dir(path), 0o700}, {path, 0o600}} {
		fi, err := os.Stat(c.p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != c.mode {
			t.Errorf("%s: mode %04o, want %04o", c.p, fi.Mode().Perm(), c.mode)
		}
	}
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("new log has %d bytes", fi.Size())
	}
	// Opening again is fine and keeps the content.
	mustAppend(t, l, createIntent("proj-a"))
	if _, err := Open(path); err != nil {
		t.Fatal(err)
	}
	if n, err := VerifyFile(path); n != 1 || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}

func TestOpenRefuses(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, dir string) string // returns the path to open
		want  string
	}{
		{"empty path", func(*testing.T, string) string { return "" }, "empty path"},
		{"symlinked file", func(t *testing.T, dir string) string {
			target := filepath.Join(dir, "real.jsonl")
			writeFile(t, target, nil)
			link := filepath.Join(dir, "audit.jsonl")
			if err := os.Symlink(target, link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "symlink"},
		{"dangling symlink", func(t *testing.T, dir string) string {
			link := filepath.Join(dir, "audit.jsonl")
			if err := os.Symlink(filepath.Join(dir, "nowhere"), link); err != nil {
				t.Fatal(err)
			}
			return link
		}, "symlink"},
		{"group-writable file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "audit.jsonl")
			writeFile(t, p, nil)
			if err := os.Chmod(p, 0o620); err != nil {
				t.Fatal(err)
			}
			return p
		}, "writable by group or others"},
		{"world-writable file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "audit.jsonl")
			writeFile(t, p, nil)
			if err := os.Chmod(p, 0o602); err != nil {
				t.Fatal(err)
			}
			return p
		}, "writable by group or others"},
		{"group-writable directory", func(t *testing.T, dir string) string {
			d := filepath.Join(dir, "shared")
			if err := os.Mkdir(d, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(d, 0o770); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(d, "audit.jsonl")
		}, "directory"},
		{"a directory, not a file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "audit.jsonl")
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
			return p
		}, "not a regular file"},
		{"parent is a file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "file")
			writeFile(t, p, nil)
			return filepath.Join(p, "audit.jsonl")
		}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.setup(t, t.TempDir())
			_, err := Open(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Open(%q) = %v; want an error with %q", path, err, tt.want)
			}
		})
	}
}

func TestAppendFillsAndChains(t *testing.T) {
	l, c := newLog(t)
	first := mustAppend(t, l, createIntent("proj-a"))
	if first.Seq != 1 || first.Prev != "" || first.PID != os.Getpid() || !first.Time.Equal(c.Now()) || first.Time.Location() != time.UTC {
		t.Fatalf("first record: %+v", first)
	}
	c.Advance(time.Millisecond)
	in := createResult(1, OutcomeCreated, "key_1")
	in.Seq, in.Prev, in.PID = 99, "forged", 7 // filled by the log, whatever the caller says
	second := mustAppend(t, l, in)
	data, _ := os.ReadFile(l.Path())
	ls := lines(data)
	if second.Seq != 2 || second.Prev != hashLine(bytes.TrimSuffix(ls[0], []byte("\n"))) || second.PID != os.Getpid() {
		t.Fatalf("second record: %+v", second)
	}
	if second.KeyID != "key_1" || second.Outcome != OutcomeCreated || second.Ref != 1 {
		t.Fatalf("caller fields lost: %+v", second)
	}
	if !strings.Contains(string(ls[0]), `"time":"2026-11-25T21:14:03.123456789Z"`) {
		t.Errorf("time not RFC 3339 UTC with nanoseconds: %s", ls[0])
	}
	if n, err := VerifyFile(l.Path()); n != 2 || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}

func TestAppendRefuses(t *testing.T) {
	withRules := func(n int) Record {
		r := createIntent("proj-a")
		r.Rules = nil
		for range n {
			r.Rules = append(r.Rules, Rule{Rule: "r", Outcome: "fail", Detail: strings.Repeat("\x01", MaxDetailRunes)})
		}
		return r
	}
	tests := []struct {
		name   string
		rec    Record
		target error
		want   string
	}{
		{"unknown event", Record{Event: "mint", Tool: "t", Decision: DecisionAllowed}, ErrInvalid, "unknown event"},
		{"key-shaped event", Record{Event: "sm_org1_AbCdEfGhIjKlMnOpQrSt", Tool: "t", Decision: DecisionAllowed}, ErrInvalid, "unknown event"},
		{"no tool", Record{Event: EventCheck, Decision: DecisionAllowed}, ErrInvalid, "tool is missing"},
		{"unknown decision", Record{Event: EventCheck, Tool: "t", Decision: "maybe"}, ErrInvalid, "unknown decision"},
		{"unknown phase", Record{Event: EventCheck, Tool: "t", Decision: DecisionAllowed, Phase: "later"}, ErrInvalid, "unknown phase"},
		{"unknown outcome", Record{Event: EventCreateResult, Tool: "t", Decision: DecisionAllowed, Outcome: "meh"}, ErrInvalid, "unknown outcome"},
		{"ref to the future", createResult(5, OutcomeCreated, "k"), ErrInvalid, "ref 5"},
		{"result without ref", createResult(0, OutcomeCreated, "k"), ErrInvalid, "no ref"},
		{"too large", withRules(MaxRules), ErrTooLarge, "limit 16384"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLog(t)
			_, err := l.Append(context.Background(), tt.rec)
			if !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Append = %v; want %v with %q", err, tt.target, tt.want)
			}
			if strings.Contains(err.Error(), "sm_") {
				t.Fatalf("error shows key-shaped text: %v", err)
			}
			if fi, _ := os.Stat(l.Path()); fi.Size() != 0 {
				t.Fatalf("a refused record was written (%d bytes)", fi.Size())
			}
		})
	}
}

// assertRedacted fails when data holds any 6-byte piece of any of secrets,
// or does not hold "[REDACTED]".
func assertRedacted(t *testing.T, data []byte, secrets ...string) {
	t.Helper()
	if !bytes.Contains(data, []byte(redactedText)) {
		t.Errorf("no %s in the log:\n%s", redactedText, data)
	}
	if secretRE.Match(data) {
		t.Errorf("key-shaped text in the log")
	}
	for _, sec := range secrets {
		for i := 0; i+6 <= len(sec); i++ {
			if bytes.Contains(data, []byte(sec[i:i+6])) {
				t.Fatalf("the log holds %q, a piece of the key-shaped input", sec[i:i+6])
			}
		}
	}
}

func TestAppendRedacts(t *testing.T) {
	const secret = "sm_org1_AbCdEfGhIjKlMnOpQrSt"
	const sandbox = "sm_org_sandbox_AbCdEfGhIjKlMnOpQrStUvWxYzQwErTyUiOpZX"
	const dashed = "sm_acme-1_ZyXwVuTsRqPoNmLkJi"
	tests := []struct {
		name    string
		rec     func() Record
		secrets []string
		check   func(got Record) bool
	}{
		{"name", func() Record { r := createIntent("proj-a"); r.Name = "x " + secret; return r },
			[]string{secret}, func(g Record) bool { return g.Name == "x [REDACTED]" }},
		{"tag of a denied create", func() Record {
			r := createIntent(secret)
			r.Decision, r.Phase, r.Name = DecisionDenied, "", "agent"
			r.Rules = []Rule{{Rule: "tag_allow", Outcome: "fail", Detail: `"` + secret + `" matches no allow pattern`}}
			r.Reason = "tag " + secret + " is not allowed"
			return r
		}, []string{secret}, func(g Record) bool {
			return g.Tag == redactedText && g.Rules[0].Detail == `"[REDACTED]" matches no allow pattern` &&
				g.Reason == "tag [REDACTED] is not allowed"+redactedNote
		}},
		{"reason", func() Record { r := createIntent("proj-a"); r.Reason = secret; return r },
			[]string{secret}, func(g Record) bool { return g.Reason == redactedText+redactedNote }},
		{"rule name, outcome and detail", func() Record {
			r := createIntent("proj-a")
			r.Rules = []Rule{{Rule: secret, Outcome: "x" + secret, Detail: "key " + secret + "." + dashed}}
			return r
		}, []string{secret, dashed}, func(g Record) bool {
			ru := g.Rules[0]
			return ru.Rule == redactedText && ru.Outcome == "x"+redactedText && ru.Detail == "key [REDACTED].[REDACTED]"
		}},
		{"client and version", func() Record {
			r := createIntent("proj-a")
			r.Client, r.ClientVersion = "c/"+secret, secret
			return r
		}, []string{secret}, func(g Record) bool { return g.Client == "c/"+redactedText && g.ClientVersion == redactedText }},
		{"sandbox-shaped name", func() Record { r := createIntent("proj-a"); r.Name = "agent-" + sandbox; return r },
			[]string{sandbox}, func(g Record) bool { return g.Name == "agent-"+redactedText }},
		{"dashed org in key id", func() Record { return createResult(0, OutcomeCreated, dashed) },
			[]string{dashed}, func(g Record) bool { return g.KeyID == redactedText }},
		{"across the truncation point", func() Record {
			// Cut first, the name would end in a piece of the key too short
			// to match: "sm_org_sandbox_" and 13 random characters.
			r := createIntent("proj-a")
			r.Name = strings.Repeat("n", MaxNameRunes-29) + sandbox
			return r
		}, []string{sandbox}, func(g Record) bool {
			return g.Name == strings.Repeat("n", MaxNameRunes-29)+redactedText
		}},
		{"long reason keeps the note within the cap", func() Record {
			r := createIntent("proj-a")
			r.Reason = secret + " " + strings.Repeat("r", 2*MaxReasonRunes)
			return r
		}, []string{secret}, func(g Record) bool {
			return strings.HasPrefix(g.Reason, redactedText) && strings.HasSuffix(g.Reason, "…"+redactedNote) &&
				len([]rune(g.Reason)) == MaxReasonRunes
		}},
		{"empty reason", func() Record { r := createIntent("proj-a"); r.Tag = secret; r.Reason = ""; return r },
			[]string{secret}, func(g Record) bool { return g.Reason == redactedReason }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLog(t)
			if tt.rec().Phase == PhaseResult {
				mustAppend(t, l, createIntent("proj-a"))
			}
			in := tt.rec()
			if in.Phase == PhaseResult {
				in.Ref = 1
			}
			orig := tt.rec()
			got, err := l.Append(context.Background(), in)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !tt.check(got) {
				t.Errorf("record as written: %+v", got)
			}
			if len(in.Rules) > 0 && in.Rules[0] != orig.Rules[0] || in.Name != orig.Name {
				t.Error("the caller's record was modified")
			}
			data, err := os.ReadFile(l.Path())
			if err != nil {
				t.Fatal(err)
			}
			assertRedacted(t, data, tt.secrets...)
			recs, err := Tail(l.Path(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if last := recs[len(recs)-1]; last.String() != got.String() {
				t.Errorf("read back %v\nreturned %v", last, got)
			}
			if n, err := VerifyFile(l.Path()); n != len(recs) || err != nil {
				t.Fatalf("VerifyFile = %d, %v", n, err)
			}
		})
	}
}

// TestReserveAndUnsyncedRedact: a key-shaped tag that the policy allows, or
// a dry run's, is written redacted by every way of appending.
func TestReserveAndUnsyncedRedact(t *testing.T) {
	const secret = "sm_org1_AbCdEfGhIjKlMnOpQrSt"
	l, _ := newLog(t)
	ctx := context.Background()
	if _, err := l.Reserve(ctx, createIntent(secret), QuotaCheck(10, 10, nil)); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	check := Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionAllowed, Tag: secret}
	if _, err := l.AppendUnsynced(ctx, check); err != nil {
		t.Fatalf("AppendUnsynced: %v", err)
	}
	data, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	assertRedacted(t, data, secret)
	if n, err := VerifyFile(l.Path()); n != 2 || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}

func TestAppendTruncates(t *testing.T) {
	l, _ := newLog(t)
	r := createIntent("proj-a")
	r.Name = strings.Repeat("é", 500)
	r.Reason = strings.Repeat("r", 5000)
	r.Rules = nil
	for range 30 {
		r.Rules = append(r.Rules, Rule{Rule: "x", Outcome: "pass", Detail: strings.Repeat("d", 1000)})
	}
	got := mustAppend(t, l, r)
	if n := len([]rune(got.Name)); n != MaxNameRunes || !strings.HasSuffix(got.Name, "…") {
		t.Errorf("name: %d runes", n)
	}
	if n := len([]rune(got.Reason)); n != MaxReasonRunes {
		t.Errorf("reason: %d runes", n)
	}
	if len(got.Rules) != MaxRules || got.Rules[MaxRules-1].Detail != "11 more rules not recorded" {
		t.Errorf("rules: %d, last %+v", len(got.Rules), got.Rules[len(got.Rules)-1])
	}
	if n := len([]rune(got.Rules[0].Detail)); n != MaxDetailRunes {
		t.Errorf("detail: %d runes", n)
	}
	if len(r.Rules) != 30 || len(r.Rules[0].Detail) != 1000 {
		t.Error("the caller's record was modified")
	}
	// Invalid UTF-8 comes back as written.
	r = createIntent("proj-a")
	r.Name = "bad\xffname"
	got = mustAppend(t, l, r)
	if got.Name != "bad\uFFFDname" {
		t.Errorf("name = %q", got.Name)
	}
	if n, err := VerifyFile(l.Path()); n != 2 || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}

func TestAppendRefusesCorruptLog(t *testing.T) {
	tests := []struct {
		name string
		mod  func(data []byte) []byte
		want string
	}{
		{"torn last line", func(d []byte) []byte { return d[:len(d)-7] }, "line 3 is incomplete"},
		{"garbage last line", func(d []byte) []byte { return append(d, "garbage\n"...) }, "line 4: audit log is corrupt"},
		{"garbage line in the window", func(d []byte) []byte {
			ls := lines(d)
			return join([][]byte{ls[0], []byte("{}\n"), ls[2]})
		}, "line 2: audit log is corrupt"},
		{"overlong line", func(d []byte) []byte {
			return append(append(d, bytes.Repeat([]byte("x"), 2*backChunk)...), '\n')
		}, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, _ := newLog(t)
			for _, r := range sampleRecords(3) {
				mustAppend(t, l, r)
			}
			data, _ := os.ReadFile(l.Path())
			writeFile(t, l.Path(), tt.mod(data))
			_, err := l.Reserve(context.Background(), createIntent("proj-a"), func([]Record) error { return nil })
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), l.Path()) {
				t.Fatalf("Reserve = %v; want ErrCorrupt with %q and the path", err, tt.want)
			}
			after, _ := os.ReadFile(l.Path())
			if !bytes.Equal(after, tt.mod(data)) {
				t.Fatal("the corrupt log was changed")
			}
		})
	}
	// Removing the incomplete line repairs the log: the chain before it holds.
	l, _ := newLog(t)
	for _, r := range sampleRecords(3) {
		mustAppend(t, l, r)
	}
	data, _ := os.ReadFile(l.Path())
	writeFile(t, l.Path(), data[:len(data)-7])
	if _, err := Tail(l.Path(), 1); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Tail of a torn log = %v", err)
	}
	writeFile(t, l.Path(), join(lines(data)[:2]))
	mustAppend(t, l, createIntent("proj-b"))
	if n, err := VerifyFile(l.Path()); n != 3 || err != nil {
		t.Fatalf("after repair VerifyFile = %d, %v", n, err)
	}
}

func TestAppendContextAndFileTrouble(t *testing.T) {
	l, _ := newLog(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Append(ctx, createIntent("proj-a")); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
	// Another process holds the lock: the wait ends with the context.
	f, err := openWrite(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if err := lockFile(context.Background(), f, true); err != nil {
		t.Fatal(err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := l.Append(ctx, createIntent("proj-a")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("locked: %v", err)
	}
	if _, err := l.Minted(ctx, "key_1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Minted while locked: %v", err)
	}
	_ = f.Close()
	// The file was replaced by a symlink after Open.
	if err := os.Remove(l.Path()); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(filepath.Dir(l.Path()), "elsewhere"), l.Path()); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(context.Background(), createIntent("proj-a")); err == nil || !strings.Contains(err.Error(), "symlink") {
		t.Fatalf("symlink: %v", err)
	}
	if _, err := l.Minted(context.Background(), "key_1"); err == nil {
		t.Fatal("Minted through a symlink")
	}
	if _, err := l.Reserve(context.Background(), createIntent("proj-a"), nil); err == nil {
		t.Fatal("Reserve with a nil check")
	}
}

func TestAppendConcurrentGoroutines(t *testing.T) {
	l, _ := newLog(t)
	l2, err := Open(l.Path()) // a second Log on the same file: only the flock serializes them
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			lg := l
			if w%2 == 1 {
				lg = l2
			}
			for range each {
				if _, err := lg.Append(context.Background(), createIntent("proj-a")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if n, err := VerifyFile(l.Path()); n != workers*each || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}

func TestMinted(t *testing.T) {
	l, _ := newLog(t)
	ctx := context.Background()
	check := func(id string, want bool) {
		t.Helper()
		got, err := l.Minted(ctx, id)
		if err != nil || got != want {
			t.Fatalf("Minted(%q) = %v, %v; want %v", id, got, err, want)
		}
	}
	check("key_1", false)
	i := mustAppend(t, l, createIntent("proj-a"))
	mustAppend(t, l, createResult(i.Seq, OutcomeCreated, "key_1"))
	i = mustAppend(t, l, createIntent("proj-a"))
	mustAppend(t, l, createResult(i.Seq, OutcomeUnknown, "key_2"))
	mustAppend(t, l, Record{Event: EventRevoke, Phase: PhaseIntent, Tool: "revoke_key", Decision: DecisionAllowed, KeyID: "key_3"})
	mustAppend(t, l, Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionAllowed, KeyID: "key_4", Reason: `"outcome":"created"`})
	check("key_1", true)
	check("key_2", false) // outcome unknown is not proof
	check("key_3", false)
	check("key_4", false)
	check("", false)
	check("key_", false)

	// Appended later: found by the incremental scan.
	i = mustAppend(t, l, createIntent("proj-a"))
	mustAppend(t, l, createResult(i.Seq, OutcomeCreated, "key_5"))
	check("key_5", true)
	check("key_1", true)

	// Another Log (another process) sees the same.
	other, err := Open(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := other.Minted(ctx, "key_5"); !ok || err != nil {
		t.Fatalf("other log: %v, %v", ok, err)
	}

	// The file replaced by one without key_1: the cache is dropped.
	data, _ := os.ReadFile(l.Path())
	tmp := l.Path() + ".new"
	writeFile(t, tmp, join(lines(data)[:1]))
	if err := os.Rename(tmp, l.Path()); err != nil {
		t.Fatal(err)
	}
	check("key_1", false)

	// A torn line at the end is ignored until complete; a corrupt candidate line is an error.
	writeFile(t, l.Path(), append(bytes.Clone(data), `{"outcome":"created"`...))
	check("key_1", true)
	writeFile(t, l.Path(), append(bytes.Clone(data), "{\"outcome\":\"created\"}\n"...))
	if _, err := l.Minted(ctx, "key_1"); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 9") {
		t.Fatalf("corrupt line: %v", err)
	}
	writeFile(t, l.Path(), append(bytes.Clone(data), bytes.Repeat([]byte("x"), MaxLineBytes+5)...))
	if _, err := l.Minted(ctx, "key_1"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("overlong line: %v", err)
	}
}

func TestTail(t *testing.T) {
	path, _ := buildLog(t, sampleRecords(10))
	tests := []struct {
		n        int
		wantSeqs []int64
	}{
		{0, nil},
		{1, []int64{10}},
		{3, []int64{8, 9, 10}},
		{10, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
		{50, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}},
	}
	for _, tt := range tests {
		got, err := Tail(path, tt.n)
		if err != nil {
			t.Fatalf("Tail(%d): %v", tt.n, err)
		}
		var seqs []int64
		for _, r := range got {
			seqs = append(seqs, r.Seq)
		}
		if !equalSeqs(seqs, tt.wantSeqs) {
			t.Errorf("Tail(%d) seqs = %v, want %v", tt.n, seqs, tt.wantSeqs)
		}
	}
	if _, err := Tail(path, -1); err == nil {
		t.Error("Tail(-1) succeeded")
	}
	if _, err := Tail(filepath.Join(t.TempDir(), "missing"), 1); err == nil {
		t.Error("Tail of a missing file succeeded")
	}
	empty := filepath.Join(t.TempDir(), "empty.jsonl")
	writeFile(t, empty, nil)
	if got, err := Tail(empty, 5); len(got) != 0 || err != nil {
		t.Errorf("Tail of an empty log = %v, %v", got, err)
	}
	data, _ := os.ReadFile(path)
	ls := lines(data)
	ls[8] = []byte("nope\n")
	writeFile(t, path, join(ls))
	if got, err := Tail(path, 1); len(got) != 1 || err != nil {
		t.Errorf("Tail(1) past a bad line = %v, %v", got, err)
	}
	if _, err := Tail(path, 2); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "line 9") {
		t.Errorf("Tail(2) over a bad line = %v", err)
	}
}

// TestBackScanLongFile reads across chunk boundaries.
func TestBackScanLongFile(t *testing.T) {
	var data []byte
	var want []string
	for i := range 3000 {
		line := strings.Repeat(string(rune('a'+i%26)), 1+i%97)
		want = append(want, line)
		data = append(append(data, line...), '\n')
	}
	var got []string
	var offs []int64
	err := backScan(bytes.NewReader(data), int64(len(data)), func(line []byte, off int64) (bool, error) {
		got = append(got, string(line))
		offs = append(offs, off)
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i := range got {
		w := want[len(want)-1-i]
		if got[i] != w || string(data[offs[i]:offs[i]+int64(len(w))]) != w {
			t.Fatalf("line %d from the end = %q at %d, want %q", i, got[i], offs[i], w)
		}
	}
	if n, err := countLines(bytes.NewReader(data), int64(len(data))); n != 3000 || err != nil {
		t.Fatalf("countLines = %d, %v", n, err)
	}
}

func equalSeqs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestQuickRecord(t *testing.T) {
	create := []byte(`{"seq":3,"time":"2026-11-25T10:00:00Z","pid":1,"prev":"ab","event":"create","phase":"intent","tool":"create_scoped_key","decision":"allowed"}`)
	r, err := quickRecord(create)
	if err != nil || r.Event != EventCreate || r.Seq != 3 || r.Phase != PhaseIntent {
		t.Errorf("create line: %+v, %v", r, err)
	}
	check := []byte(`{"seq":4,"time":"2026-11-25T10:00:01.5Z","pid":1,"prev":"cd","event":"check","tool":"check_policy","decision":"allowed","name":"x\"time\":\"bogus"}`)
	r, err = quickRecord(check)
	if err != nil || r.Event != "" || !r.Time.Equal(time.Date(2026, 11, 25, 10, 0, 1, 5e8, time.UTC)) {
		t.Errorf("check line: %+v, %v", r, err)
	}
	for _, bad := range []string{`{"seq":1}`, `{"time":"nope"}`, `{"time":"2026`, `{"event":"create",`} {
		if _, err := quickRecord([]byte(bad)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("quickRecord(%s) = %v, want ErrCorrupt", bad, err)
		}
	}
}

func TestAppendUnsyncedKeepsTheChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 6; i++ {
		r := Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionAllowed}
		appendFn := l.Append
		if i%2 == 0 {
			appendFn = l.AppendUnsynced
		}
		got, err := appendFn(ctx, r)
		if err != nil || got.Seq != int64(i+1) {
			t.Fatalf("append %d: seq %d, %v", i, got.Seq, err)
		}
	}
	if n, err := VerifyFile(path); err != nil || n != 6 {
		t.Errorf("verify: %d records, %v", n, err)
	}
}
