// Tests of the tools under upstream faults. Every tool is run against every
// failure the sandbox can inject (error statuses, 429 with and without
// Retry-After, a timeout, a dropped connection, malformed JSON, an oversized
// body, a slow body), on the endpoint it depends on. Each case must end in an
// actionable isError result that holds no secret; reads must be retried
// exactly as designed; a create must be sent once, and say when its outcome
// is unknown; a listing fault must never let a revoke through; and once the
// fault is removed the same call must succeed on the same server.
package tools_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// Timing of the fault matrix. The client gives each attempt faultTimeout,
// generous for a loopback request even on a loaded machine under -race (a
// normal request that timed out would be retried and miscounted); a delayed
// or trickled answer takes faultDelay, far longer, so it always times out.
// The sandbox stops waiting as soon as the client hangs up (and on Close), so
// the delay itself is never waited out.
const (
	faultTimeout = time.Second
	faultDelay   = 30 * time.Second
	// faultParallel bounds the faulted calls in flight: enough for all the
	// slow cells at once.
	faultParallel = 24
	// faultMaxBody is the client's body cap in the matrix; the oversized
	// fault sends four times as much.
	faultMaxBody = 64 << 10
)

// allowNewFalsePolicy is the design policy with tags.allow_new false, so that
// check_policy and create_scoped_key look the tag up before deciding.
const allowNewFalsePolicy = `version: 1
tags:
  allow: ["demo-project", "proj-*", "user_*", "team:search"]
  deny:  ["proj-prod*"]
  allow_new: false
keys:
  name_prefix: "agent-"
revoke:
  enabled: true
  only_prefixed: true
`

// faultTag is the tag of the create that meets a fault; the create made
// after the fault is removed uses recoveredTag.
const (
	faultTag     = "proj-fault"
	recoveredTag = "proj-recovered"
)

// secretPattern matches a Supermemory secret (the operator key or a minted
// key) as the sandbox makes them: sm_<org>_<40 random characters>. A
// listing's short prefix ("sm_org_san") does not match.
var secretPattern = regexp.MustCompile(`sm_[A-Za-z0-9_-]+?_[A-Za-z0-9]{16,}`)

// actionable lists the next steps an error text may offer; each must name at
// least one.
var actionable = []string{"try again", "list_keys", "doctor", "operator", "check_policy"}

// faultSpec is one upstream fault and how the client is designed to react.
type faultSpec struct {
	name  string
	fault sandbox.Fault // Endpoint is set per target
	// readAttempts and revokeAttempts are how many requests a GET and a
	// DELETE make against the fault; a create (POST) always makes one.
	readAttempts, revokeAttempts int
	// unknown: a create meeting this fault may have taken effect, and the
	// tool must say so ("may or may not").
	unknown bool
	// commit: when it meets a create, the sandbox mints the key before the
	// fault replaces the answer ("done upstream, answer lost"), or the fault
	// performs the operation anyway (a slow body).
	commit bool
}

