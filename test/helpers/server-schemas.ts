// Validators for OpenAI's published response schemas. They live in the repository
// (test/schemas/openai/schemas.json, extracted from OpenAI's OpenAPI spec by extract.mjs beside
// it, with the spec's version recorded), so the tests read nothing outside it.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

const SCHEMAS = fileURLToPath(new URL('../schemas/openai/schemas.json', import.meta.url));

type Json = Record<string, unknown>;

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
  const file = JSON.parse(readFileSync(SCHEMAS, 'utf8')) as { components: { schemas: Record<string, Json> } };
  const schemas = file.components.schemas;

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
    if (!fn) throw new Error(`schema ${name} not found in ${SCHEMAS}`);
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
