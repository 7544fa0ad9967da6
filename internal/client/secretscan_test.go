package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestNoSecretInAnyError runs every failure mode against a server that
// echoes the Authorization header and the key wherever it can, and checks
// that no rendering of any error holds the operator key or a minted secret.
func TestNoSecretInAnyError(t *testing.T) {
	t.Parallel()
	const minted = "sm_testorg_MINTEDKEYVALUE987654321"
	echo := func(status int, field string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(status)
			_, _ = fmt.Fprintf(w, `{%q:%q,"details":%q}`, field, "rejected "+r.Header.Get("Authorization"), "key="+testKey)
		}
	}
	badStatusLine := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		_, _ = buf.WriteString("HTTP/1.1 " + testKey + "\r\n\r\n")
		_ = buf.Flush()
		_ = conn.Close()
	}
	badHeader := func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(err)
		}
		_, _ = buf.WriteString("HTTP/1.1 200 OK\r\n" + testKey + "\r\n\r\n")
		_ = buf.Flush()
		_ = conn.Close()
	}
	handlers := map[string]http.HandlerFunc{
		"401 echo error":   echo(401, "error"),
		"403 echo message": echo(403, "message"),
		"400 echo":         echo(400, "error"),
		"429 echo":         echo(429, "error"),
		"500 echo":         echo(500, "error"),
		"502 echo":         echo(502, "error"),
		"404 echo":         echo(404, "error"),
		"plain string echo": func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(400)
			fmt.Fprintf(w, "%q", r.Header.Get("Authorization"))
		},
		"malformed status line": badStatusLine,
		"malformed header":      badHeader,
		"drop":                  drop,
		"hang":                  hang,
		"redirect": func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://evil.example/"+testKey, 302)
		},
		"truncated create answer":  reply(200, `{"key":"`+minted+`","id":"k1","expiresAt":`),
		"create answer wrong type": reply(200, `{"key":"`+minted+`","allowedEndpoints":{"a":`),
		"create answer as array":   reply(200, `["`+minted+`"]`),
		"oversized":                reply(200, `{"key":"`+minted+`","pad":"`+strings.Repeat("p", 600)+`"}`),
		"keys echo malformed": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"keys":[%q`, r.Header.Get("Authorization"))
		},
	}
	for name, h := range handlers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv, _ := newServer(t, h)
			c, _ := newClient(t, srv.URL, func(cfg *Config) {
				cfg.Timeout = 100 * time.Millisecond
				cfg.MaxBodyBytes = 512
			})
			ctx := context.Background()
			calls := []func() error{
				func() error { _, err := c.Session(ctx); return err },
				func() error { _, err := c.ListKeys(ctx); return err },
				func() error { _, err := c.ListTags(ctx); return err },
				func() error { return create(ctx, c) },
				func() error { _, err := c.RevokeKey(ctx, "key_1"); return err },
			}
			failures := 0
			for _, call := range calls {
				err := call()
				if err != nil {
					failures++
				}
				noSecret(t, err, minted, "Bearer "+testKey)
			}
			if failures == 0 {
				t.Error("no call failed: the failure mode was not exercised")
			}
		})
	}
	t.Run("printing the client", func(t *testing.T) {
		t.Parallel()
		c, _ := newClient(t, "https://api.supermemory.ai")
		for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%+v", *c)} {
			if strings.Contains(s, testKey) {
				t.Errorf("printing the client (len %d) shows the key", len(s))
			}
		}
	})
}
