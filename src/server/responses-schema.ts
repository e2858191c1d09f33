/**
 * Body of POST /v1/responses (OpenAI's Responses API) and its input as chat messages. Text
 * input only: a string, or message items whose content is text parts. Fields this server
 * cannot honour (other tool and item types, background, ...) are refused by name with a 400;
 * function tools and `text.format` JSON object and schema go to the engine as chat options.
 */
import { z } from 'zod';
import type { MlxNativeError } from '../errors.js';
import type { ChatMessage, ChatOptions, ResponseFormat } from '../engine/types.js';
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

/** A message item, a function call the model made, or its output; other item types are refused. */
const InputItem = z
  .object({
    type: z.string().optional(),
    role: z.enum(['user', 'assistant', 'system', 'developer']).optional(),
    content: z.union([z.string(), z.array(InputPart)]).optional(),
    call_id: z.string().min(1).optional(),
    name: z.string().min(1).optional(),
    arguments: z.string().optional(),
    output: z.string().optional(),
  })
  .superRefine((item, ctx) => {
    const need = (...keys: (keyof typeof item)[]) => {
      for (const key of keys) {
        if (item[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `a ${item.type ?? 'message'} item needs \`${key}\`` });
      }
    };
    if (item.type === 'function_call') need('call_id', 'name', 'arguments');
    else if (item.type === 'function_call_output') need('call_id', 'output');
    else if (item.type !== undefined && item.type !== 'message') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `input item type '${item.type}' is not supported: this server takes message, function_call and function_call_output items`,
      });
    } else need('role', 'content');
  });

/** A function tool (the Responses API's flat shape); other tool types are refused. */
const FunctionTool = z
  .object({
    type: z.literal('function', { error: 'only function tools are supported' }),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a function name is 1 to 64 letters, digits, _ or -'),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
    strict: z.boolean().nullish(),
  })
  .loose();

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
  tools: z.array(FunctionTool).nullish(),
  tool_choice: z
    .union([z.enum(['auto', 'none', 'required']), z.object({ type: z.literal('function'), name: z.string().min(1) })])
    .nullish(),
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
  const choice = body.tool_choice;
  if (typeof choice === 'object' && choice && !body.tools?.some((t) => t.name === choice.name)) {
    return invalidParam('tool_choice', `tool_choice names '${choice.name}', which is not in tools`);
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

/**
 * The request's own input as chat messages (instructions and earlier turns not included).
 * Function calls become the assistant's `tool_calls` (consecutive ones in one turn), and their
 * outputs `tool` messages.
 */
export function inputMessages(input: ResponsesRequest['input']): ChatMessage[] {
  if (typeof input === 'string') return [{ role: 'user', content: input }];
  const out: ChatMessage[] = [];
  const names = new Map<string, string>();
  for (const item of input) {
    if (item.type === 'function_call') {
      names.set(item.call_id!, item.name!);
      const call = { id: item.call_id!, type: 'function' as const, function: { name: item.name!, arguments: item.arguments! } };
      const last = out.at(-1);
      if (last?.role === 'assistant' && last.tool_calls && !last.content) last.tool_calls.push(call);
      else out.push({ role: 'assistant', content: '', tool_calls: [call] });
    } else if (item.type === 'function_call_output') {
      const name = names.get(item.call_id!);
      out.push({ role: 'tool', content: item.output!, tool_call_id: item.call_id!, ...(name ? { name } : {}) });
    } else {
      out.push({
        role: item.role!,
        content: typeof item.content === 'string' ? item.content : item.content!.map((p) => p.text ?? '').join('\n'),
      });
    }
  }
  return out;
}

/** The engine's tool options for `tools`, `tool_choice` and `parallel_tool_calls`. */
export function toolOptionsOf(body: ResponsesRequest): Pick<ChatOptions, 'tools' | 'toolChoice' | 'parallelToolCalls'> {
  if (!body.tools?.length) return {};
  const choice = body.tool_choice;
  return {
    tools: body.tools.map((t) => ({
      type: 'function' as const,
      function: { name: t.name, ...(t.description != null && { description: t.description }), ...(t.parameters != null && { parameters: t.parameters }) },
    })),
    ...(choice != null && { toolChoice: typeof choice === 'string' ? choice : { type: 'function' as const, function: { name: choice.name } } }),
    ...(body.parallel_tool_calls != null && { parallelToolCalls: body.parallel_tool_calls }),
  };
}

/** The engine's response format for `text.format` (JSON object or schema), or undefined for text. */
export function responseFormatOf(body: ResponsesRequest): ResponseFormat | undefined {
  const f = body.text?.format;
  if (f == null || f.type === 'text') return undefined;
  if (f.type === 'json_object') return { type: 'json_object' };
  return { type: 'json_schema', schema: f.schema!, name: f.name, strict: f.strict ?? undefined };
}
