package main

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	mcpclient "github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
	"github.com/mcp-keys/mcp-keys/internal/tools"
)

//go:embed demo_policy.yaml
var demoPolicy []byte

// demoStep is one scripted tool call and what it must do.
type demoStep struct {
	title     string
	tool      string
	args      map[string]any
	wantError bool
	// after, if set, reads the structured result (e.g. to learn the new key's id).
	after func(structured map[string]any)
}

// demo runs the whole flow against the embedded sandbox through a real MCP
// client (mcp-go's in-process client against the real server constructor)
// and prints a readable transcript. Secrets are masked. It exits 1 if any
// step did not behave as the policy says it must.
func (a app) demo(ctx context.Context, args []string) int {
	if len(args) > 0 {
		return a.fail(exitConfig, "demo takes no arguments")
	}
	logger := zerolog.New(a.stderr).Level(zerolog.WarnLevel).With().Timestamp().Logger()
	p, err := policy.Parse("demo_policy.yaml", demoPolicy)
	if err != nil {
		return a.fail(exitFail, "demo policy: %v", err)
	}
	// One clock for the sandbox, the audit log and the service: the wall
	// clock, which the lease part of the demo moves forward.
	clock := &sandbox.Clock{}
	sb, err := sandbox.Start(sandbox.Options{Now: clock.Now}, "")
	if err != nil {
		return a.fail(exitFail, "start sandbox: %v", err)
	}
	defer sb.Close()
	api, err := client.New(client.Config{BaseURL: sb.URL, APIKey: client.Secret(sb.Sandbox.OperatorKey()), UserAgent: "mcp-keys/" + buildVersion()})
	if err != nil {
		return a.fail(exitFail, "%v", err)
	}
	dir, err := os.MkdirTemp("", "mcp-keys-demo-")
	if err != nil {
		return a.fail(exitFail, "%v", err)
	}
	defer os.RemoveAll(dir)
	auditPath := filepath.Join(dir, "audit.jsonl")
	svc, err := keys.New(keys.Config{API: api, Policy: policy.Static(p), OpenStore: keys.OpenFile(auditPath, audit.FileOptions{Now: clock.Now}), Logger: logger, Now: clock.Now})
	if err != nil {
		return a.fail(exitFail, "%v", err)
	}
	defer svc.Close()
	srv, err := tools.NewServer(tools.Deps{Keys: svc, Logger: logger, Version: buildVersion()})
	if err != nil {
		return a.fail(exitFail, "%v", err)
	}
	c, err := mcpclient.NewInProcessClient(srv)
	if err != nil {
		return a.fail(exitFail, "in-process client: %v", err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		return a.fail(exitFail, "start client: %v", err)
	}
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "mcp-keys-demo", Version: buildVersion()}
	ir, err := c.Initialize(ctx, init)
	if err != nil {
		return a.fail(exitFail, "initialize: %v", err)
	}
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return a.fail(exitFail, "list tools: %v", err)
	}

	w := a.stdout
	fmt.Fprintf(w, "mcp-keys demo: the whole flow against the embedded sandbox (a local emulator of the Supermemory key API; no account, nothing leaves this machine).\n")
	fmt.Fprintf(w, "Connected to %s %s over MCP (protocol %s); tools:", ir.ServerInfo.Name, ir.ServerInfo.Version, ir.ProtocolVersion)
	for _, t := range list.Tools {
		fmt.Fprintf(w, " %s", t.Name)
	}
	fmt.Fprintf(w, "\nPolicy (%s):\n%s\n", p.Source, indent(p.Summary(), "  "))

	var newID string
	secret := ""
	steps := []demoStep{
		{title: "Which tags exist, and which may get a key?", tool: "list_tags", args: map[string]any{}},
		{title: "Dry run: would a 30-day key for proj-search be allowed?", tool: "check_policy", args: map[string]any{"tag": "proj-search", "expires_in_days": 30}},
		{title: "Mint it.", tool: "create_scoped_key", args: map[string]any{"tag": "proj-search", "name": "search-indexer", "expires_in_days": 30},
			after: func(m map[string]any) {
				newID, _ = m["id"].(string)
				secret, _ = m["key"].(string)
			}},
		{title: "A tag the policy denies (production).", tool: "create_scoped_key", args: map[string]any{"tag": "proj-prod-eu"}, wantError: true},
		{title: "Asking for Full Access with an extra argument.", tool: "create_scoped_key", args: map[string]any{"tag": "proj-search", "permission": "full"}, wantError: true},
		{title: "Asking for Full Access with a wildcard tag.", tool: "create_scoped_key", args: map[string]any{"tag": "*"}, wantError: true},
		{title: "An expiry over the policy's cap.", tool: "create_scoped_key", args: map[string]any{"tag": "proj-search", "expires_in_days": 400}, wantError: true},
		{title: "Least privilege: a read-only key for two tags.", tool: "create_scoped_key",
			args:  map[string]any{"tags": []any{"demo-project", "proj-search"}, "permission": "read", "name": "search-reader"},
			after: func(map[string]any) {}},
		{title: "A write key on a read-only tag (tags.read_only).", tool: "create_scoped_key", args: map[string]any{"tag": "team:search", "permission": "write"}, wantError: true},
		{title: "The new keys are listed as Scoped, without their secrets (the two-tag key under either of its tags).", tool: "list_keys", args: map[string]any{"tag": "proj-search"}},
		{title: "Revoke it.", tool: "revoke_key", args: nil},
		{title: "A Full Access key can never be revoked here.", tool: "revoke_key", args: nil, wantError: true},
		{title: "Listed again, with revoked keys shown.", tool: "list_keys", args: map[string]any{"tag": "proj-search", "include_disabled": true}},
	}
	fullID := firstFullKey(ctx, api)
	ok := true
	for i, st := range steps {
		if st.tool == "revoke_key" && st.args == nil {
			id := newID
			if st.wantError {
				id = fullID
			}
			st.args = map[string]any{"id": id}
		}
		good := a.demoCall(ctx, c, i+1, st, secret)
		ok = ok && good
		if i == 2 && secret == "" {
			ok = false
		}
	}
	ok = a.demoLeases(ctx, c, svc, clock, api, len(steps)) && ok
	records, verr := audit.VerifyFile(auditPath)
	if verr != nil {
		fmt.Fprintf(w, "\nAudit log: %v\n", verr)
		ok = false
	} else {
		fmt.Fprintf(w, "\nAudit log (a temporary file for the demo): %d records, hash chain intact. Every decision, with no secret:\n", records)
		tail, _ := audit.Tail(auditPath, records)
		for _, r := range tail {
			fmt.Fprintf(w, "  %s\n", compactRecord(r))
		}
		fmt.Fprintln(w, "  (mcp-keys audit tail shows every field; mcp-keys audit verify checks the chain.)")
	}
	forbidden := len(sb.Sandbox.ForbiddenRequests())
	fmt.Fprintf(w, "The sandbox saw %d requests; forbidden endpoints (Full Access minting, tag deletion, key toggling) called: %d.\n",
		len(sb.Sandbox.Requests()), forbidden)
	if !ok || forbidden != 0 {
		fmt.Fprintln(w, "DEMO FAILED: a step did not behave as the policy requires.")
		return exitFail
	}
	fmt.Fprintln(w, "Every step behaved as the policy requires.")
	return exitOK
}

