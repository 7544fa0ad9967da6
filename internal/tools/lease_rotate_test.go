package tools_test

// Leases and rotate_key over MCP: lease_minutes in create_scoped_key and
// check_policy (granted, capped, refused with expires_in_days), lease_ends_at
// in the results and in list_keys, rotate_key's structured result with and
// without grace, and its argument refusals. The service's clock is newEnv's
// fixed 2026-11-25 12:00 UTC; the reaper is tested in internal/keys.

import (
	"strings"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// leasePolicyYAML is the design policy with leases up to 90 minutes and
// rotations with up to 30 minutes of grace.
func leasePolicyYAML() string {
	p := strings.Replace(designPolicy, "max_expiry_days: 90", "max_expiry_days: 90\n  max_lease_minutes: 90", 1)
	return p + "rotate:\n  max_grace_minutes: 30\n"
}

func TestLeaseOverMCP(t *testing.T) {
	e := newEnv(t, envOptions{policyYAML: leasePolicyYAML()})

	res := e.call("create_scoped_key", map[string]any{"tag": "proj-lease", "lease_minutes": 45})
	mustOK(t, res)
	var created struct {
		ID          string `json:"id"`
		Key         string `json:"key"`
		ExpiresAt   string `json:"expires_at"`
		LeaseEndsAt string `json:"lease_ends_at"`
	}
	structured(t, res, &created)
	if created.LeaseEndsAt != "2026-11-25T12:45:00Z" || created.ExpiresAt == "" || created.Key == "" {
		t.Errorf("create with a lease: lease_ends_at %q, expires_at %q, key given %v", created.LeaseEndsAt, created.ExpiresAt, created.Key != "")
	}
	if !strings.Contains(text(res), "Leased: mcp-keys revokes it at 2026-11-25T12:45:00Z") {
		t.Errorf("the text does not tell the lease: %q", strings.ReplaceAll(text(res), created.Key, "[key]"))
	}

	res = e.call("list_keys", map[string]any{"tag": "proj-lease"})
	mustOK(t, res)
	var list struct {
		Keys []struct {
			ID          string `json:"id"`
			LeaseEndsAt string `json:"lease_ends_at"`
		} `json:"keys"`
	}
	structured(t, res, &list)
	if len(list.Keys) != 1 || list.Keys[0].ID != created.ID || list.Keys[0].LeaseEndsAt != "2026-11-25T12:45:00Z" {
		t.Errorf("list_keys: %+v", list.Keys)
	}

	refusals := []struct {
		name string
		args map[string]any
		want string
	}{
		{"over the cap", map[string]any{"tag": "proj-lease", "lease_minutes": 91}, "lease_minutes 91 is over max_lease_minutes 90"},
		{"zero", map[string]any{"tag": "proj-lease", "lease_minutes": 0}, "lease_minutes 0 is below 1"},
		{"with expires_in_days", map[string]any{"tag": "proj-lease", "lease_minutes": 10, "expires_in_days": 2}, "both lease_minutes and expires_in_days"},
		{"not an integer", map[string]any{"tag": "proj-lease", "lease_minutes": "ten"}, "lease_minutes"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := e.sb.Sandbox.Count(sandbox.EndpointCreate)
			mustRefuse(t, e.call("create_scoped_key", tc.args), tc.want)
			if n := e.sb.Sandbox.Count(sandbox.EndpointCreate); n != before {
				t.Error("a refused create reached the upstream")
			}
			res := e.call("check_policy", tc.args)
			if tc.name == "not an integer" {
				mustRefuse(t, res, "lease_minutes")
				return
			}
			mustOK(t, res)
			var chk struct {
				Allowed bool `json:"allowed"`
				Rules   []struct{ Rule, Outcome, Detail string }
			}
			structured(t, res, &chk)
			failed := ""
			for _, r := range chk.Rules {
				if r.Outcome == "fail" {
					failed += r.Rule + ": " + r.Detail + "; "
				}
			}
			if chk.Allowed || !strings.Contains(failed, tc.want) {
				t.Errorf("check_policy: allowed %v, failed rules %q; want %q", chk.Allowed, failed, tc.want)
			}
		})
	}

	res = e.call("check_policy", map[string]any{"tag": "proj-lease", "lease_minutes": 90})
	mustOK(t, res)
	var chk struct {
		Allowed   bool `json:"allowed"`
		Effective struct {
			ExpiresInDays int `json:"expires_in_days"`
			LeaseMinutes  int `json:"lease_minutes"`
		} `json:"effective"`
	}
	structured(t, res, &chk)
	if !chk.Allowed || chk.Effective.LeaseMinutes != 90 || chk.Effective.ExpiresInDays != 1 {
		t.Errorf("check_policy at the cap: %+v", chk)
	}
}

