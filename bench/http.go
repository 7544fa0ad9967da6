package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/remote"
	"github.com/mcp-keys/mcp-keys/internal/sandbox"
)

// httpRateLimit is MCP_KEYS_RATE_LIMIT for the server under test: the
// per-caller limiter still runs on every request but never refuses one.
const httpRateLimit = "100000000"

// maxCallsPerCaller bounds each simulated caller of a timed run, besides
// its duration.
const maxCallsPerCaller = 200_000

// httpServer is `mcp-keys serve --http` or the floor, running.
type httpServer struct {
	*proc
	name string
	url  string // …/mcp
	log  string // its stderr, in a file
}

// startHTTP starts path with args plus the listen address (a free loopback
// port, appended by addrArg) and waits, at most 15 s, for ready (a path
// answering 200).
func startHTTP(name, path string, addrArg func(addr string) []string, env []string, logFile, ready string) (*httpServer, error) {
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(logFile)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own copy once started
	cmd := exec.Command(path, addrArg(addr)...)
	cmd.Env = env
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &httpServer{proc: &proc{cmd: cmd, start: time.Now()}, name: name, url: "http://" + addr + "/mcp", log: logFile}
	c := &http.Client{Timeout: time.Second, Transport: newHTTPTransport(1)}
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		res, err := c.Get("http://" + addr + ready)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return s, nil
			}
		}
	}
	s.kill()
	_ = cmd.Wait()
	tail, _ := os.ReadFile(logFile)
	return nil, fmt.Errorf("%s: %s did not answer 200 within 15 s; its log ends:\n%s", name, ready, tail[max(0, len(tail)-2000):])
}

// stop sends SIGTERM and waits (at most 10 s) for the exit.
func (s *httpServer) stop() error {
	if s.cmd.ProcessState != nil {
		return nil
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%s: exit after SIGTERM: %w", s.name, err)
		}
		return nil
	case <-time.After(10 * time.Second):
		s.kill()
		<-done
		return fmt.Errorf("%s: still running 10 s after SIGTERM", s.name)
	}
}

// freeLoopbackAddr is a 127.0.0.1 address whose port was free a moment ago.
func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// httpReport is everything the HTTP section measured.
type httpReport struct {
	loadBefore, loadAfter string

	// 1 caller, sequential, interleaved.
	seq map[string]series
	// server CPU per call, in blocks of the same call.
	cpu map[string]time.Duration
	// in-process token validation (cached JWKS).
	verify, verifyAllocs float64
	verifyN              int

	levels []level
	paced  []pacedRun

	rss             []rssRun
	oursPeakAfter   int64 // VmHWM of the server after all the load runs
	floorPeakAfter  int64
	jwksFetches     int64
	jwksServers     int
	upstreamKeys    int
	sessionsOpened  int
	rssCallsPerSess int
	rssEnv          []string
}

// level is one all-out throughput run of ours and of the floor.
type level struct {
	callers     int
	ours, floor loadRun
}

// loadRun is one timed run of concurrent callers.
type loadRun struct {
	calls     int
	elapsed   time.Duration
	lat       []time.Duration
	serverCPU time.Duration // per call
	benchCPU  time.Duration // the load generator's (this process's) CPU per call
}

func (r loadRun) perSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.calls) / r.elapsed.Seconds()
}

// pacedRun is one run at an offered rate.
type pacedRun struct {
	callers     int
	rate        float64
	ours, floor loadRun
}

// rssRun is the memory of a fresh server with many sessions.
type rssRun struct {
	name string
	idle int64  // VmHWM after start-up
	open memory // with the sessions open and idle
	busy memory // after every session made its calls at once, sessions still open
}

// series names of the sequential part.
const (
	seqFloor      = "floor echo"
	seqCheckJWT   = "check_policy (JWT)"
	seqCheckToken = "check_policy (static token)"
	seqListJWT    = "list_keys (JWT)"
	seqDirect     = "direct GET /v3/auth/keys"
)

