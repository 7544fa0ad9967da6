// Command bench is the whole-process benchmark of mcp-keys. Run it from the
// repository root:
//
//	go run ./bench [-runs 20] [-calls 1000] [-keys 10000] [-bigcalls 50]
//	go run ./bench -stdio=false      # the remote-mode (HTTP) section only
//
// It builds ./cmd/mcp-keys, ./bench/floor (a bare mcp-go stdio server with
// one trivial tool) and ./bench/floorhttp (a bare mcp-go Streamable HTTP
// server with one echo tool) into a temporary directory and measures them
// in the same run, interleaved (ours, floor, ours, floor...) where the
// calls are sequential, so that drift of the machine touches both alike.
//
// The stdio section:
//
//   - start-up, -runs times: spawn→initialize and spawn→tools/list, peak RSS
//     (VmHWM, read just before stdin is closed), the byte size of the
//     tools/list result, and the time to exit once stdin closes; for
//     `mcp-keys serve --sandbox` and for `mcp-keys serve` against the API
//     (an in-process sandbox here), the latter also proving that start-up
//     makes no upstream request;
//   - -calls sequential tools/call of check_policy over stdio, interleaved
//     with the floor's trivial call (p50, p99);
//   - -calls sequential list_keys over stdio against a sandbox, interleaved
//     with the same upstream request (GET /v3/auth/keys) made directly over
//     HTTP with the same key, so the server's own overhead is the difference;
//   - the same with -keys extra keys in the sandbox, -bigcalls times.
//
// The remote-mode section (-http, see http.go) serves mcp-keys over
// Streamable HTTP on loopback, with OAuth access tokens (RS256 JWTs from an
// issuer in this process, JWKS cached by the server) and a static caller
// token, against the HTTP floor:
//
//   - -httpcalls sequential calls of each kind from one caller, interleaved:
//     check_policy with a JWT and with a static token, list_keys with a JWT,
//     the floor's echo, and the upstream request of list_keys made directly;
//     then the server CPU per call of each kind, in blocks;
//   - the cost of one token validation in process (internal/remote's
//     verifier, JWKS cached), -verifyn times;
//   - all-out throughput of check_policy (and the floor's echo) at each of
//     -levels concurrent callers for -duration each, every caller with its
//     own session and token;
//   - -pacecallers callers offering -rate calls/s in total for
//     -paceduration, latency counted from when each call was due;
//   - peak RSS (VmHWM) of a fresh server with -sessions sessions open at
//     once, each with its GET stream open and a few calls made.
//
// Every loop is bounded in count and in time, and everything listens on
// 127.0.0.1. It prints markdown: the machine, tables of medians and ratios
// to the floors, and the heaviest package initialisers of mcp-keys
// (GODEBUG=inittrace=1). It asserts nothing about time.
package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// benchPolicy is the design's example policy, written to a file for the
// server under test. check_policy for proj-search is allowed, and since
// allow_new is true it makes no upstream call.
const benchPolicy = `version: 1
tags:
  allow: ["demo-project", "proj-*", "user_*", "team:search"]
  deny:  ["proj-prod*"]
  allow_new: true
`

// options are the command-line flags.
type options struct {
	runs     int
	calls    int
	keys     int
	bigCalls int
	warmup   int

	stdio, http  bool
	httpCalls    int
	verifyN      int
	levels       []int
	duration     time.Duration
	paceCallers  int
	rate         float64
	paceDuration time.Duration
	sessions     int
	rssEnv       []string
}

