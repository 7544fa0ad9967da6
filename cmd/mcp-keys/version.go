package main

import (
	"fmt"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = "dev"

// buildVersion is the release version, or the module version when built
// with go install, or "dev".
func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// buildCommit is the VCS revision the binary was built from, if known.
func buildCommit() (rev string, modified bool) {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown", false
	}
	rev = "unknown"
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	return rev, modified
}

// version prints the version and commit.
func (a app) version(args []string) int {
	if len(args) > 0 {
		return a.fail(exitConfig, "version takes no arguments")
	}
	rev, modified := buildCommit()
	if modified {
		rev += " (modified)"
	}
	fmt.Fprintf(a.stdout, "mcp-keys %s\ncommit %s\n", buildVersion(), rev)
	return exitOK
}
