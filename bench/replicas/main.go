// Command replicas measures creates per second through mcp-keys replicas
// sharing one PostgreSQL store of record, against one replica on the same
// database and one replica on the audit file, in the same run. Run it from
// the repository root with a PostgreSQL server on loopback (as
// scripts/postgres.sh start makes one):
//
//	go run ./bench/replicas [-db URL] [-rounds 3] [-creates 300] [-warmup 60] [-callers 12]
//
// -db defaults to $MCP_KEYS_TEST_DATABASE_URL; the bench creates (and
// drops) one database per run on that server. It builds ./cmd/mcp-keys,
// starts an in-process upstream sandbox on 127.0.0.1, adds one static
// caller token, and for each round runs every configuration in turn (3
// replicas on PostgreSQL, 1 replica on PostgreSQL, 1 replica on the audit
// file), each on a fresh store:
//
//   - -callers mcp-go Streamable HTTP clients (2025-11-25), spread round
//     robin over the replicas, call create_scoped_key as fast as they get
//     answers: first -warmup creates on the fresh store (for PostgreSQL,
//     tables never analyzed: "cold"), then, after ANALYZE (what autovacuum
//     does after the first 50 changes of a table), -creates timed ones;
//   - every create is allowed by a policy with a global quota of 10,000 an
//     hour, so each goes through the quota's reservation (the head's lock,
//     the counts, the intent) and the result's append.
//
// Every loop is bounded in count and in time (-timeout per series), and
// everything listens on loopback. It prints markdown: the machine and its
// load, and per configuration the median creates/s over the rounds, p50
// and p99 latency, and the ratio to one replica on PostgreSQL.
package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// benchPolicy allows every create of proj-* (allow_new: no listing of
// tags) under a global quota that the bench never reaches.
const benchPolicy = `version: 1
tags:
  allow: ["proj-*"]
  allow_new: true
keys:
  name_prefix: "agent-"
quota:
  max_keys_per_hour: 10000
`

type options struct {
	db                             string
	rounds, creates, warmup, calls int
	timeout                        time.Duration
}

// config is one arrangement measured: replicas on PostgreSQL or the file.
type config struct {
	name     string
	replicas int
	pg       bool
}

var configs = []config{
	{"3 replicas, PostgreSQL", 3, true},
	{"1 replica, PostgreSQL", 1, true},
	{"1 replica, audit file", 1, false},
}

func main() {
	var o options
	flag.StringVar(&o.db, "db", os.Getenv("MCP_KEYS_TEST_DATABASE_URL"), "PostgreSQL server URL (on loopback) to create the databases on")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds (each runs every configuration once)")
	flag.IntVar(&o.creates, "creates", 300, "timed creates per configuration and round")
	flag.IntVar(&o.warmup, "warmup", 60, "creates on the fresh store before the timed ones")
	flag.IntVar(&o.calls, "callers", 12, "concurrent callers, spread over the replicas")
	flag.DurationVar(&o.timeout, "timeout", 2*time.Minute, "longest time one series of creates may take")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "replicas:", err)
		os.Exit(1)
	}
}

// result is one series of creates.
type result struct {
	n       int
	elapsed time.Duration
	lat     []time.Duration
}

func (r result) perSecond() float64 { return float64(r.n) / r.elapsed.Seconds() }

