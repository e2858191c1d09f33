/**
 * zod schemas of the request bodies. Every body passes through one of these before anything
 * reaches the engine. Unknown fields are dropped (clients send extras such as `store` or
 * `metadata`); fields whose meaning we cannot honour (legacy functions, audio, n > 1) are
 * rejected by name in {@link rejectUnsupported} rather than silently ignored.
 */
import { z } from 'zod';
import type { MlxNativeError } from '../errors.js';
import { invalidParam } from './errors.js';

// OpenAI accepts null for every optional field, so do we.
const num = (min: number, max: number) => z.number().min(min).max(max).nullish();
// Counts and ids reach native code as 32-bit ints: anything larger is refused here, by name.
const INT32_MAX = 2 ** 31 - 1;
const posInt = z.int().min(1).max(INT32_MAX).nullish();

const ContentPart = z
  .object({ type: z.string(), text: z.string().optional() })
  .superRefine((part, ctx) => {
    if (part.type !== 'text') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `content part type '${part.type}' is not supported: this server takes text only`,
      });
    } else if (part.text === undefined) {
      ctx.addIssue({ code: 'custom', path: ['text'], message: 'a text part needs a string `text`' });
    }
  });

const ToolCall = z.object({
  id: z.string().min(1),
  type: z.literal('function').default('function'),
  function: z.object({ name: z.string().min(1), arguments: z.string() }),
});

const Message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.union([z.string(), z.array(ContentPart)]).nullish(),
  name: z.string().optional(),
  tool_calls: z.array(ToolCall).nullish(),
  tool_call_id: z.string().nullish(),
  /** Thinking of an earlier assistant turn (templates that render it). */
  reasoning_content: z.string().nullish(),
});

const JsonSchemaObject = z.record(z.string(), z.unknown());

const Tool = z.object({
  type: z.literal('function'),
  function: z.object({
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'function names are letters, digits, _ . - (at most 64)'),
    description: z.string().nullish(),
    parameters: JsonSchemaObject.nullish(),
    strict: z.boolean().nullish(),
  }),
});

const ToolChoice = z.union([
  z.enum(['auto', 'none', 'required']),
  z.object({ type: z.literal('function'), function: z.object({ name: z.string().min(1) }) }),
]);

const ResponseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'names are letters, digits, _ and - (at most 64)'),
      description: z.string().nullish(),
      schema: JsonSchemaObject.nullish(),
      strict: z.boolean().nullish(),
    }),
  }),
]);

const StreamOptions = z
  .object({ include_usage: z.boolean().nullish(), include_obfuscation: z.boolean().nullish() })
  .nullish();

const isTokenId = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= INT32_MAX;

/**
 * OpenAI's four prompt shapes (string, strings, token ids, token id arrays) reduced to one
 * prompt; a batch of more than one is refused with a message that says so.
 */
function toSinglePrompt(p: string | unknown[], ctx: z.RefinementCtx): string | number[] {
  if (typeof p === 'string') return p;
  if (p.every(isTokenId)) return p;
  const batch = p.every((x) => typeof x === 'string') || p.every((x) => Array.isArray(x) && x.length > 0 && x.every(isTokenId));
  if (!batch) {
    ctx.addIssue({ code: 'custom', message: 'expected a string, an array of token ids, or a batch of one of those' });
  } else if (p.length !== 1) {
    ctx.addIssue({ code: 'custom', message: 'only one prompt per request is supported' });
  }
  return p[0] as string | number[];
}

/** Fields shared by chat and text completions. */
const common = {
  model: z.string().min(1).nullish(),
  max_tokens: posInt,
  temperature: num(0, 2),
  top_p: num(0, 1),
  top_k: z.int().min(0).max(INT32_MAX).nullish(),
  min_p: num(0, 1),
  frequency_penalty: num(-2, 2),
  presence_penalty: num(-2, 2),
  repetition_penalty: z.number().min(0.01).max(10).nullish(),
  /** Extension (as vLLM's): keep generating past end-of-sequence tokens, for benchmarks. */
  ignore_eos: z.boolean().nullish(),
  seed: z.int().nullish(),
  stop: z
    .union([z.string().min(1), z.array(z.string().min(1)).max(16)])
    .nullish(),
  logit_bias: z
    .record(z.string().regex(/^\d+$/, 'keys must be token ids'), z.number().min(-100).max(100))
    .nullish(),
  n: z.int().nullish(),
  stream: z.boolean().nullish(),
  stream_options: StreamOptions,
  user: z.string().nullish(),
};

