package keys_test

// The service as remote callers see it (design.md "Per-caller policy"):
// refusals for a key outside the caller's rule name none of its tags or its
// name, whatever the use case, and per-caller quotas count each caller on
// its own even when one rule matches several.

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

const callersPolicy = `version: 1
tags:
  allow: ["proj-*"]
  allow_new: true
callers:
  - match: {token: alice}
    tags: {allow: ["proj-a*"]}
  - match: {token: bob}
    tags: {allow: ["proj-b*"]}
  - match: {group: team}
    tags: {allow: ["proj-t*"]}
    quota: {max_keys_per_hour: 1}
`

// newService is a service on a sandbox over loopback with the policy.
func newService(t *testing.T, policyYAML string) *keys.Service {
	t.Helper()
	sb, err := sandbox.Start(sandbox.Options{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sb.Close() })
	api, err := client.New(client.Config{BaseURL: sb.URL, APIKey: client.Secret(sb.Sandbox.OperatorKey()), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	p, err := policy.Parse("policy.yaml", []byte(policyYAML))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := keys.New(keys.Config{API: api, Policy: policy.Static(p), OpenStore: keys.OpenFile(filepath.Join(t.TempDir(), "audit.jsonl"), audit.FileOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })
	return svc
}

func token(name string) keys.Caller {
	return keys.Caller{Kind: keys.CallerToken, TokenName: name, Scopes: []string{keys.ScopeRead, keys.ScopeWrite}}
}

func member(sub string) keys.Caller {
	return keys.Caller{Kind: keys.CallerOAuth, Issuer: "https://idp.example", Subject: sub, Groups: []string{"team"}, Scopes: []string{keys.ScopeRead, keys.ScopeWrite}}
}

// create mints a key that must be allowed and returns its id.
func create(t *testing.T, svc *keys.Service, c keys.Caller, tag, name string) string {
	t.Helper()
	out, err := svc.Create(context.Background(), keys.Call{Caller: c, Tool: "create_scoped_key"}, keys.CreateInput{Tag: tag, Name: name})
	if err != nil {
		t.Fatalf("%s creates %s: %v", c.ID(), tag, err)
	}
	return out.ID
}

// failureText is everything a refusal shows the caller: its message and
// every rule of its decision.
func failureText(err error) string {
	f := keys.AsFailure(err)
	if f == nil {
		return fmt.Sprint(err)
	}
	text := f.Message
	if f.Decision != nil {
		for _, r := range f.Decision.Rules {
			text += "\n" + r.Rule + ": " + r.Detail
		}
	}
	return text
}

func TestRemoteRefusalsNameNothingOutsideTheRule(t *testing.T) {
	svc := newService(t, callersPolicy)
	ctx := context.Background()
	bobKey := create(t, svc, token("bob"), "proj-b-hidden", "bobsecret")
	alice := keys.Call{Caller: token("alice")}

	checkText := func() (string, error) {
		c, err := svc.CheckRevoke(ctx, alice, bobKey)
		if err != nil {
			return "", err
		}
		if c.Decision.Allowed {
			return "", fmt.Errorf("allowed")
		}
		text := c.Decision.Reason()
		for _, r := range c.Decision.Rules {
			text += "\n" + r.Rule + ": " + r.Detail
		}
		return text, nil
	}
	tests := []struct {
		name string
		run  func() (string, error)
	}{
		{"revoke", func() (string, error) {
			_, err := svc.Revoke(ctx, keys.Call{Caller: alice.Caller, Tool: "revoke_key"}, bobKey)
			return failureText(err), err
		}},
		{"rotate", func() (string, error) {
			_, err := svc.Rotate(ctx, keys.Call{Caller: alice.Caller, Tool: "rotate_key"}, bobKey, 0)
			return failureText(err), err
		}},
		{"rotate with grace", func() (string, error) {
			_, err := svc.Rotate(ctx, keys.Call{Caller: alice.Caller, Tool: "rotate_key"}, bobKey, 10)
			return failureText(err), err
		}},
		{"check revoke", func() (string, error) {
			text, err := checkText()
			if err == nil {
				err = fmt.Errorf("refused") // a refusal, as the others
			}
			return text, err
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text, err := tc.run()
			if err == nil {
				t.Fatal("alice's call on bob's key was not refused")
			}
			for _, w := range []string{"proj-b", "bobsecret", "bob", "callers[1]"} {
				if strings.Contains(text, w) {
					t.Errorf("the refusal names %q:\n%s", w, text)
				}
			}
		})
	}
}

// TestPerCallerQuotaCountsEachCaller: a rule's quota is each caller's own,
// even when the rule matches several callers.
func TestPerCallerQuotaCountsEachCaller(t *testing.T) {
	svc := newService(t, callersPolicy)
	ctx := context.Background()
	create(t, svc, member("agent-1"), "proj-t-1", "")
	_, err := svc.Create(ctx, keys.Call{Caller: member("agent-1"), Tool: "create_scoped_key"}, keys.CreateInput{Tag: "proj-t-2"})
	if f := keys.AsFailure(err); f == nil || f.Kind != keys.FailRefused || !strings.Contains(f.Message, "callers[2].quota.max_keys_per_hour") {
		t.Fatalf("agent-1's second create: %v, want a refusal naming callers[2].quota.max_keys_per_hour", err)
	}
	// agent-2 matches the same rule and has a quota of its own.
	create(t, svc, member("agent-2"), "proj-t-3", "")
	// A caller of another rule is not counted either.
	create(t, svc, token("alice"), "proj-a-1", "")
	create(t, svc, token("alice"), "proj-a-2", "")
}

// TestAHiddenKeyReadsAsNotFound: a remote caller cannot tell a key outside
// its sight from an id that does not exist.
func TestAHiddenKeyReadsAsNotFound(t *testing.T) {
	svc := newService(t, callersPolicy)
	ctx := context.Background()
	bobKey := create(t, svc, token("bob"), "proj-b-x", "")
	alice := token("alice")
	for _, id := range []string{bobKey, "key_doesnotexist"} {
		for name, run := range map[string]func() error{
			"revoke": func() error { _, err := svc.Revoke(ctx, keys.Call{Caller: alice, Tool: "revoke_key"}, id); return err },
			"rotate": func() error {
				_, err := svc.Rotate(ctx, keys.Call{Caller: alice, Tool: "rotate_key"}, id, 0)
				return err
			},
		} {
			f := keys.AsFailure(run())
			if f == nil || f.Kind != keys.FailNotFound || !strings.Contains(f.Message, "not found") {
				t.Errorf("%s of %s: %v, want not found", name, id, f)
			}
		}
		c, err := svc.CheckRevoke(ctx, keys.Call{Caller: alice, Tool: "check_policy"}, id)
		if err != nil || c.Decision.Allowed {
			t.Fatalf("check revoke of %s: %v", id, err)
		}
		if failed := c.Decision.Failed(); len(failed) == 0 || failed[0].Rule != "target_found" {
			t.Errorf("check revoke of %s fails %v, want target_found first", id, failed)
		}
	}
}

// TestTagExistenceIsNotProbed: with allow_new false, a create for a tag
// outside the caller's rule says nothing of whether the tag exists.
func TestTagExistenceIsNotProbed(t *testing.T) {
	svc := newService(t, strings.Replace(callersPolicy, "allow_new: true", "allow_new: false", 1))
	ctx := context.Background()
	alice := keys.Call{Caller: token("alice"), Tool: "check_policy"}
	// proj-search exists in the sandbox's seed; proj-nosuch does not.
	var texts []string
	for _, tag := range []string{"proj-search", "proj-nosuch"} {
		c, err := svc.CheckCreate(ctx, alice, keys.CreateInput{Tag: tag})
		if err != nil || c.Decision.Allowed {
			t.Fatalf("check %s: %v", tag, err)
		}
		var text string
		for _, r := range c.Decision.Rules {
			if r.Rule == "tag_new" {
				text = string(r.Outcome) + " " + strings.ReplaceAll(r.Detail, tag, "TAG")
			}
		}
		texts = append(texts, text)
	}
	if texts[0] != texts[1] {
		t.Errorf("tag_new differs between an existing and a missing tag outside the rule:\n%q\n%q", texts[0], texts[1])
	}
}