// faultSpecs are the faults of the issue, in its order, and 504.
func faultSpecs() []faultSpec {
	st := func(code int) sandbox.Fault { return sandbox.Fault{Status: code} }
	return []faultSpec{
		{name: "400", fault: st(http.StatusBadRequest), readAttempts: 1, revokeAttempts: 1},
		{name: "401", fault: st(http.StatusUnauthorized), readAttempts: 1, revokeAttempts: 1},
		{name: "402", fault: st(http.StatusPaymentRequired), readAttempts: 1, revokeAttempts: 1},
		{name: "403", fault: st(http.StatusForbidden), readAttempts: 1, revokeAttempts: 1},
		{name: "404", fault: st(http.StatusNotFound), readAttempts: 1, revokeAttempts: 1},
		{name: "429", fault: st(http.StatusTooManyRequests), readAttempts: 3, revokeAttempts: 3},
		{name: "429 Retry-After", fault: sandbox.Fault{Status: http.StatusTooManyRequests, RetryAfter: "1"}, readAttempts: 3, revokeAttempts: 3},
		// A 500 is retried only by revoke, which is idempotent.
		{name: "500", fault: st(http.StatusInternalServerError), readAttempts: 1, revokeAttempts: 3, unknown: true, commit: true},
		{name: "502", fault: st(http.StatusBadGateway), readAttempts: 3, revokeAttempts: 3, unknown: true, commit: true},
		// A 503 says the request was not carried out: a create is known not to exist.
		{name: "503", fault: st(http.StatusServiceUnavailable), readAttempts: 3, revokeAttempts: 3},
		// Not in the list, but retried like 502 and as uncertain for a create.
		{name: "504", fault: st(http.StatusGatewayTimeout), readAttempts: 3, revokeAttempts: 3, unknown: true, commit: true},
		// With the latency, the client gives up first and the sandbox does nothing.
		{name: "timeout", fault: sandbox.Fault{Latency: faultDelay}, readAttempts: 3, revokeAttempts: 3, unknown: true},
		{name: "dropped connection", fault: sandbox.Fault{Drop: true}, readAttempts: 3, revokeAttempts: 3, unknown: true, commit: true},
		{name: "malformed JSON", fault: sandbox.Fault{Malformed: true}, readAttempts: 1, revokeAttempts: 1, unknown: true, commit: true},
		{name: "oversized body", fault: sandbox.Fault{OversizedBytes: 4 * faultMaxBody}, readAttempts: 1, revokeAttempts: 1, unknown: true},
		{name: "slow body", fault: sandbox.Fault{SlowBody: faultDelay}, readAttempts: 3, revokeAttempts: 3, unknown: true, commit: true},
	}
}

// faultTarget is a tool call and the endpoint whose fault it meets.
type faultTarget struct {
	name     string
	tool     string
	endpoint sandbox.Endpoint
	policy   string // envOptions.policyYAML
	// args returns the call's arguments; it may prepare the sandbox (mint
	// a key to revoke) before the fault is injected.
	args func(t *testing.T, e *testEnv) map[string]any
}

// faultTargets pairs each tool with each endpoint it depends on.
func faultTargets() []faultTarget {
	fixed := func(a map[string]any) func(*testing.T, *testEnv) map[string]any {
		return func(*testing.T, *testEnv) map[string]any { return a }
	}
	minted := func(extra map[string]any) func(*testing.T, *testEnv) map[string]any {
		return func(t *testing.T, e *testEnv) map[string]any {
			id := mintForTest(t, e, "proj-revoke-target")
			a := map[string]any{"id": id}
			for k, v := range extra {
				a[k] = v
			}
			return a
		}
	}
	return []faultTarget{
		{name: "list_tags", tool: "list_tags", endpoint: sandbox.EndpointListTags, args: fixed(map[string]any{})},
		{name: "list_keys", tool: "list_keys", endpoint: sandbox.EndpointListKeys, args: fixed(map[string]any{})},
		{name: "create_scoped_key", tool: "create_scoped_key", endpoint: sandbox.EndpointCreate, args: fixed(map[string]any{"tag": faultTag})},
		{name: "create_scoped_key tag lookup", tool: "create_scoped_key", endpoint: sandbox.EndpointListTags, policy: allowNewFalsePolicy,
			args: fixed(map[string]any{"tag": "proj-search"})},
		{name: "revoke_key listing", tool: "revoke_key", endpoint: sandbox.EndpointListKeys, args: minted(nil)},
		{name: "revoke_key", tool: "revoke_key", endpoint: sandbox.EndpointRevoke, args: minted(nil)},
		{name: "check_policy tag lookup", tool: "check_policy", endpoint: sandbox.EndpointListTags, policy: allowNewFalsePolicy,
			args: fixed(map[string]any{"tag": "proj-search"})},
		{name: "check_policy revoke listing", tool: "check_policy", endpoint: sandbox.EndpointListKeys, args: minted(map[string]any{"action": "revoke"})},
	}
}

// mintForTest creates a key through create_scoped_key, so that it is one
// mcp-keys minted (and may revoke), and returns its id.
func mintForTest(t *testing.T, e *testEnv, tag string) string {
	t.Helper()
	res := callTool(t, e, "create_scoped_key", map[string]any{"tag": tag})
	if res.IsError {
		t.Fatalf("minting a key to revoke: %s", text(res))
	}
	var out createOut
	structured(t, res, &out)
	if out.ID == "" {
		t.Fatal("minting a key to revoke: no id")
	}
	return out.ID
}

