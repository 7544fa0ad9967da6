package sandbox

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"
)

// TestFaultMintTweaks checks the faults that make a create mint something
// other than what was asked, and that the answer, the listing and the
// session all show what was minted.
func TestFaultMintTweaks(t *testing.T) {
	tests := []struct {
		name      string
		fault     Fault
		body      string
		wantTags  []string
		wantPerm  string // what the key has (and its session shows)
		permShown bool   // in the answer and the listing
	}{
		{"no tweak", Fault{}, `{"containerTag":"demo-project","permission":"read"}`, []string{"demo-project"}, "read", true},
		{"ignore permission read", Fault{IgnorePermission: true}, `{"containerTag":"demo-project","permission":"read"}`, []string{"demo-project"}, "write", true},
		{"ignore permission write", Fault{IgnorePermission: true}, `{"containerTag":"demo-project","permission":"write"}`, []string{"demo-project"}, "write", true},
		{"omit permission", Fault{OmitPermission: true}, `{"containerTag":"demo-project","permission":"read"}`, []string{"demo-project"}, "read", false},
		{"ignore and omit permission", Fault{IgnorePermission: true, OmitPermission: true}, `{"containerTags":["a","b"],"permission":"read"}`, []string{"a", "b"}, "write", false},
		{"drop one of three", Fault{DropTag: true}, `{"containerTags":["a","b","c"]}`, []string{"a", "b"}, "write", true},
		{"drop one of two", Fault{DropTag: true}, `{"containerTags":["a","b"],"permission":"read"}`, []string{"a"}, "read", true},
		{"drop the only tag: a Full Access key", Fault{DropTag: true}, `{"containerTag":"demo-project","permission":"read"}`, []string{}, "read", true},
		{"extra existing tag", Fault{ExtraTag: "proj-prod-eu"}, `{"containerTag":"demo-project"}`, []string{"demo-project", "proj-prod-eu"}, "write", true},
		{"extra new tag", Fault{ExtraTag: "tenant:extra"}, `{"containerTags":["a","b"]}`, []string{"a", "b", "tenant:extra"}, "write", true},
		{"extra tag already asked", Fault{ExtraTag: "b"}, `{"containerTags":["a","b"]}`, []string{"a", "b"}, "write", true},
		{"drop and add", Fault{DropTag: true, ExtraTag: "x"}, `{"containerTags":["a","b"]}`, []string{"a", "x"}, "write", true},
		{"everything", Fault{DropTag: true, ExtraTag: "x", IgnorePermission: true, OmitPermission: true}, `{"containerTag":"a","permission":"read"}`, []string{"x"}, "write", false},
		{"with latency", Fault{Latency: 1, DropTag: true}, `{"containerTags":["a","b"]}`, []string{"a"}, "write", true},
		{"with a slow body", Fault{SlowBody: 1, ExtraTag: "x"}, `{"containerTag":"a"}`, []string{"a", "x"}, "write", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Options{})
			tt.fault.Endpoint = EndpointCreate
			e.sb.Inject(tt.fault)
			r := e.do("POST", "/v3/auth/scoped-key", e.sb.OperatorKey(), tt.body)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.body)
			}
			var raw map[string]json.RawMessage
			decode(t, r.body, &raw)
			var c createResp
			decode(t, r.body, &c)
			checkMinted(t, e, c, raw, tt.wantTags, tt.wantPerm, tt.permShown)
		})
	}
}

// checkMinted checks a create answer (raw and decoded), the key's listing
// entry and its session against the tags and permission it was minted with.
func checkMinted(t *testing.T, e *env, c createResp, raw map[string]json.RawMessage, tags []string, perm string, permShown bool) {
	t.Helper()
	if !slices.Equal(c.ContainerTags, tags) || c.ContainerTags == nil {
		t.Errorf("answer containerTags %s, want %q", raw["containerTags"], tags)
	}
	if _, has := raw["containerTag"]; has != (len(tags) == 1) || len(tags) == 1 && c.ContainerTag != tags[0] {
		t.Errorf("answer containerTag %s with tags %q", raw["containerTag"], tags)
	}
	if _, has := raw["permission"]; has != permShown || permShown && c.Permission != perm {
		t.Errorf("answer permission %s, want %q shown %v", raw["permission"], perm, permShown)
	}

	k := findKey(e.listKeys(), "id", c.ID)
	if k == nil {
		t.Fatal("minted key not listed")
	}
	var listed []string
	_ = json.Unmarshal(k["containerTags"], &listed)
	if !slices.Equal(listed, tags) || k.boolean("isScoped") != (len(tags) > 0) {
		t.Errorf("listed containerTags %s isScoped %s, want %q", k["containerTags"], k["isScoped"], tags)
	}
	if len(tags) > 0 && k.str("containerTag") != tags[0] || len(tags) == 0 && string(k["containerTag"]) != "null" {
		t.Errorf("listed containerTag %s with tags %q", k["containerTag"], tags)
	}
	if _, has := k["permission"]; has != permShown || permShown && k.str("permission") != perm {
		t.Errorf("listed permission %s, want %q shown %v", k["permission"], perm, permShown)
	}

	status, access, scope := e.session(c.Key)
	want := sessionScope{Type: "full", Permission: perm}
	wantAccess := "full"
	if len(tags) > 0 {
		want = sessionScope{Type: "scoped", Permission: perm, Tag: tags[0], Tags: tags}
		wantAccess = "scoped"
	}
	if status != http.StatusOK || access != wantAccess || !equalJSON(scope, want) {
		t.Errorf("session: status %d access %q scope %+v, want %q %+v", status, access, scope, wantAccess, want)
	}
	names := tagNames(e.listTags())
	for _, tag := range tags {
		if !slices.Contains(names, tag) {
			t.Errorf("tag %s of the key is not on the tag list", tag)
		}
	}
}