func run(o options) error {
	if o.db == "" {
		return errors.New("no database: give -db or set MCP_KEYS_TEST_DATABASE_URL (scripts/postgres.sh start prints one)")
	}
	if err := loopbackURL(o.db); err != nil {
		return err
	}
	if o.rounds < 1 || o.creates < 1 || o.calls < 1 || o.warmup < 0 {
		return errors.New("-rounds, -creates and -callers must be at least 1, -warmup at least 0")
	}
	tmp, err := os.MkdirTemp("", "mcp-keys-replicas")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin := filepath.Join(tmp, "mcp-keys")
	build := exec.Command("go", "build", "-o", bin, "./cmd/mcp-keys")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("build (run from the repository root): %w", err)
	}
	sb, err := sandbox.Start(sandbox.Options{}, "")
	if err != nil {
		return err
	}
	defer sb.Close()
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "XDG_STATE_HOME=" + filepath.Join(tmp, "state"),
		"SUPERMEMORY_BASE_URL=" + sb.URL, "SUPERMEMORY_API_KEY=" + sb.Sandbox.OperatorKey(),
		"MCP_KEYS_CALLERS_FILE=" + filepath.Join(tmp, "callers"), "MCP_KEYS_RATE_LIMIT=100000000"}
	policyFile := filepath.Join(tmp, "policy.yaml")
	if err := os.WriteFile(policyFile, []byte(benchPolicy), 0o600); err != nil {
		return err
	}
	env = append(env, "MCP_KEYS_POLICY="+policyFile)
	add := exec.Command(bin, "caller", "add", "bench", "--scopes", "keys:read,keys:write")
	add.Env = env
	out, err := add.Output()
	if err != nil {
		return fmt.Errorf("caller add: %w", err)
	}
	token := strings.TrimSpace(string(out))

	loadBefore := loadavg()
	cold := map[string][]result{}
	warm := map[string][]result{}
	for round := 1; round <= o.rounds; round++ {
		for i, c := range configs {
			fmt.Fprintf(os.Stderr, "round %d/%d: %s\n", round, o.rounds, c.name)
			w, t, err := measure(o, c, bin, env, token, filepath.Join(tmp, fmt.Sprintf("r%d-c%d", round, i)))
			if err != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			cold[c.name] = append(cold[c.name], w)
			warm[c.name] = append(warm[c.name], t)
		}
	}
	report(o, cold, warm, loadBefore, loadavg())
	return nil
}

// loopbackURL refuses a database URL whose host is not loopback (a unix
// socket directory is fine).
func loopbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return errors.New("-db must be a postgres:// URL")
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); h != "localhost" && !strings.HasPrefix(h, "/") && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("-db host %q is not loopback: the bench runs on loopback only", h)
	}
	return nil
}

