package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

const storeHelperEnv = "MCP_KEYS_FILESTORE_HELPER" // "path|quota|tries|gofile|keyed"

// TestFileStoreHelperProcess is not a test: it is a child process of
// TestFileStoreMultiProcess, one mcp-keys server sharing the file store.
// It reserves creates against a quota, uses one nonce, claims leases and
// reads the confirmation key, and prints what it got.
func TestFileStoreHelperProcess(t *testing.T) {
	spec := os.Getenv(storeHelperEnv)
	if spec == "" {
		t.Skip("helper process only")
	}
	parts := strings.Split(spec, "|")
	quota, _ := strconv.Atoi(parts[1])
	tries, _ := strconv.Atoi(parts[2])
	var key []byte
	if parts[4] == "keyed" {
		key = testKey
	}
	for { // start together with the other children
		if _, err := os.Stat(parts[3]); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	s, err := OpenFile(parts[0], FileOptions{ChainKey: key})
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	allowed := 0
	for i := range tries {
		r := createIntent("proj-a")
		r.Caller = "token:child"
		intent, err := s.Reserve(ctx, r, func(q QuotaCounts) error { return q.Caller.Check(quota, 0) })
		var qe *QuotaError
		switch {
		case errors.As(err, &qe):
			err = s.AppendCheck(ctx, Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionDenied, Reason: qe.Error(), Caller: "token:child"})
		case err == nil:
			allowed++
			_, err = s.Append(ctx, createResult(intent.Seq, OutcomeCreated, fmt.Sprintf("key_%d_%d", os.Getpid(), i)))
		}
		if err != nil {
			fail(err)
		}
	}
	won, err := s.UseConfirmation(ctx, "shared", time.Now().Add(time.Hour))
	if err != nil {
		fail(err)
	}
	var claimed []string
	for {
		now := time.Now()
		ls, err := s.ClaimDueLeases(ctx, fmt.Sprint("pid", os.Getpid()), now, now.Add(time.Hour), 2)
		if err != nil {
			fail(err)
		}
		if len(ls) == 0 {
			break
		}
		for _, l := range ls {
			claimed = append(claimed, l.KeyID)
			if err := s.FinishLease(ctx, l.KeyID, OutcomeRevoked); err != nil {
				fail(err)
			}
		}
	}
	ck, err := s.ConfirmationKey(ctx)
	if err != nil {
		fail(err)
	}
	if err := s.Close(); err != nil {
		fail(err)
	}
	fmt.Printf("allowed=%d won=%v key=%x claimed=%s\n", allowed, won, sha256.Sum256(ck), strings.Join(claimed, ","))
	os.Exit(0)
}

func TestFileStoreMultiProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	const procs, quota, tries, leases = 4, 5, 3, 10
	for _, keyed := range []string{"unkeyed", "keyed"} {
		t.Run(keyed, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "audit", "audit.jsonl")
			goFile := filepath.Join(dir, "go")
			var key []byte
			if keyed == "keyed" {
				key = testKey
			}
			s, err := OpenFile(path, FileOptions{ChainKey: key})
			if err != nil {
				t.Fatal(err)
			}
			for i := range leases {
				if err := s.AddLease(context.Background(), Lease{KeyID: fmt.Sprintf("k%02d", i), EndsAt: time.Now().Add(-time.Minute)}); err != nil {
					t.Fatal(err)
				}
			}
			var cmds []*exec.Cmd
			var outs []*bytes.Buffer
			for range procs {
				cmd := exec.Command(os.Args[0], "-test.run=^TestFileStoreHelperProcess$", "-test.count=1")
				cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d|%d|%s|%s", storeHelperEnv, path, quota, tries, goFile, keyed))
				var out bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &out
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				cmds, outs = append(cmds, cmd), append(outs, &out)
			}
			writeFile(t, goFile, nil)
			total, wins := 0, 0
			keys := map[string]bool{}
			var claimed []string
			for i, cmd := range cmds {
				if err := cmd.Wait(); err != nil {
					t.Fatalf("child %d: %v\n%s", i, err, outs[i])
				}
				fields := map[string]string{}
				for _, f := range strings.Fields(lastLine(outs[i].String(), "allowed=")) {
					k, v, _ := strings.Cut(f, "=")
					fields[k] = v
				}
				n, err := strconv.Atoi(fields["allowed"])
				if err != nil || fields["key"] == "" {
					t.Fatalf("child %d output %q", i, outs[i])
				}
				won, k, ids := fields["won"] == "true", fields["key"], fields["claimed"]
				total += n
				if won {
					wins++
				}
				keys[k] = true
				if ids != "" {
					claimed = append(claimed, strings.Split(ids, ",")...)
				}
			}
			if total != quota || wins != 1 || len(keys) != 1 {
				t.Fatalf("%d creates allowed (want %d), nonce used %d times (want 1), %d confirmation keys (want 1)", total, quota, wins, len(keys))
			}
			sort.Strings(claimed)
			if len(claimed) != leases || strings.Join(claimed, ",") != strings.Join(compactStrings(claimed), ",") {
				t.Fatalf("leases claimed: %v; want each of %d once", claimed, leases)
			}
			ctx := context.Background()
			if l, err := s.Leases(ctx, []string{"k00", "k09"}); err != nil || len(l) != 0 {
				t.Fatalf("leases left open: %v, %v", l, err)
			}
			q, err := s.Counts(ctx, "token:child", time.Now())
			if err != nil || q.Caller.LastHour != quota {
				t.Fatalf("Counts = %+v, %v", q, err)
			}
			rep, err := VerifyFileKey(path, key)
			if err != nil || rep.Records < 2*quota+1 {
				t.Fatalf("VerifyFileKey = %+v, %v", rep, err)
			}
			if n, err := s.VerifyAll(ctx); err != nil || n != rep.Records {
				t.Fatalf("VerifyAll = %d, %v", n, err)
			}
			_ = s.Close()
		})
	}
}

func compactStrings(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
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
