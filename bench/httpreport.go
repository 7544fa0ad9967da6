package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Budgets of the remote-mode section (the issue's).
const (
	budgetP50Ratio   = 1.3                   // p50 ≤ 1.3× the floor's echo at 1 caller
	budgetThroughput = 1500.0                // check_policy/s all-out at 50 callers
	budgetPacedP99   = 25 * time.Millisecond // p99 with 50 callers offering 1,500 calls/s
	budgetRSS        = 60 << 20              // VmHWM with 200 sessions
)

// print writes the HTTP section as markdown.
func (r httpReport) print(w io.Writer, o options, m machineInfo) {
	fmt.Fprintf(w, "\n## Remote mode (HTTP)\n\n")
	fmt.Fprintf(w, "Machine: %d CPUs, %s, %s, %s; load average %s before, %s after. Flags: -httpcalls %d -verifyn %d -levels %v -duration %s -pacecallers %d -rate %.0f -paceduration %s -sessions %d (warm-up %d).\n\n",
		m.cpus, m.model, m.os, m.goVer, r.loadBefore, r.loadAfter, o.httpCalls, o.verifyN, o.levels, o.duration, o.paceCallers, o.rate, o.paceDuration, o.sessions, o.warmup)

	floor := r.seq[seqFloor]
	fp50, fp99 := pct(floor.d, 50), pct(floor.d, 99)
	fmt.Fprintf(w, "### One caller, sequential calls over HTTP (interleaved; time from request sent to answer read)\n\n")
	fmt.Fprintf(w, "| series | n | p50 | p99 | server CPU per call | answer | p50 / floor echo | p99 / floor echo | budget |\n|---|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, name := range []string{seqCheckJWT, seqCheckToken, seqListJWT, seqFloor, seqDirect} {
		s := r.seq[name]
		p50, p99 := pct(s.d, 50), pct(s.d, 99)
		cpu := "—"
		if c, ok := r.cpu[name]; ok {
			cpu = dur(c)
		}
		budget := ""
		switch name {
		case seqCheckJWT, seqListJWT:
			budget = fmt.Sprintf("p50 ≤ %.1f× floor echo — %s", budgetP50Ratio, verdict(float64(p50) <= budgetP50Ratio*float64(fp50)))
		}
		label := name
		if name == seqListJWT {
			label = fmt.Sprintf("%s, %d keys upstream", name, r.upstreamKeys)
		}
		fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %d B | %s | %s | %s |\n", label, len(s.d), dur(p50), dur(p99), cpu, s.bytes,
			ratio(us(p50), us(fp50)), ratio(us(p99), us(fp99)), budget)
	}
	jwt, static := r.seq[seqCheckJWT], r.seq[seqCheckToken]
	fmt.Fprintf(w, "\nToken validation per request, JWKS cached: %s and %.0f allocations per RS256 JWT in process (remote's verifier, %d runs); "+
		"in the whole server, check_policy with a JWT against a static token: %s more server CPU per call, %s more at p50. "+
		"JWKS fetches: %d, by %d server processes and the in-process verifier (one each when the keys are cached).\n\n",
		dur(time.Duration(r.verify)), r.verifyAllocs, r.verifyN, dur(r.cpu[seqCheckJWT]-r.cpu[seqCheckToken]),
		dur(pct(jwt.d, 50)-pct(static.d, 50)), r.jwksFetches, r.jwksServers)

	fmt.Fprintf(w, "### Throughput, all out (check_policy with a JWT; floor: echo; each caller its own session and token)\n\n")
	fmt.Fprintf(w, "| callers | mcp-keys calls/s | p50 | p99 | server CPU per call | load generator CPU per call | floor calls/s | p50 | p99 | server CPU per call | throughput / floor | budget |\n")
	fmt.Fprintf(w, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, lv := range r.levels {
		budget := ""
		if lv.callers == 50 {
			budget = fmt.Sprintf("≥ %.0f/s — %s", budgetThroughput, verdict(lv.ours.perSecond() >= budgetThroughput))
		}
		fmt.Fprintf(w, "| %d | %.0f | %s | %s | %s | %s | %.0f | %s | %s | %s | %s | %s |\n", lv.callers,
			lv.ours.perSecond(), dur(pct(lv.ours.lat, 50)), dur(pct(lv.ours.lat, 99)), dur(lv.ours.serverCPU), dur(lv.ours.benchCPU),
			lv.floor.perSecond(), dur(pct(lv.floor.lat, 50)), dur(pct(lv.floor.lat, 99)), dur(lv.floor.serverCPU),
			ratio(lv.ours.perSecond(), lv.floor.perSecond()), budget)
	}

	fmt.Fprintf(w, "\n### At an offered rate (latency from when each call was due)\n\n")
	fmt.Fprintf(w, "| callers | offered | mcp-keys achieved | p50 | p99 | max | floor achieved | p50 | p99 | budget |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, p := range r.paced {
		fmt.Fprintf(w, "| %d | %.0f/s | %.0f/s | %s | %s | %s | %.0f/s | %s | %s | p99 ≤ %s — %s |\n", p.callers, p.rate,
			p.ours.perSecond(), dur(pct(p.ours.lat, 50)), dur(pct(p.ours.lat, 99)), dur(pct(p.ours.lat, 100)),
			p.floor.perSecond(), dur(pct(p.floor.lat, 50)), dur(pct(p.floor.lat, 99)),
			dur(budgetPacedP99), verdict(pct(p.ours.lat, 99) <= budgetPacedP99))
	}

	fmt.Fprintf(w, "\n### Memory with %d concurrent sessions (fresh processes; every session initialized with its GET stream open, then %d calls in each, all sessions at once)\n\n", r.sessionsOpened, r.rssCallsPerSess)
	if len(r.rssEnv) > 0 {
		fmt.Fprintf(w, "Both servers of this run had %s in their environment (-rssenv).\n\n", strings.Join(r.rssEnv, " "))
	}
	fmt.Fprintf(w, "| server | VmHWM after start-up | sessions open, idle: VmHWM | VmRSS | after the calls: VmHWM | VmRSS | budget |\n|---|---:|---:|---:|---:|---:|---|\n")
	for _, s := range r.rss {
		budget := ""
		if s.name != "floorhttp" {
			budget = fmt.Sprintf("≤ %d MiB — %s", budgetRSS>>20, verdict(s.busy.hwm <= budgetRSS))
		}
		fmt.Fprintf(w, "| %s | %s MiB | %s MiB | %s MiB | %s MiB | %s MiB | %s |\n", s.name, mib(s.idle), mib(s.open.hwm), mib(s.open.rss), mib(s.busy.hwm), mib(s.busy.rss), budget)
	}
	fmt.Fprintf(w, "\nPeak RSS (VmHWM) of the servers of the load runs, after them: mcp-keys %s MiB, floor %s MiB.\n",
		mib(r.oursPeakAfter), mib(r.floorPeakAfter))
}

// mib formats a byte count in MiB.
func mib(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
