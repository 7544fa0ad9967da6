package client

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	const value = "sm_org1_MINTEDSECRETVALUE"
	s := Secret(value)
	ck := CreatedKey{Key: s, ID: "k1"}
	renders := map[string]string{}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%-5v", "%T"} {
		renders["secret "+verb] = fmt.Sprintf(verb, s)
		renders["struct "+verb] = fmt.Sprintf(verb, ck)
		renders["pointer "+verb] = fmt.Sprintf(verb, &ck)
		renders["slice "+verb] = fmt.Sprintf(verb, []Secret{s})
		renders["map "+verb] = fmt.Sprintf(verb, map[string]any{"k": s})
	}
	renders["String"] = s.String()
	renders["GoString"] = s.GoString()
	renders["Sprint"] = fmt.Sprint(s, ck)
	renders["Sprintln"] = fmt.Sprintln(s)
	b, err := json.Marshal(ck)
	if err != nil {
		t.Fatal(err)
	}
	renders["json"] = string(b)
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("minted", "key", s, "created", ck)
	slog.New(slog.NewTextHandler(&buf, nil)).Info("minted", "key", s)
	renders["slog"] = buf.String()
	for name, r := range renders {
		if strings.Contains(r, value) || strings.Contains(r, "MINTED") || strings.Contains(r, fmt.Sprintf("%x", value)) {
			t.Errorf("%s leaks the secret (len %d)", name, len(r))
		}
	}
	if got := fmt.Sprintf("%v|%q", s, s); got != `[REDACTED]|"[REDACTED]"` {
		t.Errorf("Sprintf = %q", got)
	}
	if !strings.Contains(renders["json"], `"Key":"[REDACTED]"`) {
		t.Errorf("json = %s, want the marker", renders["json"])
	}
	if s.Reveal() != value {
		t.Error("Reveal does not return the value")
	}
}

func TestSecretPrefix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		s    Secret
		n    int
		want string
	}{
		{"sm_org1_abcdefghijklmnop", 10, "sm_org1_ab"},
		{"sm_org1_abcdefghijklmnop", 0, ""},
		{"sm_org1_abcdefghijklmnop", -3, ""},
		{"sm_org1_abcdefghijklmnop", 100, "sm_org1_abcd"}, // at most half
		{"abcd", 4, "ab"},
		{"a", 1, ""},
		{"", 5, ""},
		{"ééééé", 2, "éé"},
	}
	for _, tt := range tests {
		if got := tt.s.Prefix(tt.n); got != tt.want {
			t.Errorf("Secret(len %d).Prefix(%d) = %q, want %q", len(tt.s), tt.n, got, tt.want)
		}
	}
}
