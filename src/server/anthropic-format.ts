/**
 * Engine results as Anthropic Messages API objects: the `message` and the stream's events
 * (message_start, content_block_start, ping, content_block_delta, content_block_stop,
 * message_delta, message_stop). The reply is one text block.
 *
 * Stop reasons: a stop sequence → 'stop_sequence' (named in `stop_sequence`), end of
 * sequence → 'end_turn', max_tokens → 'max_tokens'. A generation the server cut short while
 * shutting down also reports 'end_turn': Anthropic has no reason for it.
 */
import { randomBytes } from 'node:crypto';
import type { GenerationResult } from '../engine/types.js';

export interface MessageMeta {
  id: string;
  model: string;
}

export function newMessageMeta(model: string): MessageMeta {
  return { id: `msg_${randomBytes(12).toString('hex')}`, model };
}

function stopReason(result: GenerationResult): 'end_turn' | 'max_tokens' | 'stop_sequence' {
  if (result.finishReason === 'length') return 'max_tokens';
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

/** A whole `message`. */
export function messageObject(meta: MessageMeta, result: GenerationResult) {
  return {
    id: meta.id,
    type: 'message' as const,
    role: 'assistant' as const,
    model: meta.model,
    content: [{ type: 'text' as const, text: result.text }],
    stop_reason: stopReason(result),
    stop_sequence: result.stopSequence ?? null,
    usage: usage(result),
  };
}

/** The events before any text: the empty message, the text block opened, a ping. */
export function openingEvents(meta: MessageMeta, promptTokens: number): unknown[] {
  return [
    {
      type: 'message_start',
      message: {
        id: meta.id,
        type: 'message',
        role: 'assistant',
        model: meta.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { input_tokens: promptTokens, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'ping' },
  ];
}

export function deltaEvent(text: string): unknown {
  return { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } };
}

/** The events after the text: the block closed, the stop reason and final usage, the end. */
export function closingEvents(result: GenerationResult): unknown[] {
  return [
    { type: 'content_block_stop', index: 0 },
    {
      type: 'message_delta',
      delta: { stop_reason: stopReason(result), stop_sequence: result.stopSequence ?? null },
      usage: usage(result),
    },
    { type: 'message_stop' },
  ];
}
