// Shared by e2e.mjs (stdio) and e2e_http.mjs (Streamable HTTP and
// `mcp-keys connect`): failing with a clear, masked message, output-schema
// validation by the SDK and by Ajv, and the tool flow every transport runs.

import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import Ajv from 'ajv';
import { readFileSync } from 'node:fs';

/** The five tools of a caller allowed to read and write. */
export const ALL_TOOLS = ['check_policy', 'create_scoped_key', 'list_keys', 'list_tags', 'revoke_key', 'rotate_key'];
/** The tools of a caller whose token has keys:read only. */
export const READ_TOOLS = ['check_policy', 'list_keys', 'list_tags'];

const secrets = new Set();
const stderrSources = [];

/** secret registers a string that must never be printed: fail masks it. */
export function secret(s) {
  if (s) secrets.add(s);
}

/**
 * mask hides every registered secret and anything shaped like a minted key
 * (sm_…) or a caller token (mcpk_…): no secret is ever printed.
 */
export function mask(s) {
  let out = String(s);
  for (const v of secrets) out = out.split(v).join(`…(${v.length} chars)`);
  return out
    .replace(/sm_[A-Za-z0-9_]{8,}/g, (k) => `sm_…(${k.length} chars)`)
    .replace(/mcpk_[A-Za-z0-9_-]{8,}/g, (k) => `mcpk_…(${k.length} chars)`);
}

/** stderrOf registers a labelled child stderr buffer, printed (masked) on failure. */
export function stderrOf(label, stream) {
  const src = { label, text: '' };
  stderrSources.push(src);
  stream?.on('data', (chunk) => {
    src.text += chunk.toString();
  });
  return () => src.text;
}

/** fail prints a clear message (with the children's stderr tails) and exits 1. */
export function fail(message) {
  console.error(`e2e: FAIL: ${mask(message)}`);
  for (const src of stderrSources) {
    if (src.text) console.error(`--- ${src.label} stderr (last 2000 bytes) ---\n${mask(src.text.slice(-2000))}`);
  }
  process.exit(1);
}

/** check fails with message unless cond holds. */
export function check(cond, message) {
  if (!cond) fail(message);
}

/** deadline fails the whole run after ms. */
export function deadline(ms) {
  setTimeout(() => fail(`timed out after ${ms / 1000} s`), ms).unref();
}

/** sdkVersion is the installed @modelcontextprotocol/sdk version. */
export function sdkVersion() {
  return JSON.parse(readFileSync(new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url))).version;
}

/**
 * Checker validates one client's structured results twice: through the
 * SDK's own validation (counted, so a silent pass is impossible) and
 * explicitly with Ajv in strict mode.
 */
export class Checker {
  constructor(label) {
    this.label = label;
    this.sdkValidations = 0;
    this.ajvValidations = 0;
    this.calls = 0;
    // Strict mode: an unknown keyword or a loose type in a schema is an error too.
    this.ajv = new Ajv({ allErrors: true, strict: true });
    this.outputValidators = new Map();
    const sdkValidator = new AjvJsonSchemaValidator();
    this.jsonSchemaValidator = {
      getValidator: (schema) => {
        const validate = sdkValidator.getValidator(schema);
        return (input) => {
          this.sdkValidations++;
          return validate(input);
        };
      },
    };
  }

  /** fail prefixes the message with this client's label. */
  fail(message) {
    fail(`${this.label}: ${message}`);
  }

  check(cond, message) {
    if (!cond) this.fail(message);
  }

  /** listTools lists the tools, checks their shape and compiles their schemas. */
  async listTools(client, want) {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    this.check(JSON.stringify(names) === JSON.stringify(want), `tools ${names.join(', ')}; want ${want.join(', ')}`);
    for (const t of tools) {
      this.check(t.outputSchema && t.outputSchema.type === 'object', `${t.name}: no object outputSchema`);
      this.check(t.inputSchema && t.inputSchema.type === 'object', `${t.name}: no object inputSchema`);
      for (const hint of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint']) {
        this.check(typeof t.annotations?.[hint] === 'boolean', `${t.name}: annotation ${hint} not set`);
      }
      try {
        this.outputValidators.set(t.name, this.ajv.compile(t.outputSchema));
        this.ajv.compile(t.inputSchema);
      } catch (err) {
        this.fail(`${t.name}: a schema does not compile: ${err.message}`);
      }
    }
    return tools;
  }

  /** validateOutput validates structured content with Ajv, independently of the SDK. */
  validateOutput(tool, structured) {
    const validate = this.outputValidators.get(tool);
    this.check(validate, `no output schema compiled for ${tool}`);
    if (!validate(structured)) {
      this.fail(`${tool}: structuredContent does not match its outputSchema: ${this.ajv.errorsText(validate.errors)}`);
    }
    this.ajvValidations++;
  }

