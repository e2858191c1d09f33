/**
 * Validation of method params: zod schemas in snake_case, camelCase keys accepted too, unknown
 * keys refused by name (a typo must not be silently ignored). Every failure is a -32602 whose
 * message and `data.field` name the field.
 */
import { z } from 'zod';
import { COMPUTE_DTYPES, type LoadOptions } from '../engine/model.js';
import { TOOL_CALL_FORMATS } from '../engine/tool-formats.js';
import type { ChatMessage, ChatOptions, GenerateOptions, ResponseFormat } from '../engine/types.js';
import { invalidParams, type RpcMethod, type RpcMethods } from './protocol.js';

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.int().min(min).max(max).optional();
const num = (min: number, max: number) => z.number().min(min).max(max).optional();
const requestId = z.union([z.string().min(1).max(256), z.int()]);

const options = {
  max_tokens: int(1),
  stop: z.union([z.string(), z.array(z.string())]).optional(),
  temperature: num(0, 100),
  top_p: num(0, 1),
  top_k: int(0),
  min_p: num(0, 1),
  repetition_penalty: num(0.01, 100),
  repetition_context_size: int(0, 1 << 30),
  presence_penalty: num(-100, 100),
  frequency_penalty: num(-100, 100),
  logit_bias: z.record(z.string().regex(/^(0|[1-9][0-9]*)$/, 'keys must be token ids'), z.number()).optional(),
  seed: int(0),
  logprobs: z.boolean().optional(),
  top_logprobs: int(0, 20),
  ignore_eos: z.boolean().optional(),
  model: z.string().min(1).optional(),
  stream: z.boolean().optional(),
  request_id: requestId.optional(),
  response_format: z
    .discriminatedUnion('type', [
      z.strictObject({ type: z.literal('text') }),
      z.strictObject({ type: z.literal('json_object') }),
      z.strictObject({
        type: z.literal('json_schema'),
        json_schema: z.strictObject({ name: z.string().optional(), schema: z.record(z.string(), z.unknown()), strict: z.boolean().nullish(), description: z.string().optional() }),
      }),
      z.strictObject({ type: z.literal('lark'), grammar: z.string().min(1) }),
    ])
    .optional(),
};

const tokenIds = z.array(z.int().min(0).max(2 ** 31 - 1));
const toolCall = z.strictObject({
  id: z.string().min(1),
  type: z.literal('function'),
  function: z.strictObject({ name: z.string().min(1), arguments: z.string() }),
});
const message = z.strictObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool']),
  content: z.string().nullable(),
  tool_calls: z.array(toolCall).optional(),
  tool_call_id: z.string().optional(),
  name: z.string().optional(),
  reasoning_content: z.string().optional(),
});
const chatExtras = {
  tools: z
    .array(
      z.strictObject({
        type: z.literal('function'),
        function: z.strictObject({
          name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/, 'function names are 1-64 letters, digits, _ or -'),
          description: z.string().optional(),
          parameters: z.record(z.string(), z.unknown()).optional(),
          strict: z.boolean().nullish(),
        }),
      }),
    )
    .optional(),
  tool_choice: z
    .union([z.enum(['auto', 'none', 'required']), z.strictObject({ type: z.literal('function'), function: z.strictObject({ name: z.string().min(1) }) })])
    .optional(),
  parallel_tool_calls: z.boolean().optional(),
  tool_call_format: z.enum(TOOL_CALL_FORMATS).optional(),
  reasoning: z
    .strictObject({
      mode: z.enum(['auto', 'prefilled', 'off']).optional(),
      budget: int(1),
      effort: z.enum(['minimal', 'low', 'medium', 'high']).optional(),
      enable_thinking: z.boolean().optional(),
    })
    .optional(),
};

const loadOptions = z.strictObject({
  context_length: int(1),
  max_batch: int(1, 1024),
  prefill_chunk: int(1),
  kv_budget_bytes: int(1),
  prefix_cache_bytes: int(0),
  cpu_streams: int(1, 64),
  dtype: z.enum(COMPUTE_DTYPES).optional(),
});

const none = z.strictObject({});

const schemas: { [M in RpcMethod]: z.ZodType } = {
  initialize: z.strictObject({
    client_info: z.looseObject({ name: z.string().optional(), version: z.string().optional() }).optional(),
    protocol_version: z.string().optional(),
  }),
  health: none,
  load_model: z.strictObject({ model: z.string().min(1), id: z.string().min(1).max(256).optional(), options: loadOptions.optional() }),
  unload_model: z.strictObject({ id: z.string().min(1) }),
  list_models: none,
  generate: z.strictObject({ ...options, prompt: z.union([z.string(), tokenIds]) }),
  chat: z.strictObject({ ...options, ...chatExtras, messages: z.array(message).min(1) }),
  cancel: z.strictObject({ request_id: requestId }),
  memory_report: none,
  shutdown: none,
};

