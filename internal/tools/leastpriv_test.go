// Tests of least-privilege keys through the MCP protocol: several tags and
// a read or write permission on create_scoped_key and check_policy, the
// policy's tags.read_only, max_tags and default_permission, the
// fail-closed check of what the API really minted (with the sandbox's mint
// faults), and list_keys's tags, permission and any-tag filter.
package tools_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// lpCreateOut is the structured result of a create, tags and permission
// included.
type lpCreateOut struct {
	ID         string   `json:"id"`
	Tag        string   `json:"tag"`
	Tags       []string `json:"tags"`
	Permission string   `json:"permission"`
	Key        string   `json:"key"`
}

// lpCheckOut is check_policy's verdict and effective request.
type lpCheckOut struct {
	Allowed bool `json:"allowed"`
	Rules   []struct {
		Rule    string `json:"rule"`
		Outcome string `json:"outcome"`
	} `json:"rules"`
	Effective *struct {
		Tags       []string `json:"tags"`
		Permission string   `json:"permission"`
	} `json:"effective"`
}

// failedRules names the rules check_policy reports as failed.
func (c lpCheckOut) failedRules() []string {
	var out []string
	for _, r := range c.Rules {
		if r.Outcome == "fail" {
			out = append(out, r.Rule)
		}
	}
	return out
}

