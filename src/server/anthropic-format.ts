/**
 * Engine results as Anthropic Messages API objects: the `message` and the stream's events
 * (message_start, content_block_start, ping, content_block_delta, content_block_stop,
 * message_delta, message_stop). The reply's blocks: thinking, text, tool_use.
 *
 * Stop reasons: tool calls → 'tool_use', a stop sequence → 'stop_sequence' (named in `stop_sequence`), end of
 * sequence → 'end_turn', max_tokens → 'max_tokens'. A generation the server cut short while
 * shutting down also reports 'end_turn': Anthropic has no reason for it.
 */
import { randomBytes } from 'node:crypto';
import type { GenerationChunk, GenerationResult, ToolCall } from '../engine/types.js';

export interface MessageMeta {
  id: string;
  model: string;
}

export function newMessageMeta(model: string): MessageMeta {
  return { id: `msg_${randomBytes(12).toString('hex')}`, model };
}

function stopReason(result: GenerationResult): 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' {
  if (result.finishReason === 'length') return 'max_tokens';
  if (result.toolCalls?.length) return 'tool_use';
  if (result.stopSequence !== undefined) return 'stop_sequence';
  return 'end_turn';
}

/** Anthropic counts cache reads apart from `input_tokens`; the three add up to the prompt. */
function usage(result: GenerationResult) {
  const { promptTokens, cachedTokens, completionTokens } = result.usage;
  return {
    input_tokens: promptTokens - cachedTokens,
    output_tokens: completionTokens,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: cachedTokens,
  };
}

const toolUse = (call: ToolCall) => ({ type: 'tool_use' as const, id: call.id, name: call.function.name, input: JSON.parse(call.function.arguments) as unknown });

/** The reply's blocks: thinking, then text (unless only calls were made), then tool calls. */
function contentBlocks(result: GenerationResult) {
  const calls = result.toolCalls ?? [];
  return [
    ...(result.reasoning ? [{ type: 'thinking' as const, thinking: result.reasoning, signature: '' }] : []),
    ...(result.text || (!calls.length && !result.reasoning) ? [{ type: 'text' as const, text: result.text }] : []),
    ...calls.map(toolUse),
  ];
}

/** A whole `message`. */
export function messageObject(meta: MessageMeta, result: GenerationResult) {
  return {
    id: meta.id,
    type: 'message' as const,
    role: 'assistant' as const,
    model: meta.model,
    content: contentBlocks(result),
    stop_reason: stopReason(result),
    stop_sequence: result.stopSequence ?? null,
    usage: usage(result),
  };
}

/**
 * A stream's events. Plain requests open their one text block at once, as before any text.
 * With tools or thinking, blocks open as the reply reaches them (thinking, then text), and
 * tool calls come whole at the end: start, their input as one `input_json_delta`, stop. The
 * blocks match {@link messageObject}'s content.
 */
export class MessageEvents {
  #index = -1;
  #open: 'text' | 'thinking' | undefined;
  readonly #meta: MessageMeta;
  readonly #eager: boolean;

  constructor(meta: MessageMeta, opts: { eagerText: boolean }) {
    this.#meta = meta;
    this.#eager = opts.eagerText;
  }

  #start(kind: 'text' | 'thinking'): unknown[] {
    this.#open = kind;
    const block = kind === 'text' ? { type: 'text', text: '' } : { type: 'thinking', thinking: '', signature: '' };
    return [{ type: 'content_block_start', index: ++this.#index, content_block: block }];
  }

  #stop(): unknown[] {
    if (!this.#open) return [];
    this.#open = undefined;
    return [{ type: 'content_block_stop', index: this.#index }];
  }

  #into(kind: 'text' | 'thinking'): unknown[] {
    return this.#open === kind ? [] : [...this.#stop(), ...this.#start(kind)];
  }

  opening(promptTokens: number): unknown[] {
    const start = {
      type: 'message_start',
      message: {
        id: this.#meta.id,
        type: 'message',
        role: 'assistant',
        model: this.#meta.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: promptTokens, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    };
    return [start, ...(this.#eager ? this.#start('text') : []), { type: 'ping' }];
  }

  chunk(chunk: GenerationChunk): unknown[] {
    const out: unknown[] = [];
    if (chunk.reasoning) {
      out.push(...this.#into('thinking'), { type: 'content_block_delta', index: this.#index, delta: { type: 'thinking_delta', thinking: chunk.reasoning } });
    }
    if (chunk.text) out.push(...this.#into('text'), { type: 'content_block_delta', index: this.#index, delta: { type: 'text_delta', text: chunk.text } });
    return out;
  }

  /** The open block closed, the tool calls, the stop reason and final usage, the end. */
  closing(result: GenerationResult): unknown[] {
    const out = this.#stop();
    const calls = result.toolCalls ?? [];
    if (this.#index < 0 && !calls.length) out.push(...this.#start('text'), ...this.#stop());
    for (const call of calls) {
      const index = ++this.#index;
      out.push(
        { type: 'content_block_start', index, content_block: { ...toolUse(call), input: {} } },
        { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: call.function.arguments } },
        { type: 'content_block_stop', index },
      );
    }
    out.push(
      { type: 'message_delta', delta: { stop_reason: stopReason(result), stop_sequence: result.stopSequence ?? null }, usage: usage(result) },
      { type: 'message_stop' },
    );
    return out;
  }
}
