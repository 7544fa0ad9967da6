package tools

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

func TestQuietSuccessKeepsErrorsVisible(t *testing.T) {
	for _, tc := range []struct {
		level   zerolog.Level
		outcome string
		logged  bool
	}{
		{zerolog.InfoLevel, "ok", false},
		{zerolog.InfoLevel, "error", true},
		{zerolog.InfoLevel, "error_result", true},
		{zerolog.DebugLevel, "ok", true},
		{zerolog.WarnLevel, "error", false},
	} {
		var buf bytes.Buffer
		l := slog.New(quietSuccess{zerolog.NewSlogHandler(zerolog.New(&buf).Level(tc.level))})
		l.LogAttrs(context.Background(), slog.LevelInfo, "mcp.tool", slog.String("outcome", tc.outcome))
		if got := strings.Contains(buf.String(), tc.outcome); got != tc.logged {
			t.Errorf("level %v, outcome %s: logged %v, want %v (%q)", tc.level, tc.outcome, got, tc.logged, buf.String())
		}
	}
}
