package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

// rechain rewrites the log as someone without the key would: every line
// re-encoded after edit, with Prev recomputed (and any MAC kept as it was).
func rechain(t *testing.T, data []byte, edit func(r *Record)) []byte {
	t.Helper()
	var out []byte
	prev := ""
	for _, l := range lines(data) {
		var r Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		edit(&r)
		r.Prev = prev
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		prev = hashLine(b)
		out = append(append(out, b...), '\n')
	}
	return out
}

// writeOps are the store's writes and trusted reads; each must be refused
// while the chain fails verification.
func writeOps(s *FileStore, c *fakeClock) map[string]func() error {
	ctx := context.Background()
	now := c.Now()
	return map[string]func() error{
		"Append": func() error { _, err := s.Append(ctx, createIntent("proj-a")); return err },
		"AppendCheck": func() error {
			return s.AppendCheck(ctx, Record{Event: EventCheck, Tool: "check_policy", Decision: DecisionAllowed})
		},
		"Reserve": func() error {
			_, err := s.Reserve(ctx, createIntent("proj-a"), func(QuotaCounts) error { return nil })
			return err
		},
		"Counts":          func() error { _, err := s.Counts(ctx, "local", now); return err },
		"Minted":          func() error { _, err := s.Minted(ctx, []string{"key_b"}); return err },
		"UseConfirmation": func() error { _, err := s.UseConfirmation(ctx, "n", now.Add(time.Minute)); return err },
		"AddLease":        func() error { return s.AddLease(ctx, Lease{KeyID: "k", EndsAt: now}) },
		"ClaimDueLeases": func() error {
			_, err := s.ClaimDueLeases(ctx, "o", now, now.Add(time.Minute), 5)
			return err
		},
		"FinishLease": func() error { return s.FinishLease(ctx, "k", OutcomeRevoked) },
		"RetryLease":  func() error { return s.RetryLease(ctx, "k", now, 1, "x") },
		"Verify":      func() error { return s.Verify(ctx) },
	}
}

