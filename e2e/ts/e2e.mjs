// End-to-end test: the official MCP TypeScript SDK client drives the built
// mcp-keys binary (`serve --sandbox`) over stdio. It lists the tools, calls
// each one, mints and revokes a key, reads the policy resource, and validates
// every structuredContent against its tool's outputSchema twice: through the
// SDK's own validation (proved to be active, see checkSdkValidates) and
// explicitly with Ajv. Any failure exits non-zero with a clear message.
//
// Usage: MCP_KEYS_BIN=/path/to/mcp-keys node e2e.mjs

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import Ajv from 'ajv';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const EXPECTED_TOOLS = ['check_policy', 'create_scoped_key', 'list_keys', 'list_tags', 'revoke_key'];
const ALLOWED_TAGS = 'proj-*,user_*,demo-project';
const TIMEOUT_MS = 60_000;

const bin = process.env.MCP_KEYS_BIN;
if (!bin) {
  console.error('e2e: FAIL: set MCP_KEYS_BIN to the mcp-keys binary');
  process.exit(2);
}

// The audit log (which revoke consults) goes to a private directory.
const stateDir = mkdtempSync(join(tmpdir(), 'mcp-keys-e2e-'));
process.on('exit', () => rmSync(stateDir, { recursive: true, force: true }));

let stderrText = '';
const protocolErrors = [];

/** fail prints a clear message (with the server's stderr tail) and exits 1. */
function fail(message) {
  console.error(`e2e: FAIL: ${mask(message)}`);
  if (stderrText) {
    console.error(`--- server stderr (last 2000 bytes) ---\n${mask(stderrText.slice(-2000))}`);
  }
  process.exit(1);
}

/** mask hides key-shaped tokens: no secret is ever printed. */
function mask(s) {
  return String(s).replace(/sm_[A-Za-z0-9_]{8,}/g, (k) => `sm_…(${k.length} chars)`);
}

/** check fails with message unless cond holds. */
function check(cond, message) {
  if (!cond) fail(message);
}

setTimeout(() => fail(`timed out after ${TIMEOUT_MS / 1000} s`), TIMEOUT_MS).unref();

// Count the SDK's own output validations, so that a silent pass is impossible.
let sdkValidations = 0;
const sdkValidator = new AjvJsonSchemaValidator();
const countingValidator = {
  getValidator(schema) {
    const validate = sdkValidator.getValidator(schema);
    return (input) => {
      sdkValidations++;
      return validate(input);
    };
  },
};

// Strict mode: an unknown keyword or a loose type in a schema is an error too.
const ajv = new Ajv({ allErrors: true, strict: true });
const outputValidators = new Map();
let ajvValidations = 0;

/** validateOutput validates structured content with Ajv, independently of the SDK. */
function validateOutput(tool, structured) {
  const validate = outputValidators.get(tool);
  check(validate, `no output schema compiled for ${tool}`);
  if (!validate(structured)) {
    fail(`${tool}: structuredContent does not match its outputSchema: ${ajv.errorsText(validate.errors)}`);
  }
  ajvValidations++;
}

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
transport.stderr?.on('data', (chunk) => {
  stderrText += chunk.toString();
});

const client = new Client({ name: 'mcp-keys-e2e', version: '0.0.0' }, { jsonSchemaValidator: countingValidator });
client.onerror = (err) => protocolErrors.push(err);

let calls = 0;

/** call runs a tool; it must succeed unless wantError, and its result is validated. */
async function call(name, args, { wantError = false } = {}) {
  calls++;
  let result;
  try {
    result = await client.callTool({ name, arguments: args });
  } catch (err) {
    fail(`${name}: the call threw (a protocol error, not a tool result): ${err.message}`);
  }
  const text = (result.content ?? []).map((c) => c.text ?? '').join('\n');
  check(text.length > 0, `${name}: no text content`);
  if (wantError) {
    check(result.isError === true, `${name}: want an isError result, got success: ${text.slice(0, 200)}`);
    return result;
  }
  check(result.isError !== true, `${name}: refused: ${text.slice(0, 300)}`);
  check(result.structuredContent && typeof result.structuredContent === 'object', `${name}: no structuredContent`);
  validateOutput(name, result.structuredContent);
  return result;
}

/**
 * checkSdkValidates proves that the SDK client really validates
 * structuredContent: with a tightened copy of a schema cached, a
 * well-formed result must be rejected.
 */
async function checkSdkValidates(tools) {
  const tightened = tools.map((t) =>
    t.name === 'check_policy'
      ? { ...t, outputSchema: { ...t.outputSchema, required: [...(t.outputSchema.required ?? []), 'no_such_field'] } }
      : t,
  );
  client.cacheToolMetadata(tightened);
  let threw = null;
  try {
    await client.callTool({ name: 'check_policy', arguments: { tag: 'proj-e2e' } });
  } catch (err) {
    threw = err;
  }
  client.cacheToolMetadata(tools);
  check(threw && /output schema/i.test(threw.message), `the SDK did not enforce the output schema (threw: ${threw?.message})`);
}