// callTool is testEnv.call for any *testing.T (e.call fails the test that
// built the env, which must not be done from a subtest).
func callTool(t *testing.T, e *testEnv, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := callToolErr(context.Background(), e, name, args)
	if err != nil {
		t.Fatalf("%s: protocol error %v; failures must be isError results", name, err)
	}
	return res
}

// callToolErr makes a tool call without touching a *testing.T, so that it
// can run in any goroutine.
func callToolErr(ctx context.Context, e *testEnv, name string, args map[string]any) (*mcp.CallToolResult, error) {
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	return e.client.CallTool(ctx, req)
}

// faultEnvOptions gives the matrix's client: short per-attempt timeout, a
// small body cap, and no keep-alive, so that every attempt is a fresh
// connection. (With keep-alive, net/http silently re-sends a GET whose
// reused connection was dropped, and the sandbox would count more attempts
// than the client made.)
func faultEnvOptions(policyYAML string) envOptions {
	return envOptions{policyYAML: policyYAML, clientConfig: func(c *client.Config) {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.DisableKeepAlives = true
		c.HTTPClient = &http.Client{Transport: tr}
		c.Timeout = faultTimeout
		c.MaxBodyBytes = faultMaxBody
	}}
}

// endpointCounts snapshots the request counters of the four endpoints the
// tools use.
type endpointCounts map[sandbox.Endpoint]int

func countsOf(sb *sandbox.Sandbox) endpointCounts {
	c := endpointCounts{}
	for _, ep := range []sandbox.Endpoint{sandbox.EndpointListTags, sandbox.EndpointListKeys, sandbox.EndpointCreate, sandbox.EndpointRevoke} {
		c[ep] = sb.Count(ep)
	}
	return c
}

// faultRun is one cell of the matrix while it runs.
type faultRun struct {
	target faultTarget
	e      *testEnv
	args   map[string]any
	before endpointCounts
	after  endpointCounts
	res    *mcp.CallToolResult
	err    error
}

// TestUpstreamFaults runs every fault against every tool. Each cell has its
// own sandbox and server; the faulted calls run concurrently (at most
// faultParallel at a time, the slow faults first) so that their timeouts
// overlap, and then each cell is checked in its own subtest.
func TestUpstreamFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("fault matrix skipped in -short mode")
	}
	specs, targets := faultSpecs(), faultTargets()
	t.Logf("fault matrix: %d faults × %d tool/endpoint targets = %d cases", len(specs), len(targets), len(specs)*len(targets))
	cells := make([][]*faultRun, len(specs))
	var slow, quick []func()
	for i, spec := range specs {
		for _, tg := range targets {
			e := newEnv(t, faultEnvOptions(tg.policy))
			r := &faultRun{target: tg, e: e, args: tg.args(t, e)}
			cells[i] = append(cells[i], r)
			run := func() { r.run(spec) }
			if spec.fault.Latency > 0 || spec.fault.SlowBody > 0 {
				slow = append(slow, run)
			} else {
				quick = append(quick, run)
			}
		}
	}
	sem := make(chan struct{}, faultParallel)
	var wg sync.WaitGroup
	for _, run := range append(slow, quick...) {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			run()
		}()
	}
	wg.Wait()
	for i, spec := range specs {
		t.Run(spec.name, func(t *testing.T) {
			for _, r := range cells[i] {
				t.Run(r.target.name, func(t *testing.T) { checkFaultRun(t, spec, r) })
			}
		})
	}
}

// run injects the cell's fault, makes the call and removes the fault. It
// touches no *testing.T, so it may run in any goroutine.
func (r *faultRun) run(spec faultSpec) {
	f := spec.fault
	f.Endpoint = r.target.endpoint
	switch r.target.endpoint {
	case sandbox.EndpointCreate:
		f.Commit = spec.commit && f.SlowBody == 0
	case sandbox.EndpointRevoke:
		// A garbled 2xx after a real revoke; the answer that did nothing
		// is TestRevokeUnconfirmedSuccess's.
		f.Commit = f.Malformed
	}
	r.before = countsOf(r.e.sb.Sandbox)
	remove := r.e.sb.Sandbox.Inject(f)
	defer remove()
	r.res, r.err = callToolErr(context.Background(), r.e, r.target.tool, r.args)
	r.after = countsOf(r.e.sb.Sandbox)
}

