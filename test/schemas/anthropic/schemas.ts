// Anthropic's Messages API response shapes, written from its API reference
// (https://docs.anthropic.com/en/api/messages, .../messages-streaming, .../errors,
// .../messages-count-tokens) as strict zod schemas: an unknown or misspelt field fails.
// Content blocks: text, tool_use and thinking (the ones the server sends).
import { z } from 'zod';

const int = z.int().min(0);

export const StopReason = z.enum(['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal']);

export const TextBlock = z.strictObject({ type: z.literal('text'), text: z.string(), citations: z.array(z.unknown()).nullish() });

export const ToolUseBlock = z.strictObject({ type: z.literal('tool_use'), id: z.string().min(1), name: z.string().min(1), input: z.record(z.string(), z.unknown()) });

export const ThinkingBlock = z.strictObject({ type: z.literal('thinking'), thinking: z.string(), signature: z.string() });

export const ContentBlock = z.discriminatedUnion('type', [TextBlock, ToolUseBlock, ThinkingBlock]);

export const Usage = z.strictObject({
  input_tokens: int,
  output_tokens: int,
  cache_creation_input_tokens: int.nullish(),
  cache_read_input_tokens: int.nullish(),
  service_tier: z.enum(['standard', 'priority', 'batch']).nullish(),
});

export const Message = z.strictObject({
  id: z.string().min(1),
  type: z.literal('message'),
  role: z.literal('assistant'),
  model: z.string().min(1),
  content: z.array(ContentBlock),
  stop_reason: StopReason.nullable(),
  stop_sequence: z.string().nullable(),
  usage: Usage,
});

export const ErrorType = z.enum([
  'invalid_request_error',
  'authentication_error',
  'permission_error',
  'not_found_error',
  'request_too_large',
  'rate_limit_error',
  'api_error',
  'overloaded_error',
  'timeout_error',
]);

export const ErrorResponse = z.strictObject({
  type: z.literal('error'),
  error: z.strictObject({ type: ErrorType, message: z.string().min(1) }),
  request_id: z.string().nullish(),
});

/** One streamed event, by its `type`. */
export const StreamEvent = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('message_start'), message: Message }),
  z.strictObject({ type: z.literal('content_block_start'), index: int, content_block: ContentBlock }),
  z.strictObject({ type: z.literal('ping') }),
  z.strictObject({
    type: z.literal('content_block_delta'),
    index: int,
    delta: z.discriminatedUnion('type', [
      z.strictObject({ type: z.literal('text_delta'), text: z.string() }),
      z.strictObject({ type: z.literal('input_json_delta'), partial_json: z.string() }),
      z.strictObject({ type: z.literal('thinking_delta'), thinking: z.string() }),
      z.strictObject({ type: z.literal('signature_delta'), signature: z.string() }),
    ]),
  }),
  z.strictObject({ type: z.literal('content_block_stop'), index: int }),
  z.strictObject({
    type: z.literal('message_delta'),
    delta: z.strictObject({ stop_reason: StopReason.nullable(), stop_sequence: z.string().nullable() }),
    usage: Usage.partial({ input_tokens: true }),
  }),
  z.strictObject({ type: z.literal('message_stop') }),
  ErrorResponse,
]);

export const CountTokensResponse = z.strictObject({ input_tokens: int });

/**
 * Parses `value` with `schema`, throwing zod's message and the value when it does not match.
 * @example const message = assertAnthropic(Message, await res.json());
 */
export function assertAnthropic<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${z.prettifyError(parsed.error)}\nvalue: ${JSON.stringify(value)}`);
  return parsed.data;
}
