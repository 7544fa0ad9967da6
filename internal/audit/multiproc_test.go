package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const helperEnv = "MCP_KEYS_AUDIT_HELPER" // "path|quota|tries|gofile"

// TestHelperProcess is not a test: it is a child process of
// TestMultiProcessReserve, which re-executes the test binary. It reserves
// creates against a per-hour quota, as one mcp-keys server would, and prints
// how many were allowed.
func TestHelperProcess(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		t.Skip("helper process only")
	}
	parts := strings.Split(spec, "|")
	quota, _ := strconv.Atoi(parts[1])
	tries, _ := strconv.Atoi(parts[2])
	for { // start together with the other children
		if _, err := os.Stat(parts[3]); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	l, err := Open(parts[0])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx := context.Background()
	allowed := 0
	for i := range tries {
		intent, err := l.Reserve(ctx, createIntent("proj-a"), QuotaCheck(quota, 0, nil))
		var qe *QuotaError
		switch {
		case errors.As(err, &qe):
			denied := createIntent("proj-a")
			denied.Phase, denied.Decision, denied.Reason = "", DecisionDenied, qe.Error()
			denied.Rules = []Rule{{Rule: qe.Quota, Outcome: "fail", Detail: qe.Error()}}
			_, err = l.Append(ctx, denied)
		case err == nil:
			allowed++
			_, err = l.Append(ctx, createResult(intent.Seq, OutcomeCreated, fmt.Sprintf("key_%d_%d", os.Getpid(), i)))
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	fmt.Printf("allowed=%d\n", allowed)
	os.Exit(0)
}

func TestMultiProcessReserve(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	tests := []struct{ procs, quota, tries int }{
		{2, 2, 2}, // the case: two servers, quota 2 per hour, the third create is refused
		{4, 5, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d procs quota %d", tt.procs, tt.quota), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "audit", "audit.jsonl")
			goFile := filepath.Join(dir, "go")
			var cmds []*exec.Cmd
			var outs []*bytes.Buffer
			for range tt.procs {
				cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
				cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d|%s", helperEnv, path, tt.quota, tt.tries, goFile))
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				cmds, outs = append(cmds, cmd), append(outs, &out)
			}
			writeFile(t, goFile, nil)
			total := 0
			for i, cmd := range cmds {
				if err := cmd.Wait(); err != nil {
					t.Fatalf("child %d: %v\n%s", i, err, outs[i])
				}
				var n int
				if _, err := fmt.Sscanf(lastLine(outs[i].String(), "allowed="), "allowed=%d", &n); err != nil {
					t.Fatalf("child %d output: %q", i, outs[i])
				}
				total += n
			}
			if total != tt.quota {
				t.Fatalf("%d creates allowed across %d processes, want exactly %d", total, tt.procs, tt.quota)
			}
			n, err := VerifyFile(path)
			attempts := tt.procs * tt.tries
			if err != nil || n != attempts+tt.quota { // intent+result per allowed, one denial per refused
				t.Fatalf("VerifyFile = %d, %v; want %d records", n, err, attempts+tt.quota)
			}
			recs, err := Tail(path, n)
			if err != nil {
				t.Fatal(err)
			}
			pids := map[int]bool{}
			intents := 0
			for _, r := range recs {
				pids[r.PID] = true
				if r.Phase == PhaseIntent {
					intents++
				}
			}
			if intents != tt.quota || len(pids) != tt.procs {
				t.Fatalf("%d intents from %d processes", intents, len(pids))
			}
		})
	}
}

// lastLine returns the last line of s that starts with prefix.
func lastLine(s, prefix string) string {
	ls := strings.Split(s, "\n")
	for i := len(ls) - 1; i >= 0; i-- {
		if strings.HasPrefix(ls[i], prefix) {
			return ls[i]
		}
	}
	return ""
}