  /** call runs a tool; it must succeed unless wantError, and its result is validated. */
  async call(client, name, args, { wantError = false } = {}) {
    this.calls++;
    let result;
    try {
      result = await client.callTool({ name, arguments: args });
    } catch (err) {
      this.fail(`${name}: the call threw (a protocol error, not a tool result): ${err.message}`);
    }
    const text = (result.content ?? []).map((c) => c.text ?? '').join('\n');
    this.check(text.length > 0, `${name}: no text content`);
    if (wantError) {
      this.check(result.isError === true, `${name}: want an isError result, got success: ${text.slice(0, 200)}`);
      return result;
    }
    this.check(result.isError !== true, `${name}: refused: ${text.slice(0, 300)}`);
    this.check(result.structuredContent && typeof result.structuredContent === 'object', `${name}: no structuredContent`);
    this.validateOutput(name, result.structuredContent);
    return result;
  }

  /**
   * checkSdkValidates proves that the SDK client really validates
   * structuredContent: with a tightened copy of a schema cached, a
   * well-formed result must be rejected.
   */
  async checkSdkValidates(client, tools) {
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
    this.check(threw && /output schema/i.test(threw.message), `the SDK did not enforce the output schema (threw: ${threw?.message})`);
  }

  /**
   * flow is what every transport must do for a read-write caller: the five
   * tools, each structured result validated twice, an allowed and a denied
   * check_policy, a mint, refusals, a revoke, the key shown disabled, the
   * policy resource. It returns what the summary line reports.
   */
  async flow(client) {
    const server = client.getServerVersion();
    this.check(server?.name === 'mcp-keys', `server name ${server?.name}`);
    this.check((client.getInstructions() ?? '').includes('list_tags'), 'instructions do not mention list_tags');

    const tools = await this.listTools(client, ALL_TOOLS);

    const tags = (await this.call(client, 'list_tags', {})).structuredContent;
    this.check(Array.isArray(tags.tags) && tags.tags.some((t) => t.tag === 'demo-project'), 'list_tags: demo-project missing');
    await this.call(client, 'list_tags', { query: 'proj', limit: 2 });
    await this.call(client, 'list_keys', {});
    await this.call(client, 'list_keys', { kind: 'scoped', include_disabled: true });

    const dry = (await this.call(client, 'check_policy', { tag: 'proj-e2e' })).structuredContent;
    this.check(dry.allowed === true, 'check_policy: proj-e2e not allowed');
    const dryDenied = (await this.call(client, 'check_policy', { tag: 'team:search' })).structuredContent;
    this.check(dryDenied.allowed === false, 'check_policy: team:search allowed');

    const created = (await this.call(client, 'create_scoped_key', { tag: 'proj-e2e', expires_in_days: 7 })).structuredContent;
    this.check(typeof created.id === 'string' && created.id.length > 0, 'create_scoped_key: no id');
    this.check(typeof created.key === 'string' && created.key.startsWith('sm_'), 'create_scoped_key: no key');
    this.check(created.tag === 'proj-e2e', `create_scoped_key: tag ${created.tag}`);
    secret(created.key);

    const denied = await this.call(client, 'create_scoped_key', { tag: 'team:search' }, { wantError: true });
    this.check(/team:search/.test(denied.content[0].text), 'the refusal does not name the tag');
    await this.call(client, 'create_scoped_key', { tag: '*' }, { wantError: true });
    await this.call(client, 'create_scoped_key', { tag: 'proj-e2e', bogus: 1 }, { wantError: true });

    const mine = (await this.call(client, 'list_keys', { tag: 'proj-e2e' })).structuredContent;
    this.check(mine.keys.some((k) => k.id === created.id && k.enabled === true), 'list_keys: the minted key is not listed');
    const revoked = (await this.call(client, 'revoke_key', { id: created.id })).structuredContent;
    this.check(revoked.revoked === true && revoked.id === created.id, `revoke_key: ${JSON.stringify(revoked)}`);
    const after = (await this.call(client, 'list_keys', { include_disabled: true, tag: 'proj-e2e' })).structuredContent;
    this.check(after.keys.some((k) => k.id === created.id && k.enabled === false), 'list_keys: the revoked key is not shown disabled');

    const policy = await client.readResource({ uri: 'mcp-keys://policy' });
    this.check(policy.contents?.[0]?.text?.includes('proj-*'), 'mcp-keys://policy does not show the allowed tags');
    const resources = await client.listResources();
    this.check(resources.resources.some((r) => r.uri === 'mcp-keys://policy'), 'resources/list lacks mcp-keys://policy');

    const validatedBefore = this.sdkValidations;
    await this.checkSdkValidates(client, tools);
    this.check(validatedBefore > 0 && this.sdkValidations > validatedBefore, `the SDK validated ${validatedBefore} results`);
    this.check(validatedBefore === this.ajvValidations, `the SDK validated ${validatedBefore} results, Ajv ${this.ajvValidations}`);
    return { server, tools, created };
  }

  /** summary is one line of what this client did. */
  summary(tools, created) {
    return (
      `${this.label}: ${tools.length} tools, ${this.calls} calls, ${this.ajvValidations} structured results validated ` +
      `by the SDK and by Ajv, key ${created.id} minted and revoked`
    );
  }
}
