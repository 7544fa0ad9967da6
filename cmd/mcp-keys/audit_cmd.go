package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// audit runs `mcp-keys audit verify [FILE]` and `mcp-keys audit tail [-n N]
// [FILE]` on the configured store of record: the audit file (FILE, or
// MCP_KEYS_AUDIT_LOG), or PostgreSQL (MCP_KEYS_DATABASE_URL). With
// MCP_KEYS_AUDIT_KEY_FILE every record's MAC is checked too.
func (a app) audit(ctx context.Context, args []string) int {
	if len(args) == 0 {
		return a.fail(exitConfig, "audit: want `audit verify [FILE]` or `audit tail [-n N] [FILE]`")
	}
	cfg, err := a.loadConfig()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	fs := a.newFlagSet("audit " + args[0])
	n := 20
	if args[0] == "tail" {
		fs.IntVar(&n, "n", n, "how many records")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return exitConfig
	}
	switch fs.NArg() {
	case 0:
	case 1:
		cfg.AuditLog, cfg.DatabaseURL = fs.Arg(0), ""
	default:
		return a.fail(exitConfig, "audit %s takes at most one FILE", args[0])
	}
	if cfg.DatabaseURL == "" && cfg.auditPath() == "" {
		return a.fail(exitConfig, "no audit log: give FILE or set MCP_KEYS_AUDIT_LOG (or MCP_KEYS_DATABASE_URL)")
	}
	switch args[0] {
	case "verify":
		return a.auditVerify(ctx, cfg)
	case "tail":
		if n < 1 {
			return a.fail(exitConfig, "audit tail: -n must be at least 1")
		}
		st, err := cfg.openStore(ctx)
		if err != nil {
			return a.fail(exitFail, "audit tail: %v", err)
		}
		defer st.Close()
		records, err := st.Tail(ctx, n)
		if err != nil {
			return a.fail(exitFail, "audit tail: %v", err)
		}
		for _, r := range records {
			fmt.Fprintln(a.stdout, r.String())
		}
		return exitOK
	}
	return a.fail(exitConfig, "audit: unknown subcommand %q (want verify or tail)", args[0])
}

// auditVerify checks the whole chain and says what it proves, what it does
// not, and what to do when it fails.
func (a app) auditVerify(ctx context.Context, cfg config) int {
	key, err := cfg.chainKey()
	if err != nil {
		return a.fail(exitConfig, "%v", err)
	}
	name := cfg.storeName()
	if cfg.DatabaseURL == "" {
		rep, err := audit.VerifyFileKey(cfg.auditPath(), key)
		if err != nil {
			var ve *audit.VerifyError
			if errors.As(err, &ve) {
				fmt.Fprintf(a.stdout, "%s:%d: %s\n", name, ve.Line, ve.Msg)
			} else {
				fmt.Fprintf(a.stdout, "%s: %v\n", name, err)
			}
			if key == nil && strings.Contains(err.Error(), "no chain key was given") {
				// A keyed log read without its key: nothing is known to be
				// wrong with it.
				fmt.Fprintln(a.stdout, "The log is keyed: run audit verify with the same MCP_KEYS_AUDIT_KEY_FILE as the server.")
				return exitFail
			}
			fmt.Fprintln(a.stdout, verifyAdvice)
			return exitFail
		}
		fmt.Fprintf(a.stdout, "%s: %s\n", name, strings.TrimRight(rep.String(), "\n")) // the report says what it cannot detect
		return exitOK
	}
	st, err := cfg.openStore(ctx)
	if err != nil {
		return a.fail(exitFail, "audit verify: %v", err)
	}
	defer st.Close()
	count, err := st.VerifyAll(ctx)
	if err != nil {
		fmt.Fprintf(a.stdout, "%s: %v\n%s\n", name, err, verifyAdvice)
		return exitFail
	}
	fmt.Fprintf(a.stdout, "%s: %d records, chain intact\n%s\n", name, count, audit.VerifyLimits(st.Keyed()))
	return exitOK
}

// verifyAdvice tells the operator what to do with a chain that fails.
const verifyAdvice = "The chain does not verify, so mcp-keys refuses every create, revoke and rotate until it does. " +
	"Find out what changed the record named above (keep a copy of the store as evidence); then restore the store " +
	"from a backup, or move the damaged log aside (with its .ckpt, .idx and .state files) so that a new chain starts."
