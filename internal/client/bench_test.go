package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// keysBody is a realistic GET /v3/auth/keys answer with n keys of one
// organisation, all with the same metadata.
func keysBody(n int) []byte { return keysBodyMeta(n, false) }

// keysBodyMeta is keysBody; with distinct, each key's metadata differs.
func keysBodyMeta(n int, distinct bool) []byte {
	var b strings.Builder
	b.WriteString(`{"keys":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"key_%08dabcdefghijklmnopq","name":"agent-proj-%d-20250101","start":"sm_org1_ab","key":"sm_org1_ab",`+
			`"createdAt":"2025-01-02T03:04:05.123Z","expiresAt":null,"lastRequest":"2025-02-03T04:05:06.000Z","enabled":true,`+
			`"isScoped":true,"containerTag":"proj-%d","containerTags":["proj-%d"],"permission":"write",`+
			`"metadata":"{\"organizationId\":\"org1\",\"sm_type\":\"scoped%s\"}"}`, i, i, i, i, suffix(distinct, i))
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func suffix(distinct bool, i int) string {
	if !distinct {
		return ""
	}
	return fmt.Sprint(i)
}

// BenchmarkDecoders compares the listing decoder (jsontext) with the
// hand-written reader it replaced (oldreader_test.go) and with
// encoding/json decoding the same body into a plain struct (no leniency, no
// conversion: a lower bound for a reflection-based decoder). Besides wall
// time it reports the process's CPU time per op (cpu-ns/op, GC included),
// which a busy machine disturbs less.
func BenchmarkDecoders(b *testing.B) {
	type jsonKey struct {
		ID            string   `json:"id"`
		Name          string   `json:"name"`
		Start         string   `json:"start"`
		Key           string   `json:"key"`
		CreatedAt     string   `json:"createdAt"`
		ExpiresAt     *string  `json:"expiresAt"`
		LastRequest   string   `json:"lastRequest"`
		Enabled       bool     `json:"enabled"`
		IsScoped      bool     `json:"isScoped"`
		ContainerTag  string   `json:"containerTag"`
		ContainerTags []string `json:"containerTags"`
		Permission    string   `json:"permission"`
		Metadata      string   `json:"metadata"`
	}
	decoders := []struct {
		name   string
		decode func([]byte) (int, error)
	}{
		{"jsontext", func(d []byte) (int, error) { k, err := decodeKeys(d); return len(k), err }},
		{"old", func(d []byte) (int, error) { k, err := oldDecodeKeys(d); return len(k), err }},
		{"encoding-json", func(d []byte) (int, error) {
			var v struct {
				Keys []jsonKey `json:"keys"`
			}
			err := json.Unmarshal(d, &v)
			return len(v.Keys), err
		}},
	}
	for _, size := range []struct {
		name     string
		n        int
		distinct bool
	}{{"1000", 1000, false}, {"10000", 10000, false}, {"1000-distinct-metadata", 1000, true}} {
		n, body := size.n, keysBodyMeta(size.n, size.distinct)
		for _, d := range decoders {
			b.Run(d.name+"/"+size.name, func(b *testing.B) {
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				start := cpuTime()
				for b.Loop() {
					if got, err := d.decode(body); err != nil || got != n {
						b.Fatalf("%d keys, %v", got, err)
					}
				}
				if used := cpuTime() - start; used > 0 {
					b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
				}
			})
		}
	}
}

func BenchmarkDecodeKeys(b *testing.B) {
	body := keysBody(1000)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		keys, err := decodeKeys(body)
		if err != nil || len(keys) != 1000 {
			b.Fatalf("decodeKeys: %v, %d keys", err, len(keys))
		}
	}
}

// BenchmarkListKeys10000 measures list keys end to end over loopback HTTP
// with 10,000 keys (the budget is 50 ms).
func BenchmarkListKeys10000(b *testing.B) {
	body := keysBody(10000)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(body) }))
	defer srv.Close()
	c, err := New(Config{BaseURL: srv.URL, APIKey: testKey})
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseIdleConnections()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		keys, err := c.ListKeys(context.Background())
		if err != nil || len(keys) != 10000 {
			b.Fatalf("ListKeys: %v, %d keys", err, len(keys))
		}
	}
}
