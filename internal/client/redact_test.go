package client

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"unicode"
)

// keyTraces is an independent check for what the redactor must remove: it
// names (never quotes) each trace of key in text: a run of 8 of its
// characters ignoring case and white space, or 16 characters of a base64
// form of the key or of "Bearer <key>".
func keyTraces(text, key string) []string {
	var traces []string
	norm := strings.ToLower(strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) {
			return -1
		}
		return r
	}, text))
	lower := strings.ToLower(key)
	for i := 0; i+8 <= len(lower); i++ {
		if strings.Contains(norm, lower[i:i+8]) {
			traces = append(traces, fmt.Sprintf("key run at %d", i))
			break
		}
	}
	encs := map[string]*base64.Encoding{"std": base64.StdEncoding, "raw std": base64.RawStdEncoding,
		"url": base64.URLEncoding, "raw url": base64.RawURLEncoding}
	for name, enc := range encs {
		for _, prefix := range []string{"", "Bearer "} {
			plain := prefix + key
			e := enc.EncodeToString([]byte(plain))
			for i := 0; i+16 <= len(e); i++ {
				// 16 base64 characters stand for 12 bytes; a window that
				// covers fewer than 8 bytes of the key (mostly "Bearer ")
				// shows no more of it than the redaction contract allows.
				if start, end := max(3*i/4, len(prefix)), 3*(i+16)/4; end-start < 8 {
					continue
				}
				if strings.Contains(text, e[i:i+16]) {
					traces = append(traces, fmt.Sprintf("%s base64 of %d bytes", name, len(plain)))
					break
				}
			}
		}
	}
	return traces
}

