package main

import (
	"os"
	"path/filepath"

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
	if err != nil || fi.Mode().Perm()&0o044 == 0 {
		return
	}
	logger.Warn().Str("dir", dir).Str("mode", fi.Mode().Perm().String()).Msg("the audit log's directory is readable by group or others; chmod 700 it")
}
