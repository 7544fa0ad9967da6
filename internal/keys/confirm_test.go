package keys

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

func TestConfirmationStateIsBoundOnceAndExpires(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ctx := context.Background()
	c := &confirmer{now: func() time.Time { return now }, store: &lazyStore{open: OpenFile(filepath.Join(t.TempDir(), "audit.jsonl"), audit.FileOptions{})}}
	state, err := c.issue(ctx, "create\x00proj-a")
	if err != nil {
		t.Fatal(err)
	}
	if p := c.redeem(ctx, state, "create\x00proj-b"); !strings.Contains(p, "does not match") {
		t.Errorf("another request redeemed the state: %q", p)
	}
	if p := c.redeem(ctx, state, "create\x00proj-a"); p != "" {
		t.Fatalf("first redeem: %q", p)
	}
	if p := c.redeem(ctx, state, "create\x00proj-a"); !strings.Contains(p, "already used") {
		t.Errorf("replay: %q", p)
	}
	for _, forged := range []string{"", "x", "a.b.c", strings.Replace(state, ".", ".9", 1)} {
		if p := c.redeem(ctx, forged, "create\x00proj-a"); p == "" {
			t.Errorf("forged state %q redeemed", forged)
		}
	}
	late, _ := c.issue(ctx, "revoke\x00k1")
	now = now.Add(confirmTTL + time.Second)
	if p := c.redeem(ctx, late, "revoke\x00k1"); !strings.Contains(p, "expired") {
		t.Errorf("late answer: %q", p)
	}
}
