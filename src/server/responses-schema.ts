/**
 * Body of POST /v1/responses (OpenAI's Responses API) and its input as chat messages. Text
 * input only: a string, or message items whose content is text parts. Fields this server
 * cannot honour yet (function tools, other item types) are refused by name with a 400 in
 * {@link rejectUnsupportedResponse}; `text.format` JSON object and schema constrain the reply.
 */
import { z } from 'zod';
import type { MlxNativeError } from '../errors.js';
import type { ChatMessage, ResponseFormat } from '../engine/types.js';
import { invalidParam } from './errors.js';

const INT32_MAX = 2 ** 31 - 1;

/** Text parts of an input message: what the user sent (`input_text`) or an earlier reply (`output_text`). */
const InputPart = z
  .object({ type: z.string(), text: z.string().optional() })
  .superRefine((part, ctx) => {
    if (part.type !== 'input_text' && part.type !== 'output_text') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `content part type '${part.type}' is not supported: this server takes text only`,
      });
    } else if (part.text === undefined) {
      ctx.addIssue({ code: 'custom', path: ['text'], message: 'a text part needs a string `text`' });
    }
  });

/** A message item; other item types (function_call_output, item_reference, ...) are refused. */
const InputItem = z
  .object({
    type: z.string().optional(),
    role: z.enum(['user', 'assistant', 'system', 'developer']).optional(),
    content: z.union([z.string(), z.array(InputPart)]).optional(),
  })
  .superRefine((item, ctx) => {
    if (item.type !== undefined && item.type !== 'message') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `input item type '${item.type}' is not supported: this server takes message items`,
      });
    } else if (item.role === undefined) {
      ctx.addIssue({ code: 'custom', path: ['role'], message: 'a message item needs a role' });
    } else if (item.content === undefined) {
      ctx.addIssue({ code: 'custom', path: ['content'], message: 'a message item needs content' });
    }
  });

export const ResponsesRequest = z.object({
  model: z.string().min(1).nullish(),
  input: z.union([z.string(), z.array(InputItem).min(1, 'at least one input item is required')]),
  instructions: z.string().nullish(),
  max_output_tokens: z.int().min(1).max(INT32_MAX).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  /** Extensions, as in chat completions. */
  top_k: z.int().min(0).max(INT32_MAX).nullish(),
  min_p: z.number().min(0).max(1).nullish(),
  seed: z.int().nullish(),
  stream: z.boolean().nullish(),
  previous_response_id: z.string().min(1).nullish(),
  store: z.boolean().nullish(),
  metadata: z.record(z.string(), z.string()).nullish(),
  user: z.string().nullish(),
  truncation: z.enum(['auto', 'disabled']).nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  // Read only to refuse what they ask for.
  tools: z.array(z.unknown()).nullish(),
  tool_choice: z.unknown().optional(),
  text: z
    .object({
      format: z
        .object({ type: z.string(), name: z.string().optional(), schema: z.record(z.string(), z.unknown()).optional(), strict: z.boolean().nullish() })
        .loose()
        .nullish(),
      verbosity: z.string().nullish(),
    })
    .loose()
    .nullish(),
  reasoning: z.unknown().optional(),
  background: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(20).nullish(),
  conversation: z.unknown().optional(),
  prompt: z.unknown().optional(),
});
export type ResponsesRequest = z.infer<typeof ResponsesRequest>;

/** The 400 for a field this server parses but cannot honour, or undefined. */
export function rejectUnsupportedResponse(body: ResponsesRequest): MlxNativeError | undefined {
  const unsupported = (param: string, message: string) => invalidParam(param, message, 'unsupported_parameter');
  if (body.tools && body.tools.length > 0) {
    return unsupported('tools', "'tools' is not supported by this server yet: it answers with text only");
  }
  if (body.tool_choice != null && body.tool_choice !== 'none' && body.tool_choice !== 'auto') {
    return unsupported('tool_choice', "'tool_choice' is not supported by this server yet");
  }
  const format = body.text?.format;
  if (format != null && !['text', 'json_object', 'json_schema'].includes(format.type)) {
    return invalidParam('text.format.type', `text.format type '${format.type}' is not one of text, json_object, json_schema`, 'unsupported_value');
  }
  if (format?.type === 'json_schema' && !format.schema) {
    return invalidParam('text.format.schema', "text.format {type: 'json_schema'} needs a `schema` object");
  }
  if (body.background) return unsupported('background', "'background' responses are not supported by this server");
  if (body.top_logprobs) return unsupported('top_logprobs', "'top_logprobs' is not supported by the Responses API of this server");
  if (body.conversation != null) return unsupported('conversation', "'conversation' is not supported: use previous_response_id");
  if (body.prompt != null) return unsupported('prompt', "prompt templates are not supported by this server");
  if (body.reasoning != null && typeof body.reasoning === 'object' && (body.reasoning as { effort?: unknown }).effort != null) {
    return unsupported('reasoning', "'reasoning' is not supported by this server");
  }
  return undefined;
}

/** The request's own input as chat messages (instructions and earlier turns not included). */
export function inputMessages(input: ResponsesRequest['input']): ChatMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  return input.map((item) => ({
    role: item.role!,
    content: typeof item.content === 'string' ? item.content : item.content!.map((p) => p.text ?? '').join('\n'),
  }));
}

/** The engine's response format for `text.format` (JSON object or schema), or undefined for text. */
export function responseFormatOf(body: ResponsesRequest): ResponseFormat | undefined {
  const f = body.text?.format;
  if (f == null || f.type === 'text') return undefined;
  if (f.type === 'json_object') return { type: 'json_object' };
  return { type: 'json_schema', schema: f.schema!, name: f.name, strict: f.strict ?? undefined };
}
