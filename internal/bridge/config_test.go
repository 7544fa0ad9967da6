package bridge

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	keysclient "github.com/mcp-keys/mcp-keys/internal/client"
)

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		raw, want, err string
	}{
		{raw: "https://keys.example.com/mcp", want: "https://keys.example.com/mcp"},
		{raw: "https://keys.example.com", want: "https://keys.example.com/mcp"},
		{raw: "https://keys.example.com/", want: "https://keys.example.com/mcp"},
		{raw: "https://keys.example.com:8443/team/mcp", want: "https://keys.example.com:8443/team/mcp"},
		{raw: "http://127.0.0.1:8080/mcp", want: "http://127.0.0.1:8080/mcp"},
		{raw: "http://localhost:8080/mcp", want: "http://localhost:8080/mcp"},
		{raw: "http://[::1]:8080/mcp", want: "http://[::1]:8080/mcp"},
		{raw: "http://keys.example.com/mcp", err: "must use https"},
		{raw: "http://10.0.0.1/mcp", err: "must use https"},
		{raw: "ftp://keys.example.com/mcp", err: "scheme must be https"},
		{raw: "https://user:pw@keys.example.com/mcp", err: "userinfo"},
		{raw: "https://keys.example.com/mcp?token=x", err: "query or fragment"},
		{raw: "https://keys.example.com/mcp#x", err: "query or fragment"},
		{raw: "keys.example.com/mcp", err: "not an absolute URL"},
		{raw: "https:///mcp", err: "not an absolute URL"},
		{raw: "https://keys.example.com/m cp", err: "spaces"},
		{raw: "", err: "is required"},
		{raw: "https://keys.example.com/" + strings.Repeat("a", 3000), err: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := parseEndpoint(tt.raw)
			if tt.err != "" {
				if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want a config error saying %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if u.String() != tt.want {
				t.Errorf("URL = %q, want %q", u, tt.want)
			}
		})
	}
}

func TestRunConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		err  string
	}{
		{"no token", Config{URL: "https://k.example/mcp"}, "no caller token"},
		{"token with a space", Config{URL: "https://k.example/mcp", Token: "abc def"}, "at byte 3"},
		{"token too long", Config{URL: "https://k.example/mcp", Token: keysclient.Secret(strings.Repeat("a", 9000))}, "longer than"},
		{"plain http", Config{URL: "http://k.example/mcp", Token: goodToken}, "must use https"},
		{"negative drain", Config{URL: "https://k.example/mcp", Token: goodToken, DrainTimeout: -1}, "DrainTimeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			err := Run(context.Background(), tt.cfg, strings.NewReader(""), failingWriter{}, zerolog.New(logs))
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("Run = %v, want a config error saying %q", err, tt.err)
			}
			assertNoToken(t, "error", err.Error())
			if strings.Contains(err.Error(), "abc") {
				t.Errorf("the error quotes the token")
			}
		})
	}
}

func TestReadToken(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	private := write("private", goodToken+"\n", 0o600)
	shared := write("shared", "  "+goodToken+"  \n", 0o644)
	empty := write("empty", " \n", 0o600)
	big := write("big", strings.Repeat("a", 17<<10), 0o600)
	spaced := write("spaced", "two words", 0o600)

	tests := []struct {
		name     string
		file     string
		value    keysclient.Secret
		want     keysclient.Secret
		err      string
		warnLogs bool
	}{
		{name: "file", file: private, want: goodToken},
		{name: "group-readable file is used with a warning", file: shared, want: goodToken, warnLogs: true},
		{name: "value", value: " " + goodToken + "\n", want: goodToken},
		{name: "both", file: private, value: goodToken, err: "set only one"},
		{name: "neither", err: "no caller token"},
		{name: "missing file", file: filepath.Join(dir, "nope"), err: "no such file"},
		{name: "empty file", file: empty, err: "is empty"},
		{name: "directory", file: dir, err: "not a regular file"},
		{name: "big file", file: big, err: "larger than"},
		{name: "bad token in file", file: spaced, err: "at byte 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			got, err := ReadToken(tt.file, tt.value, zerolog.New(logs))
			if tt.err != "" {
				if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want a config error saying %q", err, tt.err)
				}
				assertNoToken(t, "error", err.Error())
			} else {
				if err != nil {
					t.Fatalf("err = %v", err)
				}
				if got != tt.want {
					t.Errorf("token differs from the expected one")
				}
			}
			if warned := strings.Contains(logs.String(), "chmod 600"); warned != tt.warnLogs {
				t.Errorf("warned = %v, want %v", warned, tt.warnLogs)
			}
			assertNoToken(t, "logs", logs.String())
		})
	}
}