// spaced inserts sep between the characters of s, every n of them.
func spaced(s, sep string, n int) string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 && i%n == 0 {
			b.WriteString(sep)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escaped writes every character of s as a JSON \u escape.
func escaped(s string) string {
	var b strings.Builder
	for _, r := range s {
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

func TestRedactUpstreamText(t *testing.T) {
	t.Parallel()
	const other = "sm_otherorg_ABCDEFGHIJKLMNOPqrstuvwx0123"
	b64 := func(enc *base64.Encoding, s string) string { return enc.EncodeToString([]byte(s)) }
	tests := []struct {
		name, in string
		want     string // "" means: only that no trace is left
	}{
		// Each of these passed through the exact-match redaction.
		{"truncated key (head)", "invalid key " + testKey[:20] + "…", "invalid key [REDACTED]…"},
		{"truncated key (tail)", "key ending " + testKey[25:] + " is revoked", "key ending [REDACTED] is revoked"},
		{"truncated to 8 characters", "key " + testKey[11:19] + " unknown", "key [REDACTED] unknown"},
		{"upper-cased key", "BAD KEY " + strings.ToUpper(testKey), "BAD KEY [REDACTED]"},
		{"mixed case", "bad key " + strings.ToLower(testKey[:20]) + testKey[20:], "bad key [REDACTED]"},
		{"split by spaces", "key: " + spaced(testKey, " ", 4) + " rejected", "key: [REDACTED] rejected"},
		{"split by newlines", "key:\n" + spaced(testKey, "\n", 7), "key: [REDACTED]"},
		{"split by tabs and non-breaking spaces", spaced(testKey, "\t\u00a0", 5), "[REDACTED]"},
		{"split by zero-width characters and re-cased", spaced(strings.ToUpper(testKey), "\u200b", 3), "[REDACTED]"},
		{"base64 of Bearer key, std padded", "Basic " + b64(base64.StdEncoding, "Bearer "+testKey), "Basic [REDACTED]"},
		{"base64 of Bearer key, url raw", "token " + b64(base64.RawURLEncoding, "Bearer "+testKey) + " expired", "token [REDACTED] expired"},
		{"base64 of the key", "k=" + b64(base64.StdEncoding, testKey), "k=[REDACTED]"},
		{"base64 of the key glued to a word", "auth" + b64(base64.RawStdEncoding, "xx:"+testKey), "[REDACTED]"},
		{"base64 with both alphabets", "a_b-" + b64(base64.StdEncoding, "Bearer "+testKey+"??>>"), "[REDACTED]"},
		{"base64 of a JSON header holding the key", b64(base64.URLEncoding, `{"authorization":"Bearer `+testKey+`"}`), "[REDACTED]"},
		{"base64 of a truncated key", "t=" + b64(base64.StdEncoding, testKey[5:18]), "t=[REDACTED]"},
		{"another key of the secret's shape", "key " + other + " is not yours", "key [REDACTED] is not yours"},
		{"another key, upper-case prefix", "KEY SM_ORG2_ABCDEFGHIJKLMNOPQRST", "KEY [REDACTED]"},
		{"any Bearer token", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc", "Authorization: Bearer [REDACTED]"},
		{"an x-api-key header", `x-api-key: "k_live_0123456789"`, `x-api-key: "[REDACTED]"`},
		// Still redacted, as before.
		{"the key", "bad key " + testKey + " given", "bad key [REDACTED] given"},
		{"Bearer key", "Authorization: Bearer " + testKey, "Authorization: Bearer [REDACTED]"},
		// Left alone.
		{"plain message", "containerTag is invalid: bad char", "containerTag is invalid: bad char"},
		{"a field named sm_type", "sm_type must be one of scoped, plugin_auth", "sm_type must be one of scoped, plugin_auth"},
		{"a listed prefix", "key sm_org1_ab is disabled", "key sm_org1_ab is disabled"},
		{"short runs of the key", "sm_test, SUPER; SECRE: 0123456 abcdef", "sm_test, SUPER; SECRE: 0123456 abcdef"},
		{"unrelated base64", "id " + b64(base64.StdEncoding, "hello world, hello world"), "id " + b64(base64.StdEncoding, "hello world, hello world")},
		{"Bearer with a short token", "Bearer abc", "Bearer abc"},
		{"the word bearer", "the bearer of bad news", "the bearer of bad news"},
	}
	rd := newRedactor(testKey)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := cleanMessage(tt.in, rd)
			if tt.want != "" && got != tt.want {
				// Lengths only: got may hold the key.
				t.Errorf("cleanMessage gives %d bytes, want %q (%d bytes); traces %v", len(got), tt.want, len(tt.want), keyTraces(got, testKey))
			}
			if tr := keyTraces(got, testKey); len(tr) > 0 {
				t.Errorf("traces of the key left: %v", tr)
			}
			if strings.Contains(got, other[12:]) {
				t.Error("the other key is left")
			}
		})
	}
}

func TestRedactShortKey(t *testing.T) {
	t.Parallel()
	rd := newRedactor("Ab3_x")
	for in, want := range map[string]string{
		"key ab3_X bad": "key [REDACTED] bad", "key Ab3 bad": "key Ab3 bad", "k=" + base64.StdEncoding.EncodeToString([]byte("Bearer Ab3_x")): "k=[REDACTED]",
	} {
		if got := rd.redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
	var none *redactor
	if got := none.redact("key " + testKey); got != "key [REDACTED]" {
		t.Errorf("a nil redactor left a key of the secret's shape: %d bytes", len(got))
	}
}

func TestUpstreamEscapedKeyIsRedacted(t *testing.T) {
	t.Parallel()
	body := `{"error":{"code":401,"key":"` + escaped(testKey) + `","hint":"` + escaped("Bearer "+strings.ToUpper(testKey)) + `"}}`
	got := cleanMessage(upstreamMessage([]byte(body), 401), newRedactor(testKey))
	if tr := keyTraces(got, testKey); len(tr) > 0 || strings.Contains(got, `\u`) {
		t.Errorf("message of %d bytes: traces %v", len(got), tr)
	}
	if !strings.Contains(got, `"code":401`) {
		t.Errorf("the rest of the error is lost: %q", strings.ReplaceAll(got, testKey, "?"))
	}
}

// TestUpstreamEchoesRedacted sends every form of the key back in error
// bodies and checks each failure of each endpoint.
func TestUpstreamEchoesRedacted(t *testing.T) {
	t.Parallel()
	forms := map[string]string{
		"truncated":  testKey[:24],
		"upper":      strings.ToUpper(testKey),
		"spaced":     spaced(testKey, " ", 3),
		"lines":      spaced(testKey, "\r\n", 9),
		"bearer b64": base64.StdEncoding.EncodeToString([]byte("Bearer " + testKey)),
		"key b64url": base64.RawURLEncoding.EncodeToString([]byte(testKey)),
		"other key":  "sm_someorg_QWERTYUIOPASDFGHJKLZXCV",
	}
	for name, form := range forms {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"error":%q,"message":%q,"details":%q}`, "bad key "+form, form, "you sent "+form)
			})
			c, _ := newClient(t, srv.URL)
			ctx := context.Background()
			for _, call := range []func() error{
				func() error { _, err := c.Session(ctx); return err },
				func() error { _, err := c.ListKeys(ctx); return err },
				func() error { return create(ctx, c) },
				func() error { _, err := c.RevokeKey(ctx, "key_1"); return err },
			} {
				err := call()
				e := asError(t, err)
				for _, s := range []string{err.Error(), e.Message, fmt.Sprintf("%+v", e)} {
					if tr := keyTraces(s, testKey); len(tr) > 0 {
						t.Errorf("%s: traces of the key: %v", e.Op, tr)
					}
					if name == "other key" && strings.Contains(s, form[11:]) {
						t.Errorf("%s: the other key is shown", e.Op)
					}
				}
				if !strings.Contains(e.Message, "[REDACTED]") {
					t.Errorf("%s: nothing was redacted", e.Op)
				}
			}
		})
	}
}

func TestRedactErrForms(t *testing.T) {
	t.Parallel()
	rd := newRedactor(testKey)
	for _, text := range []string{
		`malformed HTTP status code "` + strings.ToUpper(testKey) + `"`,
		"malformed MIME header line: " + testKey[3:30],
		"net/http: invalid header " + base64.StdEncoding.EncodeToString([]byte("Bearer "+testKey)),
	} {
		err := redactErr(&wrapErr{text: text, err: context.Canceled}, rd)
		if tr := keyTraces(err.Error(), testKey); len(tr) > 0 {
			t.Errorf("redactErr left traces: %v", tr)
		}
	}
}

// BenchmarkCleanMessage measures the cleaning and redaction of a 200-byte
// upstream message, without and with a key in it.
func BenchmarkCleanMessage(b *testing.B) {
	rd := newRedactor(testKey)
	plain := `Invalid request: containerTag must be 1-100 characters of letters, digits, '-', '_', ':' or '.'; ` +
		`expiresInDays must be between 1 and 365 (got 400) for the key with id key_7d41c09e5fa2b (request req_7f3a9c21b, trace 4be1d2)`
	withKey := plain[:100] + " Bearer " + strings.ToUpper(testKey[:30]) + " " + base64.StdEncoding.EncodeToString([]byte("Bearer "+testKey))
	for _, bm := range []struct{ name, msg string }{{"plain-200B", plain[:200]}, {"with-key-200B", withKey[:200]}} {
		if len(bm.msg) != 200 {
			b.Fatalf("message of %d bytes", len(bm.msg))
		}
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				_ = cleanMessage(bm.msg, rd)
			}
			if used := cpuTime() - start; used > 0 {
				b.ReportMetric(float64(used.Nanoseconds())/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
