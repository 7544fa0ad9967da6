// Package keys holds mcp-keys' use cases — create, revoke, rotate, check,
// list keys and list tags — for a [Caller], knowing nothing of MCP or HTTP.
// It looks up the facts the policy needs, asks for confirmation through a
// hook, records intent and result in the store of record, checks the API's
// answer, delivers secrets, and undoes a key that cannot be handed on. The
// stdio tools, the HTTP tools and the CLI all call it, so the workflow lives
// once.
package keys