func main() {
	var o options
	flag.IntVar(&o.runs, "runs", 20, "start-up runs of each server")
	flag.IntVar(&o.calls, "calls", 1000, "sequential calls per tool over stdio (and direct HTTP requests)")
	flag.IntVar(&o.keys, "keys", 10000, "extra keys in the sandbox for the big list_keys")
	flag.IntVar(&o.bigCalls, "bigcalls", 50, "list_keys calls over the big listing (and direct HTTP requests)")
	flag.IntVar(&o.warmup, "warmup", 20, "untimed calls before each timed series")
	flag.BoolVar(&o.stdio, "stdio", true, "run the stdio section")
	flag.BoolVar(&o.http, "http", true, "run the remote-mode (Streamable HTTP) section")
	flag.IntVar(&o.httpCalls, "httpcalls", 1000, "HTTP: sequential calls of each kind from one caller")
	flag.IntVar(&o.verifyN, "verifyn", 2000, "HTTP: token validations timed in process")
	levels := flag.String("levels", "1,10,50", "HTTP: concurrent callers of the all-out runs")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "HTTP: length of each all-out run")
	flag.IntVar(&o.paceCallers, "pacecallers", 50, "HTTP: callers of the run at an offered rate")
	flag.Float64Var(&o.rate, "rate", 1500, "HTTP: calls/s offered in total by those callers")
	flag.DurationVar(&o.paceDuration, "paceduration", 10*time.Second, "HTTP: length of the run at an offered rate")
	flag.IntVar(&o.sessions, "sessions", 200, "HTTP: concurrent sessions for the peak RSS")
	rssEnv := flag.String("rssenv", "", "HTTP: comma-separated VAR=VALUE added to the environment of the peak-RSS runs' servers, e.g. GOMEMLIMIT=40MiB")
	flag.Parse()
	if o.runs < 1 || o.calls < 1 || o.keys < 0 || o.bigCalls < 1 || o.warmup < 0 {
		fatalf("flags must be positive")
	}
	for kv := range strings.SplitSeq(*rssEnv, ",") {
		if kv = strings.TrimSpace(kv); kv != "" {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" || strings.HasPrefix(k, "MCP_KEYS_") || strings.HasPrefix(k, "SUPERMEMORY_") {
				fatalf("-rssenv %q: want VAR=VALUE, not an MCP_KEYS_ or SUPERMEMORY_ variable", kv)
			}
			o.rssEnv = append(o.rssEnv, kv)
		}
	}
	var err error
	if o.levels, err = parseLevels(*levels); err != nil {
		fatalf("-levels: %v", err)
	}
	if o.httpCalls < 1 || o.verifyN < 1 || o.paceCallers < 1 || o.paceCallers > 1000 || o.rate <= 0 || o.sessions < 1 || o.sessions > 2000 ||
		o.duration <= 0 || o.duration > 5*time.Minute || o.paceDuration <= 0 || o.paceDuration > 5*time.Minute {
		fatalf("HTTP flags out of range (callers and sessions ≤ 1000 and 2000, durations ≤ 5 min)")
	}
	if err := run(o); err != nil {
		fatalf("%v", err)
	}
}

func fatalf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
	os.Exit(1)
}

// progress reports what is being measured, on stderr.
func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

func run(o options) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "mcp-keys-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	ours, floor, floorHTTP := filepath.Join(tmp, "mcp-keys"), filepath.Join(tmp, "floor"), filepath.Join(tmp, "floorhttp")
	for _, b := range [][2]string{{"./cmd/mcp-keys", ours}, {"./bench/floor", floor}, {"./bench/floorhttp", floorHTTP}} {
		progress("building %s", b[0])
		cmd := exec.Command("go", "build", "-o", b[1], b[0])
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s: %w", b[0], err)
		}
	}
	policyFile := filepath.Join(tmp, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(benchPolicy), 0o600); err != nil {
		return err
	}
	m := machine()
	if o.stdio {
		if err := runStdio(o, m, tmp, policyFile, ours, floor); err != nil {
			return err
		}
	}
	if o.http {
		r, err := runHTTP(o, tmp, ours, floorHTTP)
		if err != nil {
			return fmt.Errorf("http: %w", err)
		}
		r.print(os.Stdout, o, m)
	}
	return nil
}

