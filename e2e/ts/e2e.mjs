// End-to-end test: the official MCP TypeScript SDK client drives the built
// mcp-keys binary (`serve --sandbox`) over stdio. It lists the tools, calls
// each one, mints and revokes a key, reads the policy resource, and validates
// every structuredContent against its tool's outputSchema twice: through the
// SDK's own validation (proved to be active, see Checker.checkSdkValidates)
// and explicitly with Ajv. Any failure exits non-zero with a clear message.
// The remote mode's end-to-end test is e2e_http.mjs; both share lib.mjs.
//
// Usage: MCP_KEYS_BIN=/path/to/mcp-keys node e2e.mjs

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Checker, check, deadline, fail, sdkVersion, stderrOf } from './lib.mjs';

const ALLOWED_TAGS = 'proj-*,user_*,demo-project';

const bin = process.env.MCP_KEYS_BIN;
if (!bin) {
  console.error('e2e: FAIL: set MCP_KEYS_BIN to the mcp-keys binary');
  process.exit(2);
}
deadline(60_000);

// The audit log (which revoke consults) goes to a private directory.
const stateDir = mkdtempSync(join(tmpdir(), 'mcp-keys-e2e-'));
process.on('exit', () => rmSync(stateDir, { recursive: true, force: true }));

const transport = new StdioClientTransport({
  command: bin,
  args: ['serve', '--sandbox'],
  env: {
    PATH: process.env.PATH ?? '',
    HOME: stateDir,
    XDG_STATE_HOME: stateDir,
    MCP_KEYS_AUDIT_LOG: join(stateDir, 'audit.jsonl'),
    MCP_KEYS_ALLOWED_TAGS: ALLOWED_TAGS,
  },
  stderr: 'pipe',
});
const serverStderr = stderrOf('server', transport.stderr);

const checker = new Checker('stdio');
const client = new Client({ name: 'mcp-keys-e2e', version: '0.0.0' }, { jsonSchemaValidator: checker.jsonSchemaValidator });
const protocolErrors = [];
client.onerror = (err) => protocolErrors.push(err);

async function main() {
  await client.connect(transport);
  const child = transport._process; // to check the exit code; private in the SDK
  const exited = new Promise((resolve) => child?.once('exit', (code, signal) => resolve({ code, signal })));

  const { server, tools, created } = await checker.flow(client);

  await client.close();
  const { code, signal } = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'none' }), 10_000).unref())]);
  check(code === 0 && !signal, `the server exited with code ${code}, signal ${signal}`);
  check(protocolErrors.length === 0, `transport errors: ${protocolErrors.map((e) => e.message).join('; ')}`);
  check(!serverStderr().includes(created.key), 'the minted key appears on the server stderr');

  console.log(
    `e2e: ok: @modelcontextprotocol/sdk ${sdkVersion()} against mcp-keys ${server.version}: ${checker.summary(tools, created)}, ` +
      `policy resource read, server exit 0`,
  );
}

main().catch((err) => fail(err?.stack ?? String(err)));
