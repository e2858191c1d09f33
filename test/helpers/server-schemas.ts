// Validators for OpenAI's published response schemas, read from the shared openapi.yml
// (../shared relative to the repo root, as in CI). The file is OpenAPI 3.1 but still uses 3.0's
// `nullable: true` in places, often beside a `$ref` or without `type`, which JSON Schema 2020-12
// does not know; those are rewritten to `anyOf [schema, {type: 'null'}]` before compiling.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const SPEC = fileURLToPath(new URL('../../../shared/openai-openapi.yml', import.meta.url));

type Json = Record<string, unknown>;

/** Rewrites OpenAPI 3.0 `nullable` into plain JSON Schema, recursively. */
function denullable(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(denullable);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) out[k] = k === 'example' || k === 'examples' ? v : denullable(v);
  if (out.nullable === true) {
    delete out.nullable;
    return { anyOf: [out, { type: 'null' }] };
  }
  delete out.nullable;
  return out;
}

/** Names of the response schemas the tests check. */
export type SchemaName =
  | 'CreateChatCompletionResponse'
  | 'CreateChatCompletionStreamResponse'
  | 'CreateCompletionResponse'
  | 'CreateCompletionStreamChunk'
  | 'ListModelsResponse'
  | 'Model'
  | 'ErrorResponse';

function build(): Record<SchemaName, ValidateFunction> {
  const spec = parse(readFileSync(SPEC, 'utf8')) as { components: { schemas: Record<string, Json> } };
  const schemas = denullable(spec.components.schemas) as Record<string, Json>;

  // Streamed legacy completions reuse CreateCompletionResponse, but OpenAI sends
  // `finish_reason: null` on every chunk but the last and the schema forgets null there.
  const completion = structuredClone(schemas.CreateCompletionResponse);
  const choice = ((completion.properties as Json).choices as Json).items as Json;
  const props = choice.properties as Json;
  props.finish_reason = { anyOf: [props.finish_reason, { type: 'null' }] };
  // The usage-only last chunk carries `usage` (nullable on the others, as for chat).
  (completion.properties as Json).usage = { anyOf: [{ $ref: '#/components/schemas/CompletionUsage' }, { type: 'null' }] };
  schemas.CreateCompletionStreamChunk = completion;

  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats.default(ajv);
  // Formats OpenAI uses that JSON Schema does not define; the tests check their type only.
  for (const f of ['unixtime', 'int64', 'int32', 'double', 'float', 'binary', 'byte']) ajv.addFormat(f, true);
  ajv.addSchema({ $id: 'openai.json', components: { schemas } });
  const get = (name: SchemaName) => {
    const fn = ajv.getSchema(`openai.json#/components/schemas/${name}`);
    if (!fn) throw new Error(`schema ${name} not found in ${SPEC}`);
    return fn;
  };
  return {
    CreateChatCompletionResponse: get('CreateChatCompletionResponse'),
    CreateChatCompletionStreamResponse: get('CreateChatCompletionStreamResponse'),
    CreateCompletionResponse: get('CreateCompletionResponse'),
    CreateCompletionStreamChunk: get('CreateCompletionStreamChunk'),
    ListModelsResponse: get('ListModelsResponse'),
    Model: get('Model'),
    ErrorResponse: get('ErrorResponse'),
  };
}

let validators: Record<SchemaName, ValidateFunction> | undefined;

/**
 * Throws with ajv's messages unless `value` matches OpenAI's schema `name`.
 * @example assertSchema('CreateChatCompletionResponse', await res.json());
 */
export function assertSchema(name: SchemaName, value: unknown): void {
  validators ??= build();
  const validate = validators[name];
  if (!validate(value)) {
    throw new Error(`response does not match ${name}:\n${JSON.stringify(validate.errors, null, 2)}\nvalue: ${JSON.stringify(value)}`);
  }
}