func TestFileStoreTamper(t *testing.T) {
	const n = 8
	otherKey := bytes.Repeat([]byte("O"), 32)
	tests := []struct {
		name     string
		key      []byte // the store's key, and the key the log is written with unless writeKey is set
		writeKey []byte
		rewrite  func(t *testing.T, path string, data []byte) // tampers with the log (and sidecars)
		wantLine int
		wantMsg  string
	}{
		{"byte in a name, still parses", nil, nil, func(t *testing.T, p string, d []byte) {
			writeFile(t, p, bytes.Replace(d, []byte("proj-prod-eu"), []byte("proj-prod-EU"), 1))
		}, 4, "prev hash does not match line 3"},
		{"keyed: byte in a name", testKey, nil, func(t *testing.T, p string, d []byte) {
			writeFile(t, p, bytes.Replace(d, []byte("proj-prod-eu"), []byte("proj-prod-EU"), 1))
		}, 3, "MAC does not match"},
		{"line removed", nil, nil, func(t *testing.T, p string, d []byte) {
			ls := lines(d)
			writeFile(t, p, join(append(append([][]byte{}, ls[:4]...), ls[5:]...)))
		}, 5, "seq is 6, want 5"},
		{"tail cut", nil, nil, func(t *testing.T, p string, d []byte) { writeFile(t, p, join(lines(d)[:n-2])) },
			n, "cut off the end"},
		{"keyed: tail cut", testKey, nil, func(t *testing.T, p string, d []byte) { writeFile(t, p, join(lines(d)[:n-1])) },
			n, "cut off the end"},
		{"emptied", nil, nil, func(t *testing.T, p string, d []byte) { writeFile(t, p, nil) }, n, "cut off the end"},
		{"torn last line", nil, nil, func(t *testing.T, p string, d []byte) { writeFile(t, p, d[:len(d)-5]) },
			n, "incomplete last line"},
		{"last line replaced, re-chained", nil, nil, func(t *testing.T, p string, d []byte) {
			writeFile(t, p, rechain(t, d, func(r *Record) {
				if r.Seq == n {
					r.KeyID = "key_forged"
				}
			}))
		}, n, "not the one the checkpoint names"},
		{"keyed: whole log re-chained without the key", testKey, nil, func(t *testing.T, p string, d []byte) {
			writeFile(t, p, rechain(t, d, func(r *Record) {
				if r.Seq == 2 {
					r.KeyID = "key_forged"
				}
			}))
		}, 2, "MAC does not match"},
		{"keyed: a forged unkeyed record appended", testKey, nil, func(t *testing.T, p string, d []byte) {
			last := lines(d)[n-1]
			line, _, err := encodeNext(bytes.TrimSuffix(last, []byte("\n")), n, createIntent("proj-a"), time.Now(), 1)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, append(bytes.Clone(d), line...))
		}, n + 1, "has no MAC"},
		{"keyed: a record with a made-up MAC appended", testKey, nil, func(t *testing.T, p string, d []byte) {
			last := lines(d)[n-1]
			line, _, err := encodeRecord(hashLine(bytes.TrimSuffix(last, []byte("\n"))), n, createIntent("proj-a"), time.Now(), 1, otherKey)
			if err != nil {
				t.Fatal(err)
			}
			writeFile(t, p, append(bytes.Clone(d), line...))
		}, n + 1, "MAC does not match"},
		{"keyed log, no key given", nil, testKey, nil, 1, "no chain key was given"},
		{"unkeyed log, a key given", testKey, []byte{}, nil, 1, "has no MAC"},
		{"keyed log, another key", otherKey, testKey, nil, 1, "MAC does not match"},
		{"keyed: checkpoint edited", testKey, nil, func(t *testing.T, p string, d []byte) {
			ck := readFile(t, p+checkpointSuffix)
			writeFile(t, p+checkpointSuffix, bytes.Replace(ck, []byte(`"seq":8`), []byte(`"seq":7`), 1))
		}, n - 1, "fails its MAC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			path := t.TempDir() + "/audit.jsonl"
			wk := tt.key
			if tt.writeKey != nil {
				wk = tt.writeKey
				if len(wk) == 0 {
					wk = nil
				}
			}
			w := openStore(t, path, wk, c)
			fill(t, w, c, n)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.rewrite != nil {
				tt.rewrite(t, path, readFile(t, path))
			}
			tampered := readFile(t, path)
			s := openStore(t, path, tt.key, c)
			for name, op := range writeOps(s, c) {
				err := op()
				var ve *VerifyError
				if !errors.Is(err, ErrChainBroken) || !errors.As(err, &ve) {
					t.Fatalf("%s = %v; want ErrChainBroken with a *VerifyError", name, err)
				}
				if ve.Line != tt.wantLine || !strings.Contains(ve.Msg, tt.wantMsg) {
					t.Fatalf("%s: %v; want line %d with %q", name, err, tt.wantLine, tt.wantMsg)
				}
				if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "writes are refused") {
					t.Fatalf("%s: the error does not name the log and say writes are refused: %v", name, err)
				}
			}
			if _, err := s.VerifyAll(context.Background()); !errors.Is(err, ErrChainBroken) {
				t.Fatalf("VerifyAll = %v", err)
			}
			if !bytes.Equal(readFile(t, path), tampered) {
				t.Fatal("a refused write changed the log")
			}
			if _, err := s.Leases(context.Background(), []string{"k"}); err != nil {
				t.Fatalf("Leases (a read for display) = %v", err)
			}
			if err := s.Ping(context.Background()); err != nil {
				t.Fatalf("Ping = %v", err)
			}
			if _, err := VerifyFileKey(path, tt.key); err == nil {
				t.Fatal("VerifyFileKey passed a tampered log")
			}
		})
	}
}

