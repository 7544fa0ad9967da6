package bridge

import (
	"errors"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestLineReader(t *testing.T) {
	type line struct {
		text    string
		tooLong bool
	}
	tests := []struct {
		name  string
		input string
		max   int
		want  []line
	}{
		{"lines", "a\nbb\n", 4, []line{{"a", false}, {"bb", false}}},
		{"crlf", "a\r\nb\r\n", 4, []line{{"a", false}, {"b", false}}},
		{"last line without newline", "a\nbb", 4, []line{{"a", false}, {"bb", false}}},
		{"exactly max", "abcd\nx\n", 4, []line{{"abcd", false}, {"x", false}}},
		{"one over max", "abcde\nx\n", 4, []line{{"", true}, {"x", false}}},
		{"over max at EOF", "abcdef", 4, []line{{"", true}}},
		{"empty lines", "\n\n", 4, []line{{"", false}, {"", false}}},
		{"huge line past the buffer", strings.Repeat("z", 200<<10) + "\nok\n", 100 << 10, []line{{"", true}, {"ok", false}}},
		{"long line within max past the buffer", strings.Repeat("y", 100<<10) + "\n", 200 << 10, []line{{strings.Repeat("y", 100<<10), false}}},
		{"nothing", "", 4, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lr := newLineReader(strings.NewReader(tt.input), tt.max)
			var got []line
			for {
				b, tooLong, err := lr.next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, line{string(b), tooLong})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d lines, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d = %.20q/%v, want %.20q/%v", i, got[i].text, got[i].tooLong, tt.want[i].text, tt.want[i].tooLong)
				}
			}
		})
	}
}

func TestSSEReader(t *testing.T) {
	tests := []struct {
		name  string
		input string
		max   int
		want  []string
		err   error
	}{
		{"one event", "event: message\ndata: {\"a\":1}\n\n", 100, []string{`{"a":1}`}, nil},
		{"no event type", "data: x\n\n", 100, []string{"x"}, nil},
		{"multi-line data", "data: {\"a\":\ndata: 1}\n\n", 100, []string{"{\"a\":\n1}"}, nil},
		{"crlf", "data: x\r\n\r\n", 100, []string{"x"}, nil},
		{"no space after colon", "data:x\n\n", 100, []string{"x"}, nil},
		{"ids, retry and comments are ignored", ": hi\nid: 7\nretry: 10\ndata: x\n\n", 100, []string{"x"}, nil},
		{"other event types are ignored", "event: ping\ndata: x\n\ndata: y\n\n", 100, []string{"y"}, nil},
		{"an event cut off by the end is dropped", "data: x\n\ndata: y\n", 100, []string{"x"}, nil},
		{"blank lines without data dispatch nothing", "\n\n\ndata: x\n\n", 100, []string{"x"}, nil},
		{"too large", "data: " + strings.Repeat("a", 200) + "\n\n", 100, nil, errEventTooLarge},
		{"too large across lines", "data: " + strings.Repeat("a", 60) + "\ndata: " + strings.Repeat("a", 60) + "\n\n", 100, nil, errEventTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sr := newSSEReader(strings.NewReader(tt.input), tt.max)
			var got []string
			var err error
			for {
				var data []byte
				data, err = sr.next()
				if err != nil {
					break
				}
				got = append(got, string(data))
			}
			wantErr := tt.err
			if wantErr == nil {
				wantErr = io.EOF
			}
			if !errors.Is(err, wantErr) {
				t.Errorf("err = %v, want %v", err, wantErr)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") {
				t.Errorf("events = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAuthParams(t *testing.T) {
	tests := []struct {
		name   string
		values []string
		want   map[string]string
	}{
		{"insufficient scope", []string{`Bearer error="insufficient_scope", scope="keys:write", resource_metadata="https://x/.well-known/oauth-protected-resource/mcp"`},
			map[string]string{"error": "insufficient_scope", "scope": "keys:write", "resource_metadata": "https://x/.well-known/oauth-protected-resource/mcp"}},
		{"tokens and odd spacing", []string{`Bearer   error=invalid_token ,scope = "a b"`}, map[string]string{"error": "invalid_token", "scope": "a b"}},
		{"escapes", []string{`Bearer error_description="say \"hi\""`}, map[string]string{"error_description": `say "hi"`}},
		{"names are case-insensitive, first wins", []string{`Bearer Error="a", error="b"`}, map[string]string{"error": "a"}},
		{"two headers", []string{`Basic realm="x"`, `Bearer scope="keys:read"`}, map[string]string{"realm": "x", "scope": "keys:read"}},
		{"scheme only", []string{"Bearer"}, map[string]string{}},
		{"unterminated quote", []string{`Bearer scope="keys`}, map[string]string{"scope": "keys"}},
		{"garbage", []string{`=,,"" ;;`}, map[string]string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := authParams(tt.values)
			if len(got) != len(tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		value string
		want  int
		ok    bool
	}{
		{"7", 7, true},
		{"0", 1, true},
		{"-3", 1, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 1, true},
		{"soon", 0, false},
		{"", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			h := http.Header{}
			if tt.value != "" {
				h.Set("Retry-After", tt.value)
			}
			got, ok := retryAfter(h, now)
			if ok != tt.ok || (ok && got != tt.want) {
				t.Errorf("retryAfter = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// repeatReader yields n bytes of 'x' and then a newline, without holding
// them.
type repeatReader struct{ n int }

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n < 0 {
		return 0, io.EOF
	}
	i := 0
	for ; i < len(p) && r.n > 0; i++ {
		p[i] = 'x'
		r.n--
	}
	if i < len(p) && r.n == 0 {
		p[i] = '\n'
		i++
		r.n = -1
	}
	return i, nil
}

// TestLineReaderMemoryIsBounded checks that a line far over the cap is
// dropped as it streams: reading 64 MiB allocates at most three times the
// 4 MiB cap, not the line.
func TestLineReaderMemoryIsBounded(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	lr := newLineReader(&repeatReader{n: 64 << 20}, MaxLineBytes)
	line, tooLong, err := lr.next()
	runtime.ReadMemStats(&after)
	if err != nil || !tooLong || line != nil {
		t.Fatalf("next = %d bytes, tooLong %v, err %v; want a dropped line", len(line), tooLong, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("reading a 64 MiB line allocated %.1f MiB", float64(alloc)/(1<<20))
	if alloc > 3*MaxLineBytes {
		t.Errorf("allocated %d bytes for a dropped line; want at most %d", alloc, 3*MaxLineBytes)
	}
}