// demoCall makes one call and prints it; it reports whether the outcome
// (success or isError) was the expected one.
func (a app) demoCall(ctx context.Context, c *mcpclient.Client, n int, st demoStep, secret string) bool {
	w := a.stdout
	argJSON, _ := json.Marshal(st.args)
	fmt.Fprintf(w, "\n%d. %s\n   → %s %s\n", n, st.title, st.tool, argJSON)
	var req mcp.CallToolRequest
	req.Params.Name, req.Params.Arguments = st.tool, st.args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		fmt.Fprintf(w, "   ✗ protocol error: %v\n", err)
		return false
	}
	text := ""
	for _, ct := range res.Content {
		text += mcp.GetTextFromContent(ct)
	}
	var m map[string]any
	if raw, err := json.Marshal(res.StructuredContent); err == nil {
		_ = json.Unmarshal(raw, &m)
	}
	if st.after != nil && !res.IsError {
		st.after(m)
		if s, _ := m["key"].(string); s != "" {
			secret = s
		}
	}
	text = maskSecret(text, secret)
	mark := "✓"
	if res.IsError {
		mark = "✗ refused (isError)"
	}
	fmt.Fprintf(w, "   %s\n%s\n", mark, indent(text, "     "))
	return res.IsError == st.wantError
}

// firstFullKey finds a Full Access key other than the operator's, for the
// refused revoke.
func firstFullKey(ctx context.Context, api *client.Client) string {
	keys, err := api.ListKeys(ctx)
	if err != nil {
		return "unknown"
	}
	for _, k := range keys {
		if k.Kind == client.KindFull && k.Enabled && !strings.Contains(k.Name, "operator") {
			return k.ID
		}
	}
	return "unknown"
}

