// Command floor is the floor of the whole-process benchmark: a bare mcp-go
// stdio server with one trivial tool, built and measured by `go run ./bench`
// beside mcp-keys. Whatever it costs, no mcp-go server can cost less.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

func main() {
	s := server.NewMCPServer("floor", "0", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("ping",
		mcp.WithDescription("Answers pong."),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(false),
	), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("pong"), nil
	})
	if err := server.ServeStdio(s); err != nil && err != context.Canceled {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}
