// End-to-end test of remote mode: the official MCP TypeScript SDK client
// drives a running `mcp-keys serve --http ADDR --sandbox` (started by
// cmd/mcp-keys/e2e_ts_test.go with static caller tokens):
//
//   1. without a token, and with a wrong one: HTTP 401 with the Bearer
//      challenge (raw fetch), and the SDK's connect fails with 401;
//   2. over Streamable HTTP (StreamableHTTPClientTransport) with
//      `Authorization: Bearer <token>`: the whole tool flow of lib.mjs, every
//      structured result validated by the SDK and by Ajv;
//   3. the same with a keys:read token: only the read tools are listed, and
//      create_scoped_key is refused with HTTP 403 insufficient_scope;
//   4. over stdio through `mcp-keys connect URL` (StdioClientTransport, the
//      token in MCP_KEYS_TOKEN_FILE): the same flow, then exit 0 when stdin
//      closes; with the keys:read token, create_scoped_key is an isError
//      result naming the missing scope; with a wrong token, initialize fails
//      saying the token was refused.
//
// No token is printed: every message is masked, and no child's stderr may
// hold a token or a minted key. Any failure exits non-zero.
//
// Usage: MCP_KEYS_BIN=… MCP_KEYS_URL=http://127.0.0.1:PORT/mcp
//        MCP_KEYS_TOKEN_FILE=… MCP_KEYS_E2E_READER_TOKEN_FILE=… node e2e_http.mjs

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Checker, READ_TOOLS, check, deadline, fail, sdkVersion, secret, stderrOf } from './lib.mjs';

const env = {};
for (const name of ['MCP_KEYS_BIN', 'MCP_KEYS_URL', 'MCP_KEYS_TOKEN_FILE', 'MCP_KEYS_E2E_READER_TOKEN_FILE']) {
  env[name] = process.env[name];
  if (!env[name]) {
    console.error(`e2e: FAIL: set ${name} (see the usage at the top of e2e_http.mjs)`);
    process.exit(2);
  }
}
deadline(90_000);

const url = new URL(env.MCP_KEYS_URL);
const token = readFileSync(env.MCP_KEYS_TOKEN_FILE, 'utf8').trim();
const readerToken = readFileSync(env.MCP_KEYS_E2E_READER_TOKEN_FILE, 'utf8').trim();
secret(token);
secret(readerToken);
check(token.startsWith('mcpk_') && readerToken.startsWith('mcpk_'), 'the token files do not hold mcp-keys caller tokens');
// A well-formed token that no caller holds.
const wrongToken = `mcpk_${'A'.repeat(43)}`;
secret(wrongToken);

// connect's private HOME and its wrong-token file.
const stateDir = mkdtempSync(join(tmpdir(), 'mcp-keys-e2e-http-'));
process.on('exit', () => rmSync(stateDir, { recursive: true, force: true }));
const wrongTokenFile = join(stateDir, 'wrong-token');
writeFileSync(wrongTokenFile, `${wrongToken}\n`, { mode: 0o600 });
chmodSync(wrongTokenFile, 0o600);

const INIT = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'mcp-keys-e2e-raw', version: '0' } },
};

/** rawPost POSTs an initialize to /mcp with the given Authorization (or none). */
async function rawPost(authorization) {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
  if (authorization) headers.authorization = authorization;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(INIT) });
  const body = await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate') ?? '', body };
}