// runStdio is the stdio section: start-up, calls over stdio, the big
// listing and inittrace. It prints its report.
func runStdio(o options, m machineInfo, tmp, policyFile, ours, floor string) error {

	// The small sandbox (its seed only) serves the real-API start-up runs
	// and the list_keys overhead series.
	small, err := sandbox.Start(sandbox.Options{}, "")
	if err != nil {
		return err
	}
	defer small.Close()

	baseEnv := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tmp,
		"XDG_STATE_HOME=" + filepath.Join(tmp, "state"),
		"MCP_KEYS_AUDIT_LOG=" + filepath.Join(tmp, "audit.jsonl"),
		"MCP_KEYS_POLICY=" + policyFile,
	}
	apiEnv := func(sb *sandbox.Server) []string {
		return append(slices.Clip(baseEnv), "SUPERMEMORY_BASE_URL="+sb.URL, "SUPERMEMORY_API_KEY="+sb.Sandbox.OperatorKey())
	}
	servers := []server{
		{name: "mcp-keys serve --sandbox", path: ours, args: []string{"serve", "--sandbox"}, env: baseEnv},
		{name: "mcp-keys serve (API)", path: ours, args: []string{"serve"}, env: apiEnv(small)},
		{name: "floor", path: floor, env: baseEnv},
	}

	r := report{opts: o}
	r.machine = m
	r.loadBefore = loadavg()

	// Start-up, interleaved; one untimed round first to warm the page cache.
	progress("start-up: %d runs of each of %d servers", o.runs, len(servers))
	upstreamBefore := len(small.Sandbox.Requests())
	for i := -1; i < o.runs; i++ {
		for j := range servers {
			s, err := startup(servers[j])
			if err != nil {
				return fmt.Errorf("%s: %w", servers[j].name, err)
			}
			if i >= 0 {
				servers[j].samples = append(servers[j].samples, s)
			}
		}
	}
	r.startupUpstream = len(small.Sandbox.Requests()) - upstreamBefore
	r.servers = servers

	// check_policy against the floor's trivial call.
	progress("calls: %d check_policy and %d floor ping, interleaved", o.calls, o.calls)
	oursProc, err := spawn(servers[1])
	if err != nil {
		return err
	}
	defer oursProc.kill()
	floorProc, err := spawn(servers[2])
	if err != nil {
		return err
	}
	defer floorProc.kill()
	checkReq := toolCall("check_policy", `{"tag":"proj-search","name":"ci"}`)
	pingReq := toolCall("ping", `{}`)
	listReq := toolCall("list_keys", `{}`)
	r.check, r.ping, err = interleave(o, o.calls,
		func() (time.Duration, int, error) { return oursProc.timedCall(checkReq) },
		func() (time.Duration, int, error) { return floorProc.timedCall(pingReq) }, oursProc, floorProc)
	if err != nil {
		return err
	}

	// list_keys over stdio against the same request made directly.
	progress("calls: %d list_keys and %d direct GET /v3/auth/keys (%d keys), interleaved", o.calls, o.calls, small.Sandbox.KeyCount())
	smallHTTP := newDirect(small)
	r.smallKeys = small.Sandbox.KeyCount()
	r.listSmall, r.directSmall, err = interleave(o, o.calls,
		func() (time.Duration, int, error) { return oursProc.timedCall(listReq) },
		smallHTTP.get, oursProc, nil)
	if err != nil {
		return err
	}
	r.rssAfterCalls, r.rssFloorAfterCalls = oursProc.vmHWM(), floorProc.vmHWM()
	oursProc.close()
	floorProc.close()

	// list_keys over a big listing.
	progress("seeding %d keys", o.keys)
	big, err := sandbox.Start(sandbox.Options{}, "")
	if err != nil {
		return err
	}
	defer big.Close()
	created := time.Now().Add(-time.Duration(o.keys) * time.Minute)
	for i := range o.keys {
		k := sandbox.NewKey{
			Name:      fmt.Sprintf("agent-proj-%d", i),
			Tags:      []string{fmt.Sprintf("proj-%d", i%97)},
			CreatedAt: created.Add(time.Duration((i*7919)%o.keys) * time.Minute),
		}
		if _, _, err := big.Sandbox.AddKey(k); err != nil {
			return err
		}
	}
	r.bigKeys = big.Sandbox.KeyCount()
	progress("calls: %d list_keys and %d direct GET /v3/auth/keys (%d keys), interleaved", o.bigCalls, o.bigCalls, r.bigKeys)
	bigProc, err := spawn(server{name: "mcp-keys serve (API, big)", path: ours, args: []string{"serve"}, env: apiEnv(big)})
	if err != nil {
		return err
	}
	defer bigProc.kill()
	bigHTTP := newDirect(big)
	r.listBig, r.directBig, err = interleave(o, o.bigCalls,
		func() (time.Duration, int, error) { return bigProc.timedCall(listReq) },
		bigHTTP.get, bigProc, nil)
	if err != nil {
		return err
	}
	r.rssBig = bigProc.vmHWM()
	bigProc.close()

	progress("inittrace")
	r.inits, err = initTrace(servers[0])
	if err != nil {
		return err
	}
	r.loadAfter = loadavg()
	r.print(os.Stdout)
	return nil
}

