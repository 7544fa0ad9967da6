package client

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestNewBaseURL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		base string
		ok   bool
		want string // the normalised base, when ok
	}{
		{"https://api.supermemory.ai", true, "https://api.supermemory.ai"},
		{"https://api.supermemory.ai/", true, "https://api.supermemory.ai"},
		{"https://sm.example.com:8443/api/v1/", true, "https://sm.example.com:8443/api/v1"},
		{"https://sm.example.com/a.b~c_d-e", true, "https://sm.example.com/a.b~c_d-e"},
		{"http://127.0.0.1:8787", true, "http://127.0.0.1:8787"},
		{"http://127.1.2.3", true, "http://127.1.2.3"},
		{"http://localhost:8787", true, "http://localhost:8787"},
		{"http://LOCALHOST", true, "http://LOCALHOST"},
		{"http://[::1]:8787", true, "http://[::1]:8787"},
		{"HTTPS://api.supermemory.ai", true, "https://api.supermemory.ai"},
		{"", false, ""},
		{"http://api.supermemory.ai", false, ""},
		{"http://10.0.0.1", false, ""},
		{"http://localhost.evil.com", false, ""},
		{"http://127.0.0.1.nip.io", false, ""},
		{"ftp://api.supermemory.ai", false, ""},
		{"https://user:pass@api.supermemory.ai", false, ""},
		{"https://user@api.supermemory.ai", false, ""},
		{"https://api.supermemory.ai?x=1", false, ""},
		{"https://api.supermemory.ai/?", false, ""},
		{"https://api.supermemory.ai#frag", false, ""},
		{"https://api.supermemory.ai/a/../b", false, ""},
		{"https://api.supermemory.ai/./b", false, ""},
		{"https://api.supermemory.ai//b", false, ""},
		{"https://api.supermemory.ai/a%2Fb", false, ""},
		{"https://api.supermemory.ai/a b", false, ""},
		{"https://api.supermemory.ai/a\nb", false, ""},
		{"https://api.supermemory.ai/a;b", false, ""},
		{"https://api.supermemory.ai:", false, ""},
		{"https://", false, ""},
		{"api.supermemory.ai", false, ""},
		{"/v3", false, ""},
		{"https:api.supermemory.ai", false, ""},
		{"https://api.supermemory.ai:99999", false, ""},
		{"https://[::1", false, ""},
		{"https://api.supermemory.ai/" + strings.Repeat("a", 2048), false, ""},
	}
	for _, tt := range tests {
		c, err := New(Config{BaseURL: tt.base, APIKey: testKey})
		if (err == nil) != tt.ok {
			t.Errorf("New(BaseURL %q): err = %v, want ok=%v", tt.base, err, tt.ok)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "pass") && strings.Contains(tt.base, "pass") {
				t.Errorf("New(BaseURL %q): error quotes the URL: %v", tt.base, err)
			}
			noSecret(t, err)
			continue
		}
		if got := c.base.String(); got != tt.want {
			t.Errorf("New(BaseURL %q): base = %q, want %q", tt.base, got, tt.want)
		}
		c.CloseIdleConnections()
	}
}

func TestNewAPIKeyAndLimits(t *testing.T) {
	t.Parallel()
	base := "https://api.supermemory.ai"
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no key", Config{BaseURL: base}},
		{"key with a space", Config{BaseURL: base, APIKey: testKey + " x"}},
		{"key with a newline", Config{BaseURL: base, APIKey: testKey + "\r\nX-Evil: 1"}},
		{"key with a tab", Config{BaseURL: base, APIKey: "\t" + testKey}},
		{"key with a non-ASCII char", Config{BaseURL: base, APIKey: testKey + "é"}},
		{"key with DEL", Config{BaseURL: base, APIKey: testKey + "\x7f"}},
		{"key too long", Config{BaseURL: base, APIKey: Secret(strings.Repeat(testKey, 40))}},
		{"user agent with a newline", Config{BaseURL: base, APIKey: testKey, UserAgent: "a\nb"}},
		{"negative timeout", Config{BaseURL: base, APIKey: testKey, Timeout: -1}},
		{"too many attempts", Config{BaseURL: base, APIKey: testKey, MaxAttempts: 11}},
		{"negative attempts", Config{BaseURL: base, APIKey: testKey, MaxAttempts: -1}},
		{"negative backoff", Config{BaseURL: base, APIKey: testKey, MinBackoff: -1}},
		{"negative retry-after cap", Config{BaseURL: base, APIKey: testKey, MaxRetryAfter: -1}},
		{"min over max backoff", Config{BaseURL: base, APIKey: testKey, MinBackoff: time.Second, MaxBackoff: time.Millisecond}},
		{"negative body cap", Config{BaseURL: base, APIKey: testKey, MaxBodyBytes: -1}},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if err == nil || !errors.Is(err, errConfig) {
			t.Errorf("%s: err = %v, want a config error", tt.name, err)
			continue
		}
		noSecret(t, err, testKey[:20])
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	c, err := New(Config{BaseURL: "https://api.supermemory.ai", APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	if c.userAgent != "mcp-keys/dev" || c.timeout != 15*time.Second || c.maxAttempts != 3 ||
		c.minBackoff != 200*time.Millisecond || c.maxBackoff != 2*time.Second ||
		c.maxRetryAfter != 10*time.Second || c.maxBody != 8<<20 {
		t.Errorf("defaults not applied: ua %q timeout %v attempts %d backoff %v..%v retry-after cap %v body cap %d",
			c.userAgent, c.timeout, c.maxAttempts, c.minBackoff, c.maxBackoff, c.maxRetryAfter, c.maxBody)
	}
	if c.hc.CheckRedirect == nil || !c.knownTrace {
		t.Error("default HTTP client does not refuse redirects or is not a *http.Transport")
	}
	// A MinBackoff above the default MaxBackoff raises the default.
	c2, err := New(Config{BaseURL: "https://api.supermemory.ai", APIKey: testKey, MinBackoff: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if c2.maxBackoff != 5*time.Second {
		t.Errorf("maxBackoff = %v, want 5s", c2.maxBackoff)
	}
	// A caller's transport that is not an *http.Transport is not trusted to trace.
	c3, err := New(Config{BaseURL: "https://api.supermemory.ai", APIKey: testKey,
		HTTPClient: &http.Client{Transport: roundTripFunc(nil)}})
	if err != nil {
		t.Fatal(err)
	}
	if c3.knownTrace {
		t.Error("knownTrace set for a custom RoundTripper")
	}
	c4, err := New(Config{BaseURL: "https://api.supermemory.ai", APIKey: testKey, HTTPClient: &http.Client{}})
	if err != nil {
		t.Fatal(err)
	}
	if !c4.knownTrace {
		t.Error("knownTrace not set for a client with the default transport")
	}
}