// TestLeastPrivilegeCreate runs create requests with several tags and a
// permission through check_policy and create_scoped_key: each must get the
// verdict the policy gives, the same from both tools; a refusal must name
// what broke the rule and send nothing upstream; a key handed on must be,
// in the sandbox's own record, exactly what was asked.
func TestLeastPrivilegeCreate(t *testing.T) {
	const fullAccess = "Full Access keys are never granted"
	tests := []struct {
		name        string
		defaultPerm string
		args        map[string]any
		// For an allowed create: the tags and permission the key must have.
		wantTags []string
		wantPerm string
		// For a refusal: the rule check_policy names and texts the
		// refusal must hold.
		wantRule string
		want     []string
	}{
		{name: "two tags", args: map[string]any{"tags": []any{"proj-a", "user_b"}},
			wantTags: []string{"proj-a", "user_b"}, wantPerm: "write"},
		{name: "two tags read", args: map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "read"},
			wantTags: []string{"proj-a", "user_b"}, wantPerm: "read"},
		{name: "three tags, the max", args: map[string]any{"tags": []any{"proj-a", "user_b", "demo-project"}, "permission": "write"},
			wantTags: []string{"proj-a", "user_b", "demo-project"}, wantPerm: "write"},
		{name: "one tag as a list", args: map[string]any{"tags": []any{"proj-one"}},
			wantTags: []string{"proj-one"}, wantPerm: "write"},
		{name: "a denied tag among good ones", args: map[string]any{"tags": []any{"proj-a", "proj-prod-eu", "user_b"}},
			wantRule: "tag_deny", want: []string{`"proj-prod-eu"`, "proj-prod*"}},
		{name: "a tag no pattern allows among good ones", args: map[string]any{"tags": []any{"proj-a", "other-x"}},
			wantRule: "tag_allow", want: []string{`"other-x"`}},
		{name: "an invalid tag among good ones", args: map[string]any{"tags": []any{"proj-a", "bad tag"}},
			wantRule: "tag_syntax", want: []string{`"bad tag"`}},
		{name: "a wildcard among good ones", args: map[string]any{"tags": []any{"proj-a", "proj-*"}},
			wantRule: "scoped_only", want: []string{`"proj-*"`, fullAccess}},
		{name: "tag and tags", args: map[string]any{"tag": "proj-a", "tags": []any{"user_b"}},
			wantRule: "tag_count", want: []string{"both tag and tags"}},
		{name: "duplicate tags", args: map[string]any{"tags": []any{"proj-a", "user_b", "proj-a"}},
			wantRule: "tag_count", want: []string{`"proj-a"`, "more than once"}},
		{name: "over max_tags", args: map[string]any{"tags": []any{"proj-a", "proj-b", "proj-c", "proj-d"}},
			wantRule: "tag_count", want: []string{"4 tags", "max_tags 3"}},
		{name: "empty tags", args: map[string]any{"tags": []any{}},
			wantRule: "tag_count", want: []string{"tags is empty"}},
		{name: "read-only tag with write", args: map[string]any{"tags": []any{"proj-a", "team:search"}, "permission": "write"},
			wantRule: "tag_read_only", want: []string{`"team:search"`, "tags.read_only", "permission read"}},
		{name: "read-only tag with the default write", args: map[string]any{"tag": "team:search"},
			wantRule: "tag_read_only", want: []string{`"team:search"`, "tags.read_only", "default"}},
		{name: "read-only tag with read", args: map[string]any{"tags": []any{"proj-a", "team:search"}, "permission": "read"},
			wantTags: []string{"proj-a", "team:search"}, wantPerm: "read"},
		{name: "read-only tag alone with read", args: map[string]any{"tag": "team:search", "permission": "read"},
			wantTags: []string{"team:search"}, wantPerm: "read"},
		{name: "permission full", args: map[string]any{"tag": "proj-a", "permission": "full"},
			wantRule: "scoped_only", want: []string{`"full"`, fullAccess}},
		{name: "permission admin", args: map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "admin"},
			wantRule: "scoped_only", want: []string{`"admin"`, fullAccess}},
		{name: "permission READ", args: map[string]any{"tag": "proj-a", "permission": "READ"},
			wantRule: "scoped_only", want: []string{`"READ"`, fullAccess}},
		{name: "permission Write", args: map[string]any{"tag": "proj-a", "permission": "Write"},
			wantRule: "scoped_only", want: []string{`"Write"`, fullAccess}},
		{name: "default_permission read applied", defaultPerm: "read", args: map[string]any{"tags": []any{"proj-a", "user_b"}},
			wantTags: []string{"proj-a", "user_b"}, wantPerm: "read"},
		{name: "default_permission read lets a read-only tag through", defaultPerm: "read", args: map[string]any{"tag": "team:search"},
			wantTags: []string{"team:search"}, wantPerm: "read"},
		{name: "default_permission read, write asked", defaultPerm: "read", args: map[string]any{"tag": "proj-a", "permission": "write"},
			wantTags: []string{"proj-a"}, wantPerm: "write"},
	}
	envs := map[string]*lpEnv{}
	for _, perm := range []string{"write", "read"} {
		envs[perm] = newLPEnv(t, fmt.Sprintf(leastPrivPolicy, perm, false))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			perm := tc.defaultPerm
			if perm == "" {
				perm = "write"
			}
			e := envs[perm]
			allow := tc.wantRule == ""

			// The dry run gives the same verdict and names the rule.
			res := callTool(t, e.testEnv, "check_policy", tc.args)
			if res.IsError {
				t.Fatalf("check_policy: isError %s", text(res))
			}
			var check lpCheckOut
			structured(t, res, &check)
			if check.Allowed != allow {
				t.Fatalf("check_policy allowed=%v, want %v: %s", check.Allowed, allow, text(res))
			}
			if !allow && !slices.Contains(check.failedRules(), tc.wantRule) {
				t.Errorf("check_policy failed rules %v, want %s among them", check.failedRules(), tc.wantRule)
			}
			if allow && (check.Effective == nil || !slices.Equal(check.Effective.Tags, tc.wantTags) || check.Effective.Permission != tc.wantPerm) {
				t.Errorf("check_policy effective %+v, want tags %v permission %s", check.Effective, tc.wantTags, tc.wantPerm)
			}

			before := e.sandboxKeys(t)
			creates := e.sb.Sandbox.Count(sandbox.EndpointCreate)
			res = callTool(t, e.testEnv, "create_scoped_key", tc.args)
			if !allow {
				mustRefuse(t, res, append([]string{tc.wantRule}, tc.want...)...)
				if n := e.sb.Sandbox.Count(sandbox.EndpointCreate) - creates; n != 0 {
					t.Errorf("a refused create sent %d requests upstream", n)
				}
				if got := e.sb.Sandbox.KeyCount(); got != len(before) {
					t.Errorf("the sandbox holds %d keys after a refusal, %d before", got, len(before))
				}
				return
			}
			mustOK(t, res)
			var out lpCreateOut
			structured(t, res, &out)
			if !slices.Equal(out.Tags, tc.wantTags) || out.Permission != tc.wantPerm {
				t.Errorf("result tags %v permission %q, want %v %q", out.Tags, out.Permission, tc.wantTags, tc.wantPerm)
			}
			if want := ""; len(tc.wantTags) == 1 {
				want = tc.wantTags[0]
				if out.Tag != want {
					t.Errorf("result tag %q, want %q (one tag)", out.Tag, want)
				}
			} else if out.Tag != "" {
				t.Errorf("result tag %q for several tags, want none", out.Tag)
			}
			if !strings.Contains(text(res), tc.wantPerm) {
				t.Errorf("result text does not name permission %s: %s", tc.wantPerm, redact(text(res)))
			}
			added := e.newKeys(t, before)
			if len(added) != 1 || added[0].ID != out.ID {
				t.Fatalf("the sandbox gained %d keys (%+v), want the one handed on (%s)", len(added), added, out.ID)
			}
			k := added[0]
			if !slices.Equal(k.Tags, tc.wantTags) || k.perm() != tc.wantPerm || !k.Enabled || k.HidePermission {
				t.Errorf("the sandbox's record %+v, want tags %v permission %s, enabled", k, tc.wantTags, tc.wantPerm)
			}
			// The listing agrees.
			var listed lpListOut
			structured(t, callTool(t, e.testEnv, "list_keys", map[string]any{"tag": tc.wantTags[0]}), &listed)
			if lk, ok := listed.byID(out.ID); !ok || !slices.Equal(lk.Tags, tc.wantTags) || lk.Permission != tc.wantPerm {
				t.Errorf("list_keys shows %+v (found %v), want tags %v permission %s", lk, ok, tc.wantTags, tc.wantPerm)
			}
		})
	}
}