// moduleRoot is the directory of the main module's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run from inside the mcp-keys module: go run ./bench")
	}
	return filepath.Dir(gomod), nil
}

// server is one binary under test and its start-up samples.
type server struct {
	name    string
	path    string
	args    []string
	env     []string
	samples []startSample
}

// startSample is one start-up run.
type startSample struct {
	initialize time.Duration // spawn → initialize response read
	toolsList  time.Duration // spawn → tools/list response read
	exit       time.Duration // stdin closed → process reaped
	cpu        time.Duration // user+system CPU time of the whole run
	hwm        int64         // VmHWM in bytes, just before stdin is closed
	listBytes  int           // size of the tools/list result
	tools      int
}

// proc is a running stdio server and a minimal JSON-RPC client of it.
type proc struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	nextID int
	start  time.Time
}

// spawn starts s and performs the MCP handshake.
func spawn(s server) (*proc, error) {
	p, err := launch(s)
	if err != nil {
		return nil, err
	}
	if _, err := p.handshake(); err != nil {
		p.kill()
		return nil, fmt.Errorf("%s: %w", s.name, err)
	}
	return p, nil
}

// launch starts s with piped stdin and stdout. Stderr goes to /dev/null
// itself, not through a pipe, so that no copying goroutine of this process
// competes for the CPUs on each log line.
func launch(s server) (*proc, error) {
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return nil, err
	}
	defer null.Close() // the child has its own copy once started
	cmd := exec.Command(s.path, s.args...)
	cmd.Env = s.env
	cmd.Stderr = null
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	p := &proc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<16), start: time.Now()}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	return p, nil
}

// handshake sends initialize and notifications/initialized, as MCP hosts
// do today (protocol 2025-11-25), and returns when the answer has been read.
func (p *proc) handshake() (json.RawMessage, error) {
	res, err := p.call([]byte(`{"jsonrpc":"2.0","id":%d,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}`))
	if err != nil {
		return nil, fmt.Errorf("initialize: %w", err)
	}
	if _, err := p.in.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")); err != nil {
		return nil, err
	}
	return res, nil
}

// startup measures one start-up run of s.
func startup(s server) (startSample, error) {
	var st startSample
	p, err := launch(s)
	if err != nil {
		return st, err
	}
	defer p.kill()
	if _, err := p.handshake(); err != nil {
		return st, err
	}
	st.initialize = time.Since(p.start)
	res, err := p.call([]byte(`{"jsonrpc":"2.0","id":%d,"method":"tools/list"}`))
	if err != nil {
		return st, fmt.Errorf("tools/list: %w", err)
	}
	st.toolsList = time.Since(p.start)
	st.listBytes = len(res)
	var list struct {
		Tools []json.RawMessage `json:"tools"`
	}
	if err := json.Unmarshal(res, &list); err != nil {
		return st, fmt.Errorf("tools/list: %w", err)
	}
	st.tools = len(list.Tools)
	st.hwm = p.vmHWM()
	st.exit, err = p.close()
	if err == nil {
		st.cpu = p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()
	}
	return st, err
}

