package pgstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// benchSizes are the chain lengths the benchmarks load.
var benchSizes = []int{10, 100_000, 1_000_000}

// recentCreates is how many create intents the loaded chain holds in its
// last 24 hours: what a daily quota allows, whatever the chain's length.
const recentCreates = 50

// BenchmarkReserve: one Reserve (lock the head, verify from the
// checkpoint, count, append, index) on a chain of 10, 100,000 and
// 1,000,000 records.
func BenchmarkReserve(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := loadedStore(b, n)
			ctx := context.Background()
			pass := func(audit.QuotaCounts) error { return nil }
			for b.Loop() {
				if _, err := s.Reserve(ctx, intent("token:a", "proj-a"), pass); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCounts: the quota counts at now on the same chains.
func BenchmarkCounts(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
			s := loadedStore(b, n)
			ctx := context.Background()
			now := time.Now()
			for b.Loop() {
				c, err := s.Counts(ctx, "token:a", now)
				if err != nil {
					b.Fatal(err)
				}
				if c.Global.LastDay == 0 {
					b.Fatalf("counts %+v", c)
				}
			}
		})
	}
}

// chainSource generates a valid chain of n records spread over the last 30
// days, streamed to COPY: every third record an allowed create intent,
// then its result (a minted key), then a check. loadedStore spaces the
// last 3*recentCreates records over the last 24 hours and the others over
// the 29 days before. It keeps the rows the index tables need.
type chainSource struct {
	key     []byte
	n       int
	start   time.Time
	step    time.Duration
	prev    string
	seq     int64
	row     []any
	err     error
	intents [][]any
	minted  [][]any
}

func (c *chainSource) Next() bool {
	if c.err != nil || c.seq >= int64(c.n) {
		return false
	}
	i := c.seq
	at := c.start.Add(time.Duration(i) * c.step)
	var r audit.Record
	switch i % 3 {
	case 0:
		r = intent(fmt.Sprint("token:", i%7), "proj-a")
	case 1:
		r = result(i, fmt.Sprint("token:", (i-1)%7), audit.OutcomeCreated, fmt.Sprint("key_", i), "proj-a")
	default:
		r = checkRec("token:a")
	}
	line, rec, err := audit.EncodeAfter(c.prev, c.seq, r, at, 4242, c.key)
	if err != nil {
		c.err = err
		return false
	}
	switch {
	case rec.Event == audit.EventCreate && rec.Decision == audit.DecisionAllowed:
		c.intents = append(c.intents, []any{rec.Seq, rec.Caller, rec.Time, tagsOf(rec), rec.Permission})
	case rec.Event == audit.EventCreateResult:
		c.minted = append(c.minted, []any{rec.KeyID, rec.Caller, rec.Tags, rec.Permission, rec.Time, rec.Seq})
	}
	c.row = []any{rec.Seq, rec.Time, string(line)}
	c.prev = audit.LineHash(line)
	c.seq = rec.Seq
	return true
}

func (c *chainSource) Values() ([]any, error) { return c.row, nil }
func (c *chainSource) Err() error             { return c.err }

// loadedStore opens a store on a fresh database holding a chain of n
// records, bulk-loaded with COPY, with its head and checkpoint at the end.
func loadedStore(b *testing.B, n int) *Store {
	b.Helper()
	ctx := context.Background()
	u := freshDB(b)
	s := openAt(b, u, Options{ChainKey: chainKey})
	t0 := time.Now()
	now := time.Now().UTC()
	src := &chainSource{key: chainKey, n: n, start: now.Add(-30 * 24 * time.Hour)}
	// The last 3*recentCreates records fall in the last 24 hours, the rest before.
	old := max(n-3*recentCreates, 1)
	src.step = (30*24*time.Hour - 25*time.Hour) / time.Duration(old)
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	// Copy in two parts: old records (spread over 29 days), then recent ones.
	loaded := int64(0)
	for part, upto := range []int{old, n} {
		src.n = upto
		if part == 1 {
			src.start = now.Add(-23 * time.Hour).Add(-time.Duration(src.seq) * time.Minute)
			src.step = time.Minute
		}
		got, err := conn.CopyFrom(ctx, pgx.Identifier{"mcp_keys_audit"}, []string{"seq", "at", "line"}, src)
		if err != nil {
			b.Fatal(err)
		}
		loaded += got
	}
	if loaded != int64(n) {
		b.Fatalf("loaded %d of %d records", loaded, n)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"mcp_keys_quota_intents"}, []string{"seq", "caller", "at", "tags", "permission"}, pgx.CopyFromRows(src.intents)); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.CopyFrom(ctx, pgx.Identifier{"mcp_keys_minted"}, []string{"key_id", "caller", "tags", "permission", "at", "seq"}, pgx.CopyFromRows(src.minted)); err != nil {
		b.Fatal(err)
	}
	for _, q := range []string{
		"UPDATE mcp_keys_audit_head SET seq = $1, hash = $2",
		"UPDATE mcp_keys_audit_checkpoint SET seq = $1, hash = $2",
	} {
		if _, err := conn.Exec(ctx, q, src.seq, src.prev); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, "ANALYZE"); err != nil {
		b.Fatal(err)
	}
	if err := s.Verify(ctx); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded %d records (%d create intents, %d in the last 24 h) in %v",
		n, len(src.intents), min(recentCreates, (n-old+2)/3), time.Since(t0).Round(time.Millisecond))
	return s
}
