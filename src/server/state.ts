/**
 * The server's lifecycle and admission state: loading → ready → draining, the models it serves
 * (a {@link ModelPool}), the bounded count of admitted requests, and the live generations a
 * shutdown may have to abort.
 */
import type { ModelPool } from './model-pool.js';
import type { EmbeddingResult, EmbedInput, EmbedOptions } from '../engine/embed.js';
import type { ChatMessage, GenerateOptions, GenerationChunk, GenerationResult, ModelInfo } from '../engine/types.js';

/** The part of a Generation the server uses (the engine's `Generation` class has it). */
export interface ServedGeneration extends AsyncIterable<GenerationChunk> {
  readonly promptTokens: number;
  readonly result: Promise<GenerationResult>;
  abort(): void;
}

/** The part of a Model the server uses (the engine's `Model` class has it). */
export interface ServedModel {
  readonly info: Pick<ModelInfo, 'contextLength' | 'vocabSize' | 'path' | 'format' | 'weightBytes' | 'hiddenSize' | 'pooling'>;
  readonly name: string;
  generate(prompt: string | number[], options?: GenerateOptions): ServedGeneration;
  chat(messages: ChatMessage[], options?: GenerateOptions): ServedGeneration;
  embed(input: EmbedInput, options?: EmbedOptions): Promise<EmbeddingResult>;
  tokenize(text: string): number[];
  detokenize(ids: readonly number[]): string;
  chatPromptTokens(messages: ChatMessage[], options?: { addGenerationPrompt?: boolean }): number[];
  stats(): { activeSequences: number; queuedRequests: number };
  memory(): Promise<{ activeMemory: number; peakMemory: number; cacheMemory: number }>;
  /** Engine counters; the server exposes the KV cache figures. */
  counters(): Promise<{ kvReservedBytes: number; prefixCacheBytes: number }>;
  dispose(): Promise<void>;
}

export type Phase = 'loading' | 'ready' | 'failed' | 'draining';

/** Why a generation was aborted by the server rather than finishing on its own. */
export type AbortReason = 'client_disconnect' | 'shutdown';

/** A generation the server is running, with the reason it was aborted, if it was. */
export interface TrackedGeneration {
  readonly generation: ServedGeneration;
  abortReason?: AbortReason;
  /** Aborts once; later calls keep the first reason; no-op once the generation settled. */
  abort(reason: AbortReason): void;
}

/**
 * Shared by the routes and the CLI. The CLI moves the phase (ready once the models loaded at
 * start are in); routes get models from the pool, admit requests and track generations.
 *
 * @example
 * const state = new ServerState({ maxQueue: 32, pool });
 * await pool.load(pool.defaultName);
 * state.setReady();
 * // on SIGTERM:
 * state.startDraining();
 * if (!(await state.waitIdle(5_000))) state.abortAll('shutdown');
 */
export class ServerState {
  #phase: Phase = 'loading';
  readonly pool: ModelPool;
  #failure: string | undefined;
  #admitted = 0;
  readonly #maxQueue: number;
  readonly #live = new Set<TrackedGeneration>();
  #idleWaiters: (() => void)[] = [];

  constructor(opts: { maxQueue: number; pool: ModelPool }) {
    this.#maxQueue = opts.maxQueue;
    this.pool = opts.pool;
  }

  get phase(): Phase {
    return this.#phase;
  }

  /** The default model when it is loaded. */
  get model(): ServedModel | undefined {
    return this.pool.loaded().find((m) => m.name === this.pool.defaultName)?.model;
  }

  /** Why loading failed, when phase is 'failed'. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** Requests admitted and not yet finished. */
  get admitted(): number {
    return this.#admitted;
  }

  /** The models loaded at start are in: requests are served from now on. */
  setReady(): void {
    if (this.#phase === 'loading') this.#phase = 'ready';
  }

  setFailed(message: string): void {
    this.#failure = message;
    if (this.#phase === 'loading') this.#phase = 'failed';
  }

  /** From now on new requests get 503; admitted ones continue. */
  startDraining(): void {
    this.#phase = 'draining';
  }

  /** Takes one of the --max-queue slots; false when all are taken. Pair with {@link release}. */
  tryAdmit(): boolean {
    if (this.#admitted >= this.#maxQueue) return false;
    this.#admitted++;
    return true;
  }

  release(): void {
    this.#admitted--;
    if (this.#admitted === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Registers a live generation until its result settles. */
  track(generation: ServedGeneration): TrackedGeneration {
    let settled = false;
    const tracked: TrackedGeneration = {
      generation,
      abort(reason) {
        // A generation that already ended was not cut short, whatever happens to its client.
        if (tracked.abortReason || settled) return;
        tracked.abortReason = reason;
        generation.abort();
      },
    };
    this.#live.add(tracked);
    const untrack = () => {
      settled = true;
      this.#live.delete(tracked);
    };
    generation.result.then(untrack, untrack);
    return tracked;
  }

  /** Aborts every live generation; their requests finish with finish_reason 'abort'. */
  abortAll(reason: AbortReason): number {
    let n = 0;
    for (const tracked of this.#live) {
      if (!tracked.abortReason) n++;
      tracked.abort(reason);
    }
    return n;
  }

  /** Resolves true once no request is admitted, or false after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.#admitted === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}
