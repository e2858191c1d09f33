/**
 * Engine results as OpenAI Responses API objects: the `response` object and the stream's
 * events, numbered in order (`sequence_number`). One assistant message with one `output_text`
 * part is the whole output.
 */
import { randomBytes } from 'node:crypto';
import type { GenerationResult, Usage } from '../engine/types.js';
import type { HttpError } from './errors.js';
import type { ResponsesRequest } from './responses-schema.js';

type Status = 'in_progress' | 'completed' | 'incomplete' | 'cancelled';

/** What every object of one response repeats: ids, times and the request's settings. */
export interface ResponseMeta {
  id: string;
  messageId: string;
  createdAt: number;
  model: string;
  body: ResponsesRequest;
  temperature: number;
  topP: number;
}

const hex = () => randomBytes(12).toString('hex');

/** New ids (`resp_…`, `msg_…`) and the creation time. */
export function newResponseMeta(model: string, body: ResponsesRequest, temperature: number, topP: number): ResponseMeta {
  return { id: `resp_${hex()}`, messageId: `msg_${hex()}`, createdAt: Math.floor(Date.now() / 1000), model, body, temperature, topP };
}

function usage(u: Usage) {
  return {
    input_tokens: u.promptTokens,
    input_tokens_details: { cached_tokens: u.cachedTokens, cache_write_tokens: 0 },
    output_tokens: u.completionTokens,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.totalTokens,
  };
}

const textPart = (text: string) => ({ type: 'output_text' as const, text, annotations: [], logprobs: [] });

function message(meta: ResponseMeta, status: 'in_progress' | 'completed' | 'incomplete', text?: string) {
  return {
    id: meta.messageId,
    type: 'message' as const,
    role: 'assistant' as const,
    status,
    content: text === undefined ? [] : [textPart(text)],
  };
}

/** The model's function calls as output items, after the message (ids fixed by the response's). */
function functionCalls(meta: ResponseMeta, result: GenerationResult) {
  return (result.toolCalls ?? []).map((call, i) => ({
    type: 'function_call' as const,
    id: `fc_${meta.id.slice('resp_'.length)}_${i}`,
    call_id: call.id,
    name: call.function.name,
    arguments: call.function.arguments,
    status: 'completed' as const,
  }));
}

/** How a generation's finish maps onto a response's status. */
function statusOf(result: GenerationResult): Status {
  if (result.finishReason === 'length') return 'incomplete';
  if (result.finishReason === 'abort') return 'cancelled';
  return 'completed';
}

/** The `response` object: in progress (no result yet) or finished. */
export function responseObject(meta: ResponseMeta, result?: GenerationResult) {
  const status: Status = result ? statusOf(result) : 'in_progress';
  const { body } = meta;
  return {
    id: meta.id,
    object: 'response' as const,
    created_at: meta.createdAt,
    status,
    completed_at: status === 'completed' ? Math.floor(Date.now() / 1000) : null,
    error: null,
    incomplete_details: status === 'incomplete' ? { reason: 'max_output_tokens' as const } : null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    model: meta.model,
    output: result ? [message(meta, status === 'completed' ? 'completed' : 'incomplete', result.text), ...functionCalls(meta, result)] : [],
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: null,
    store: body.store ?? true,
    temperature: meta.temperature,
    text: { format: meta.body.text?.format ?? { type: 'text' as const } },
    tool_choice: body.tool_choice ?? ('auto' as const),
    tools: (body.tools ?? []).map((t) => ({
      type: 'function' as const,
      name: t.name,
      description: t.description ?? null,
      parameters: t.parameters ?? null,
      strict: t.strict ?? null,
    })),
    top_p: meta.topP,
    truncation: body.truncation ?? 'disabled',
    ...(result && { usage: usage(result.usage) }),
    ...(body.user != null && { user: body.user }),
    metadata: body.metadata ?? {},
  };
}

/**
 * The stream's events in order. `opening` (created, in_progress, the message and its text part
 * added), `delta` per piece of text, `closing` (text done, part done, item done, each function
 * call's item, then completed or incomplete), and `error` if generation fails.
 */
export class ResponseEvents {
  #seq = 0;
  readonly #meta: ResponseMeta;

  constructor(meta: ResponseMeta) {
    this.#meta = meta;
  }

  #event<T extends object>(type: string, fields: T) {
    return { type, ...fields, sequence_number: this.#seq++ };
  }

  #where(): { item_id: string; output_index: number; content_index: number } {
    return { item_id: this.#meta.messageId, output_index: 0, content_index: 0 };
  }

  opening(): unknown[] {
    const response = responseObject(this.#meta);
    return [
      this.#event('response.created', { response }),
      this.#event('response.in_progress', { response }),
      this.#event('response.output_item.added', { output_index: 0, item: message(this.#meta, 'in_progress') }),
      this.#event('response.content_part.added', { ...this.#where(), part: textPart('') }),
    ];
  }

  delta(text: string): unknown {
    return this.#event('response.output_text.delta', { ...this.#where(), delta: text, logprobs: [] });
  }

  closing(result: GenerationResult): unknown[] {
    const response = responseObject(this.#meta, result);
    // Cut short by max_output_tokens or by a shutdown: `response.incomplete`, the status says which.
    const done = response.status === 'completed' ? 'response.completed' : 'response.incomplete';
    return [
      this.#event('response.output_text.done', { ...this.#where(), text: result.text, logprobs: [] }),
      this.#event('response.content_part.done', { ...this.#where(), part: textPart(result.text) }),
      this.#event('response.output_item.done', { output_index: 0, item: response.output[0] }),
      // Function calls follow the message, each whole: added, its arguments, done.
      ...functionCalls(this.#meta, result).flatMap((call, i) => {
        const where = { item_id: call.id, output_index: 1 + i };
        return [
          this.#event('response.output_item.added', { output_index: 1 + i, item: { ...call, arguments: '', status: 'in_progress' } }),
          this.#event('response.function_call_arguments.delta', { ...where, delta: call.arguments }),
          this.#event('response.function_call_arguments.done', { ...where, name: call.name, arguments: call.arguments }),
          this.#event('response.output_item.done', { output_index: 1 + i, item: call }),
        ];
      }),
      this.#event(done, { response }),
    ];
  }

  error(err: HttpError): unknown {
    const { message, code, param } = err.body.error;
    return this.#event('error', { code, message, param });
  }
}
