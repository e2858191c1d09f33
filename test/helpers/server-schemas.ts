// Typed access to the OpenAI schema validators (test/schemas/openai/validate.mjs, shared with
// the soak).
import { assertSchema as assertAny } from '../schemas/openai/validate.mjs';

/** Names of the response schemas the tests check. */
export type SchemaName =
  | 'CreateChatCompletionResponse'
  | 'CreateChatCompletionStreamResponse'
  | 'CreateCompletionResponse'
  | 'CreateCompletionStreamChunk'
  | 'ListModelsResponse'
  | 'Model'
  | 'ErrorResponse'
  | 'Response'
  | 'ResponseStreamEvent'
  | 'CreateEmbeddingResponse';

/**
 * Throws with ajv's messages unless `value` matches OpenAI's schema `name`.
 * @example assertSchema('CreateChatCompletionResponse', await res.json());
 */
export function assertSchema(name: SchemaName, value: unknown): void {
  assertAny(name, value);
}