// maskSecret replaces a secret in text with its first characters.
func maskSecret(text, secret string) string {
	if secret == "" {
		return text
	}
	return strings.ReplaceAll(text, secret, maskedKey(secret))
}

// maskedKey shows enough of a key to recognise it, never enough to use it.
func maskedKey(secret string) string {
	n := min(len(secret)/3, 14)
	return secret[:n] + "…(" + fmt.Sprint(len(secret)-n) + " characters masked in this transcript)"
}

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return prefix + strings.Join(lines, "\n"+prefix)
}

// compactRecord is one short line of an audit record for the transcript.
func compactRecord(r audit.Record) string {
	what := string(r.Decision)
	if r.Outcome != "" {
		what = string(r.Outcome)
	}
	subject := r.Tag
	if subject == "" {
		subject = strings.Join(r.Tags, ",")
	}
	if subject == "" {
		subject = r.Name
	}
	if r.KeyID != "" {
		subject = r.KeyID
	}
	var failed []string
	for _, rule := range r.Rules {
		if rule.Outcome == "fail" {
			failed = append(failed, rule.Rule)
		}
	}
	line := fmt.Sprintf("#%-2d %-13s %-7s %-9s %s", r.Seq, r.Event, r.Phase, what, subject)
	if len(failed) > 0 {
		line += "  refused by: " + strings.Join(failed, ", ")
	}
	return line
}

// demoLeases ends the demo with a lease and a rotation, numbering its steps
// after the n shown. Instead of waiting for the lease to end, it moves the
// shared clock forward and runs one reaper pass, as a server does every
// 30 s. It reports whether every step behaved as it must.
func (a app) demoLeases(ctx context.Context, c *mcpclient.Client, svc *keys.Service, clock *sandbox.Clock, api *client.Client, n int) bool {
	w := a.stdout
	ok := true
	step := func(st demoStep) {
		n++
		ok = a.demoCall(ctx, c, n, st, "") && ok
	}
	var leasedID, oldID, newID string
	idOf := func(dst *string) func(map[string]any) {
		return func(m map[string]any) { *dst, _ = m["id"].(string) }
	}
	step(demoStep{title: "A key for a short job: a 1-minute lease instead of an expiry (minted for one day, the API's shortest).",
		tool: "create_scoped_key", args: map[string]any{"tag": "proj-search", "name": "nightly-job", "lease_minutes": 1}, after: idOf(&leasedID)})

	clock.Advance(61 * time.Second)
	rep, err := svc.Reap(ctx)
	fmt.Fprintf(w, "\n   ⏩ The demo moves the sandbox's clock 61 s forward instead of waiting, and runs one pass of the lease reaper\n"+
		"     (a server runs one every 30 s, stdio before each call, `mcp-keys reap` on demand): %d revoked, %d already gone, %d failed.\n"+
		"     Each revoke is recorded with caller system and reason %s.\n", rep.Revoked, rep.Gone, rep.Failed, keys.ReasonLeaseEnded)
	if err != nil {
		fmt.Fprintf(w, "   ✗ reaper: %v\n", err)
	}
	ok = ok && err == nil && rep.Revoked == 1 && rep.Failed == 0 && !demoKeyEnabled(ctx, api, leasedID)

	step(demoStep{title: "The leased key is revoked (listed with revoked keys shown).", tool: "list_keys", args: map[string]any{"tag": "proj-search", "include_disabled": true}})
	step(demoStep{title: "A read-only key to rotate.", tool: "create_scoped_key", args: map[string]any{"tag": "user_alex", "permission": "read", "name": "reader"}, after: idOf(&oldID)})
	step(demoStep{title: "Rotate it: a new secret, same tag and permission; the old key is revoked at once (or after grace_minutes).",
		tool: "rotate_key", args: map[string]any{"id": oldID}, after: idOf(&newID)})
	return ok && newID != "" && newID != oldID && !demoKeyEnabled(ctx, api, oldID) && demoKeyEnabled(ctx, api, newID)
}

// demoKeyEnabled reports whether the sandbox lists the key id as enabled.
func demoKeyEnabled(ctx context.Context, api *client.Client, id string) bool {
	keys, err := api.ListKeys(ctx)
	if err != nil {
		return false
	}
	for _, k := range keys {
		if k.ID == id {
			return k.Enabled
		}
	}
	return false
}
