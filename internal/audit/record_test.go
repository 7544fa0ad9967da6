package audit

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRecordString(t *testing.T) {
	ts := time.Date(2026, 11, 25, 21, 14, 3, 999, time.UTC)
	tests := []struct {
		name string
		r    Record
		want string
	}{
		{"create intent", Record{
			Seq: 7, Time: ts, PID: 123, Event: EventCreate, Phase: PhaseIntent, Tool: "create_scoped_key", Decision: DecisionAllowed,
			Tag: "proj-search", Name: "agent-x", ExpiresInDays: 30, RateLimitMax: 100, RateLimitWindowMs: 60000,
			Client: "claude-code", ClientVersion: "1.2",
			Rules: []Rule{{Rule: "tag_allow", Outcome: "pass"}, {Rule: "expiry", Outcome: "pass", Detail: "30 ≤ 90"}},
		}, `2026-11-25T21:14:03Z create allowed phase=intent tag=proj-search name=agent-x expires_in_days=30 rate_limit=100/60000ms client=claude-code/1.2 pid=123 seq=7 [tag_allow=pass, expiry=pass: "30 ≤ 90"]`},
		{"create result", Record{
			Seq: 8, Ref: 7, Time: ts, PID: 123, Event: EventCreateResult, Phase: PhaseResult, Tool: "create_scoped_key",
			Decision: DecisionAllowed, Outcome: OutcomeCreated, KeyID: "key_123", UpstreamStatus: 201, DurationMs: 12.25,
		}, `2026-11-25T21:14:03Z create_result allowed phase=result outcome=created key=key_123 upstream=201 duration=12.25ms pid=123 seq=8 ref=7`},
		{"denied with hostile name", Record{
			Time: ts, PID: 1, Event: EventCheck, Tool: "check_policy", Decision: DecisionDenied,
			Name: "a b\n[x]=\"y\"", Reason: "tag is denied", Client: "c",
		}, `2026-11-25T21:14:03Z check denied name="a b\n[x]=\"y\"" client=c pid=1 reason="tag is denied"`},
		{"zero", Record{}, `- "" ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.r.String()
			if got != tt.want {
				t.Fatalf("String()\n got %s\nwant %s", got, tt.want)
			}
			if strings.ContainsAny(got, "\n\r") {
				t.Fatal("String is not one line")
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"ééééé", 4, "ééé…"},
		{"日本語テキスト", 2, "日…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

func TestDecodeLine(t *testing.T) {
	good := Record{Seq: 2, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), PID: 5, Prev: strings.Repeat("a", 64),
		Event: EventRevoke, Phase: PhaseIntent, Tool: "revoke_key", Decision: DecisionAllowed, KeyID: "key_1"}
	enc := func(mod func(*Record)) string {
		r := good
		mod(&r)
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	tests := []struct {
		name, line, want string
	}{
		{"good", enc(func(*Record) {}), ""},
		{"seq zero", enc(func(r *Record) { r.Seq = 0 }), "seq 0"},
		{"no time", enc(func(r *Record) { r.Time = time.Time{} }), "time is missing"},
		{"no pid", enc(func(r *Record) { r.PID = 0 }), "pid 0"},
		{"prev not hex", enc(func(r *Record) { r.Prev = strings.Repeat("A", 64) }), "prev is not"},
		{"prev short", enc(func(r *Record) { r.Prev = "abc" }), "prev is not"},
		{"negative ref", enc(func(r *Record) { r.Ref = -1 }), "ref -1"},
		{"wrong type", `{"seq":"1"}`, "not a valid audit record"},
		{"array", `[]`, "not a valid audit record"},
		{"timezone not UTC", strings.Replace(enc(func(*Record) {}), `00:00Z"`, `00:00+00:00"`, 1), "canonical"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeLine([]byte(tt.line))
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("decodeLine = %v; want %q", err, tt.want)
			}
		})
	}
}

func TestEncodeRefusesBadFloat(t *testing.T) {
	r := createIntent("proj-a")
	r.DurationMs = inf()
	for _, key := range [][]byte{nil, testKey} {
		if _, _, err := encodeRecord("", 0, r, time.Now(), 1, key); !errors.Is(err, ErrInvalid) {
			t.Fatalf("encodeRecord(+Inf, key %v) = %v", key != nil, err)
		}
	}
}

func inf() float64 {
	var zero float64
	return 1 / zero
}

func TestSecretPattern(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"sm_org1_AbCdEfGhIjKlMnOp", true},
		{"key: sm_org_sandbox_kKNauLIrd9Ez4pa9LF5hVgYQI4t4F.", true},
		{"sm_acme-1_0123456789abcdef", true},
		{"sm_org1_AbCdEfGhIjKlMnO", false}, // 15 random characters
		{"sm_org_san", false},              // a listing's masked prefix
		{"sm_org_sandbox_AbCdEf…", false},
		{"agent-proj-search-20261125", false},
		{"key_AbCdEfGhIjKlMnOpQrSt", false},
	}
	for _, tt := range tests {
		r := Record{Name: tt.s}
		if got := r.redact(); got != tt.want || strings.Contains(r.Name, redactedText) != tt.want {
			t.Errorf("%q: redacted = %v (%q), want %v", tt.s, got, r.Name, tt.want)
		}
	}
}
