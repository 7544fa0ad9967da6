package audit

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFileStoreAppendFills(t *testing.T) {
	s, c := newStore(t, nil)
	first := storeAppend(t, s, createIntent("proj-a"))
	if first.Seq != 1 || first.Prev != "" || first.PID != os.Getpid() || !first.Time.Equal(c.Now()) || first.Time.Location() != time.UTC {
		t.Fatalf("first record: %+v", first)
	}
	c.Advance(time.Millisecond)
	in := createResult(1, OutcomeCreated, "key_1")
	in.Seq, in.Prev, in.PID, in.MAC = 99, "forged", 7, "forged" // filled by the store, whatever the caller says
	second := storeAppend(t, s, in)
	ls := lines(readFile(t, s.Path()))
	if second.Seq != 2 || second.Prev != hashLine(bytes.TrimSuffix(ls[0], []byte("\n"))) || second.PID != os.Getpid() || second.MAC != "" {
		t.Fatalf("second record: %+v", second)
	}
	if second.KeyID != "key_1" || second.Outcome != OutcomeCreated || second.Ref != 1 {
		t.Fatalf("caller fields lost: %+v", second)
	}
	if !strings.Contains(string(ls[0]), `"time":"2026-11-25T21:14:03.123456789Z"`) {
		t.Errorf("time not RFC 3339 UTC with nanoseconds: %s", ls[0])
	}
	if n, err := VerifyFile(s.Path()); n != 2 || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}

func TestFileStoreAppendRefuses(t *testing.T) {
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
			s, _ := newStore(t, nil)
			_, err := s.Append(context.Background(), tt.rec)
			if !errors.Is(err, tt.target) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Append = %v; want %v with %q", err, tt.target, tt.want)
			}
			if strings.Contains(err.Error(), "sm_") {
				t.Fatalf("error shows key-shaped text: %v", err)
			}
			if fi, _ := os.Stat(s.Path()); fi.Size() != 0 {
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

func TestFileStoreAppendRedacts(t *testing.T) {
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
			s, _ := newStore(t, nil)
			if tt.rec().Phase == PhaseResult {
				storeAppend(t, s, createIntent("proj-a"))
			}
			in := tt.rec()
			if in.Phase == PhaseResult {
				in.Ref = 1
			}
			orig := tt.rec()
			got, err := s.Append(context.Background(), in)
			if err != nil {
				t.Fatalf("Append: %v", err)
			}
			if !tt.check(got) {
				t.Errorf("record as written: %+v", got)
			}
			if len(in.Rules) > 0 && in.Rules[0] != orig.Rules[0] || in.Name != orig.Name {
				t.Error("the caller's record was modified")
			}
			data, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			assertRedacted(t, data, tt.secrets...)
			recs, err := Tail(s.Path(), 10)
			if err != nil {
				t.Fatal(err)
			}
			if last := recs[len(recs)-1]; last.String() != got.String() {
				t.Errorf("read back %v\nreturned %v", last, got)
			}
			if n, err := VerifyFile(s.Path()); n != len(recs) || err != nil {
				t.Fatalf("VerifyFile = %d, %v", n, err)
			}
		})
	}
}

// TestFileStoreReserveAndCheckRedact: a key-shaped tag that the policy
// allows, or a dry run's, is written redacted by Reserve and AppendCheck.
func TestFileStoreReserveAndCheckRedact(t *testing.T) {
	const secret = "sm_org1_AbCdEfGhIjKlMnOpQrSt"
	s, _ := newStore(t, nil)
	ctx := context.Background()
	if _, err := s.Reserve(ctx, createIntent(secret), func(q QuotaCounts) error { return q.Global.Check(10, 10) }); err != nil {
		t.Fatalf("Reserve: %v", err)
	}
	check := Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionAllowed, Tag: secret}
	if err := s.AppendCheck(ctx, check); err != nil {
		t.Fatalf("AppendCheck: %v", err)
	}
	assertRedacted(t, readFile(t, s.Path()), secret)
	if n, err := VerifyFile(s.Path()); n != 2 || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}

func TestFileStoreAppendTruncates(t *testing.T) {
	s, _ := newStore(t, nil)
	r := createIntent("proj-a")
	r.Name = strings.Repeat("é", 500)
	r.Reason = strings.Repeat("r", 5000)
	r.Rules = nil
	for range 30 {
		r.Rules = append(r.Rules, Rule{Rule: "x", Outcome: "pass", Detail: strings.Repeat("d", 1000)})
	}
	got := storeAppend(t, s, r)
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
	got = storeAppend(t, s, r)
	if got.Name != "bad\uFFFDname" {
		t.Errorf("name = %q", got.Name)
	}
	if n, err := VerifyFile(s.Path()); n != 2 || err != nil {
		t.Fatalf("VerifyFile = %d, %v", n, err)
	}
}