/** unauthenticated checks that /mcp refuses a missing or wrong token with 401 and a Bearer challenge. */
async function unauthenticated() {
  const metadata = `${url.origin}/.well-known/oauth-protected-resource/mcp`;
  const none = await rawPost(null);
  check(none.status === 401, `no token: HTTP ${none.status}, want 401`);
  check(/^Bearer /.test(none.challenge) && none.challenge.includes(`resource_metadata="${metadata}"`), `no token: WWW-Authenticate ${none.challenge}`);
  check(!none.challenge.includes('error='), `no token: the challenge names an error: ${none.challenge}`);
  const wrong = await rawPost(`Bearer ${wrongToken}`);
  check(wrong.status === 401 && wrong.challenge.includes('error="invalid_token"'), `wrong token: HTTP ${wrong.status}, ${wrong.challenge}`);
  check(!wrong.body.includes(wrongToken) && !wrong.challenge.includes(wrongToken), 'wrong token: the answer quotes the token');

  // The protected-resource metadata is public and names the scopes.
  const md = await (await fetch(metadata)).json();
  check(md.resource === url.href, `metadata resource ${md.resource}, want ${url.href}`);
  check(JSON.stringify(md.scopes_supported) === JSON.stringify(['keys:read', 'keys:write']), `metadata scopes ${md.scopes_supported}`);

  // The SDK client without a token cannot even connect.
  const client = new Client({ name: 'mcp-keys-e2e-anonymous', version: '0.0.0' });
  let threw = null;
  try {
    await client.connect(new StreamableHTTPClientTransport(url));
  } catch (err) {
    threw = err;
  }
  check(threw && (threw.code === 401 || /\b401\b/.test(threw.message)), `the SDK connected without a token (threw: ${threw?.message})`);
  await client.close().catch(() => {});
}

/** httpClient connects the SDK client over Streamable HTTP with tok as the bearer token. */
async function httpClient(checker, tok) {
  const transport = new StreamableHTTPClientTransport(url, { requestInit: { headers: { Authorization: `Bearer ${tok}` } } });
  const client = new Client({ name: `mcp-keys-e2e-${checker.label}`, version: '0.0.0' }, { jsonSchemaValidator: checker.jsonSchemaValidator });
  const errors = [];
  client.onerror = (err) => errors.push(err);
  await client.connect(transport);
  return { client, transport, errors };
}

/** overHTTP runs the whole flow over Streamable HTTP with the read-write token. */
async function overHTTP() {
  const checker = new Checker('http');
  const { client, transport, errors } = await httpClient(checker, token);
  checker.check(typeof transport.sessionId === 'string', 'no Mcp-Session-Id issued');
  const { server, tools, created } = await checker.flow(client);
  await transport.terminateSession();
  await client.close();
  checker.check(errors.length === 0, `transport errors: ${errors.map((e) => e.message).join('; ')}`);
  return { server, line: checker.summary(tools, created) };
}

/** readerOverHTTP checks what a keys:read token sees and may not do. */
async function readerOverHTTP() {
  const checker = new Checker('http keys:read');
  const { client } = await httpClient(checker, readerToken);
  await checker.listTools(client, READ_TOOLS);
  const dry = (await checker.call(client, 'check_policy', { tag: 'proj-e2e' })).structuredContent;
  checker.check(dry.allowed === true, 'check_policy: proj-e2e not allowed');
  await checker.call(client, 'list_keys', {});
  let threw = null;
  try {
    await client.callTool({ name: 'create_scoped_key', arguments: { tag: 'proj-e2e' } });
  } catch (err) {
    threw = err;
  }
  checker.check(threw && (threw.code === 403 || /\b403\b/.test(threw.message)), `create_scoped_key with keys:read: want HTTP 403, got ${threw ? threw.message : 'success'}`);
  await client.close();
  return `${checker.label}: ${READ_TOOLS.length} tools listed, ${checker.ajvValidations} results validated, create_scoped_key refused with 403`;
}

/** connectTransport spawns `mcp-keys connect URL` with tokenFile. */
function connectTransport(label, tokenFile) {
  const transport = new StdioClientTransport({
    command: env.MCP_KEYS_BIN,
    args: ['connect', url.href],
    env: { PATH: process.env.PATH ?? '', HOME: stateDir, MCP_KEYS_TOKEN_FILE: tokenFile },
    stderr: 'pipe',
  });
  const stderr = stderrOf(label, transport.stderr);
  return { transport, stderr };
}

