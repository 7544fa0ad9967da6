package main

import (
	"errors"
	"fmt"

	"github.com/mcp-keys/mcp-keys/internal/audit"
)

// audit runs `mcp-keys audit verify [FILE]` and `mcp-keys audit tail [-n N] [FILE]`.
func (a app) audit(args []string) int {
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
	path := cfg.auditPath()
	switch fs.NArg() {
	case 0:
	case 1:
		path = fs.Arg(0)
	default:
		return a.fail(exitConfig, "audit %s takes at most one FILE", args[0])
	}
	if path == "" {
		return a.fail(exitConfig, "no audit log: give FILE or set MCP_KEYS_AUDIT_LOG")
	}
	switch args[0] {
	case "verify":
		count, err := audit.VerifyFile(path)
		if err != nil {
			var ve *audit.VerifyError
			if errors.As(err, &ve) {
				fmt.Fprintf(a.stdout, "%s:%d: %s\n", path, ve.Line, ve.Msg)
			} else {
				fmt.Fprintf(a.stdout, "%s: %v\n", path, err)
			}
			return exitFail
		}
		fmt.Fprintf(a.stdout, "%s: %d records, hash chain intact\n", path, count)
		return exitOK
	case "tail":
		if n < 1 {
			return a.fail(exitConfig, "audit tail: -n must be at least 1")
		}
		records, err := audit.Tail(path, n)
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
