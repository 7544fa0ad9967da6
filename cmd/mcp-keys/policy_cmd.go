package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/client"
	"github.com/mcp-keys/mcp-keys/internal/keys"
	"github.com/mcp-keys/mcp-keys/internal/policy"
)

// policy runs `mcp-keys policy check|explain`.
func (a app) policy(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return a.fail(exitConfig, "policy: want `policy check [FILE]` or `policy explain --tag T ...`")
	}
	switch args[0] {
	case "check":
		return a.policyCheck(args[1:])
	case "explain":
		return a.policyExplain(ctx, args[1:])
	}
	return a.fail(exitConfig, "policy: unknown subcommand %q (want check or explain)", args[0])
}

// policyCheck validates a policy file (the argument, --policy or
// MCP_KEYS_POLICY) and prints what it allows. Errors are FILE:LINE:COL lines.
func (a app) policyCheck(args []string) int {
	cfg, err := a.loadConfig()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	fs := a.newFlagSet("policy check")
	fs.StringVar(&cfg.PolicyFile, "policy", cfg.PolicyFile, "policy file (MCP_KEYS_POLICY)")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	switch fs.NArg() {
	case 0:
	case 1:
		cfg.PolicyFile, cfg.AllowedTags = fs.Arg(0), ""
	default:
		return a.fail(exitConfig, "policy check takes at most one FILE")
	}
	var p *policy.Policy
	switch {
	case cfg.PolicyFile != "" && cfg.AllowedTags != "":
		return a.fail(exitConfig, "both MCP_KEYS_POLICY and MCP_KEYS_ALLOWED_TAGS are set; use one")
	case cfg.PolicyFile != "":
		p, err = policy.Load(cfg.PolicyFile)
	case cfg.AllowedTags != "":
		p, err = policy.FromAllowedTags(cfg.AllowedTags)
	default:
		p = policy.Default()
	}
	if err != nil {
		fmt.Fprintln(a.stderr, err)
		return exitFail
	}
	fmt.Fprintf(a.stdout, "valid: %s\n%s\n", p.Source, strings.TrimRight(p.Summary(), "\n"))
	if note := p.StdioNote(); note != "" {
		fmt.Fprintln(a.stdout, "note:", note)
	}
	return exitOK
}

// intFlag is an integer flag that remembers whether it was given, so that
// "not given" (use the policy's default) differs from 0 (refused).
type intFlag struct{ v *int }

func (f *intFlag) String() string {
	if f == nil || f.v == nil {
		return ""
	}
	return fmt.Sprint(*f.v)
}

func (f *intFlag) Set(s string) error {
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil || fmt.Sprint(n) != s {
		return fmt.Errorf("want a whole number, got %q", s)
	}
	f.v = &n
	return nil
}

