// Package remote is the HTTP layer of remote mode (`mcp-keys serve --http`):
// the http.Handler chain in front of the mcp-go Streamable HTTP server, the
// OAuth 2.1 resource-server token check, and the server runner.
//
// A request to /mcp passes, in order: the body and header limits, the
// Origin check, authentication (a bearer token from the Authorization
// header only: a static caller token or a JWT from the configured issuer),
// the scope check of each tools/call, and the per-caller rate limit; then
// the keys.Caller is put in the request's context for the tools. /healthz,
// /readyz and the RFC 9728 protected-resource metadata need no token.
// Every refusal fails closed, and no token appears in a log line or an
// error text.
package remote
