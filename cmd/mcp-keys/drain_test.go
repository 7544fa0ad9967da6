package main

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	tests := []struct {
		line string
		want int
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"ping"}`, 1},
		{`{"jsonrpc":"2.0","method":"notifications/initialized"}`, 0},
		{`{"jsonrpc":"2.0","id":1,"result":{}}`, -1},
		{`{"jsonrpc":"2.0","id":null,"error":{"code":-32700}}`, 0},
		{`{"jsonrpc":"2.0","id":"a","error":{"code":-32601}}`, -1},
		{`not json "id"`, 0},
		{``, 0},
	}
	for _, tc := range tests {
		if got := classify([]byte(tc.line)); got != tc.want {
			t.Errorf("classify(%s) = %d, want %d", tc.line, got, tc.want)
		}
	}
}

// TestEOFDrainHoldsEOFUntilAnswered: the reader returns EOF only once every
// request read has been answered, or when the deadline passes.
func TestEOFDrainHoldsEOFUntilAnswered(t *testing.T) {
	d := newEOFDrain(context.Background(), 5*time.Second)
	in := d.reader(bytes.NewReader([]byte("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n{\"jsonrpc\":\"2.0\",\"id\":2,\"me")))
	var out bytes.Buffer
	w := d.writer(&out)
	buf := make([]byte, 64)
	if _, err := in.Read(buf); err != nil {
		t.Fatal(err)
	}
	// The split second request completes on the next read.
	rest := d.reader(bytes.NewReader([]byte("thod\":\"ping\"}\n")))
	if _, err := rest.Read(buf); err != nil {
		t.Fatal(err)
	}
	eof := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(in)
		eof <- err
	}()
	select {
	case <-eof:
		t.Fatal("EOF returned while two requests were unanswered")
	case <-time.After(50 * time.Millisecond):
	}
	_, _ = w.Write([]byte("{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n{\"jsonrpc\":\"2.0\",\"id\":2,"))
	_, _ = w.Write([]byte("\"result\":{}}\n"))
	select {
	case err := <-eof:
		if err != nil {
			t.Fatalf("ReadAll: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("EOF not released after both answers")
	}
	if out.Len() == 0 {
		t.Error("output was not passed through")
	}

	// A request that is never answered gives up at the deadline (and the
	// read returns at all: otherwise the test would hang).
	d = newEOFDrain(context.Background(), 30*time.Millisecond)
	if _, err := io.ReadAll(d.reader(bytes.NewReader([]byte("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}\n")))); err != nil {
		t.Fatal(err)
	}
	// So does a cancelled context, long before a far deadline.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	d = newEOFDrain(ctx, time.Hour)
	if _, err := io.ReadAll(d.reader(bytes.NewReader([]byte("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}\n")))); err != nil {
		t.Fatal(err)
	}
}
