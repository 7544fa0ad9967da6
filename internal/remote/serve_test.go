package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveOn starts Serve on a loopback listener; it returns the base URL and
// Serve's result channel.
func serveOn(t *testing.T, ctx context.Context, cfg ServerConfig, h http.Handler) (string, <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- Serve(ctx, ln, cfg, h) }()
	return ln.Addr().String(), errc
}

func get(t *testing.T, client *http.Client, url string) (int, string, http.Header) {
	t.Helper()
	res, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func TestGracefulShutdown(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fast") })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, errc := serveOn(t, ctx, ServerConfig{DrainDelay: 500 * time.Millisecond, ShutdownTimeout: 5 * time.Second}, mux)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	if code, body, _ := get(t, client, "http://"+addr+"/fast"); code != 200 || body != "fast" {
		t.Fatalf("before shutdown: %d %q", code, body)
	}
	slow := make(chan string, 1)
	go func() {
		res, err := client.Get("http://" + addr + "/slow")
		if err != nil {
			slow <- "error: " + err.Error()
			return
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		slow <- string(b)
	}()
	<-started
	cancel()
	time.Sleep(100 * time.Millisecond)
	code, _, hdr := get(t, client, "http://"+addr+"/fast")
	if code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("a new request while draining: %d, want 503 with Retry-After", code)
	}
	close(release)
	if got := <-slow; got != "done" {
		t.Fatalf("the in-flight request: %q", got)
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := client.Get("http://" + addr + "/fast"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}

func TestShutdownIsBounded(t *testing.T) {
	started := make(chan struct{})
	block := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done()
	})
	ctx, cancel := context.WithCancel(context.Background())
	addr, errc := serveOn(t, ctx, ServerConfig{ShutdownTimeout: 200 * time.Millisecond}, block)
	go func() {
		if res, err := http.Get("http://" + addr + "/"); err == nil {
			res.Body.Close()
		}
	}()
	<-started
	begin := time.Now()
	cancel()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "did not finish") {
			t.Fatalf("Serve = %v, want a shutdown timeout", err)
		}
		if d := time.Since(begin); d > 3*time.Second {
			t.Fatalf("shutdown took %s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
}

func TestServeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "tls ok") })
	addr, errc := serveOn(t, ctx, ServerConfig{TLSCert: certFile, TLSKey: keyFile}, h)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if code, body, _ := get(t, client, "https://"+addr+"/"); code != 200 || body != "tls ok" {
		t.Fatalf("HTTPS: %d %q", code, body)
	}
	// TLS 1.1 is refused.
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get("https://" + addr + "/"); err == nil {
		t.Fatal("TLS 1.1 accepted")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if err := Serve(context.Background(), nil, ServerConfig{TLSCert: certFile}, h); err == nil {
		t.Fatal("a certificate without a key was accepted")
	}
}

func TestServerHeaderLimit(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e := newEnv(t)
	addr, _ := serveOn(t, ctx, ServerConfig{}, e.h)
	r, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/healthz", nil)
	r.Header.Set("X-Big", strings.Repeat("a", 2*maxHeaderBytes))
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("128 KiB of headers: %d, want 431", res.StatusCode)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key; it returns
// their paths and a pool trusting the certificate.
func selfSigned(t *testing.T) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