async function main() {
  await client.connect(transport);
  const child = transport._process; // to check the exit code; private in the SDK
  const exited = new Promise((resolve) => child?.once('exit', (code, signal) => resolve({ code, signal })));

  const server = client.getServerVersion();
  check(server?.name === 'mcp-keys', `server name ${server?.name}`);
  check((client.getInstructions() ?? '').includes('list_tags'), 'instructions do not mention list_tags');

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  check(JSON.stringify(names) === JSON.stringify(EXPECTED_TOOLS), `tools ${names.join(', ')}; want ${EXPECTED_TOOLS.join(', ')}`);
  for (const t of tools) {
    check(t.outputSchema && t.outputSchema.type === 'object', `${t.name}: no object outputSchema`);
    check(t.inputSchema && t.inputSchema.type === 'object', `${t.name}: no object inputSchema`);
    for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
      check(typeof t.annotations?.[hint] === 'boolean', `${t.name}: annotation ${hint} not set`);
    }
    try {
      outputValidators.set(t.name, ajv.compile(t.outputSchema));
      ajv.compile(t.inputSchema);
    } catch (err) {
      fail(`${t.name}: a schema does not compile: ${err.message}`);
    }
  }

  const tags = (await call('list_tags', {})).structuredContent;
  check(Array.isArray(tags.tags) && tags.tags.some((t) => t.tag === 'demo-project'), 'list_tags: demo-project missing');
  await call('list_tags', { query: 'proj', limit: 2 });
  await call('list_keys', {});
  await call('list_keys', { kind: 'scoped', include_disabled: true });

  const dry = (await call('check_policy', { tag: 'proj-e2e' })).structuredContent;
  check(dry.allowed === true, 'check_policy: proj-e2e not allowed');
  const dryDenied = (await call('check_policy', { tag: 'team:search' })).structuredContent;
  check(dryDenied.allowed === false, 'check_policy: team:search allowed');

  const created = (await call('create_scoped_key', { tag: 'proj-e2e', expires_in_days: 7 })).structuredContent;
  check(typeof created.id === 'string' && created.id.length > 0, 'create_scoped_key: no id');
  check(typeof created.key === 'string' && created.key.startsWith('sm_'), 'create_scoped_key: no key');
  check(created.tag === 'proj-e2e', `create_scoped_key: tag ${created.tag}`);

  const denied = await call('create_scoped_key', { tag: 'team:search' }, { wantError: true });
  check(/team:search/.test(denied.content[0].text), 'the refusal does not name the tag');
  await call('create_scoped_key', { tag: '*' }, { wantError: true });
  await call('create_scoped_key', { tag: 'proj-e2e', bogus: 1 }, { wantError: true });

  const revoked = (await call('revoke_key', { id: created.id })).structuredContent;
  check(revoked.revoked === true && revoked.id === created.id, `revoke_key: ${JSON.stringify(revoked)}`);
  const after = (await call('list_keys', { include_disabled: true, tag: 'proj-e2e' })).structuredContent;
  check(after.keys.some((k) => k.id === created.id && k.enabled === false), 'list_keys: the revoked key is not shown disabled');

  const policy = await client.readResource({ uri: 'mcp-keys://policy' });
  check(policy.contents?.[0]?.text?.includes('proj-*'), 'mcp-keys://policy does not show the allowed tags');
  const resources = await client.listResources();
  check(resources.resources.some((r) => r.uri === 'mcp-keys://policy'), 'resources/list lacks mcp-keys://policy');

  const validatedBefore = sdkValidations;
  await checkSdkValidates(tools);
  check(validatedBefore > 0 && sdkValidations > validatedBefore, `the SDK validated ${validatedBefore} results`);
  const structured = ajvValidations;
  check(validatedBefore === structured, `the SDK validated ${validatedBefore} results, Ajv ${structured}`);

  await client.close();
  const { code, signal } = await Promise.race([exited, new Promise((r) => setTimeout(() => r({ code: 'none' }), 10_000).unref())]);
  check(code === 0 && !signal, `the server exited with code ${code}, signal ${signal}`);
  check(protocolErrors.length === 0, `transport errors: ${protocolErrors.map((e) => e.message).join('; ')}`);
  check(!stderrText.includes(created.key), 'the minted key appears on the server stderr');

  const sdk = JSON.parse(readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url)));
  console.log(
    `e2e: ok: @modelcontextprotocol/sdk ${sdk.version} against mcp-keys ${server.version}: ${tools.length} tools, ${calls} calls, ` +
      `${structured} structured results validated by the SDK and by Ajv, key ${created.id} minted and revoked, ` +
      `policy resource read, server exit 0`,
  );
}

main().catch((err) => fail(err?.stack ?? String(err)));