/** exitOf resolves with the child's exit once it ends (or 'none' after 10 s). */
function exitOf(transport) {
  const child = transport._process; // private in the SDK
  const exited = new Promise((resolve) => child?.once('exit', (code, signal) => resolve({ code, signal })));
  return () => Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'none' }), 10_000).unref())]);
}

/** throughConnect runs the whole flow through `mcp-keys connect`. */
async function throughConnect() {
  const checker = new Checker('connect');
  const { transport, stderr } = connectTransport('connect', env.MCP_KEYS_TOKEN_FILE);
  const client = new Client({ name: 'mcp-keys-e2e-connect', version: '0.0.0' }, { jsonSchemaValidator: checker.jsonSchemaValidator });
  const errors = [];
  client.onerror = (err) => errors.push(err);
  await client.connect(transport);
  const exit = exitOf(transport);
  const { tools, created } = await checker.flow(client);
  await client.close();
  const { code, signal } = await exit();
  checker.check(code === 0 && !signal, `mcp-keys connect exited with code ${code}, signal ${signal}`);
  checker.check(errors.length === 0, `transport errors: ${errors.map((e) => e.message).join('; ')}`);
  checker.check(!stderr().includes(token), 'the caller token appears on connect stderr');
  checker.check(!stderr().includes(created.key), 'the minted key appears on connect stderr');
  return `${checker.summary(tools, created)}, exit 0`;
}

/** readerThroughConnect: a keys:read token through connect gets an isError naming the scope. */
async function readerThroughConnect() {
  const checker = new Checker('connect keys:read');
  const { transport } = connectTransport('connect keys:read', env.MCP_KEYS_E2E_READER_TOKEN_FILE);
  const client = new Client({ name: 'mcp-keys-e2e-connect-reader', version: '0.0.0' }, { jsonSchemaValidator: checker.jsonSchemaValidator });
  await client.connect(transport);
  const exit = exitOf(transport);
  await checker.listTools(client, READ_TOOLS);
  await checker.call(client, 'list_tags', {});
  const refused = await checker.call(client, 'create_scoped_key', { tag: 'proj-e2e' }, { wantError: true });
  checker.check(/keys:write/.test(refused.content[0].text) && /403/.test(refused.content[0].text), `the refusal does not name the scope: ${refused.content[0].text}`);
  await client.close();
  const { code } = await exit();
  checker.check(code === 0, `mcp-keys connect exited with code ${code}`);
  return `${checker.label}: ${READ_TOOLS.length} tools listed, create_scoped_key an isError naming keys:write`;
}

/** wrongTokenThroughConnect: initialize through connect with a wrong token fails, saying why. */
async function wrongTokenThroughConnect() {
  const { transport, stderr } = connectTransport('connect wrong token', wrongTokenFile);
  const client = new Client({ name: 'mcp-keys-e2e-connect-wrong', version: '0.0.0' });
  let threw = null;
  try {
    await client.connect(transport);
  } catch (err) {
    threw = err;
  }
  check(threw && /refused the caller token/.test(threw.message) && /401/.test(threw.message), `connect with a wrong token: ${threw ? threw.message : 'initialize succeeded'}`);
  check(!threw.message.includes(wrongToken) && !stderr().includes(wrongToken), 'the wrong token is quoted');
  await client.close().catch(() => {});
  return 'connect with a wrong token: initialize refused (401, token refused)';
}

async function main() {
  await unauthenticated();
  const http = await overHTTP();
  const lines = [
    'no token and a wrong token: 401 with the Bearer challenge, SDK connect refused',
    http.line,
    await readerOverHTTP(),
    await throughConnect(),
    await readerThroughConnect(),
    await wrongTokenThroughConnect(),
  ];
  console.log(`e2e: ok: @modelcontextprotocol/sdk ${sdkVersion()} against mcp-keys ${http.server.version} over Streamable HTTP at ${url.href}:`);
  for (const l of lines) console.log(`  ${l}`);
}

main().catch((err) => fail(err?.stack ?? String(err)));
