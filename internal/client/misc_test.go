package client

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"
)

func TestTLSFailureNotRetried(t *testing.T) {
	t.Parallel()
	n := 0
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { n++ }))
	srv.Config.ErrorLog = newDiscardLogger()
	t.Cleanup(srv.Close)
	c, sl := newClient(t, srv.URL) // the default client does not trust the test CA
	_, err := c.ListKeys(context.Background())
	var cert *tls.CertificateVerificationError
	e := asError(t, err)
	if !errors.Is(err, ErrUnavailable) || !errors.As(err, &cert) || e.Attempts != 1 || len(sl.all()) != 0 {
		t.Errorf("got %v (attempts %d, %d pauses), want one unavailable attempt with a certificate error", err, e.Attempts, len(sl.all()))
	}
	// With the test CA trusted, the same server works.
	c2, _ := newClient(t, srv.URL, func(cfg *Config) { cfg.HTTPClient = srv.Client() })
	if _, err := c2.Session(context.Background()); !errors.Is(err, ErrBadResponse) { // empty 200 body
		t.Errorf("trusted TLS: got %v, want a bad response for an empty body", err)
	}
	if n != 1 {
		t.Errorf("server handled %d requests, want 1", n)
	}
}

func TestRedactErrKeepsTheChain(t *testing.T) {
	t.Parallel()
	cause := context.DeadlineExceeded
	wrapped := &wrapErr{text: "failed for " + testKey, err: cause}
	got := redactErr(wrapped, newRedactor(testKey))
	if got.Error() != "failed for [REDACTED]" || !errors.Is(got, context.DeadlineExceeded) {
		t.Errorf("redactErr = %q (is deadline: %v)", got.Error(), errors.Is(got, context.DeadlineExceeded))
	}
	if clean := errors.New("no secret here"); redactErr(clean, newRedactor(testKey)) != clean {
		t.Error("an error without a secret was replaced")
	}
	if redactErr(nil, newRedactor(testKey)) != nil {
		t.Error("redactErr(nil) != nil")
	}
	if got := safeCause(errors.New("json: something quoting " + testKey)); got.Error() != "malformed JSON" {
		t.Errorf("safeCause kept an unknown error: %q", got)
	}
}

type wrapErr struct {
	text string
	err  error
}

func (e *wrapErr) Error() string { return e.text }
func (e *wrapErr) Unwrap() error { return e.err }

