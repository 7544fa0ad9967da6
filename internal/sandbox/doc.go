// Package sandbox is an in-process emulator of the Supermemory key API.
//
// It plays the five endpoints that mcp-keys may call — GET /v3/session,
// GET /v3/auth/keys, GET /v3/container-tags/list, POST /v3/auth/scoped-key and
// DELETE /v3/auth/scoped-key/{id} — the way the upstream contract describes
// them, and answers every endpoint that mcp-keys must never call (those that
// mint Full Access keys or destroy data) with 403, recording the attempt so a
// test can assert it never happened.
//
// A [Sandbox] is an [net/http.Handler]; [Start] serves one on loopback. Tests
// can seed keys and tags ([Sandbox.AddKey], [Sandbox.AddTag]), inspect the
// requests seen ([Sandbox.Requests], [Sandbox.ForbiddenRequests],
// [Sandbox.Count]) and inject faults per endpoint and per n-th call
// ([Sandbox.Inject]). With [Options.StatePath] the organisation survives a
// restart.
//
// The sandbox accepts any bearer token that it minted itself; it is meant for
// local use only and never logs. It imports no other package of this module.
package sandbox