// call sends one request (format with a %d for the id) and reads lines until
// the answer with that id. It returns the result, or the JSON-RPC error.
func (p *proc) call(format []byte) (json.RawMessage, error) {
	p.nextID++
	id := p.nextID
	if _, err := fmt.Fprintf(p.in, string(format)+"\n", id); err != nil {
		return nil, err
	}
	for {
		line, err := p.out.ReadBytes('\n')
		if err != nil {
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
		if res, ok, err := answer(line, id); ok || err != nil {
			return res, err
		}
	}
}

// answer decodes a JSON-RPC line; ok is false for a message with another id.
func answer(line []byte, id int) (json.RawMessage, bool, error) {
	var msg struct {
		ID     *int            `json:"id"`
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(line, &msg); err != nil {
		return nil, false, fmt.Errorf("not JSON-RPC on stdout: %.80q", line)
	}
	if msg.ID == nil || *msg.ID != id {
		return nil, false, nil
	}
	if msg.Error != nil {
		return nil, true, fmt.Errorf("JSON-RPC error %d: %s", msg.Error.Code, msg.Error.Message)
	}
	return msg.Result, true, nil
}

// toolCall is a tools/call request format with a %d for the id.
func toolCall(name, args string) []byte {
	return []byte(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"` + name + `","arguments":` + args + `}}`)
}

// timedCall makes one tool call and returns the time from the start of the
// write to the end of the read of the answer line, and the answer's size.
// Decoding and checking the answer happen after the clock stops.
func (p *proc) timedCall(format []byte) (time.Duration, int, error) {
	p.nextID++
	id := p.nextID
	req := fmt.Appendf(nil, string(format)+"\n", id)
	t0 := time.Now()
	if _, err := p.in.Write(req); err != nil {
		return 0, 0, err
	}
	line, err := p.out.ReadBytes('\n')
	d := time.Since(t0)
	if err != nil {
		return 0, 0, fmt.Errorf("reading the answer: %w", err)
	}
	res, ok, err := answer(line, id)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return 0, 0, fmt.Errorf("answer for another id: %.80q", line)
	}
	var tr struct {
		IsError bool `json:"isError"`
	}
	if err := json.Unmarshal(res, &tr); err != nil || tr.IsError {
		return 0, 0, fmt.Errorf("tool call failed (isError=%v, %v): %.200q", tr.IsError, err, res)
	}
	return d, len(res), nil
}

// vmHWM is the process's peak resident set size in bytes, or -1.
func (p *proc) vmHWM() int64 { return p.status("VmHWM:") }

// status is a size field (in kB) of /proc/PID/status in bytes, or -1.
func (p *proc) status(field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// cpuTime is the CPU time the process's threads have used so far (the sum
// of /proc/PID/task/*/schedstat), or 0 if it cannot be read.
func (p *proc) cpuTime() time.Duration {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, t := range tasks {
		data, err := os.ReadFile(t)
		if err != nil {
			continue // a thread that just exited
		}
		if f := strings.Fields(string(data)); len(f) > 0 {
			ns, _ := strconv.ParseInt(f[0], 10, 64)
			total += time.Duration(ns)
		}
	}
	return total
}

// close closes stdin and waits for the process to exit, returning how long
// that took. A process still running after 10 s is killed.
func (p *proc) close() (time.Duration, error) {
	t0 := time.Now()
	_ = p.in.Close()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		d := time.Since(t0)
		if err != nil {
			return d, fmt.Errorf("exit after stdin closed: %w", err)
		}
		return d, nil
	case <-time.After(10 * time.Second):
		p.kill()
		<-done
		return 0, errors.New("still running 10 s after stdin closed")
	}
}

// kill stops the process if it is still running.
func (p *proc) kill() {
	if p.cmd.ProcessState == nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
}

// direct makes the upstream request of list_keys itself, over a kept-alive
// HTTP connection, with the same key the server uses.
type direct struct {
	c   *http.Client
	req *http.Request
}

func newDirect(sb *sandbox.Server) *direct {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, sb.URL+"/v3/auth/keys", nil)
	if err != nil {
		panic(err) // a constant URL
	}
	req.Header.Set("Authorization", "Bearer "+sb.Sandbox.OperatorKey())
	req.Header.Set("Accept", "application/json")
	return &direct{c: &http.Client{Timeout: 30 * time.Second}, req: req}
}

// get times one GET /v3/auth/keys, body read in full.
func (d *direct) get() (time.Duration, int, error) {
	t0 := time.Now()
	resp, err := d.c.Do(d.req)
	if err != nil {
		return 0, 0, err
	}
	n, err := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	dur := time.Since(t0)
	if err != nil || resp.StatusCode != http.StatusOK {
		return 0, 0, fmt.Errorf("GET /v3/auth/keys: %d, %v", resp.StatusCode, err)
	}
	return dur, int(n), nil
}

// series is one timed series of calls.
type series struct {
	d     []time.Duration
	bytes int           // size of the last answer
	cpu   time.Duration // CPU time of the server process per call, if known
}

// perCall sets s.cpu from the server's CPU time before and after the series.
func (s *series) perCall(before, after time.Duration) {
	if len(s.d) > 0 && before > 0 {
		s.cpu = (after - before) / time.Duration(len(s.d))
	}
}

// interleave runs o.warmup untimed rounds, then n timed rounds of a then b.
// pa and pb, when not nil, are the server processes behind a and b, whose
// CPU time per call is recorded.
func interleave(o options, n int, a, b func() (time.Duration, int, error), pa, pb *proc) (sa, sb series, err error) {
	var ca, cb time.Duration
	for i := -o.warmup; i < n; i++ {
		if i == 0 {
			ca, cb = pa.cpuTimeOrZero(), pb.cpuTimeOrZero()
		}
		da, na, err := a()
		if err != nil {
			return sa, sb, err
		}
		db, nb, err := b()
		if err != nil {
			return sa, sb, err
		}
		if i >= 0 {
			sa.d, sb.d = append(sa.d, da), append(sb.d, db)
			sa.bytes, sb.bytes = na, nb
		}
	}
	sa.perCall(ca, pa.cpuTimeOrZero())
	sb.perCall(cb, pb.cpuTimeOrZero())
	return sa, sb, nil
}

// cpuTimeOrZero is p.cpuTime(), or 0 for a nil p.
func (p *proc) cpuTimeOrZero() time.Duration {
	if p == nil {
		return 0
	}
	return p.cpuTime()
}

// initTrace runs s once with GODEBUG=inittrace=1 and returns its package
// initialisers, heaviest first.
func initTrace(s server) ([]initCost, error) {
	cmd := exec.Command(s.path, s.args...)
	cmd.Env = append(slices.Clip(s.env), "GODEBUG=inittrace=1")
	cmd.Stdin = strings.NewReader("") // exits at once
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("inittrace run: %w", err)
	}
	var out []initCost
	for line := range strings.Lines(stderr.String()) {
		// init PKG @T ms, C ms clock, B bytes, A allocs
		f := strings.Fields(line)
		if len(f) < 11 || f[0] != "init" {
			continue
		}
		clock, err1 := strconv.ParseFloat(f[4], 64)
		bytes, err2 := strconv.ParseInt(f[7], 10, 64)
		allocs, err3 := strconv.ParseInt(f[9], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil {
			continue
		}
		out = append(out, initCost{pkg: f[1], ms: clock, bytes: bytes, allocs: allocs})
	}
	slices.SortFunc(out, func(a, b initCost) int { return cmp.Compare(b.ms, a.ms) })
	return out, nil
}

// initCost is one package initialiser.
type initCost struct {
	pkg    string
	ms     float64
	bytes  int64
	allocs int64
}

// machineInfo describes where the figures were made.
type machineInfo struct {
	cpus  int
	model string
	goVer string
	os    string
}

func machine() machineInfo {
	m := machineInfo{cpus: runtime.NumCPU(), goVer: runtime.Version(), os: runtime.GOOS + "/" + runtime.GOARCH, model: "unknown"}
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.model = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadavg is the 1-minute load average, or "?".
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(data)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}

// report is everything measured in one run.
type report struct {
	opts            options
	machine         machineInfo
	servers         []server // ours --sandbox, ours API, floor
	startupUpstream int      // upstream requests during the API start-up runs

	check, ping            series
	smallKeys              int
	listSmall, directSmall series
	rssAfterCalls          int64
	rssFloorAfterCalls     int64
	bigKeys                int
	listBig, directBig     series
	rssBig                 int64
	inits                  []initCost
	loadBefore, loadAfter  string
}

// pct is the p-th percentile (nearest rank) of d.
func pct(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	i := (p*len(s)+99)/100 - 1
	return s[max(i, 0)]
}

// medianOf is the median of f over samples.
func medianOf[T any](samples []T, f func(T) float64) float64 {
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = f(s)
	}
	slices.Sort(v)
	if n := len(v); n%2 == 0 {
		return (v[n/2-1] + v[n/2]) / 2
	}
	return v[len(v)/2]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// verdict is "met" or "missed".
func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func (r report) print(w io.Writer) {
	m := r.machine
	fmt.Fprintf(w, "Machine: %d CPUs, %s, %s, %s; load average %s before, %s after. Flags: -runs %d -calls %d -keys %d -bigcalls %d (warm-up %d).\n\n",
		m.cpus, m.model, m.os, m.goVer, r.loadBefore, r.loadAfter, r.opts.runs, r.opts.calls, r.opts.keys, r.opts.bigCalls, r.opts.warmup)

	floor := r.servers[len(r.servers)-1]
	type metric struct {
		name   string
		unit   string
		f      func(startSample) float64
		budget func(ours, floor float64) (string, bool)
	}
	metrics := []metric{
		{"spawn → initialize", "ms", func(s startSample) float64 { return ms(s.initialize) }, nil},
		{"spawn → tools/list", "ms", func(s startSample) float64 { return ms(s.toolsList) },
			func(o, f float64) (string, bool) { return "≤ 1.15× floor", o <= 1.15*f }},
		{"peak RSS (VmHWM)", "MiB", func(s startSample) float64 { return float64(s.hwm) / (1 << 20) },
			func(o, _ float64) (string, bool) { return "≤ 15 MiB", o <= 15 }},
		{"tools/list result", "bytes", func(s startSample) float64 { return float64(s.listBytes) },
			func(o, _ float64) (string, bool) { return "≤ 6144 B", o <= 6144 }},
		{"tools listed", "", func(s startSample) float64 { return float64(s.tools) }, nil},
		{"exit after stdin closes", "ms", func(s startSample) float64 { return ms(s.exit) }, nil},
		{"CPU time, spawn to exit (user+sys)", "ms", func(s startSample) float64 { return ms(s.cpu) }, nil},
	}
	fmt.Fprintf(w, "### Start-up (median of %d runs each, interleaved)\n\n", r.opts.runs)
	fmt.Fprintf(w, "| measure |")
	for _, s := range r.servers {
		fmt.Fprintf(w, " %s |", s.name)
	}
	fmt.Fprintf(w, " ratio to floor | budget |\n|---|")
	for range r.servers {
		fmt.Fprintf(w, "---:|")
	}
	fmt.Fprintf(w, "---|---|\n")
	for _, mt := range metrics {
		fv := medianOf(floor.samples, mt.f)
		var vals []float64
		fmt.Fprintf(w, "| %s |", mt.name)
		for _, s := range r.servers {
			v := medianOf(s.samples, mt.f)
			vals = append(vals, v)
			fmt.Fprintf(w, " %s |", num(v, mt.unit))
		}
		var ratios []string
		for _, v := range vals[:len(vals)-1] {
			ratios = append(ratios, ratio(v, fv))
		}
		budget := ""
		if mt.budget != nil {
			var parts []string
			for i, v := range vals[:len(vals)-1] {
				text, ok := mt.budget(v, fv)
				parts = append(parts, fmt.Sprintf("%s: %s", shortName(r.servers[i].name), verdict(ok)))
				budget = text
			}
			budget += " — " + strings.Join(parts, ", ")
		}
		fmt.Fprintf(w, " %s | %s |\n", strings.Join(ratios, " / "), budget)
	}
	fmt.Fprintf(w, "\nUpstream requests made during the %d start-ups against the API: %d (start-up makes none).\n\n", r.opts.runs+1, r.startupUpstream)

	fmt.Fprintf(w, "### Calls over stdio (sequential, interleaved; time from request written to answer read)\n\n")
	fmt.Fprintf(w, "| series | n | p50 | p99 | server CPU per call | answer | compared with | p50 | p99 | CPU per call | ratio / overhead p50 | ratio / overhead p99 | budget |\n")
	fmt.Fprintf(w, "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---|\n")
	cp50, cp99, fp50, fp99 := pct(r.check.d, 50), pct(r.check.d, 99), pct(r.ping.d, 50), pct(r.ping.d, 99)
	fmt.Fprintf(w, "| check_policy (allowed create; no upstream call) | %d | %s | %s | %s | %d B | floor ping | %s | %s | %s | %s | %s | ≤ 1.2× p50 and p99 — %s |\n",
		len(r.check.d), dur(cp50), dur(cp99), dur(r.check.cpu), r.check.bytes, dur(fp50), dur(fp99), dur(r.ping.cpu), ratio(us(cp50), us(fp50)), ratio(us(cp99), us(fp99)),
		verdict(float64(cp50) <= 1.2*float64(fp50) && float64(cp99) <= 1.2*float64(fp99)))
	lp50, lp99, dp50, dp99 := pct(r.listSmall.d, 50), pct(r.listSmall.d, 99), pct(r.directSmall.d, 50), pct(r.directSmall.d, 99)
	fmt.Fprintf(w, "| list_keys (%d keys) | %d | %s | %s | %s | %d B | direct GET /v3/auth/keys (%d B) | %s | %s | — | +%s | +%s | ≤ +0.3 ms p50 — %s |\n",
		r.smallKeys, len(r.listSmall.d), dur(lp50), dur(lp99), dur(r.listSmall.cpu), r.listSmall.bytes, r.directSmall.bytes, dur(dp50), dur(dp99), dur(lp50-dp50), dur(lp99-dp99),
		verdict(lp50-dp50 <= 300*time.Microsecond))
	bp50, bp99, bd50, bd99 := pct(r.listBig.d, 50), pct(r.listBig.d, 99), pct(r.directBig.d, 50), pct(r.directBig.d, 99)
	fmt.Fprintf(w, "| list_keys (%d keys, default limit) | %d | %s | %s | %s | %d B | direct GET /v3/auth/keys (%d B) | %s | %s | — | +%s | +%s | ≤ 50 ms end to end, output capped — %s |\n",
		r.bigKeys, len(r.listBig.d), dur(bp50), dur(bp99), dur(r.listBig.cpu), r.listBig.bytes, r.directBig.bytes, dur(bd50), dur(bd99), dur(bp50-bd50), dur(bp99-bd99),
		verdict(bp50 <= 50*time.Millisecond && r.listBig.bytes < 64<<10))
	fmt.Fprintf(w, "\nPeak RSS (VmHWM) after the calls: mcp-keys (API) %s MiB after %d check_policy and %d list_keys over %d keys (floor: %s MiB after %d pings); %s MiB after the %d list_keys over %d keys.\n\n",
		num(float64(r.rssAfterCalls)/(1<<20), "MiB"), len(r.check.d), len(r.listSmall.d), r.smallKeys,
		num(float64(r.rssFloorAfterCalls)/(1<<20), "MiB"), len(r.ping.d), num(float64(r.rssBig)/(1<<20), "MiB"), len(r.listBig.d), r.bigKeys)

	fmt.Fprintf(w, "### Heaviest package initialisers of mcp-keys (GODEBUG=inittrace=1, one run)\n\n| package | clock | bytes | allocs |\n|---|---:|---:|---:|\n")
	var total float64
	for _, c := range r.inits {
		total += c.ms
	}
	for _, c := range r.inits[:min(6, len(r.inits))] {
		fmt.Fprintf(w, "| %s | %.2f ms | %d | %d |\n", c.pkg, c.ms, c.bytes, c.allocs)
	}
	fmt.Fprintf(w, "| all %d initialisers | %.2f ms | | |\n", len(r.inits), total)
}

func shortName(name string) string {
	switch {
	case strings.Contains(name, "--sandbox"):
		return "sandbox"
	case strings.Contains(name, "API"):
		return "API"
	}
	return name
}

func num(v float64, unit string) string {
	switch unit {
	case "ms":
		return fmt.Sprintf("%.1f ms", v)
	case "MiB":
		return fmt.Sprintf("%.1f", v)
	case "bytes":
		return fmt.Sprintf("%.0f B", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func ratio(a, b float64) string {
	if b == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", a/b)
}

func dur(d time.Duration) string {
	if d >= time.Millisecond || d <= -time.Millisecond {
		return fmt.Sprintf("%.2f ms", ms(d))
	}
	return fmt.Sprintf("%.0f µs", us(d))
}

// parseLevels reads a comma-separated list of concurrent-caller counts.
func parseLevels(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("%q: want counts from 1 to 1000", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no levels")
	}
	return out, nil
}
