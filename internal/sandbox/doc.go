// Package sandbox is an in-process emulator of the Supermemory key API.
//
// It plays the five endpoints that mcp-keys may call — GET /v3/session,
// GET /v3/auth/keys, GET /v3/container-tags/list, POST /v3/auth/scoped-key and
// DELETE /v3/auth/scoped-key/{id} — the way the upstream contract describes
// them, and answers every endpoint that mcp-keys must never call (those that
// mint Full Access keys or destroy data) with 403, recording the attempt so a
// test can assert it never happened.
//
// Keys are scoped to one or more container tags (a create takes containerTag
// or containerTags, 1 to 50 distinct tags) and have a permission, "read" or
// "write" (the default); the create answer, the listing and the session all
// show both. So that a minted key can be tried, the sandbox also plays two
// data endpoints, POST /v3/documents and POST /v3/search: a key may name only
// its own tags there, a read key may search but not add a document, and a
// revoked or expired key gets 401. Every endpoint takes the key as
// `Authorization: Bearer <key>` or as `x-api-key: <key>` (as Supermemory's own
// CLI sends it); both headers naming different keys get 401.
//
// A [Sandbox] is an [net/http.Handler]; [Start] serves one on loopback. Tests
// can seed keys and tags ([Sandbox.AddKey], [Sandbox.AddTag]), inspect the
// requests seen ([Sandbox.Requests], [Sandbox.ForbiddenRequests],
// [Sandbox.Count]) and inject faults per endpoint and per n-th call
// ([Sandbox.Inject]). Besides transport faults (latency, status, malformed,
// oversized or slow bodies, dropped connections), a [Fault] can make a create
// not honour its request, so that the caller's fail-closed check is tested
// end to end: [Fault.IgnorePermission] mints a write key when read was
// asked, [Fault.OmitPermission] leaves the permission out of the answer and
// the listing, [Fault.DropTag] mints one tag fewer than asked (none, hence a
// Full Access key, for a single tag) and [Fault.ExtraTag] adds a tag; the
// answer, the listing and the session then agree on what was minted.
//
// Time is read from [Options.Now]: expiry ("expired → 401"), expiresAt,
// createdAt and lastRequest all follow it. A [Clock] is a clock that a test or
// the demo can advance. With [Options.StatePath] the organisation, tags and
// permissions included, survives a restart; a state file written before
// permissions existed loads with every key a write key.
//
// The sandbox accepts any key that it minted itself; it is meant for local
// use only and never logs. It imports no other package of this module.
package sandbox