func TestRotateKeyOverMCP(t *testing.T) {
	e := newEnv(t, envOptions{policyYAML: leasePolicyYAML()})
	res := e.call("create_scoped_key", map[string]any{"tag": "proj-rot", "permission": "read"})
	mustOK(t, res)
	var first struct {
		ID string `json:"id"`
	}
	structured(t, res, &first)

	type rotated struct {
		ID             string   `json:"id"`
		Key            string   `json:"key"`
		Tags           []string `json:"tags"`
		Permission     string   `json:"permission"`
		OldID          string   `json:"old_id"`
		OldRevoked     bool     `json:"old_revoked"`
		OldLeaseEndsAt string   `json:"old_lease_ends_at"`
	}
	res = e.call("rotate_key", map[string]any{"id": first.ID, "grace_minutes": 15})
	mustOK(t, res)
	var withGrace rotated
	structured(t, res, &withGrace)
	if withGrace.OldID != first.ID || withGrace.OldRevoked || withGrace.OldLeaseEndsAt != "2026-11-25T12:15:00Z" ||
		withGrace.ID == first.ID || withGrace.Key == "" || withGrace.Permission != "read" || len(withGrace.Tags) != 1 || withGrace.Tags[0] != "proj-rot" {
		t.Errorf("rotate_key with grace: %+v", withGrace)
	}
	if !strings.Contains(text(res), "keeps working until 2026-11-25T12:15:00Z") {
		t.Errorf("rotate_key text does not tell the grace: %q", strings.ReplaceAll(text(res), withGrace.Key, "[key]"))
	}

	res = e.call("rotate_key", map[string]any{"id": withGrace.ID})
	mustOK(t, res)
	var now rotated
	structured(t, res, &now)
	if now.OldID != withGrace.ID || !now.OldRevoked || now.OldLeaseEndsAt != "" || now.Permission != "read" {
		t.Errorf("rotate_key without grace: %+v", now)
	}
	if strings.Contains(e.logs.String(), now.Key) || strings.Contains(e.logs.String(), withGrace.Key) {
		t.Error("a minted key is in the logs")
	}

	for _, tc := range []struct {
		name string
		args map[string]any
		want string
	}{
		{"grace over the cap", map[string]any{"id": now.ID, "grace_minutes": 31}, "rotate.max_grace_minutes 30"},
		{"negative grace", map[string]any{"id": now.ID, "grace_minutes": -1}, "grace_minutes -1 is below 0"},
		{"no id", map[string]any{}, "id"},
		{"an unknown argument", map[string]any{"id": now.ID, "tag": "proj-other"}, "tag"},
		{"a Full Access key", map[string]any{"id": fullKeyID(t, e)}, "Full Access"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			creates, revokes := e.sb.Sandbox.Count(sandbox.EndpointCreate), e.sb.Sandbox.Count(sandbox.EndpointRevoke)
			mustRefuse(t, e.call("rotate_key", tc.args), tc.want)
			if e.sb.Sandbox.Count(sandbox.EndpointCreate) != creates || e.sb.Sandbox.Count(sandbox.EndpointRevoke) != revokes {
				t.Error("a refused rotation wrote upstream")
			}
		})
	}
}

// fullKeyID is the id of the sandbox's seeded Full Access key ci-deploy.
func fullKeyID(t *testing.T, e *testEnv) string {
	t.Helper()
	ks, err := e.api.ListKeys(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range ks {
		if k.Name == "ci-deploy" {
			return k.ID
		}
	}
	t.Fatal("no ci-deploy key in the sandbox")
	return ""
}