// TestFileStoreLimits documents what is not detected (see VerifyLimits):
// without a key, a log re-chained with its checkpoint removed; with a key,
// a cut tail with its checkpoint removed. If this test fails, detection
// got better: update VerifyLimits and the package documentation.
func TestFileStoreLimits(t *testing.T) {
	for _, tt := range []struct {
		name    string
		key     []byte
		rewrite func(t *testing.T, d []byte) []byte
	}{
		{"unkeyed, re-chained", nil, func(t *testing.T, d []byte) []byte {
			return rechain(t, d, func(r *Record) { r.KeyID = strings.ReplaceAll(r.KeyID, "key_", "kex_") })
		}},
		{"keyed, tail cut", testKey, func(t *testing.T, d []byte) []byte { return join(lines(d)[:3]) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			c := newClock()
			path := t.TempDir() + "/audit.jsonl"
			w := openStore(t, path, tt.key, c)
			fill(t, w, c, 6)
			_ = w.Close()
			writeFile(t, path, tt.rewrite(t, readFile(t, path)))
			for _, sidecar := range []string{checkpointSuffix, indexSuffix} {
				if err := os.Remove(path + sidecar); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
			s := openStore(t, path, tt.key, c)
			if err := s.Verify(context.Background()); err != nil {
				t.Fatalf("Verify = %v: detected after all", err)
			}
		})
	}
}

// TestFileStoreTamperWhileRunning: a running store notices a change to what
// it verified, and writes again once the log is repaired.
func TestFileStoreTamperWhileRunning(t *testing.T) {
	for _, key := range [][]byte{nil, testKey} {
		s, c := newStore(t, key)
		fill(t, s, c, 5)
		good := readFile(t, s.Path())
		tests := []struct {
			name string
			data []byte
			want string
		}{
			{"last line edited in place", join(append(lines(good)[:4:4], bytes.Replace(lines(good)[4], []byte(`"proj-a"`), []byte(`"proj-b"`), 1))),
				"changed after it was verified"},
			{"tail cut", join(lines(good)[:4]), "cut off the end"},
			{"replaced by another file", nil, "cut off the end"},
		}
		for _, tt := range tests {
			if tt.data == nil {
				tmp := s.Path() + ".new"
				writeFile(t, tmp, join(lines(good)[:2]))
				if err := os.Rename(tmp, s.Path()); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFile(t, s.Path(), tt.data)
			}
			_, err := s.Append(context.Background(), createIntent("proj-a"))
			if !errors.Is(err, ErrChainBroken) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("%s: Append = %v; want %q", tt.name, err, tt.want)
			}
			writeFile(t, s.Path(), good) // the operator repairs it
			if err := s.Verify(context.Background()); err != nil {
				t.Fatalf("%s: after repair Verify = %v", tt.name, err)
			}
		}
		got := storeAppend(t, s, createIntent("proj-a"))
		if got.Seq != 6 {
			t.Fatalf("seq %d after repair", got.Seq)
		}
		if n, err := VerifyFileKey(s.Path(), key); err != nil || n.Records != 6 {
			t.Fatalf("VerifyFileKey = %+v, %v", n, err)
		}
	}
}

// TestFileStoreVerifyAllSticks: VerifyAll finds a change before the
// checkpoint that incremental verification does not look at, and writes
// stay refused until a VerifyAll passes.
func TestFileStoreVerifyAllSticks(t *testing.T) {
	s, c := newStore(t, nil)
	fill(t, s, c, 6)
	good := readFile(t, s.Path())
	writeFile(t, s.Path(), bytes.Replace(good, []byte("proj-prod-eu"), []byte("proj-prod-EU"), 1))
	ctx := context.Background()
	if err := s.Verify(ctx); err != nil {
		t.Fatalf("incremental Verify looked before the head: %v", err)
	}
	if _, err := s.VerifyAll(ctx); !errors.Is(err, ErrChainBroken) || !strings.Contains(err.Error(), "line 4") {
		t.Fatalf("VerifyAll = %v", err)
	}
	if _, err := s.Append(ctx, createIntent("proj-a")); !errors.Is(err, ErrChainBroken) {
		t.Fatalf("Append after a failed VerifyAll = %v", err)
	}
	writeFile(t, s.Path(), good)
	if _, err := s.Append(ctx, createIntent("proj-a")); !errors.Is(err, ErrChainBroken) {
		t.Fatalf("Append before VerifyAll passed again = %v", err)
	}
	if n, err := s.VerifyAll(ctx); n != 6 || err != nil {
		t.Fatalf("VerifyAll after repair = %d, %v", n, err)
	}
	storeAppend(t, s, createIntent("proj-a"))
}