// checkFaultRun checks one cell: the faulted call, the requests it made,
// and a normal call once the fault is gone.
func checkFaultRun(t *testing.T, spec faultSpec, r *faultRun) {
	e, tg := r.e, r.target
	if r.err != nil {
		t.Fatalf("protocol error %v; upstream failures must be isError results", r.err)
	}
	msg := text(r.res)
	// Revoke is idempotent and a 2xx is its answer: a garbled body after
	// the real revoke may be reported as success, but only if the key is
	// really revoked (checked below).
	if !r.res.IsError && !(tg.endpoint == sandbox.EndpointRevoke && spec.fault.Malformed) {
		t.Fatalf("succeeded despite the fault: %.300s", redact(msg))
	}
	if r.res.IsError {
		checkFailureText(t, e, tg.tool, msg)
		if tg.tool == "create_scoped_key" && tg.endpoint == sandbox.EndpointCreate {
			if says := strings.Contains(msg, "may or may not"); says != spec.unknown {
				t.Errorf("outcome-unknown wording present=%v, want %v: %.300s", says, spec.unknown, redact(msg))
			}
		}
	}

	// Requests: the faulted endpoint saw exactly the designed attempts;
	// nothing else was written.
	delta := func(ep sandbox.Endpoint) int { return r.after[ep] - r.before[ep] }
	want := spec.readAttempts
	switch tg.endpoint {
	case sandbox.EndpointCreate:
		want = 1
	case sandbox.EndpointRevoke:
		want = spec.revokeAttempts
	}
	if got := delta(tg.endpoint); got != want {
		t.Errorf("%s reached %d times, want %d", tg.endpoint, got, want)
	}
	if tg.endpoint != sandbox.EndpointCreate {
		if got := delta(sandbox.EndpointCreate); got != 0 {
			t.Errorf("a create was sent %d times although the fault was on %s", got, tg.endpoint)
		}
	}
	if tg.endpoint != sandbox.EndpointRevoke {
		if got := delta(sandbox.EndpointRevoke); got != 0 {
			t.Errorf("a revoke was sent %d times although %s failed", got, tg.endpoint)
		}
	}

	ctx := context.Background()
	keys, err := e.api.ListKeys(ctx)
	if err != nil {
		t.Fatalf("listing keys after the fault: %v", err)
	}
	switch {
	case tg.endpoint == sandbox.EndpointCreate && spec.commit:
		// The sandbox did mint the key: "may or may not" was warranted
		// and a listing shows it.
		if n := countTag(keys, faultTag); n != 1 {
			t.Errorf("%d keys for %s after a committed create, want 1", n, faultTag)
		}
	case tg.endpoint == sandbox.EndpointRevoke && !r.res.IsError:
		for _, k := range keys {
			if k.ID == r.args["id"] && k.Enabled {
				t.Errorf("revoke_key reported success after %s, but key %s is still enabled: %.200s", spec.name, k.ID, msg)
			}
		}
	}

	// The fault is gone: the same server answers the same call normally.
	args := r.args
	if tg.tool == "create_scoped_key" && tg.endpoint == sandbox.EndpointCreate {
		args = map[string]any{"tag": recoveredTag}
	}
	res := callTool(t, e, tg.tool, args)
	if res.IsError {
		t.Fatalf("next call after the fault failed: %.300s", text(res))
	}
	if tg.tool == "check_policy" {
		var out checkOut
		structured(t, res, &out)
		if !out.Allowed {
			t.Errorf("next check_policy denied: %.300s", text(res))
		}
	}
	if strings.Contains(e.logs.String(), e.sb.Sandbox.OperatorKey()) {
		t.Error("the operator key reached the logs")
	}
}

// checkFailureText checks an isError text: it names the tool, says what to
// do next, and holds no secret.
func checkFailureText(t *testing.T, e *testEnv, tool, msg string) {
	t.Helper()
	if strings.TrimSpace(msg) == "" {
		t.Fatal("isError result without text")
	}
	if !strings.Contains(msg, tool) {
		t.Errorf("failure text does not name %s: %.300s", tool, msg)
	}
	lower := strings.ToLower(msg)
	ok := false
	for _, step := range actionable {
		ok = ok || strings.Contains(lower, step)
	}
	if !ok {
		t.Errorf("failure text offers no next step (one of %q): %.300s", actionable, msg)
	}
	if strings.Contains(msg, e.sb.Sandbox.OperatorKey()) || secretPattern.MatchString(msg) {
		t.Errorf("failure text holds a secret (%d bytes of text)", len(msg))
	}
}

