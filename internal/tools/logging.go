package tools

import (
	"context"
	"log/slog"
)

// quietSuccess adapts mcp-go's request log: its lines for calls that went
// well ("outcome":"ok") are logged at debug, so that a call at the default
// level writes only mcp-keys's own decision line; lines for protocol errors
// and error results keep their level. MCP_KEYS_LOG_LEVEL=debug shows all.
type quietSuccess struct{ slog.Handler }

// Enabled lets every record through to Handle, which knows its outcome,
// as long as the record could be logged at its level or at debug.
func (h quietSuccess) Enabled(ctx context.Context, l slog.Level) bool {
	return h.Handler.Enabled(ctx, l) || h.Handler.Enabled(ctx, slog.LevelDebug)
}

// Handle lowers a successful call's line to debug.
func (h quietSuccess) Handle(ctx context.Context, r slog.Record) error {
	ok := false
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "outcome" {
			ok = a.Value.String() == "ok"
			return false
		}
		return true
	})
	if ok && r.Level > slog.LevelDebug {
		r.Level = slog.LevelDebug
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the adaptation.
func (h quietSuccess) WithAttrs(as []slog.Attr) slog.Handler {
	return quietSuccess{h.Handler.WithAttrs(as)}
}

// WithGroup keeps the adaptation.
func (h quietSuccess) WithGroup(name string) slog.Handler {
	return quietSuccess{h.Handler.WithGroup(name)}
}