/** Body of POST /v1/chat/completions. */
export const ChatCompletionRequest = z.object({
  ...common,
  messages: z.array(Message).min(1, 'at least one message is required'),
  max_completion_tokens: posInt,
  logprobs: z.boolean().nullish(),
  top_logprobs: z.int().min(0).max(20).nullish(),
  tools: z.array(Tool).nullish(),
  tool_choice: ToolChoice.nullish(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: ResponseFormat.nullish(),
  reasoning_effort: z.enum(['minimal', 'low', 'medium', 'high']).nullish(),
  /** Extension: thinking tokens before the block is closed for the model. */
  max_reasoning_tokens: z.int().min(0).max(INT32_MAX).nullish(),
  /** Extension (as vLLM's): variables for the chat template, e.g. `enable_thinking`. */
  chat_template_kwargs: z.object({ enable_thinking: z.boolean().nullish() }).loose().nullish(),
  // Read only to refuse them by name.
  functions: z.unknown().optional(),
  function_call: z.unknown().optional(),
  audio: z.unknown().optional(),
  modalities: z.unknown().optional(),
  prediction: z.unknown().optional(),
  web_search_options: z.unknown().optional(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

/** Body of POST /v1/completions. `prompt` is a string or token ids; a batch of one is unwrapped. */
export const CompletionRequest = z.object({
  ...common,
  prompt: z.union([z.string(), z.array(z.unknown()).min(1)]).transform(toSinglePrompt),
  logprobs: z.int().min(0).max(20).nullish(),
  echo: z.boolean().nullish(),
  best_of: z.int().nullish(),
  suffix: z.string().nullish(),
});
export type CompletionRequest = z.infer<typeof CompletionRequest>;

/** Returns the 400 for a parameter we parse but cannot honour, or undefined. */
export function rejectUnsupported(body: ChatCompletionRequest | CompletionRequest): MlxNativeError | undefined {
  if (body.n != null && body.n !== 1) {
    return invalidParam('n', `'n' must be 1: this server returns one choice per request`, 'unsupported_value');
  }
  if ('messages' in body) {
    for (const key of ['functions', 'function_call', 'audio', 'prediction', 'web_search_options'] as const) {
      if (body[key] != null) {
        return invalidParam(key, `'${key}' is not supported by this server`, 'unsupported_parameter');
      }
    }
    const choice = body.tool_choice;
    if (choice != null && choice !== 'none' && choice !== 'auto' && !body.tools?.length) {
      return invalidParam('tool_choice', "'tool_choice' needs 'tools'", 'invalid_value');
    }
    if (typeof choice === 'object' && choice && !body.tools?.some((t) => t.function.name === choice.function.name)) {
      return invalidParam('tool_choice', `'tool_choice' names ${choice.function.name}, which is not in 'tools'`, 'invalid_value');
    }
    const modalities = body.modalities;
    if (modalities != null && !(Array.isArray(modalities) && modalities.every((m) => m === 'text'))) {
      return invalidParam('modalities', "only the 'text' modality is supported", 'unsupported_value');
    }
    if (body.top_logprobs != null && body.top_logprobs > 0 && !body.logprobs) {
      return invalidParam('top_logprobs', "'top_logprobs' requires 'logprobs': true", 'invalid_value');
    }
  } else {
    if (body.echo) return invalidParam('echo', "'echo' is not supported by this server", 'unsupported_parameter');
    if (body.best_of != null && body.best_of !== 1) {
      return invalidParam('best_of', "'best_of' must be 1", 'unsupported_value');
    }
    if (body.suffix) return invalidParam('suffix', "'suffix' is not supported by this server", 'unsupported_parameter');
  }
  return undefined;
}