// TestFaultMintTweakNth checks that a mint tweak is scheduled like any
// fault: only the second create is tweaked.
func TestFaultMintTweakNth(t *testing.T) {
	e := newEnv(t, Options{})
	e.sb.Inject(Fault{Endpoint: EndpointCreate, Nth: 2, DropTag: true, IgnorePermission: true})
	body := `{"containerTags":["a","b"],"permission":"read"}`
	for i, want := range []struct {
		tags []string
		perm string
	}{{[]string{"a", "b"}, "read"}, {[]string{"a"}, "write"}, {[]string{"a", "b"}, "read"}} {
		c := e.mint(body)
		if !slices.Equal(c.ContainerTags, want.tags) || c.Permission != want.perm {
			t.Errorf("create %d: tags %q permission %q, want %q %q", i+1, c.ContainerTags, c.Permission, want.tags, want.perm)
		}
	}
}

// TestFaultMintTweakCommitted checks a tweak under an effect that replaces
// the answer: with Commit the tweaked key exists though the answer is lost;
// without, nothing is minted.
func TestFaultMintTweakCommitted(t *testing.T) {
	for _, commit := range []bool{false, true} {
		e := newEnv(t, Options{})
		before := e.sb.KeyCount()
		e.sb.Inject(Fault{Endpoint: EndpointCreate, Status: 503, Commit: commit, ExtraTag: "proj-prod-eu", OmitPermission: true})
		r := e.do("POST", "/v3/auth/scoped-key", e.sb.OperatorKey(), `{"containerTag":"demo-project","name":"lost-answer"}`)
		if r.status != http.StatusServiceUnavailable {
			t.Fatalf("commit %v: status %d", commit, r.status)
		}
		k := findKey(e.listKeys(), "name", "lost-answer")
		if (k != nil) != commit || e.sb.KeyCount() != before+btoi(commit) {
			t.Fatalf("commit %v: key listed %v", commit, k != nil)
		}
		if k == nil {
			continue
		}
		var tags []string
		_ = json.Unmarshal(k["containerTags"], &tags)
		if _, hasPerm := k["permission"]; !slices.Equal(tags, []string{"demo-project", "proj-prod-eu"}) || hasPerm {
			t.Errorf("committed key listed with tags %q, permission %s", tags, k["permission"])
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestFaultMintTweakOnlyOnCreate checks that a tweak fault for any endpoint
// leaves the other endpoints alone.
func TestFaultMintTweakOnlyOnCreate(t *testing.T) {
	e := newEnv(t, Options{})
	scoped := e.mint(`{"containerTags":["a","b"],"permission":"read"}`).Key
	e.sb.Inject(Fault{DropTag: true, ExtraTag: "x", IgnorePermission: true, OmitPermission: true})
	_, _, scope := e.session(scoped)
	if !equalJSON(scope, sessionScope{Type: "scoped", Permission: "read", Tag: "a", Tags: []string{"a", "b"}}) {
		t.Errorf("session under a tweak fault: %+v", scope)
	}
	for _, k := range e.listKeys() {
		if _, ok := k["permission"]; !ok {
			t.Errorf("key %s listed without permission under a tweak fault", k.str("name"))
		}
	}
}

func TestInjectPanicsOnInvalidExtraTag(t *testing.T) {
	for _, tag := range []string{"bad tag", "a/b", string(make([]byte, 101))} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Inject(ExtraTag %q) did not panic", tag)
				}
			}()
			sb, err := New(Options{Unseeded: true})
			if err != nil {
				t.Fatal(err)
			}
			sb.Inject(Fault{Endpoint: EndpointCreate, ExtraTag: tag})
		}()
	}
}
