// Package bridge implements `mcp-keys connect URL`: a stdio MCP server that
// relays every JSON-RPC message to a remote mcp-keys over the Streamable HTTP
// transport, with the caller's bearer token, for hosts that speak only stdio.
//
// The bridge is a transparent relay, not a second implementation of the
// tools: each client→server message read from stdin (one JSON-RPC message a
// line) is POSTed to the remote endpoint, and every message the remote sends
// back — a JSON body, or an SSE stream carrying responses, notifications and
// server→client requests such as elicitation/create — is written to stdout
// as one line. When the stdio client answers a server→client request, the
// answer is POSTed back. Requests run concurrently.
//
// The bridge holds no operator key. HTTP failures become errors a person can
// act on: a JSON-RPC error, or for tools/call an isError tool result, whose
// text says what to do (a refused token, a missing scope, a rate limit, an
// unavailable server). The token never appears in stdout, a log line or an
// error.
package bridge