// policyExplain dry-runs a create against the effective policy and prints
// the decision and every rule. Exit 0 when allowed, 3 when denied.
func (a app) policyExplain(ctx context.Context, args []string) int {
	cfg, err := a.loadConfig()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	fs := a.newFlagSet("policy explain")
	fs.StringVar(&cfg.PolicyFile, "policy", cfg.PolicyFile, "policy file (MCP_KEYS_POLICY)")
	fs.StringVar(&cfg.AllowedTags, "allowed-tags", cfg.AllowedTags, "comma-separated tag patterns (MCP_KEYS_ALLOWED_TAGS)")
	var in keys.CreateInput
	var tags, groups listFlag
	fs.Var(&tags, "tag", "container tag (required; repeat for a key with several tags)")
	fs.StringVar(&in.Name, "name", "", "key name")
	fs.StringVar(&in.Permission, "permission", "", "read or write (default: the policy's keys.default_permission)")
	var caller keys.Caller
	fs.StringVar(&caller.Subject, "caller-sub", "", "explain for a remote caller with this OAuth subject")
	fs.StringVar(&caller.Email, "caller-email", "", "explain for a remote caller with this email")
	fs.Var(&groups, "caller-group", "explain for a remote caller in this group (repeatable)")
	fs.StringVar(&caller.TokenName, "caller-token", "", "explain for the static caller token of this name")
	var expires, lease, rateMax, rateWindow intFlag
	fs.Var(&expires, "expires-in-days", "expiry in days")
	fs.Var(&lease, "lease-minutes", "a lease instead of an expiry: mcp-keys revokes the key after this many minutes")
	fs.Var(&rateMax, "rate-limit-max", "requests per window")
	fs.Var(&rateWindow, "rate-limit-window-ms", "rate limit window in ms")
	if err := fs.Parse(args); err != nil {
		return exitConfig
	}
	if fs.NArg() > 0 {
		return a.fail(exitConfig, "policy explain takes only flags, got %q", fs.Arg(0))
	}
	if !flagGiven(fs, "tag") {
		return a.fail(exitConfig, "policy explain: --tag is required")
	}
	if len(tags) == 1 {
		in.Tag = tags[0]
	} else {
		in.Tags, in.TagsSet = tags, true
	}
	in.ExpiresInDays, in.LeaseMinutes, in.RateLimitMax, in.RateLimitWindowMs = expires.v, lease.v, rateMax.v, rateWindow.v
	switch {
	case caller.TokenName != "" && (caller.Subject != "" || caller.Email != "" || len(groups) > 0):
		return a.fail(exitConfig, "policy explain: --caller-token names a static token; it does not go with --caller-sub, --caller-email or --caller-group")
	case caller.TokenName != "":
		caller.Kind = keys.CallerToken
	case caller.Subject != "" || caller.Email != "" || len(groups) > 0:
		caller.Kind, caller.Groups = keys.CallerOAuth, groups
	default:
		caller = keys.Local()
	}

	logger, err := newLogger(a.stderr, cfg.LogLevel)
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	src, err := cfg.policySource(logger)
	if err != nil {
		return a.fail(exitConfig, "policy: %v", err)
	}
	open, err := cfg.storeOpener()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	readPath := cfg.auditPath()
	if cfg.DatabaseURL != "" {
		readPath = ""
	}
	svc, err := keys.New(keys.Config{API: a.explainAPI(cfg), Policy: src, OpenStore: keys.ReadOnly(open, readPath), Logger: logger})
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	defer svc.Close()
	checked, err := svc.CheckCreate(ctx, keys.Call{Caller: caller, Tool: "policy explain"}, in)
	if err != nil {
		return a.fail(exitFail, "%v", err)
	}
	p, d := checked.Policy, checked.Decision
	fmt.Fprintf(a.stdout, "policy: %s\n", p.Source)
	if caller.Remote() {
		fmt.Fprintf(a.stdout, "caller: %s (remote mode: the callers section applies)\n", caller)
	}
	if d.Allowed {
		fmt.Fprintf(a.stdout, "ALLOW: would create a key %s\n", keys.KeyTerms(d.Effective))
	} else {
		fmt.Fprintf(a.stdout, "DENY: %s\n", d.Reason())
	}
	for _, r := range d.Rules {
		fmt.Fprintf(a.stdout, "  %-14s %-4s  %s\n", r.Rule, r.Outcome, r.Detail)
	}
	if !d.Allowed {
		return exitDeny
	}
	return exitOK
}

// explainAPI is the API a dry run looks facts up in: the real one when an
// operator key is configured, otherwise one that knows nothing, so that
// facts the policy needs (does the tag exist?) are unknown and the policy
// says so.
func (a app) explainAPI(cfg config) keys.API {
	if key, err := cfg.apiKey(); err == nil {
		if c, err := newClient(cfg, key); err == nil {
			return c
		}
	}
	return offlineAPI{}
}

// offlineAPI answers every call with an error: no operator key is
// configured.
type offlineAPI struct{}

func (offlineAPI) ListKeys(context.Context) ([]client.Key, error) { return nil, keys.ErrNoAPI }
func (offlineAPI) ListTags(context.Context) ([]client.Tag, error) { return nil, keys.ErrNoAPI }
func (offlineAPI) CreateScopedKey(context.Context, client.CreateScopedKeyRequest) (*client.CreatedKey, error) {
	return nil, keys.ErrNoAPI
}
func (offlineAPI) RevokeKey(context.Context, string) (*client.RevokeResult, error) {
	return nil, keys.ErrNoAPI
}

// listFlag is a flag that may be given several times.
type listFlag []string

func (f *listFlag) String() string { return strings.Join(*f, ",") }

func (f *listFlag) Set(s string) error {
	*f = append(*f, s)
	return nil
}

// flagGiven reports whether the named flag was set on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}
