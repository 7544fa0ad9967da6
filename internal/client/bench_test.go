package client

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// keysBody is a realistic GET /v3/auth/keys answer with n keys.
func keysBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"keys":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"id":"key_%08dabcdefghijklmnopq","name":"agent-proj-%d-20250101","start":"sm_org1_ab","key":"sm_org1_ab",`+
			`"createdAt":"2025-01-02T03:04:05.123Z","expiresAt":null,"lastRequest":"2025-02-03T04:05:06.000Z","enabled":true,`+
			`"isScoped":true,"containerTag":"proj-%d","containerTags":["proj-%d"],"permission":"write",`+
			`"metadata":"{\"organizationId\":\"org1\",\"sm_type\":\"scoped\"}"}`, i, i, i, i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
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
