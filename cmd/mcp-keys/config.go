package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/rs/zerolog"

	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// config is the configuration of every subcommand, from the environment
// first and then from flags, which win.
type config struct {
	// APIKey is removed from Go's copy of the environment once read; the
	// kernel's copy (/proc/<pid>/environ) remains, hidden from other
	// processes by hardenProcess.
	APIKey      client.Secret `env:"SUPERMEMORY_API_KEY,unset"`
	APIKeyFile  string        `env:"SUPERMEMORY_API_KEY_FILE"`
	BaseURL     string        `env:"SUPERMEMORY_BASE_URL" envDefault:"https://api.supermemory.ai"`
	PolicyFile  string        `env:"MCP_KEYS_POLICY"`
	AllowedTags string        `env:"MCP_KEYS_ALLOWED_TAGS"`
	ReadOnly    bool          `env:"MCP_KEYS_READ_ONLY"`
	AuditLog    string        `env:"MCP_KEYS_AUDIT_LOG"`
	LogLevel    string        `env:"MCP_KEYS_LOG_LEVEL" envDefault:"info"`
	Timeout     time.Duration `env:"MCP_KEYS_TIMEOUT" envDefault:"15s"`
	StateHome   string        `env:"XDG_STATE_HOME"`
	Home        string        `env:"HOME"`

	// AuditKeyFile holds the secret (≥ 32 bytes) that keys the audit chain
	// with HMAC-SHA256.
	AuditKeyFile string `env:"MCP_KEYS_AUDIT_KEY_FILE"`
	// DatabaseURL puts the store of record in PostgreSQL (shared by
	// replicas) instead of the audit file.
	DatabaseURL string `env:"MCP_KEYS_DATABASE_URL,unset"`

	// CredentialsDir is systemd's credentials directory for this service
	// (LoadCredential=): only the service can read it, whatever the mode
	// bits of a file in it show (systemd grants access with an ACL).
	CredentialsDir string `env:"CREDENTIALS_DIRECTORY"`

	// HTTPAddr serves Streamable HTTP instead of stdio (--http).
	HTTPAddr string `env:"MCP_KEYS_HTTP_ADDR"`

	// Sandbox is set by --sandbox only.
	Sandbox bool `env:"-"`
}

// loadConfig reads the environment (a.env, or the process's).
func (a app) loadConfig() (config, error) {
	var cfg config
	err := a.parseEnv(&cfg)
	return cfg, err
}

// parseEnv reads the environment (a.env, or the process's) into v.
func (a app) parseEnv(v any) error {
	opts := env.Options{}
	if a.env != nil {
		opts.Environment = a.env
	}
	if err := env.ParseWithOptions(v, opts); err != nil {
		return fmt.Errorf("environment: %w", err)
	}
	return nil
}

// commonFlags registers the flags shared by serve and doctor on fs, each
// with its environment variable as the default.
func commonFlags(fs *flag.FlagSet, cfg *config) {
	fs.StringVar(&cfg.PolicyFile, "policy", cfg.PolicyFile, "policy file (MCP_KEYS_POLICY)")
	fs.StringVar(&cfg.AllowedTags, "allowed-tags", cfg.AllowedTags, "comma-separated tag patterns, instead of a policy file (MCP_KEYS_ALLOWED_TAGS)")
	fs.BoolVar(&cfg.ReadOnly, "read-only", cfg.ReadOnly, "register only read tools (MCP_KEYS_READ_ONLY)")
	fs.BoolVar(&cfg.Sandbox, "sandbox", false, "use the embedded API emulator instead of the real API: no account needed")
	fs.StringVar(&cfg.BaseURL, "base-url", cfg.BaseURL, "API base URL (SUPERMEMORY_BASE_URL)")
	fs.StringVar(&cfg.APIKeyFile, "api-key-file", cfg.APIKeyFile, "read the operator key from this file (SUPERMEMORY_API_KEY_FILE)")
	fs.StringVar(&cfg.AuditLog, "audit-log", cfg.AuditLog, "audit log path (MCP_KEYS_AUDIT_LOG)")
	fs.StringVar(&cfg.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error (MCP_KEYS_LOG_LEVEL)")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "per upstream request (MCP_KEYS_TIMEOUT)")
}

// newFlagSet is a flag set that reports errors on stderr without exiting.
func (a app) newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("mcp-keys "+name, flag.ContinueOnError)
	fs.SetOutput(a.stderr)
	return fs
}