// runHTTP is the remote-mode section: mcp-keys serve --http with OAuth (an
// in-process issuer) and a static token, against bench/floorhttp.
func runHTTP(o options, tmp, ours, floorHTTP string) (r httpReport, err error) {
	r.loadBefore = loadavg()
	small, err := sandbox.Start(sandbox.Options{}, "")
	if err != nil {
		return r, err
	}
	defer small.Close()
	r.upstreamKeys = small.Sandbox.KeyCount()
	is, err := startIssuer()
	if err != nil {
		return r, err
	}
	defer is.close()

	// A static caller token, made by the binary itself.
	callersFile := filepath.Join(tmp, "callers")
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + tmp,
		"XDG_STATE_HOME=" + filepath.Join(tmp, "state-http"),
		"MCP_KEYS_AUDIT_LOG=" + filepath.Join(tmp, "audit-http.jsonl"),
		"MCP_KEYS_POLICY=" + filepath.Join(tmp, "policy.yaml"),
		"MCP_KEYS_CALLERS_FILE=" + callersFile,
	}
	add := exec.Command(ours, "caller", "add", "bench", "--scopes", "keys:read,keys:write")
	add.Env = env
	out, err := add.Output()
	if err != nil {
		return r, fmt.Errorf("caller add: %w", err)
	}
	static := strings.TrimSpace(string(out))
	serverEnv := append(slices.Clip(env),
		"SUPERMEMORY_BASE_URL="+small.URL, "SUPERMEMORY_API_KEY="+small.Sandbox.OperatorKey(),
		"MCP_KEYS_OAUTH_ISSUER="+is.url, "MCP_KEYS_RATE_LIMIT="+httpRateLimit)
	startOurs := func(tag string, extra ...string) (*httpServer, error) {
		return startHTTP("mcp-keys serve --http", ours, func(addr string) []string { return []string{"serve", "--http", addr} },
			append(slices.Clip(serverEnv), extra...), filepath.Join(tmp, "ours-"+tag+".log"), "/readyz")
	}
	startFloor := func(tag string, extra ...string) (*httpServer, error) {
		return startHTTP("floorhttp", floorHTTP, func(addr string) []string { return []string{addr} },
			append(slices.Clip(env[:2]), extra...), filepath.Join(tmp, "floor-"+tag+".log"), "/healthz")
	}

	progress("http: starting mcp-keys serve --http (OAuth issuer and a callers file) and the floor")
	srv, err := startOurs("load")
	if err != nil {
		return r, err
	}
	defer srv.kill()
	r.jwksServers++
	floor, err := startFloor("load")
	if err != nil {
		return r, err
	}
	defer floor.kill()

	nTokens := max(slices.Max(o.levels), o.paceCallers)
	tokens, err := mintTokens(is, srv.url, nTokens)
	if err != nil {
		return r, err
	}
	tr := newHTTPTransport(max(nTokens, 64))
	defer tr.CloseIdleConnections()
	ctx := context.Background()

	// 1. One caller, sequential, interleaved.
	progress("http: %d rounds of check_policy (JWT), check_policy (static token), list_keys (JWT), floor echo and direct GET, interleaved", o.httpCalls)
	jwt, tok, fl := newSession(tr, srv.url, tokens[0]), newSession(tr, srv.url, static), newSession(tr, floor.url, "")
	for _, s := range []*mcpSession{jwt, tok, fl} {
		if err := s.initialize(ctx); err != nil {
			return r, err
		}
	}
	checkReq := toolCall("check_policy", `{"tag":"proj-search","name":"ci"}`)
	listReq := toolCall("list_keys", `{}`)
	echoReq := toolCall("echo", `{"text":"pong"}`)
	direct := newDirect(small)
	seqNames := []string{seqCheckJWT, seqCheckToken, seqListJWT, seqFloor, seqDirect}
	seqFns := []func() (time.Duration, int, error){
		func() (time.Duration, int, error) { return jwt.call(ctx, checkReq) },
		func() (time.Duration, int, error) { return tok.call(ctx, checkReq) },
		func() (time.Duration, int, error) { return jwt.call(ctx, listReq) },
		func() (time.Duration, int, error) { return fl.call(ctx, echoReq) },
		direct.get,
	}
	seq, err := interleaveN(o.warmup, o.httpCalls, seqFns)
	if err != nil {
		return r, err
	}
	r.seq = map[string]series{}
	for i, n := range seqNames {
		r.seq[n] = seq[i]
	}

	// 2. Server CPU per call, each call in a block of its own.
	progress("http: server CPU per call, %d calls of each kind in blocks", o.httpCalls/2)
	r.cpu = map[string]time.Duration{}
	blocks := []struct {
		name string
		p    *proc
		fn   func() (time.Duration, int, error)
	}{
		{seqCheckJWT, srv.proc, seqFns[0]}, {seqCheckToken, srv.proc, seqFns[1]}, {seqListJWT, srv.proc, seqFns[2]}, {seqFloor, floor.proc, seqFns[3]},
	}
	for _, b := range blocks {
		n := max(o.httpCalls/2, 1)
		for range o.warmup {
			if _, _, err := b.fn(); err != nil {
				return r, err
			}
		}
		before := b.p.cpuTime()
		for range n {
			if _, _, err := b.fn(); err != nil {
				return r, err
			}
		}
		r.cpu[b.name] = (b.p.cpuTime() - before) / time.Duration(n)
	}

	// 3. Token validation in process, with the JWKS cached.
	progress("http: %d token validations in process", o.verifyN)
	r.verifyN = o.verifyN
	if r.verify, r.verifyAllocs, err = verifyCost(ctx, is, srv.url, tokens[0], o.verifyN); err != nil {
		return r, err
	}

	// 4. All-out throughput at each level, ours then the floor.
	for _, c := range o.levels {
		progress("http: all-out for %s with %d callers, mcp-keys then the floor", o.duration, c)
		lv := level{callers: c}
		if lv.ours, err = loadTest(ctx, tr, srv, tokens[:c], checkReq, o.duration, 0); err != nil {
			return r, err
		}
		if lv.floor, err = loadTest(ctx, tr, floor, make([]string, c), echoReq, o.duration, 0); err != nil {
			return r, err
		}
		r.levels = append(r.levels, lv)
	}

	// 5. An offered rate, spread over callers.
	progress("http: %d callers offering %.0f calls/s in total for %s, mcp-keys then the floor", o.paceCallers, o.rate, o.paceDuration)
	pr := pacedRun{callers: o.paceCallers, rate: o.rate}
	if pr.ours, err = loadTest(ctx, tr, srv, tokens[:o.paceCallers], checkReq, o.paceDuration, o.rate); err != nil {
		return r, err
	}
	if pr.floor, err = loadTest(ctx, tr, floor, make([]string, o.paceCallers), echoReq, o.paceDuration, o.rate); err != nil {
		return r, err
	}
	r.paced = append(r.paced, pr)
	r.oursPeakAfter, r.floorPeakAfter = srv.vmHWM(), floor.vmHWM()
	tr.CloseIdleConnections()
	if err := errors.Join(srv.stop(), floor.stop()); err != nil {
		return r, err
	}

	// 6. Peak RSS of fresh processes with many sessions open at once.
	r.rssCallsPerSess = 4
	r.rssEnv = o.rssEnv
	for _, start := range []func(string, ...string) (*httpServer, error){startOurs, startFloor} {
		s, err := start("rss", o.rssEnv...)
		if err != nil {
			return r, err
		}
		toks, req := make([]string, o.sessions), echoReq
		if s.name != "floorhttp" {
			// Tokens for this server's own audience (its URL).
			if toks, err = mintTokens(is, s.url, o.sessions); err != nil {
				s.kill()
				return r, err
			}
			req = checkReq
			r.jwksServers++
		}
		progress("http: %d concurrent sessions on a fresh %s", o.sessions, s.name)
		run := rssRun{name: s.name, idle: s.vmHWM()}
		run.open, run.busy, err = manySessions(ctx, s, toks, req, r.rssCallsPerSess)
		r.sessionsOpened = o.sessions
		if err2 := s.stop(); err == nil {
			err = err2
		}
		if err != nil {
			return r, err
		}
		r.rss = append(r.rss, run)
	}
	r.jwksFetches = is.fetches.Load()
	r.loadAfter = loadavg()
	return r, nil
}