func TestSleepContext(t *testing.T) {
	t.Parallel()
	if err := sleepContext(context.Background(), time.Millisecond); err != nil {
		t.Errorf("sleep: %v", err)
	}
	if err := sleepContext(context.Background(), 0); err != nil {
		t.Errorf("zero sleep: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepContext(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("zero sleep on a cancelled context: %v", err)
	}
	if err := sleepContext(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("long sleep on a cancelled context: %v", err)
	}
}

func TestDecodeEscapedNamesAndOddValues(t *testing.T) {
	t.Parallel()
	keys, err := decodeKeys([]byte(`{"k\u0065ys":[{"\u0069d":"k","permission":"read","start":"\u0073m_x","enabled":1,"isScoped":"yes"},
		{"id":"j","permission":"admin","enabled":"0","containerTags":"solo","isScoped":[]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	want := []Key{
		{ID: "k", Permission: "read", Prefix: "sm_x", Kind: KindFull, Enabled: true},
		// "0" as a string is not a boolean: enabled reads as missing, so true.
		// A string containerTags is unreadable; an array isScoped says Full.
		{ID: "j", Permission: "admin", Kind: KindFull, Tags: []string{UnreadableTag}, Enabled: true},
	}
	if len(keys) != 2 || keys[0].ID != want[0].ID || keys[0].Permission != "read" || keys[0].Prefix != "sm_x" ||
		keys[0].Kind != KindFull || !keys[0].Enabled || keys[1].Permission != "admin" || keys[1].Kind != KindFull ||
		!keys[1].Enabled || len(keys[1].Tags) != 1 || keys[1].Tags[0] != UnreadableTag {
		t.Errorf("got %+v, want %+v", keys, want)
	}
	tags, err := decodeTags([]byte(`{"containerTags":["b"],"tags":["a"]}`))
	if err != nil || len(tags) != 1 || tags[0].Tag != "a" {
		t.Errorf("tags envelope precedence: %+v, %v", tags, err)
	}
	tags, err = decodeTags([]byte(`[{"containerTag":"x","documentCount":"9007199254740993","memoryCount":-1e3}]`))
	if err != nil || tags[0].DocumentCount != 9007199254740993 || tags[0].MemoryCount != -1000 {
		t.Errorf("counts: %+v, %v", tags, err)
	}
	s, err := decodeSession([]byte(`{"organization":{"id":"o2"},"org":{"id":"o1"},"user":"u"}`))
	if err != nil || s.OrgID != "o1" || s.UserID != "" {
		t.Errorf("org precedence: %+v, %v", s, err)
	}
	s, err = decodeSession([]byte(`{"org":{"id":"o1"},"organization":{"id":"o2"}}`))
	if err != nil || s.OrgID != "o1" {
		t.Errorf("org precedence (reversed): %+v, %v", s, err)
	}
	for _, body := range []string{`{"key":"sm_x","id":"k"} x`, `{"key":"sm_x",}`, `"sm_x"`, `{"key":null}`, `{"key":{}}`} {
		if _, err := decodeCreated([]byte(body)); err == nil {
			t.Errorf("decodeCreated(%q) accepted it", body)
		}
	}
	ck, err := decodeCreated([]byte(`{"key":"sm_x","extra":[1,{"a":null}],"allowedEndpoints":"/v3/search","expiresAt":1735787045}`))
	if err != nil || ck.Key.Reveal() != "sm_x" || len(ck.AllowedEndpoints) != 1 || ck.ExpiresAt.Year() != 2025 {
		t.Errorf("decodeCreated lenient fields: %+v, %v", ck, err)
	}
	var syn *syntaxError
	_, err = decodeKeys([]byte(`[` + string(make([]byte, 0)) + nest(maxDepth+1) + `]`))
	if !errors.As(err, &syn) || !syn.depth || syn.Error() == "" {
		t.Errorf("deep nesting: %v", err)
	}
}

func nest(n int) string {
	b := make([]byte, 0, 2*n)
	for range n {
		b = append(b, '[')
	}
	for range n {
		b = append(b, ']')
	}
	return string(b)
}

func newDiscardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// TestDecodeCreatedTagsAndPermission: the answer's tags are the union of
// containerTag and containerTags, and an ambiguous permission reads as the
// wider one, so that the caller's check of the answer fails closed.
func TestDecodeCreatedTagsAndPermission(t *testing.T) {
	tests := []struct {
		body     string
		wantTags []string
		wantPerm string
	}{
		{`{"key":"sm_x","containerTag":"a"}`, []string{"a"}, ""},
		{`{"key":"sm_x","containerTags":["a","b"],"permission":"read"}`, []string{"a", "b"}, "read"},
		{`{"key":"sm_x","containerTag":"a","containerTags":["a","b"]}`, []string{"a", "b"}, ""},
		{`{"key":"sm_x","containerTags":["b"],"containerTag":"c"}`, []string{"b", "c"}, ""},
		{`{"key":"sm_x","permission":"read","permission":"write"}`, nil, "write"},
		{`{"key":"sm_x","permission":"write","permission":"read"}`, nil, "write"},
		{`{"key":"sm_x","permission":"read","permission":"read"}`, nil, "read"},
		{`{"key":"sm_x","permission":"admin"}`, nil, "admin"},
		{`{"key":"sm_x"}`, nil, ""},
	}
	for _, tc := range tests {
		ck, err := decodeCreated([]byte(tc.body))
		if err != nil {
			t.Fatalf("%s: %v", tc.body, err)
		}
		if !slices.Equal(ck.Tags, tc.wantTags) || ck.Permission != tc.wantPerm {
			t.Errorf("%s: tags %v permission %q, want %v %q", tc.body, ck.Tags, ck.Permission, tc.wantTags, tc.wantPerm)
		}
	}
}
