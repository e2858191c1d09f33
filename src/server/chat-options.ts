/**
 * The chat-only request fields (tools, tool_choice, response_format, reasoning) as the engine's
 * ChatOptions, and the engine's option names in errors turned back into the request's.
 */
import { MlxNativeError } from '../errors.js';
import type { ChatMessage, ChatOptions, GenerateOptions, ResponseFormat } from '../engine/types.js';
import type { RouteOptions } from './routes/context.js';
import type { ChatCompletionRequest } from './schemas.js';

/** OpenAI message content (a string or text parts) as the engine's plain string, tool fields kept. */
export function toChatMessages(messages: ChatCompletionRequest['messages']): ChatMessage[] {
  return messages.map((m) => {
    const out: ChatMessage = {
      role: m.role,
      content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text ?? '').join('\n'),
    };
    if (m.tool_calls?.length) out.tool_calls = m.tool_calls;
    if (m.tool_call_id != null) out.tool_call_id = m.tool_call_id;
    if (m.name !== undefined && m.role === 'tool') out.name = m.name;
    if (m.reasoning_content != null) out.reasoning_content = m.reasoning_content;
    return out;
  });
}

function responseFormat(body: ChatCompletionRequest): ResponseFormat | undefined {
  const f = body.response_format;
  if (f == null || f.type === 'text') return undefined;
  if (f.type === 'json_object' || !f.json_schema.schema) return { type: 'json_object' };
  return { type: 'json_schema', schema: f.json_schema.schema, name: f.json_schema.name, strict: f.json_schema.strict ?? undefined };
}

/** The engine's ChatOptions for a request, on top of its generation options. */
export function toChatOptions(body: ChatCompletionRequest, base: GenerateOptions, server: RouteOptions): ChatOptions {
  const options: ChatOptions = { ...base };
  const format = responseFormat(body);
  if (format) options.responseFormat = format;
  if (body.tools?.length) {
    options.tools = body.tools.map((t) => ({
      type: 'function',
      function: {
        name: t.function.name,
        ...(t.function.description != null ? { description: t.function.description } : {}),
        ...(t.function.parameters != null ? { parameters: t.function.parameters } : {}),
      },
    }));
  }
  if (body.tool_choice != null) options.toolChoice = body.tool_choice;
  if (body.parallel_tool_calls != null) options.parallelToolCalls = body.parallel_tool_calls;
  if (server.toolCallFormat) options.toolCallFormat = server.toolCallFormat;
  const enableThinking = body.chat_template_kwargs?.enable_thinking;
  options.reasoning = {
    mode: server.reasoning ?? 'auto',
    ...(body.max_reasoning_tokens != null ? { budget: body.max_reasoning_tokens } : {}),
    ...(body.reasoning_effort != null ? { effort: body.reasoning_effort } : {}),
    ...(enableThinking != null ? { enableThinking } : {}),
  };
  // The server's default is auto: only watch for a block when the template speaks of one.
  if (server.reasoning === undefined || server.reasoning === 'auto') delete options.reasoning.mode;
  return options;
}

const PARAMS: [RegExp, string][] = [
  [/^responseFormat/, 'response_format'],
  [/^toolChoice/, 'tool_choice'],
  [/^reasoning\.budget/, 'max_reasoning_tokens'],
  [/^reasoning\.effort/, 'reasoning_effort'],
];

/** An engine error about a chat option, renamed to the request field it came from. */
export function toRequestParam(err: unknown): unknown {
  if (!(err instanceof MlxNativeError) || err.param === undefined) return err;
  const rule = PARAMS.find(([re]) => re.test(err.param!));
  if (!rule) return err;
  const message = err.message.replace(/^(responseFormat|toolChoice)/, rule[1]);
  const copy = new MlxNativeError(err.code, message, { param: rule[1], reason: err.reason, cause: err.cause });
  copy.stack = err.stack;
  return copy;
}
