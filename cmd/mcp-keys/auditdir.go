package main

import (
	"os"
	"path/filepath"

	"github.com/mcp-keys/mcp-keys/internal/fileperm"

	"github.com/rs/zerolog"
)

// warnOpenAuditDir warns when the audit log's directory is readable by
// group or others: the records hold no secret, but who minted what, and
// when, is the operator's business. A directory they can write is refused
// when the log is opened.
func warnOpenAuditDir(logger zerolog.Logger, path string) {
	if path == "" {
		return
	}
	dir := filepath.Dir(path)
	fi, err := os.Stat(dir)
	if err != nil {
		return
	}
	if problem := fileperm.DirProblem("the audit log's directory "+dir, fi, fileperm.NoAccess); problem != "" {
		logger.Warn().Msg(problem)
	}
}