const snake = (key: string) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Renames camelCase keys to snake_case, one level deep (and in `options` and `reasoning`). */
function normalize(raw: Record<string, unknown>, path = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const name = snake(key);
    if (name in out) throw invalidParams(path + name, `given twice (as ${name} and ${key})`);
    out[name] = value;
  }
  for (const nested of ['options', 'reasoning']) {
    const v = out[nested];
    if (v && typeof v === 'object' && !Array.isArray(v)) out[nested] = normalize(v as Record<string, unknown>, `${nested}.`);
  }
  return out;
}

/** Validated params of `method`, or a -32602 naming the first bad field. */
export function parseParams<M extends RpcMethod>(method: M, raw: unknown): NonNullable<RpcMethods[M]['params']> {
  if (raw !== undefined && (raw === null || typeof raw !== 'object' || Array.isArray(raw))) {
    throw invalidParams('params', 'must be an object (by-name params)');
  }
  const input = normalize((raw ?? {}) as Record<string, unknown>);
  const parsed = schemas[method].safeParse(input);
  if (parsed.success) return parsed.data as NonNullable<RpcMethods[M]['params']>;
  const issue = parsed.error.issues[0];
  let field = issue.path.map(String).join('.');
  let text = issue.message;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    field = field ? `${field}.${key}` : key;
    text = 'unknown field';
  } else if (issue.code === 'invalid_type' && issue.input === undefined) {
    text = 'required';
  }
  throw invalidParams(field, text);
}

/** The engine's options for validated generate/chat params. */
export function toGenerateOptions(p: RpcMethods['generate']['params'] | RpcMethods['chat']['params']): GenerateOptions {
  const o: GenerateOptions = {};
  if (p.max_tokens !== undefined) o.maxTokens = p.max_tokens;
  if (p.stop !== undefined) o.stop = p.stop;
  if (p.temperature !== undefined) o.temperature = p.temperature;
  if (p.top_p !== undefined) o.topP = p.top_p;
  if (p.top_k !== undefined) o.topK = p.top_k;
  if (p.min_p !== undefined) o.minP = p.min_p;
  if (p.repetition_penalty !== undefined) o.repetitionPenalty = p.repetition_penalty;
  if (p.repetition_context_size !== undefined) o.repetitionContextSize = p.repetition_context_size;
  if (p.presence_penalty !== undefined) o.presencePenalty = p.presence_penalty;
  if (p.frequency_penalty !== undefined) o.frequencyPenalty = p.frequency_penalty;
  if (p.logit_bias !== undefined) o.logitBias = Object.fromEntries(Object.entries(p.logit_bias).map(([k, v]) => [Number(k), v]));
  if (p.seed !== undefined) o.seed = p.seed;
  if (p.logprobs !== undefined || p.top_logprobs !== undefined) {
    o.logprobs = p.logprobs ?? true;
    if (p.top_logprobs !== undefined) o.topLogprobs = p.top_logprobs;
  }
  if (p.ignore_eos !== undefined) o.ignoreEos = p.ignore_eos;
  if (p.response_format !== undefined) o.responseFormat = toResponseFormat(p.response_format);
  return o;
}

function toResponseFormat(f: NonNullable<RpcMethods['generate']['params']['response_format']>): ResponseFormat {
  if (f.type !== 'json_schema') return f;
  const { name, schema, strict } = f.json_schema;
  return { type: 'json_schema', schema, ...(name !== undefined && { name }), ...(strict != null && { strict }) };
}

/** The engine's chat messages and options for validated chat params. */
export function toChat(p: RpcMethods['chat']['params']): { messages: ChatMessage[]; options: ChatOptions } {
  const messages = p.messages.map((m) => {
    const out: ChatMessage = { role: m.role, content: m.content ?? '' };
    if (m.tool_calls) out.tool_calls = m.tool_calls;
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (m.name !== undefined) out.name = m.name;
    if (m.reasoning_content !== undefined) out.reasoning_content = m.reasoning_content;
    return out;
  });
  const options: ChatOptions = toGenerateOptions(p);
  if (p.tools?.length) {
    options.tools = p.tools.map(({ function: { strict, ...f } }) => ({ type: 'function' as const, function: { ...f, ...(strict != null && { strict }) } }));
  }
  if (p.tool_choice !== undefined) options.toolChoice = p.tool_choice;
  if (p.parallel_tool_calls !== undefined) options.parallelToolCalls = p.parallel_tool_calls;
  if (p.tool_call_format !== undefined) options.toolCallFormat = p.tool_call_format;
  if (p.reasoning) {
    const r = p.reasoning;
    options.reasoning = {
      ...(r.mode && { mode: r.mode }),
      ...(r.budget !== undefined && { budget: r.budget }),
      ...(r.effort && { effort: r.effort }),
      ...(r.enable_thinking !== undefined && { enableThinking: r.enable_thinking }),
    };
  }
  return { messages, options };
}

/** The engine's load options for validated load_model options. */
export function toLoadOptions(o: RpcMethods['load_model']['params']['options']): LoadOptions {
  return {
    contextLength: o?.context_length,
    maxBatch: o?.max_batch,
    prefillChunk: o?.prefill_chunk,
    kvBudgetBytes: o?.kv_budget_bytes,
    prefixCacheBytes: o?.prefix_cache_bytes,
    cpuStreams: o?.cpu_streams,
    dtype: o?.dtype,
  };
}
