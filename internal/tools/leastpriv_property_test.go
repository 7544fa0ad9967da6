// A property test of the fail-closed create: random requests (one to four
// tags from a small set, read, write or the default) meet random mint
// faults of the sandbox (any mix of IgnorePermission, OmitPermission,
// DropTag and ExtraTag). Whatever happens, a key handed on is, in the
// sandbox's own record, exactly the key asked for — no tag and no
// permission beyond the request —, and every key minted but not handed on
// is disabled. The outcome must also be the one a model of the policy and
// the check predicts.
package tools_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// Tags the property draws from: all allowed by leastPrivPolicy, team:d is
// read-only.
var (
	propTags  = []string{"proj-a", "proj-b", "user_c", "team:d", "demo-project"}
	propExtra = []string{"proj-a", "proj-x", "team:d", "user_new"}
)

// TestLeastPrivilegeProperty runs rapid's default number of checks (100,
// -rapid.checks to change), each one create against one of two servers:
// keys.assume_write_permission false or true.
func TestLeastPrivilegeProperty(t *testing.T) {
	envs := map[bool]*lpEnv{}
	for _, assume := range []bool{false, true} {
		envs[assume] = newLPEnv(t, fmt.Sprintf(leastPrivPolicy, "write", assume))
	}
	// Each fault applies one time in four (all four miss one time in
	// three), a tag given twice one time in ten.
	sometimes := rapid.Map(rapid.IntRange(0, 3), func(n int) bool { return n == 0 })
	rarely := rapid.Map(rapid.IntRange(0, 9), func(n int) bool { return n == 0 })
	tally := map[string]int{}
	rapid.Check(t, func(rt *rapid.T) {
		assume := rapid.Bool().Draw(rt, "assume_write_permission")
		e := envs[assume]
		tags := rapid.SliceOfNDistinct(rapid.SampledFrom(propTags), 1, 4, rapid.ID[string]).Draw(rt, "tags")
		if len(tags) < 4 && rarely.Draw(rt, "a tag twice") {
			tags = append(tags, tags[0])
		}
		perm := rapid.SampledFrom([]string{"read", "write", ""}).Draw(rt, "permission")
		args := map[string]any{}
		if len(tags) == 1 && rapid.Bool().Draw(rt, "as tag") {
			args["tag"] = tags[0]
		} else {
			args["tags"] = anyStrings(tags)
		}
		if perm != "" {
			args["permission"] = perm
		}
		f := sandbox.Fault{
			Endpoint:         sandbox.EndpointCreate,
			IgnorePermission: sometimes.Draw(rt, "IgnorePermission"),
			OmitPermission:   sometimes.Draw(rt, "OmitPermission"),
			DropTag:          sometimes.Draw(rt, "DropTag"),
		}
		if sometimes.Draw(rt, "ExtraTag") {
			f.ExtraTag = rapid.SampledFrom(propExtra).Draw(rt, "extra tag")
		}

		before := e.sandboxKeys(rt)
		creates := e.sb.Sandbox.Count(sandbox.EndpointCreate)
		remove := e.sb.Sandbox.Inject(f)
		res, err := callToolErr(context.Background(), e.testEnv, "create_scoped_key", args)
		remove()
		if err != nil {
			rt.Fatalf("protocol error %v; failures must be isError results", err)
		}
		added := e.newKeys(rt, before)
		txt := text(res)

		// The property: a key handed on is exactly what was asked; every
		// other key minted is disabled.
		want := perm
		if want == "" {
			want = "write"
		}
		if !res.IsError {
			var out lpCreateOut
			raw, _ := json.Marshal(res.StructuredContent)
			if err := json.Unmarshal(raw, &out); err != nil {
				rt.Fatalf("structured result: %v", err)
			}
			if len(added) != 1 || added[0].ID != out.ID {
				rt.Fatalf("handed on %s, but the sandbox gained %+v", out.ID, added)
			}
			k := added[0]
			if !sameSet(k.Tags, tags) || len(k.Tags) != len(tags) || k.perm() != want || !k.Enabled {
				rt.Fatalf("handed on a key the sandbox records as %+v; asked for tags %v permission %s", k, tags, want)
			}
			if !slices.Equal(out.Tags, tags) || out.Permission != want {
				rt.Fatalf("result says tags %v permission %q; asked for %v %s", out.Tags, out.Permission, tags, want)
			}
		} else {
			if len(added) > 1 {
				rt.Fatalf("one create minted %d keys", len(added))
			}
			for _, k := range added {
				if k.Enabled {
					rt.Fatalf("key %s (%+v) was not handed on but is still enabled", k.ID, k)
				}
			}
			noSecretIn(rt, "the refusal", txt)
		}

		// The model: the policy's verdict, then what the fault mints and
		// whether the check accepts it.
		outcome := lpModel(tags, perm, f, assume)
		tally[outcome]++
		switch outcome {
		case "refused":
			if !res.IsError || len(added) != 0 || e.sb.Sandbox.Count(sandbox.EndpointCreate) != creates {
				rt.Fatalf("the policy refuses this, but isError=%v, %d keys minted: %s", res.IsError, len(added), redact(txt))
			}
		case "handed on":
			if res.IsError {
				rt.Fatalf("want the key handed on, got: %s", txt)
			}
		case "revoked":
			if !res.IsError || len(added) != 1 || !strings.Contains(txt, "nothing usable was created") {
				rt.Fatalf("want the key revoked at once, got isError=%v, %d keys: %s", res.IsError, len(added), redact(txt))
			}
			rec := createResultFor(rt, e.auditPath, added[0].ID)
			if rec.Outcome != "failed" || !strings.Contains(rec.Reason, "revoked again") {
				rt.Fatalf("audit create_result %+v, want failed, revoked again", rec)
			}
		}
	})
	t.Logf("outcomes: %v", tally)
	if !testing.Short() && (tally["handed on"] == 0 || tally["revoked"] == 0 || tally["refused"] == 0) {
		t.Errorf("the draws missed an outcome: %v", tally)
	}
}

// lpModel predicts a create's outcome under leastPrivPolicy (max_tags 3,
// read-only team:*): "refused" by
// the policy, "handed on", or "revoked" after the check.
func lpModel(tags []string, perm string, f sandbox.Fault, assume bool) string {
	want := perm
	if want == "" {
		want = "write"
	}
	if len(tags) > 3 {
		return "refused" // over max_tags
	}
	readOnly := false
	for i, t := range tags {
		if slices.Contains(tags[:i], t) {
			return "refused" // given twice
		}
		readOnly = readOnly || strings.HasPrefix(t, "team:")
	}
	if readOnly && want == "write" {
		return "refused"
	}
	minted := slices.Clone(tags)
	if f.DropTag {
		minted = minted[:len(minted)-1]
	}
	if f.ExtraTag != "" && !slices.Contains(minted, f.ExtraTag) {
		minted = append(minted, f.ExtraTag)
	}
	mintedPerm := want
	if f.IgnorePermission {
		mintedPerm = "write"
	}
	tagsOK := sameSet(minted, tags)
	permOK := mintedPerm == want
	if f.OmitPermission {
		permOK = want == "write" && assume
	}
	if tagsOK && permOK {
		return "handed on"
	}
	return "revoked"
}