// countTag counts the listed keys bound to tag.
func countTag(keys []client.Key, tag string) int {
	n := 0
	for _, k := range keys {
		for _, kt := range k.Tags {
			if kt == tag {
				n++
				break
			}
		}
	}
	return n
}

// TestFaultRecoveryKeepsServing checks that a server whose upstream failed
// in every way in turn (on one keep-alive client, as in production) still
// answers every tool normally afterwards, and that no fault made the client
// send a create twice.
func TestFaultRecoveryKeepsServing(t *testing.T) {
	e := newEnv(t, envOptions{clientConfig: func(c *client.Config) {
		c.Timeout = faultTimeout
		c.MaxBodyBytes = faultMaxBody
	}})
	creates := 0
	for _, spec := range faultSpecs() {
		if spec.fault.Latency > 0 || spec.fault.SlowBody > 0 {
			continue // the matrix covers timeouts; here only the quick faults
		}
		f := spec.fault
		remove := e.sb.Sandbox.Inject(f) // every endpoint
		for _, call := range []struct {
			tool string
			args map[string]any
		}{
			{"list_tags", nil},
			{"list_keys", nil},
			{"check_policy", map[string]any{"tag": "proj-search"}},
			{"create_scoped_key", map[string]any{"tag": faultTag}},
		} {
			res := callTool(t, e, call.tool, call.args)
			if call.tool == "check_policy" {
				continue // decided locally under the design policy
			}
			if call.tool == "create_scoped_key" {
				creates++
			}
			if !res.IsError {
				t.Errorf("%s: %s succeeded despite the fault", spec.name, call.tool)
				continue
			}
			checkFailureText(t, e, call.tool, text(res))
		}
		remove()
		if got := e.sb.Sandbox.Count(sandbox.EndpointCreate); got != creates {
			t.Fatalf("after %s: %d creates sent for %d create calls", spec.name, got, creates)
		}
	}
	for _, tool := range []string{"list_tags", "list_keys"} {
		if res := callTool(t, e, tool, nil); res.IsError {
			t.Errorf("%s after the faults: %.300s", tool, text(res))
		}
	}
	id := mintForTest(t, e, recoveredTag)
	if res := callTool(t, e, "revoke_key", map[string]any{"id": id}); res.IsError {
		t.Errorf("revoke_key after the faults: %.300s", text(res))
	}
}

// TestRevokeUnconfirmedSuccess checks that revoke_key does not report a
// revoke that the API did not confirm: a 2xx whose body says
// {"success":false}, or cannot be read, while the key stays enabled.
func TestRevokeUnconfirmedSuccess(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault sandbox.Fault
	}{
		{"success false", sandbox.Fault{Status: http.StatusOK, Body: `{"success":false,"error":"not revoked"}`}},
		{"unreadable 200", sandbox.Fault{Malformed: true}},
		{"html 200", sandbox.Fault{Status: http.StatusOK, Body: `<html><body>Welcome to the proxy</body></html>`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, envOptions{})
			id := mintForTest(t, e, "proj-unconfirmed")
			f := tc.fault
			f.Endpoint = sandbox.EndpointRevoke
			remove := e.sb.Sandbox.Inject(f)
			res := callTool(t, e, "revoke_key", map[string]any{"id": id})
			remove()
			keys, err := e.api.ListKeys(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			enabled := false
			for _, k := range keys {
				enabled = enabled || k.ID == id && k.Enabled
			}
			if enabled && !res.IsError {
				t.Errorf("revoke_key reported %q while the key is still enabled", firstLine(text(res)))
			}
		})
	}
}

// firstLine is the first line of s, for messages.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return fmt.Sprintf("%.200s", redact(line))
}

// redact replaces every secret in s by its length, so that failure
// messages never print a key.
func redact(s string) string {
	return secretPattern.ReplaceAllStringFunc(s, func(m string) string {
		return fmt.Sprintf("sm_…(secret of %d bytes)", len(m))
	})
}
