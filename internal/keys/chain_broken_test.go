package keys

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// chainAPI is an upstream with one scoped key, k1, that counts the calls
// that would change something.
type chainAPI struct {
	mu               sync.Mutex
	creates, revokes int
}

func (a *chainAPI) ListKeys(context.Context) ([]client.Key, error) {
	return []client.Key{{ID: "k1", Name: "agent-proj-a-20261101", Kind: client.KindScoped, Tags: []string{"proj-a"}, Permission: "read", Enabled: true}}, nil
}

func (a *chainAPI) ListTags(context.Context) ([]client.Tag, error) {
	return []client.Tag{{Tag: "proj-a", Name: "proj-a"}, {Tag: "proj-b", Name: "proj-b"}}, nil
}

func (a *chainAPI) CreateScopedKey(_ context.Context, req client.CreateScopedKeyRequest) (*client.CreatedKey, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.creates++
	return &client.CreatedKey{Key: client.Secret("sm_test_" + strings.Repeat("x", 32)), ID: "k2", Name: req.Name, Tags: req.Tags, Permission: req.Permission}, nil
}

func (a *chainAPI) RevokeKey(_ context.Context, id string) (*client.RevokeResult, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.revokes++
	return &client.RevokeResult{ID: id, Success: true}, nil
}

func (a *chainAPI) writes() (int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.creates, a.revokes
}

// brokenChain writes a log whose records 1–3 are k1's creation (intent,
// result) and a check, then appends a forged record 4 (a copy of record 3
// renumbered, so its prev does not match), and returns the log's path.
func brokenChain(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	st, err := audit.OpenFile(path, audit.FileOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	in, err := st.Append(ctx, audit.Record{Event: audit.EventCreate, Phase: audit.PhaseIntent, Tool: "create_scoped_key", Decision: audit.DecisionAllowed, Caller: "local", Tag: "proj-a"})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []audit.Record{
		{Event: audit.EventCreateResult, Phase: audit.PhaseResult, Ref: in.Seq, Tool: "create_scoped_key", Decision: audit.DecisionAllowed,
			Outcome: audit.OutcomeCreated, Caller: "local", KeyID: "k1", Tags: []string{"proj-a"}, Permission: "read"},
		{Event: audit.EventCheck, Tool: "check_policy", Decision: audit.DecisionAllowed, Caller: "local", Tag: "proj-a"},
	} {
		if _, err := st.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n")
	forged := strings.Replace(lines[2], `"seq":3,`, `"seq":4,`, 1)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(forged + "\n"); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBrokenChainRefusesWrites: whatever audit.required says, a chain that
// fails verification refuses create, revoke and rotate and calls nothing
// upstream, while list_tags, which does not trust the store, still
// answers.
func TestBrokenChainRefusesWrites(t *testing.T) {
	const base = `version: 1
tags:
  allow: ["proj-*"]
  allow_new: true
keys:
  name_prefix: "agent-"
revoke:
  enabled: true
  only_prefixed: true
audit:
  required: false
`
	tests := []struct {
		name, policy string
		// named: the refusal is the store's, naming the broken record.
		named bool
	}{
		// Nothing in the policy reads the store before the intent is
		// written: each write is refused when its intent is, naming the
		// record.
		{"no rule reads the store", strings.Replace(base, "  only_prefixed: true\n", "  only_prefixed: true\n  only_minted: false\n", 1), true},
		// revoke.only_minted (the default) and a quota read the store
		// before anything is written: the chain is checked first, so the
		// refusal is still the store's, naming the record.
		{"only_minted and a quota", base + "quota:\n  max_keys_per_hour: 100\n", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := policy.Parse("policy.yaml", []byte(tc.policy))
			if err != nil {
				t.Fatal(err)
			}
			if p.Audit.Required {
				t.Fatal("the policy requires the audit record")
			}
			api := &chainAPI{}
			svc, err := New(Config{API: api, Policy: policy.Static(p), OpenStore: OpenFile(brokenChain(t), audit.FileOptions{}), Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			defer svc.Close()
			ctx := context.Background()
			call := func(tool string) Call { return Call{Caller: Local(), Tool: tool} }
			writes := []struct {
				name string
				do   func() error
			}{
				{"create", func() error {
					_, err := svc.Create(ctx, call("create_scoped_key"), CreateInput{Tag: "proj-b"})
					return err
				}},
				{"revoke", func() error { _, err := svc.Revoke(ctx, call("revoke_key"), "k1"); return err }},
				{"rotate", func() error { _, err := svc.Rotate(ctx, call("rotate_key"), "k1", 0); return err }},
			}
			for _, w := range writes {
				f := AsFailure(w.do())
				switch {
				case f == nil:
					t.Errorf("%s on a broken chain was not refused", w.name)
				case tc.named && (f.Kind != FailStore || !strings.Contains(f.Message, "audit chain fails verification") || !strings.Contains(f.Message, "line 4:")):
					t.Errorf("%s: kind %d, %q; want the store's refusal naming line 4", w.name, f.Kind, f.Message)
				case !tc.named && f.Kind != FailRefused && f.Kind != FailStore:
					t.Errorf("%s: kind %d, %q; want a refusal", w.name, f.Kind, f.Message)
				}
			}
			if c, r := api.writes(); c != 0 || r != 0 {
				t.Errorf("the upstream got %d creates and %d revokes", c, r)
			}
			tags, err := svc.ListTags(ctx, call("list_tags"), TagQuery{})
			if err != nil || tags.Total != 2 {
				t.Errorf("list_tags on a broken chain: %+v, %v", tags, err)
			}
		})
	}
}