// newLogger builds the stderr logger. Nothing is ever logged to stdout.
func newLogger(w io.Writer, level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(strings.TrimSpace(level)))
	if err != nil || lvl == zerolog.NoLevel || lvl > zerolog.ErrorLevel || lvl < zerolog.DebugLevel {
		return zerolog.Nop(), fmt.Errorf("MCP_KEYS_LOG_LEVEL %q: want debug, info, warn or error", level)
	}
	return zerolog.New(w).Level(lvl).With().Timestamp().Str("app", "mcp-keys").Logger(), nil
}

// apiKey returns the operator key from SUPERMEMORY_API_KEY or from
// SUPERMEMORY_API_KEY_FILE. Errors never contain the key.
func (cfg config) apiKey() (client.Secret, error) {
	switch {
	case cfg.APIKey != "" && cfg.APIKeyFile != "":
		return "", errors.New("both SUPERMEMORY_API_KEY and SUPERMEMORY_API_KEY_FILE are set; set only one")
	case cfg.APIKey != "":
		return client.Secret(strings.TrimSpace(cfg.APIKey.Reveal())), nil
	case cfg.APIKeyFile != "":
		b, err := readSmallFile(cfg.APIKeyFile, 4096)
		if err != nil {
			return "", fmt.Errorf("SUPERMEMORY_API_KEY_FILE: %w", err)
		}
		key := strings.TrimSpace(string(b))
		if key == "" {
			return "", fmt.Errorf("SUPERMEMORY_API_KEY_FILE %s is empty", cfg.APIKeyFile)
		}
		return client.Secret(key), nil
	}
	return "", errors.New("SUPERMEMORY_API_KEY is not set: set it (or SUPERMEMORY_API_KEY_FILE) to the operator's Full Access key, or run with --sandbox")
}

// readSmallFile reads a file of at most limit bytes.
func readSmallFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	return b, nil
}

// policySource builds the policy source: a watched file, the
// MCP_KEYS_ALLOWED_TAGS shorthand, or the built-in default that denies every
// write. Giving both a file and the shorthand is a configuration error.
func (cfg config) policySource(log zerolog.Logger) (policy.Source, error) {
	switch {
	case cfg.PolicyFile != "" && cfg.AllowedTags != "":
		return nil, errors.New("both MCP_KEYS_POLICY (--policy) and MCP_KEYS_ALLOWED_TAGS are set; use one (put the tags in the policy file's tags.allow)")
	case cfg.PolicyFile != "":
		src, err := policy.NewFileSource(cfg.PolicyFile, func(err error) {
			log.Error().Err(err).Msg("policy file changed but is invalid; keeping the last good policy")
		})
		if err != nil {
			return nil, err
		}
		return src, nil
	case cfg.AllowedTags != "":
		p, err := policy.FromAllowedTags(cfg.AllowedTags)
		if err != nil {
			return nil, fmt.Errorf("MCP_KEYS_ALLOWED_TAGS: %w", err)
		}
		return policy.Static(p), nil
	}
	return policy.Static(policy.Default()), nil
}

// auditPath is MCP_KEYS_AUDIT_LOG, or $XDG_STATE_HOME/mcp-keys/audit.jsonl
// (XDG_STATE_HOME defaulting to ~/.local/state).
func (cfg config) auditPath() string {
	if cfg.AuditLog != "" {
		return cfg.AuditLog
	}
	base := cfg.StateHome
	if base == "" {
		if cfg.Home == "" {
			return ""
		}
		base = filepath.Join(cfg.Home, ".local", "state")
	}
	return filepath.Join(base, "mcp-keys", "audit.jsonl")
}

// newClient builds the API client for cfg and key.
func newClient(cfg config, key client.Secret) (*client.Client, error) {
	c, err := client.New(client.Config{
		BaseURL:   cfg.BaseURL,
		APIKey:    key,
		UserAgent: "mcp-keys/" + buildVersion(),
		Timeout:   cfg.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("API client: %w", err)
	}
	return c, nil
}

// fromCredentials reports whether path is a file systemd handed this
// service in its credentials directory.
func (cfg config) fromCredentials(path string) bool {
	if cfg.CredentialsDir == "" || !filepath.IsAbs(cfg.CredentialsDir) {
		return false
	}
	return filepath.Dir(filepath.Clean(path)) == filepath.Clean(cfg.CredentialsDir)
}
