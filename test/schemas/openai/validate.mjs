// Validators for OpenAI's published response schemas, for the tests and the soak. The schemas
// live beside this file (schemas.json, extracted from OpenAI's OpenAPI spec by extract.mjs, with
// the spec's version recorded), so nothing outside the repository is read. Plain JavaScript so
// that `npm run soak` runs it without a TypeScript step.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const SCHEMAS = fileURLToPath(new URL('./schemas.json', import.meta.url));

/** Names of the response schemas the tests check. */
export const SCHEMA_NAMES = [
  'CreateChatCompletionResponse',
  'CreateChatCompletionStreamResponse',
  'CreateCompletionResponse',
  'CreateCompletionStreamChunk',
  'ListModelsResponse',
  'Model',
  'ErrorResponse',
  'Response',
  'ResponseStreamEvent',
  'CreateEmbeddingResponse',
];

function build() {
  const file = JSON.parse(readFileSync(SCHEMAS, 'utf8'));
  const schemas = file.components.schemas;

  // Streamed legacy completions reuse CreateCompletionResponse, but OpenAI sends
  // `finish_reason: null` on every chunk but the last and the schema forgets null there.
  const completion = structuredClone(schemas.CreateCompletionResponse);
  const props = completion.properties.choices.items.properties;
  props.finish_reason = { anyOf: [props.finish_reason, { type: 'null' }] };
  // The usage-only last chunk carries `usage` (nullable on the others, as for chat).
  completion.properties.usage = { anyOf: [{ $ref: '#/components/schemas/CompletionUsage' }, { type: 'null' }] };
  schemas.CreateCompletionStreamChunk = completion;

  const ajv = new Ajv2020({ strict: false, allErrors: true, validateSchema: false });
  addFormats.default(ajv);
  // Formats OpenAI uses that JSON Schema does not define; the tests check their type only.
  for (const f of ['unixtime', 'int64', 'int32', 'double', 'float', 'binary', 'byte']) ajv.addFormat(f, true);
  ajv.addSchema({ $id: 'openai.json', components: { schemas } });
  const out = {};
  for (const name of SCHEMA_NAMES) {
    const fn = ajv.getSchema(`openai.json#/components/schemas/${name}`);
    if (!fn) throw new Error(`schema ${name} not found in ${SCHEMAS}`);
    out[name] = fn;
  }
  return out;
}

let validators;

/**
 * ajv's error list when `value` does not match OpenAI's schema `name`, else undefined.
 * @param {string} name one of {@link SCHEMA_NAMES}
 * @param {unknown} value
 * @returns {string | undefined}
 */
export function schemaErrors(name, value) {
  validators ??= build();
  const validate = validators[name];
  if (!validate) throw new Error(`unknown schema ${name}`);
  return validate(value) ? undefined : JSON.stringify(validate.errors, null, 2);
}

/**
 * Throws with ajv's messages unless `value` matches OpenAI's schema `name`.
 * @example assertSchema('CreateChatCompletionResponse', await res.json());
 * @param {string} name
 * @param {unknown} value
 */
export function assertSchema(name, value) {
  const errors = schemaErrors(name, value);
  if (errors) throw new Error(`response does not match ${name}:\n${errors}\nvalue: ${JSON.stringify(value)}`);
}
