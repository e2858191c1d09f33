/**
 * The generations an rpc process is running, by request_id: starts them, streams their tokens
 * as `token` notifications at the pace stdout drains, cancels them one by one, per model, or
 * all at once (shutdown).
 */
import type { Generation } from '../engine/generation.js';
import type { GenerationChunk, GenerationResult as EngineResult, TokenLogprob } from '../engine/types.js';
import type { MemoryMonitor } from './memory.js';
import type { LoadedModel } from './models.js';
import type { LineWriter } from './output.js';
import { toChat, toGenerateOptions } from './params.js';
import { applicationError, type RpcChatParams, type RpcGenerateParams, type RpcGenerationResult, type RpcTokenLogprob } from './protocol.js';

export type RequestId = string | number;

interface Running {
  requestId: RequestId;
  modelId: string;
  generation?: Generation;
  cancelled: boolean;
  settled: Promise<unknown>;
}

const key = (id: RequestId) => `${typeof id}:${id}`;

function snakeLogprobs(lp: TokenLogprob[] | undefined): RpcTokenLogprob[] | undefined {
  return lp?.map((l) => ({ token: l.token, text: l.text, logprob: l.logprob, top_logprobs: l.topLogprobs }));
}

export class Generations {
  readonly #live = new Map<string, Running>();

  constructor(
    private readonly writer: LineWriter,
    private readonly memory: MemoryMonitor,
  ) {}

  get size(): number {
    return this.#live.size;
  }

  /**
   * Runs one generate/chat request to its end. Throws (before any token) the engine's
   * validation errors: EMPTY_PROMPT, CONTEXT_OVERFLOW, INVALID_ARGUMENT.
   */
  async run(
    kind: 'generate' | 'chat',
    model: Promise<LoadedModel>,
    params: RpcGenerateParams | RpcChatParams,
    requestId: RequestId,
  ): Promise<RpcGenerationResult> {
    // The request_id is taken before the first await: a `cancel` on the very next line finds it.
    model.catch(() => undefined); // awaited below; a duplicate request_id must not leave it unhandled
    if (this.#live.has(key(requestId))) {
      throw applicationError('REQUEST_ID_IN_USE', `request_id ${JSON.stringify(requestId)} belongs to a running generation`);
    }
    let settle!: () => void;
    const running: Running = {
      requestId,
      modelId: '',
      cancelled: false,
      settled: new Promise<void>((r) => (settle = r)),
    };
    this.#live.set(key(requestId), running);
    try {
      const loaded = await model;
      running.modelId = loaded.id;
      let gen: Generation;
      if (kind === 'chat') {
        const { messages, options } = toChat(params as RpcChatParams);
        gen = loaded.model.chat(messages, options);
      } else {
        gen = loaded.model.generate((params as RpcGenerateParams).prompt, toGenerateOptions(params));
      }
      running.generation = gen;
      if (params.stream) await this.memory.ready();
      if (running.cancelled) gen.abort();
      let generated = 0;
      for await (const chunk of gen) {
        generated += chunk.tokens.length;
        if (params.stream) await this.#notify(requestId, chunk, generated);
      }
      return this.#result(requestId, loaded.id, await gen.result);
    } finally {
      this.#live.delete(key(requestId));
      settle();
    }
  }

  /** Stops the generation within one decode step; its result has finish_reason "abort". */
  cancel(requestId: RequestId): boolean {
    const r = this.#live.get(key(requestId));
    if (!r || r.cancelled) return false;
    r.cancelled = true;
    r.generation?.abort();
    return true;
  }

  /** Aborts every generation (of one model, when given); resolves once all have ended. */
  async abortAll(modelId?: string): Promise<number> {
    const targets = [...this.#live.values()].filter((r) => modelId === undefined || r.modelId === modelId);
    for (const r of targets) this.cancel(r.requestId);
    await Promise.all(targets.map((r) => r.settled));
    return targets.length;
  }

  async #notify(requestId: RequestId, chunk: GenerationChunk, generated: number): Promise<void> {
    const params: Record<string, unknown> = {
      request_id: requestId,
      text: chunk.text,
      tokens: chunk.tokens,
      tokens_generated: generated,
      memory: this.memory.current(),
    };
    if (chunk.logprobs) params.logprobs = snakeLogprobs(chunk.logprobs);
    if (chunk.reasoning) params.reasoning = chunk.reasoning;
    if (chunk.toolCalls?.length) params.tool_calls = chunk.toolCalls;
    // Backpressure: a consumer that stops reading stdout holds this loop here.
    if (!this.writer.send({ jsonrpc: '2.0', method: 'token', params })) await this.writer.drained();
  }

  #result(requestId: RequestId, modelId: string, r: EngineResult): RpcGenerationResult {
    const out: RpcGenerationResult = {
      request_id: requestId,
      model: modelId,
      text: r.text,
      tokens: r.tokens,
      prompt_tokens: r.usage.promptTokens,
      completion_tokens: r.usage.completionTokens,
      cached_tokens: r.usage.cachedTokens,
      finish_reason: r.finishReason,
      timings: {
        time_to_first_token_ms: r.timings.timeToFirstTokenMs,
        prefill_tokens_per_second: r.timings.prefillTokensPerSecond,
        decode_tokens_per_second: r.timings.decodeTokensPerSecond,
        total_ms: r.timings.totalMs,
      },
    };
    if (r.logprobs) out.logprobs = snakeLogprobs(r.logprobs);
    if (r.stopSequence !== undefined) out.stop_sequence = r.stopSequence;
    if (r.reasoning !== undefined) out.reasoning = r.reasoning;
    if (r.toolCalls?.length) out.tool_calls = r.toolCalls;
    return out;
  }
}
