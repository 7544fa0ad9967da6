package keys

// This file holds the in-package benchmarks of list_keys' shaping: filtering,
// sorting, capping and marking a listing revocable, from 10, 1,000 and 10,000
// upstream keys. They run only with -bench; plain `go test` compiles them and
// nothing else. The whole-process figures are made by `go run ./bench`.

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mcp-keys/mcp-keys/internal/audit"
	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// benchShapePolicy is the design's example policy.
const benchShapePolicy = `version: 1
tags:
  allow: ["demo-project", "proj-*", "user_*", "team:search"]
  deny:  ["proj-prod*"]
revoke:
  enabled: true
  only_prefixed: true
`

// benchNow is the clock of the shaping benchmarks.
var benchNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// benchKeys is a listing of n keys shaped like a real organisation's: mostly
// scoped keys made through mcp-keys, some Full Access, some revoked or
// expired, in no particular order (so the sort has work to do).
func benchKeys(n int) []client.Key {
	keys := make([]client.Key, n)
	for i := range keys {
		// A multiplicative hash spreads creation times so the input is not
		// already sorted.
		age := time.Duration((uint32(i)*2654435761)%(400*24)) * time.Hour
		k := client.Key{
			ID:         fmt.Sprintf("key_%08dabcdefghijklmnopq", i),
			Name:       fmt.Sprintf("agent-proj-%d-20260101", i),
			Kind:       client.KindScoped,
			Tags:       []string{fmt.Sprintf("proj-%d", i%97)},
			Prefix:     "sm_org1_ab",
			Permission: "write",
			CreatedAt:  benchNow.Add(-age),
			LastUsedAt: benchNow.Add(-time.Hour),
			Enabled:    i%13 != 0,
		}
		switch {
		case i%50 == 0:
			k.Kind, k.Tags, k.Name = client.KindFull, nil, fmt.Sprintf("console key %d", i)
		case i%17 == 0:
			k.ExpiresAt = benchNow.Add(-time.Hour) // expired
		case i%5 == 0:
			k.ExpiresAt = benchNow.Add(30 * 24 * time.Hour)
		case i%29 == 0:
			k.Tags = []string{"proj-prod-eu"} // denied: not revocable
		}
		keys[i] = k
	}
	return keys
}

// benchMinted stands in for the audit log: every key id was minted through
// mcp-keys, so the revoke rules are evaluated in full for each shown key.
func benchMinted(ids []string) (map[string]audit.Mint, bool) {
	m := make(map[string]audit.Mint, len(ids))
	for _, id := range ids {
		m[id] = audit.Mint{Caller: "local"}
	}
	return m, true
}

// BenchmarkShapeKeys measures shapeKeys (filter, sort, cap at the limit,
// evaluate the shown keys for revocability) and, under "render", also the
// readable text and the JSON of the structured result: everything list_keys
// does of its own between the decoded listing and mcp-go.
func BenchmarkShapeKeys(b *testing.B) {
	p, err := policy.Parse("bench.yaml", []byte(benchShapePolicy))
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{10, 1000, 10000} {
		keys := benchKeys(n)
		for _, limit := range []int{DefaultLimit, MaxLimit} {
			f := KeyQuery{Limit: limit}
			if limit == MaxLimit && n == 10 {
				continue // same as the default limit
			}
			if out := shapeKeys(p, Local(), keys, f, benchNow, benchMinted); out.Total == 0 || len(out.Keys) != min(limit, out.Total) {
				b.Fatalf("shapeKeys(%d keys): total %d, shown %d", n, out.Total, len(out.Keys))
			}
			b.Run(fmt.Sprintf("keys=%d/limit=%d/shape", n, limit), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = shapeKeys(p, Local(), keys, f, benchNow, benchMinted)
				}
			})
			b.Run(fmt.Sprintf("keys=%d/limit=%d/render", n, limit), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					out := shapeKeys(p, Local(), keys, f, benchNow, benchMinted)
					_ = out.Text("")
					if _, err := json.Marshal(out); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
