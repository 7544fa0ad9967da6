package main

// Helpers for the store-of-record tests (replicas_test.go, tamper_test.go):
// a fresh PostgreSQL database per test (as internal/audit/pgstore's tests
// make them), several `serve --http` replicas sharing one store, one
// callers file, one policy and one upstream sandbox in the test process,
// raw 2026-07-28 tools/call POSTs, and `audit verify`/`audit tail` on the
// configured store. No helper ever logs a token or a key.

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// storeTestURLEnv names the variable holding the URL of a PostgreSQL
// server the tests may create databases on (scripts/postgres.sh start
// prints it).
const storeTestURLEnv = "MCP_KEYS_TEST_DATABASE_URL"

// storeTestBaseURL returns the test server's URL. Without one the test is
// skipped, unless CI is set: there the PostgreSQL tests are required.
func storeTestBaseURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv(storeTestURLEnv)
	if u == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: the PostgreSQL tests are required (scripts/postgres.sh start)", storeTestURLEnv)
		}
		t.Skipf("%s is not set (scripts/postgres.sh start prints one)", storeTestURLEnv)
	}
	return u
}

// storeTestExec runs sql on the database at u, as the URL's user (the
// superuser of the test server).
func storeTestExec(t *testing.T, u, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// storeTestDB creates an empty database for this test alone, dropped when
// the test ends, and returns its URL.
func storeTestDB(t *testing.T) string {
	t.Helper()
	base := storeTestBaseURL(t)
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	name := "mk_cmd_" + hex.EncodeToString(b)
	storeTestExec(t, base, "CREATE DATABASE "+name)
	t.Cleanup(func() { storeTestExec(t, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") })
	// On tables never analyzed, PostgreSQL's estimate for the chain-state
	// query (a cross join of the one-row head and checkpoint tables) is a
	// million rows, so every append JIT-compiles it: 60–200 ms instead of
	// 0.5 ms, until autovacuum analyzes the tables. A fresh database per
	// test never gets there; JIT off keeps the tests quick (see
	// docs/performance.md, "Store of record").
	storeTestExec(t, base, "ALTER DATABASE "+name+" SET jit = off")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", storeTestURLEnv)
	}
	u.Path = "/" + name
	return u.String()
}

// storeConfig is a store of record as the binary is told of it: a
// PostgreSQL URL, or else an audit file; and a chain key file or none.
type storeConfig struct {
	dbURL, auditLog, keyFile string
}

// env is the configuration's environment variables.
func (c storeConfig) env() []string {
	var out []string
	if c.dbURL != "" {
		out = append(out, "MCP_KEYS_DATABASE_URL="+c.dbURL)
	}
	if c.auditLog != "" {
		out = append(out, "MCP_KEYS_AUDIT_LOG="+c.auditLog)
	}
	if c.keyFile != "" {
		out = append(out, "MCP_KEYS_AUDIT_KEY_FILE="+c.keyFile)
	}
	return out
}

// newStoreConfig is a fresh store: a new database when pg, else an audit
// file in a new directory; with a new 32-byte chain key file when keyed.
func newStoreConfig(t *testing.T, pg, keyed bool) storeConfig {
	t.Helper()
	var c storeConfig
	dir := t.TempDir()
	if pg {
		c.dbURL = storeTestDB(t)
	} else {
		c.auditLog = filepath.Join(dir, "audit", "audit.jsonl")
	}
	if keyed {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			t.Fatal(err)
		}
		c.keyFile = writeFile(t, dir, "chain.key", hex.EncodeToString(key), 0o600)
	}
	return c
}

// replicaSet is n `serve --http` processes sharing one store of record,
// one callers file, one policy file and one upstream sandbox.
type replicaSet struct {
	sb      *sandbox.Server
	store   storeConfig
	env     []string // the servers' environment
	servers []*httpServer
	// token is the caller alice's (keys:read and keys:write).
	token string
}

// startReplicas starts n replicas on store under policyYAML.
func startReplicas(t *testing.T, n int, store storeConfig, policyYAML string) *replicaSet {
	t.Helper()
	dir := t.TempDir()
	callers := filepath.Join(dir, "callers")
	token := addCaller(t, baseEnv("MCP_KEYS_CALLERS_FILE="+callers), []string{binary}, "alice", "keys:read,keys:write")
	sb, upstream := startUpstream(t)
	env := baseEnv(append(append(upstream, "MCP_KEYS_CALLERS_FILE="+callers, "MCP_KEYS_POLICY="+writePolicy(t, policyYAML)), store.env()...)...)
	rs := &replicaSet{sb: sb, store: store, env: env, token: token}
	for range n {
		rs.servers = append(rs.servers, startHTTPServer(t, env, []string{binary}))
	}
	return rs
}

// auditCmd runs `mcp-keys audit ARGS...` on the store and returns stdout
// and stderr together, and the exit code.
func auditCmd(t *testing.T, store storeConfig, args ...string) (string, int) {
	t.Helper()
	stdout, stderr, code := runCmd(t, baseEnv(store.env()...), "", append([]string{"audit"}, args...)...)
	return stdout + stderr, code
}

// tailRecord is what a test reads of one line of `audit tail`.
type tailRecord struct {
	event, phase, outcome, decision string
	seq, ref, pid                   int
	line                            string
}

// tailField matches one key=value of an `audit tail` line.
var tailField = regexp.MustCompile(`\b(phase|outcome|seq|ref|pid)=(\S+)`)

// auditTail reads the last n records of the store through `audit tail`.
func auditTail(t *testing.T, store storeConfig, n int) []tailRecord {
	t.Helper()
	out, code := auditCmd(t, store, "tail", "-n", strconv.Itoa(n))
	if code != 0 {
		t.Fatalf("audit tail: exit %d\n%s", code, out)
	}
	var recs []tailRecord
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		r := tailRecord{event: f[1], decision: f[2], line: line}
		for _, m := range tailField.FindAllStringSubmatch(line, -1) {
			switch m[1] {
			case "phase":
				r.phase = m[2]
			case "outcome":
				r.outcome = m[2]
			case "seq":
				r.seq, _ = strconv.Atoi(m[2])
			case "ref":
				r.ref, _ = strconv.Atoi(m[2])
			case "pid":
				r.pid, _ = strconv.Atoi(m[2])
			}
		}
		recs = append(recs, r)
	}
	return recs
}

// modernVersion is the stateless protocol version whose clients answer a
// confirmation by retrying the call with the request state.
const modernVersion = "2026-07-28"

// modernCall POSTs one tools/call as a 2026-07-28 client that can answer
// elicitation, with params merged into the call's params (inputResponses,
// requestState), and returns the JSON-RPC response.
func modernCall(t *testing.T, mcpURL, token, tool string, args, params map[string]any) map[string]any {
	t.Helper()
	p := map[string]any{"name": tool, "arguments": args, "_meta": map[string]any{
		"io.modelcontextprotocol/protocolVersion":    modernVersion,
		"io.modelcontextprotocol/clientInfo":         map[string]any{"name": "store-test", "version": "0"},
		"io.modelcontextprotocol/clientCapabilities": map[string]any{"elicitation": map[string]any{"form": map[string]any{}}},
	}}
	for k, v := range params {
		p[k] = v
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": p})
	req, err := http.NewRequest(http.MethodPost, mcpURL, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Mcp-Protocol-Version", modernVersion)
	req.Header.Set("Mcp-Method", "tools/call")
	req.Header.Set("Mcp-Name", tool)
	req.Header.Set("Authorization", "Bearer "+token)
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", tool, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d: %.300s", tool, resp.StatusCode, raw)
	}
	// The answer is one JSON object, or an SSE stream whose last data line
	// carries it.
	msg := raw
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(strings.NewReader(string(raw)))
		sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				msg = []byte(strings.TrimSpace(d))
			}
		}
	}
	var out map[string]any
	if err := json.Unmarshal(msg, &out); err != nil {
		t.Fatalf("POST %s: the answer is not JSON (%d bytes)", tool, len(msg))
	}
	return out
}

// confirmAnswer is the params of a retry answering the confirmation with
// a ticked box, for state.
func confirmAnswer(state string) map[string]any {
	return map[string]any{
		"requestState": state,
		"inputResponses": map[string]any{
			"confirm": map[string]any{"action": "accept", "content": map[string]any{"confirm": true}},
		},
	}
}

// rpcResult is a JSON-RPC response's result, failing on a protocol error.
func rpcResult(t *testing.T, resp map[string]any) map[string]any {
	t.Helper()
	if e := resp["error"]; e != nil {
		t.Fatalf("protocol error: %v", e)
	}
	r, ok := resp["result"].(map[string]any)
	if !ok {
		t.Fatalf("no result object in %.300v", resp)
	}
	return r
}

// describeResult says what a tools/call result is without its secret: its
// type, isError and text (only for an error, which holds no key).
func describeResult(r map[string]any) string {
	if r["isError"] == true {
		return "isError: " + fmtContent(r)
	}
	return fmt.Sprintf("resultType %v, isError %v", r["resultType"], r["isError"])
}
