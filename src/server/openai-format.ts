/**
 * Engine results and chunks as OpenAI response and stream-chunk objects, for chat
 * (`chat.completion`, `chat.completion.chunk`) and text completions (`text_completion`).
 *
 * Finish reasons pass through as the engine names them. 'abort' is not in OpenAI's list: it
 * only reaches a client whose request the server cut short while shutting down, and saying
 * so beats pretending 'stop'. (A client that disconnected gets no answer at all.)
 */
import { randomBytes } from 'node:crypto';
import type { FinishReason, GenerationResult, TokenLogprob, ToolCallDelta, Usage } from '../engine/types.js';

/** Fields every object of one response shares (each stream chunk repeats them). */
export interface ResponseMeta {
  id: string;
  created: number;
  model: string;
}

/**
 * A new id and timestamp. Ids look like OpenAI's (`chatcmpl-…`, `cmpl-…`).
 *
 * @example
 * newMeta('chat', 'SmolLM2-135M-Instruct.Q4_1') // { id: 'chatcmpl-3f…', created: 1735689600, model: … }
 */
export function newMeta(kind: 'chat' | 'text', model: string): ResponseMeta {
  const prefix = kind === 'chat' ? 'chatcmpl-' : 'cmpl-';
  return { id: prefix + randomBytes(12).toString('hex'), created: Math.floor(Date.now() / 1000), model };
}

/** OpenAI's usage object; cached prompt tokens come from the engine's prefix cache. */
export function toUsage(u: Usage) {
  return {
    prompt_tokens: u.promptTokens,
    completion_tokens: u.completionTokens,
    total_tokens: u.totalTokens,
    prompt_tokens_details: { cached_tokens: u.cachedTokens },
  };
}

const utf8 = (text: string) => Array.from(Buffer.from(text, 'utf8'));

/** Chat `logprobs` for a list of tokens: `{content: [{token, logprob, bytes, top_logprobs}], refusal}`. */
export function chatLogprobs(logprobs: TokenLogprob[] | undefined) {
  return {
    content: (logprobs ?? []).map((lp) => ({
      token: lp.text,
      logprob: lp.logprob,
      bytes: utf8(lp.text),
      top_logprobs: lp.topLogprobs.map((t) => ({ token: t.text, logprob: t.logprob, bytes: utf8(t.text) })),
    })),
    refusal: null,
  };
}

/**
 * Completions `logprobs`. `text_offset` counts UTF-16 code units from the start of the
 * generated text (there is no echo), continuing from `offset` across stream chunks.
 */
export function completionLogprobs(logprobs: TokenLogprob[] | undefined, offset = 0) {
  const out = { tokens: [] as string[], token_logprobs: [] as number[], top_logprobs: [] as Record<string, number>[], text_offset: [] as number[] };
  for (const lp of logprobs ?? []) {
    out.tokens.push(lp.text);
    out.token_logprobs.push(lp.logprob);
    out.top_logprobs.push(Object.fromEntries(lp.topLogprobs.map((t) => [t.text, t.logprob])));
    out.text_offset.push(offset);
    offset += lp.text.length;
  }
  return out;
}

/** A whole `chat.completion`. */
export function chatCompletion(meta: ResponseMeta, result: GenerationResult, wantLogprobs: boolean) {
  return {
    id: meta.id,
    object: 'chat.completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          // With tool calls and nothing else said, OpenAI's content is null.
          content: result.toolCalls?.length && !result.text.trim() ? null : result.text,
          refusal: null,
          ...(result.reasoning ? { reasoning_content: result.reasoning } : {}),
          ...(result.toolCalls?.length ? { tool_calls: result.toolCalls } : {}),
        },
        logprobs: wantLogprobs ? chatLogprobs(result.logprobs) : null,
        finish_reason: result.finishReason,
      },
    ],
    usage: toUsage(result.usage),
  };
}

/** What one chat stream chunk adds. `reasoning_content` as vLLM and DeepSeek stream it. */
export interface ChatDelta {
  role?: 'assistant';
  content?: string;
  reasoning_content?: string;
  tool_calls?: ToolCallDelta[];
}

/** One `chat.completion.chunk`. `usage: null` is present on every chunk when usage was asked for. */
export function chatChunk(
  meta: ResponseMeta,
  delta: ChatDelta,
  opts: { finish?: FinishReason; logprobs?: TokenLogprob[]; wantLogprobs: boolean; includeUsage: boolean },
) {
  return {
    id: meta.id,
    object: 'chat.completion.chunk' as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        delta,
        logprobs: opts.wantLogprobs && opts.logprobs?.length ? chatLogprobs(opts.logprobs) : null,
        finish_reason: opts.finish ?? null,
      },
    ],
    ...(opts.includeUsage ? { usage: null } : {}),
  };
}

/** The last chunk of a chat stream with `stream_options.include_usage`: no choices, only usage. */
export function chatUsageChunk(meta: ResponseMeta, usage: Usage) {
  return { id: meta.id, object: 'chat.completion.chunk' as const, created: meta.created, model: meta.model, choices: [], usage: toUsage(usage) };
}

/** A whole `text_completion`. */
export function textCompletion(meta: ResponseMeta, result: GenerationResult, wantLogprobs: boolean) {
  return {
    id: meta.id,
    object: 'text_completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        text: result.text,
        logprobs: wantLogprobs ? completionLogprobs(result.logprobs) : null,
        finish_reason: result.finishReason,
      },
    ],
    usage: toUsage(result.usage),
  };
}

/**
 * One streamed `text_completion`. Like OpenAI, `finish_reason` is null until the last chunk
 * (the published schema forgets that streamed chunks carry null there).
 */
export function textChunk(
  meta: ResponseMeta,
  text: string,
  opts: { finish?: FinishReason; logprobs?: TokenLogprob[]; offset: number; wantLogprobs: boolean; includeUsage: boolean },
) {
  return {
    id: meta.id,
    object: 'text_completion' as const,
    created: meta.created,
    model: meta.model,
    choices: [
      {
        index: 0,
        text,
        logprobs: opts.wantLogprobs ? completionLogprobs(opts.logprobs, opts.offset) : null,
        finish_reason: opts.finish ?? null,
      },
    ],
    ...(opts.includeUsage ? { usage: null } : {}),
  };
}

/** The last chunk of a completions stream with `stream_options.include_usage`. */
export function textUsageChunk(meta: ResponseMeta, usage: Usage) {
  return { id: meta.id, object: 'text_completion' as const, created: meta.created, model: meta.model, choices: [], usage: toUsage(usage) };
}