// TestLeastPrivilegeFailsClosed mints keys while the sandbox does not
// honour the request (ignores the permission, leaves it out of the answer
// and the listing, drops a tag, adds one): every key that is not exactly
// what was asked must be revoked at once — disabled in the sandbox's own
// record —, the caller must get an isError result saying what the API did
// not honour and that nothing usable was created, and the audit log's
// create_result must say why. A fault that changes nothing asked for (a
// write key "ignoring" the permission) must not stop a create, nor must a
// hidden permission for write when the policy assumes write.
func TestLeastPrivilegeFailsClosed(t *testing.T) {
	tests := []struct {
		name   string
		assume bool // keys.assume_write_permission
		fault  sandbox.Fault
		args   map[string]any
		// want is what the refusal and the audit reason must say; "" means
		// the key is handed on.
		want string
		// wantTags and wantPerm are the sandbox's record of the key minted.
		wantTags []string
		wantPerm string
	}{
		{name: "IgnorePermission, read asked", fault: sandbox.Fault{IgnorePermission: true},
			args: map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "read"},
			want: "did not honour permission read", wantTags: []string{"proj-a", "user_b"}, wantPerm: "write"},
		{name: "IgnorePermission, one tag read", fault: sandbox.Fault{IgnorePermission: true},
			args: map[string]any{"tag": "team:search", "permission": "read"},
			want: "did not honour permission read", wantTags: []string{"team:search"}, wantPerm: "write"},
		{name: "IgnorePermission, write asked", fault: sandbox.Fault{IgnorePermission: true},
			args:     map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "write"},
			wantTags: []string{"proj-a", "user_b"}, wantPerm: "write"},
		{name: "DropTag, two tags", fault: sandbox.Fault{DropTag: true},
			args: map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "read"},
			want: `left out tag "user_b"`, wantTags: []string{"proj-a"}, wantPerm: "read"},
		{name: "DropTag, one tag: Full Access", fault: sandbox.Fault{DropTag: true},
			args: map[string]any{"tag": "proj-a"},
			want: "did not bind the key to any tag", wantTags: nil, wantPerm: "write"},
		{name: "ExtraTag", fault: sandbox.Fault{ExtraTag: "proj-prod-eu"},
			args: map[string]any{"tags": []any{"proj-a", "user_b"}},
			want: `added tag "proj-prod-eu"`, wantTags: []string{"proj-a", "user_b", "proj-prod-eu"}, wantPerm: "write"},
		{name: "ExtraTag, one tag read", fault: sandbox.Fault{ExtraTag: "user_z"},
			args: map[string]any{"tag": "proj-a", "permission": "read"},
			want: `added tag "user_z"`, wantTags: []string{"proj-a", "user_z"}, wantPerm: "read"},
		{name: "ExtraTag already asked for", fault: sandbox.Fault{ExtraTag: "user_b"},
			args:     map[string]any{"tags": []any{"proj-a", "user_b"}},
			wantTags: []string{"proj-a", "user_b"}, wantPerm: "write"},
		{name: "DropTag and ExtraTag", fault: sandbox.Fault{DropTag: true, ExtraTag: "user_z"},
			args: map[string]any{"tags": []any{"proj-a", "user_b"}},
			want: `left out tag "user_b" and added tag "user_z"`, wantTags: []string{"proj-a", "user_z"}, wantPerm: "write"},
		{name: "OmitPermission, read asked", fault: sandbox.Fault{OmitPermission: true},
			args: map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "read"},
			want: "permission read could not be verified", wantTags: []string{"proj-a", "user_b"}, wantPerm: "read"},
		{name: "OmitPermission, read asked, write assumed", assume: true, fault: sandbox.Fault{OmitPermission: true},
			args: map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "read"},
			want: "permission read could not be verified", wantTags: []string{"proj-a", "user_b"}, wantPerm: "read"},
		{name: "OmitPermission, write asked", fault: sandbox.Fault{OmitPermission: true},
			args: map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "write"},
			want: "permission write could not be verified", wantTags: []string{"proj-a", "user_b"}, wantPerm: "write"},
		{name: "OmitPermission, write asked, write assumed", assume: true, fault: sandbox.Fault{OmitPermission: true},
			args:     map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "write"},
			wantTags: []string{"proj-a", "user_b"}, wantPerm: "write"},
		{name: "OmitPermission and IgnorePermission, read asked, write assumed", assume: true,
			fault: sandbox.Fault{OmitPermission: true, IgnorePermission: true},
			args:  map[string]any{"tag": "proj-a", "permission": "read"},
			want:  "permission read could not be verified", wantTags: []string{"proj-a"}, wantPerm: "write"},
		{name: "OmitPermission and DropTag, write assumed", assume: true,
			fault: sandbox.Fault{OmitPermission: true, DropTag: true},
			args:  map[string]any{"tags": []any{"proj-a", "user_b"}, "permission": "write"},
			want:  `left out tag "user_b"`, wantTags: []string{"proj-a"}, wantPerm: "write"},
	}
	envs := map[bool]*lpEnv{}
	for _, assume := range []bool{false, true} {
		envs[assume] = newLPEnv(t, fmt.Sprintf(leastPrivPolicy, "write", assume))
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := envs[tc.assume]
			before := e.sandboxKeys(t)
			f := tc.fault
			f.Endpoint = sandbox.EndpointCreate
			remove := e.sb.Sandbox.Inject(f)
			res := callTool(t, e.testEnv, "create_scoped_key", tc.args)
			remove()

			added := e.newKeys(t, before)
			if len(added) != 1 {
				t.Fatalf("the sandbox gained %d keys, want 1", len(added))
			}
			k := added[0]
			if !slices.Equal(k.Tags, tc.wantTags) || k.perm() != tc.wantPerm {
				t.Fatalf("the fault minted %+v, want tags %v permission %s (a broken fault proves nothing)", k, tc.wantTags, tc.wantPerm)
			}
			rec := createResultFor(t, e.auditPath, k.ID)
			if tc.want == "" {
				mustOK(t, res)
				var out lpCreateOut
				structured(t, res, &out)
				if out.ID != k.ID || !k.Enabled {
					t.Errorf("handed on %s, minted %s (enabled %v)", out.ID, k.ID, k.Enabled)
				}
				if rec.Outcome != "created" {
					t.Errorf("audit create_result %+v, want outcome created", rec)
				}
				return
			}
			mustRefuse(t, res, tc.want, "the API", "revoked", "nothing usable was created")
			noSecretIn(t, "the refusal", text(res))
			if res.StructuredContent != nil {
				t.Errorf("the refusal carries structured content: %v", res.StructuredContent)
			}
			if k.Enabled {
				t.Errorf("the key %s the API minted wrongly is still enabled in the sandbox", k.ID)
			}
			if rec.Outcome != "failed" || !strings.Contains(rec.Reason, tc.want) || !strings.Contains(rec.Reason, "revoked") {
				t.Errorf("audit create_result %+v, want outcome failed and a reason naming %q", rec, tc.want)
			}
			if got := append(slices.Clone(rec.Tags), rec.Tag); !sameSet(slices.DeleteFunc(got, func(s string) bool { return s == "" }), lpTags(tc.args)) {
				t.Errorf("audit create_result tags %v / %q, want the tags asked for %v", rec.Tags, rec.Tag, lpTags(tc.args))
			}
			// The undo reached the API.
			if n := e.sb.Sandbox.Count(sandbox.EndpointRevoke); n == 0 {
				t.Error("no revoke reached the sandbox")
			}
		})
	}
}

