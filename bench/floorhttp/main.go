// Command floorhttp is the floor of the benchmark's remote-mode section: a
// bare mcp-go Streamable HTTP server with one trivial tool, `echo`, at the
// same endpoint path as mcp-keys (/mcp), built with the same options as
// `mcp-keys serve --http` (the default session-id manager, which issues ids
// it never checks) and without authentication, limits or logging. `go run
// ./bench` builds it and measures it beside mcp-keys in the same run.
// Whatever it costs, no mcp-go Streamable HTTP server can cost less.
//
// Usage: floorhttp 127.0.0.1:PORT
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floorhttp 127.0.0.1:PORT")
		os.Exit(2)
	}
	s := server.NewMCPServer("floorhttp", "0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("echo",
		mcp.WithDescription("Answers its text."),
		mcp.WithString("text", mcp.Description("what to answer")),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), func(_ context.Context, r mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText(r.GetString("text", "")), nil
	})
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(s, server.WithEndpointPath("/mcp")))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	srv := &http.Server{Addr: os.Args[1], Handler: mux, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(os.Stderr, "floorhttp:", err)
		os.Exit(1)
	}
}