// measure runs one configuration on a fresh store: the warm-up series,
// ANALYZE (PostgreSQL), then the timed series.
func measure(o options, c config, bin string, env []string, token, dir string) (cold, warm result, err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return cold, warm, err
	}
	var dbURL string
	if c.pg {
		var drop func()
		dbURL, drop, err = freshDatabase(o.db)
		if err != nil {
			return cold, warm, err
		}
		defer drop()
		env = append(slices.Clone(env), "MCP_KEYS_DATABASE_URL="+dbURL)
	} else {
		env = append(slices.Clone(env), "MCP_KEYS_AUDIT_LOG="+filepath.Join(dir, "audit.jsonl"))
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	for i := range c.replicas {
		s, err := startServer(bin, env, filepath.Join(dir, fmt.Sprintf("server%d.log", i)))
		if err != nil {
			return cold, warm, err
		}
		servers = append(servers, s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*o.timeout+time.Minute)
	defer cancel()
	clients := make([]*client.Client, o.calls)
	for i := range clients {
		if clients[i], err = newClient(ctx, servers[i%len(servers)].url, token); err != nil {
			return cold, warm, err
		}
		defer clients[i].Close()
	}
	if o.warmup > 0 {
		if cold, err = creates(ctx, clients, o.warmup, o.timeout); err != nil {
			return cold, warm, fmt.Errorf("warm-up: %w", err)
		}
	}
	if c.pg {
		if err := exec1(dbURL, "ANALYZE"); err != nil {
			return cold, warm, err
		}
	}
	warm, err = creates(ctx, clients, o.creates, o.timeout)
	return cold, warm, err
}

// creates makes n creates through the clients, each client calling as soon
// as it has its answer, and returns the series. It stops at the first
// failure, or when timeout has passed.
func creates(ctx context.Context, clients []*client.Client, n int, timeout time.Duration) (result, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		next  atomic.Int64
		mu    sync.Mutex
		lat   = make([]time.Duration, 0, n)
		first error
		wg    sync.WaitGroup
	)
	start := time.Now()
	for _, c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(n) && ctx.Err() == nil {
				t0 := time.Now()
				var req mcp.CallToolRequest
				req.Params.Name = "create_scoped_key"
				req.Params.Arguments = map[string]any{"tag": "proj-bench"}
				res, err := c.CallTool(ctx, req)
				d := time.Since(t0)
				if err == nil && res.IsError {
					err = errors.New("create refused (isError)")
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				if err == nil {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	r := result{n: len(lat), elapsed: time.Since(start), lat: lat}
	if first != nil {
		return r, first
	}
	if r.n < n {
		return r, fmt.Errorf("only %d of %d creates within %v", r.n, n, timeout)
	}
	return r, nil
}

// freshDatabase creates a database on the server at base and returns its
// URL and a function that drops it.
func freshDatabase(base string) (string, func(), error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", nil, err
	}
	name := "mk_bench_" + hex.EncodeToString(b)
	if err := exec1(base, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String(), func() { _ = exec1(base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)") }, nil
}

// exec1 runs one statement on the database at u.
func exec1(u, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		return fmt.Errorf("%s: %w", sql, err)
	}
	return nil
}

// server is one `mcp-keys serve --http` on loopback.
type server struct {
	cmd *exec.Cmd
	url string
}

// startServer starts a replica on a free loopback port and waits (at most
// 20 s) for /healthz.
func startServer(bin string, env []string, logFile string) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	logf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", "--http", addr)
	cmd.Env, cmd.Stderr = env, logf
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &server{cmd: cmd, url: "http://" + addr + "/mcp"}
	c := &http.Client{Timeout: time.Second}
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(25 * time.Millisecond) {
		if res, err := c.Get("http://" + addr + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.stop()
	return nil, fmt.Errorf("the server did not answer /healthz within 20 s (log: %s)", logFile)
}

// stop sends SIGTERM and waits at most 10 s, then kills.
func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// newClient is an initialized Streamable HTTP client with the token.
func newClient(ctx context.Context, u, token string) (*client.Client, error) {
	c, err := client.NewStreamableHttpClient(u, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "bench-replicas", Version: "0"}
	if _, err := c.Initialize(ctx, init); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func report(o options, cold, warm map[string][]result, before, after string) {
	fmt.Printf("Machine: %d CPUs, %s, %s/%s, %s; load average %s before, %s after.\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version(), before, after)
	fmt.Printf("Flags: -rounds %d -creates %d -warmup %d -callers %d. Medians over the rounds; each round runs the configurations in turn, each on a fresh store.\n\n", o.rounds, o.creates, o.warmup, o.calls)
	base := median(warm[configs[1].name], result.perSecond)
	fmt.Println("| configuration | creates/s (timed, after ANALYZE) | p50 | p99 | ratio to 1 replica, PostgreSQL | every round (creates/s) | creates/s on the fresh store (warm-up) |")
	fmt.Println("|---|---:|---:|---:|---:|---|---:|")
	for _, c := range configs {
		rs := warm[c.name]
		var all []time.Duration
		var each []string
		for _, r := range rs {
			all = append(all, r.lat...)
			each = append(each, fmt.Sprintf("%.0f", r.perSecond()))
		}
		slices.Sort(all)
		rate := median(rs, result.perSecond)
		coldRate := "—"
		if o.warmup > 0 {
			coldRate = fmt.Sprintf("%.0f", median(cold[c.name], result.perSecond))
		}
		fmt.Printf("| %s | %.0f | %s | %s | %.2f× | %s | %s |\n", c.name, rate, dur(pct(all, 50)), dur(pct(all, 99)), rate/base, strings.Join(each, ", "), coldRate)
	}
}

func median[T any](xs []T, f func(T) float64) float64 {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		v = append(v, f(x))
	}
	slices.SortFunc(v, cmp.Compare[float64])
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, len(sorted)*p/100)]
}

func dur(d time.Duration) string {
	if d < time.Millisecond {
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	}
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}