// lpTags are the tags a create's arguments ask for: tag, or tags.
func lpTags(args map[string]any) []string {
	if tag, ok := args["tag"].(string); ok {
		return []string{tag}
	}
	list, _ := args["tags"].([]any)
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, _ := v.(string)
		out = append(out, s)
	}
	return out
}

// lpListOut is list_keys's structured result.
type lpListOut struct {
	Keys  []lpListed `json:"keys"`
	Total int        `json:"total"`
}

// lpListed is one key of a listing.
type lpListed struct {
	ID         string   `json:"id"`
	Kind       string   `json:"kind"`
	Tags       []string `json:"tags"`
	Permission string   `json:"permission"`
	Enabled    bool     `json:"enabled"`
}

// byID finds a key of the listing.
func (l lpListOut) byID(id string) (lpListed, bool) {
	for _, k := range l.Keys {
		if k.ID == id {
			return k, true
		}
	}
	return lpListed{}, false
}

// ids lists the ids of the listing.
func (l lpListOut) ids() []string {
	out := make([]string, len(l.Keys))
	for i, k := range l.Keys {
		out[i] = k.ID
	}
	return out
}

// TestLeastPrivilegeListKeys checks that list_keys shows each key's tags
// and permission, and that its tag filter finds a key with several tags by
// any one of them (exactly, not by prefix or case).
func TestLeastPrivilegeListKeys(t *testing.T) {
	e := newLPEnv(t, fmt.Sprintf(leastPrivPolicy, "write", false))
	mint := func(args map[string]any) string {
		t.Helper()
		res := callTool(t, e.testEnv, "create_scoped_key", args)
		mustOK(t, res)
		var out lpCreateOut
		structured(t, res, &out)
		return out.ID
	}
	multi := mint(map[string]any{"tags": []any{"proj-list", "user_list", "team:list"}, "permission": "read"})
	single := mint(map[string]any{"tag": "proj-list-other"})
	both := mint(map[string]any{"tags": []any{"proj-list", "proj-list-other"}, "permission": "write"})

	var all lpListOut
	structured(t, callTool(t, e.testEnv, "list_keys", map[string]any{"kind": "scoped"}), &all)
	for _, want := range []struct {
		id   string
		tags []string
		perm string
	}{
		{multi, []string{"proj-list", "user_list", "team:list"}, "read"},
		{single, []string{"proj-list-other"}, "write"},
		{both, []string{"proj-list", "proj-list-other"}, "write"},
	} {
		k, ok := all.byID(want.id)
		if !ok || k.Kind != "scoped" || !slices.Equal(k.Tags, want.tags) || k.Permission != want.perm || !k.Enabled {
			t.Errorf("list_keys shows %+v (found %v), want scoped, tags %v, permission %s, enabled", k, ok, want.tags, want.perm)
		}
	}
	for _, k := range all.Keys {
		if k.Permission != "read" && k.Permission != "write" {
			t.Errorf("key %s listed with permission %q", k.ID, k.Permission)
		}
	}

	tests := []struct {
		tag  string
		want []string
	}{
		{"proj-list", []string{multi, both}},
		{"user_list", []string{multi}},
		{"team:list", []string{multi}},
		{"proj-list-other", []string{single, both}},
		{"proj-lis", nil},
		{"PROJ-LIST", nil},
		{"user_list ", nil},
	}
	for _, tc := range tests {
		t.Run(tc.tag, func(t *testing.T) {
			res := callTool(t, e.testEnv, "list_keys", map[string]any{"tag": tc.tag})
			mustOK(t, res)
			var out lpListOut
			structured(t, res, &out)
			if got := out.ids(); !sameSet(got, tc.want) || out.Total != len(tc.want) {
				t.Errorf("list_keys tag %q: %v (total %d), want %v", tc.tag, got, out.Total, tc.want)
			}
			for _, k := range out.Keys {
				if !slices.Contains(k.Tags, tc.tag) {
					t.Errorf("key %s with tags %v listed for tag %q", k.ID, k.Tags, tc.tag)
				}
				if !strings.Contains(text(res), strings.Join(k.Tags, ", ")) {
					t.Errorf("the text does not list key %s's tags %v: %s", k.ID, k.Tags, text(res))
				}
			}
		})
	}
}