// mintTokens mints n read-write access tokens for audience, each for its
// own subject (bench-000, bench-001, …), valid for two hours.
func mintTokens(is *issuer, audience string, n int) ([]string, error) {
	out := make([]string, n)
	for i := range out {
		t, err := is.token(audience, fmt.Sprintf("bench-%03d", i), []string{"keys:read", "keys:write"}, 2*time.Hour)
		if err != nil {
			return nil, err
		}
		out[i] = t
	}
	return out, nil
}

// firstError is the first non-nil error of errs, and how many there were.
func firstError(errs []error) error {
	n, first := 0, error(nil)
	for _, err := range errs {
		if err != nil {
			if first == nil {
				first = err
			}
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w (and %d more errors)", first, n-1)
	}
	return first
}

// interleaveN runs warmup untimed rounds, then n timed rounds of every fn
// in turn.
func interleaveN(warmup, n int, fns []func() (time.Duration, int, error)) ([]series, error) {
	out := make([]series, len(fns))
	for i := -warmup; i < n; i++ {
		for j, fn := range fns {
			d, size, err := fn()
			if err != nil {
				return nil, err
			}
			if i >= 0 {
				out[j].d = append(out[j].d, d)
				out[j].bytes = size
			}
		}
	}
	return out, nil
}

// verifyCost times n verifications of token by remote's OAuth verifier in
// this process, its JWKS fetched once beforehand: nanoseconds and
// allocations per verification.
func verifyCost(ctx context.Context, is *issuer, audience, token string, n int) (float64, float64, error) {
	v, err := remote.NewOAuthVerifier(remote.OAuthConfig{Issuer: is.url, Audience: audience})
	if err != nil {
		return 0, 0, err
	}
	if err := v.Prime(ctx); err != nil {
		return 0, 0, err
	}
	for range 50 {
		if _, err := v.Verify(ctx, token); err != nil {
			return 0, 0, fmt.Errorf("verify: %w", err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	t0 := time.Now()
	for range n {
		if _, err := v.Verify(ctx, token); err != nil {
			return 0, 0, fmt.Errorf("verify: %w", err)
		}
	}
	d := time.Since(t0)
	runtime.ReadMemStats(&after)
	return float64(d.Nanoseconds()) / float64(n), float64(after.Mallocs-before.Mallocs) / float64(n), nil
}

// loadTest runs one session per token against s for d: all-out when rate is
// 0, otherwise each caller sends at rate/len(tokens) calls a second, on a
// fixed schedule, and a call's latency counts from when it was due (so a
// late call's wait is in it). Sessions are set up and warmed before the
// clock starts. Every caller stops at the deadline or after
// maxCallsPerCaller calls.
func loadTest(ctx context.Context, tr *http.Transport, s *httpServer, tokens []string, req []byte, d time.Duration, rate float64) (loadRun, error) {
	var run loadRun
	sessions := make([]*mcpSession, len(tokens))
	for i, t := range tokens {
		sessions[i] = newSession(tr, s.url, t)
		if err := sessions[i].initialize(ctx); err != nil {
			return run, err
		}
		for range 3 {
			if _, _, err := sessions[i].call(ctx, req); err != nil {
				return run, err
			}
		}
	}
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(len(tokens)) / rate * float64(time.Second))
	}
	lat := make([][]time.Duration, len(sessions))
	errs := make([]error, len(sessions))
	cpu0, self0 := s.cpuTime(), selfCPU()
	start := time.Now()
	end := start.Add(d)
	var wg sync.WaitGroup
	for i, sess := range sessions {
		wg.Go(func() {
			out := make([]time.Duration, 0, 4096)
			first := start
			if interval > 0 {
				first = start.Add(interval * time.Duration(i) / time.Duration(len(sessions)))
			}
			for k := range maxCallsPerCaller {
				due := time.Now()
				if interval > 0 {
					due = first.Add(interval * time.Duration(k))
					if !due.Before(end) {
						break
					}
					time.Sleep(time.Until(due))
				} else if !due.Before(end) {
					break
				}
				if _, _, err := sess.call(ctx, req); err != nil {
					errs[i] = err
					break
				}
				out = append(out, time.Since(due))
			}
			lat[i] = out
		})
	}
	wg.Wait()
	run.elapsed = time.Since(start)
	if err := firstError(errs); err != nil {
		return run, fmt.Errorf("%s: %w", s.name, err)
	}
	for _, l := range lat {
		run.lat = append(run.lat, l...)
	}
	run.calls = len(run.lat)
	if run.calls > 0 {
		run.serverCPU = (s.cpuTime() - cpu0) / time.Duration(run.calls)
		run.benchCPU = (selfCPU() - self0) / time.Duration(run.calls)
	}
	return run, nil
}

// manySessions opens one session per token at once, each with its GET
// stream open as the TypeScript SDK keeps one, and reads the server's
// memory with them all open and idle; then each makes calls calls, all
// sessions at once, and it reads the memory again while every session is
// still open. Then it closes them.
func manySessions(ctx context.Context, s *httpServer, tokens []string, req []byte, calls int) (open, busy memory, err error) {
	tr := newHTTPTransport(len(tokens))
	defer tr.CloseIdleConnections()
	streams, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	sessions := make([]*mcpSession, len(tokens))
	for i, t := range tokens {
		sessions[i] = newSession(tr, s.url, t)
	}
	// each runs fn in every session at once and waits for all.
	each := func(fn func(*mcpSession) error) error {
		errs := make([]error, len(sessions))
		var wg sync.WaitGroup
		for i, sess := range sessions {
			wg.Go(func() { errs[i] = fn(sess) })
		}
		wg.Wait()
		if err := firstError(errs); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		return nil
	}
	if err := each(func(sess *mcpSession) error {
		if err := sess.initialize(ctx); err != nil {
			return err
		}
		return sess.listen(streams, tr)
	}); err != nil {
		return open, busy, err
	}
	open = memory{hwm: s.vmHWM(), rss: s.vmRSS()}
	if err := each(func(sess *mcpSession) error {
		for range calls {
			if _, _, err := sess.call(ctx, req); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return open, busy, err
	}
	busy = memory{hwm: s.vmHWM(), rss: s.vmRSS()}
	return open, busy, nil
}

// memory is a process's peak and current resident set size, in bytes.
type memory struct{ hwm, rss int64 }

// vmRSS is the process's resident set size in bytes now, or -1.
func (p *proc) vmRSS() int64 { return p.status("VmRSS:") }

// selfCPU is this process's user+system CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
