/**
 * The models a server serves and their lifecycle: unloaded → loading → loaded (or failed), loads
 * on first request (requests for a loading model wait for it), a process-wide memory budget with
 * least-recently-used eviction, idle unloading, pinned models, and admin load/unload. Each model
 * runs on its own engine thread, so loading or unloading one never stalls another's streams.
 */
import { MlxNativeError } from '../errors.js';
import type { LoadOptions } from '../engine/model.js';
import { estimateBytes, formatBytes, readFootprint, type Footprint } from './model-footprint.js';
import type { ModelConfig } from './models-config.js';
import type { ServedModel } from './state.js';

export type ModelState = 'unloaded' | 'loading' | 'loaded' | 'failed';
export type UnloadReason = 'admin' | 'lru' | 'idle' | 'shutdown';

/** Loads and frees models by id; `Engine` from createEngine() is one. */
export interface ModelLoader {
  loadModel(id: string, path: string, options: LoadOptions): Promise<ServedModel>;
  unloadModel(id: string): Promise<unknown>;
}

/** What the pool tells the logs and metrics. */
export interface PoolHooks {
  /** A request was routed to `name`. */
  routed?(name: string): void;
  loaded?(name: string, ms: number): void;
  loadFailed?(name: string, err: MlxNativeError): void;
  unloaded?(name: string, reason: UnloadReason, aborted: number): void;
  warning?(name: string, message: string): void;
}

export interface PoolOptions {
  loader: ModelLoader;
  /** Bytes every loaded model together may use (weights plus KV budgets). */
  budgetBytes: number;
  hooks?: PoolHooks;
  /** How long routing a request keeps its model from eviction before its generation starts. */
  leaseMs?: number;
  /** A failed load is retried by a request after this long (an admin load retries at once). */
  retryFailedMs?: number;
  /** How long a load waits for busy models to go idle and make room. */
  roomWaitMs?: number;
}

/** One model's status, as /v1/models and /health report it. */
export interface ModelStatus {
  name: string;
  aliases: string[];
  path: string;
  state: ModelState;
  format?: 'gguf' | 'mlx';
  contextLength?: number;
  pinned: boolean;
  idleTtlMs: number;
  /** Weights plus KV budgets, as counted against the memory budget. */
  estimatedBytes?: number;
  activeSequences: number;
  queuedRequests: number;
  /** Milliseconds since the epoch of the last request routed to it. */
  lastUsedAt?: number;
  error?: string;
}

interface Entry {
  config: ModelConfig;
  state: ModelState;
  model?: ServedModel;
  loading?: Promise<ServedModel>;
  unloading?: Promise<unknown>;
  footprint?: Footprint;
  /** Bytes counted against the budget while loading or loaded. */
  reservedBytes: number;
  failure?: { error: MlxNativeError; at: number };
  lastUsed: number;
  leases: number;
}

const MAX_SWEEP_MS = 5000;

export class ModelPool {
  readonly #entries: Entry[];
  readonly #byName = new Map<string, Entry>();
  readonly #opts: Required<Omit<PoolOptions, 'hooks'>>;
  readonly #hooks: PoolHooks[] = [];
  #sweeper: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(models: ModelConfig[], options: PoolOptions) {
    if (models.length === 0) throw new MlxNativeError('INVALID_ARGUMENT', 'at least one model is needed');
    const { hooks, ...rest } = options;
    this.#opts = { leaseMs: 5000, retryFailedMs: 30_000, roomWaitMs: 60_000, ...rest };
    if (hooks) this.#hooks.push(hooks);
    this.#entries = models.map((config) => ({ config, state: 'unloaded', reservedBytes: 0, lastUsed: 0, leases: 0 }));
    for (const e of this.#entries) for (const n of [e.config.name, ...e.config.aliases]) this.#byName.set(n, e);
    const ttls = models.map((m) => m.idleTtlMs).filter((t) => t > 0);
    if (ttls.length > 0) {
      const every = Math.min(MAX_SWEEP_MS, Math.max(100, Math.min(...ttls) / 4));
      this.#sweeper = setInterval(() => this.#sweep(), every).unref();
    }
  }

  /** Adds listeners for loads, unloads and routed requests (logs, metrics). */
  on(hooks: PoolHooks): void {
    this.#hooks.push(hooks);
  }

  #emit<K extends keyof PoolHooks>(event: K, ...args: Parameters<NonNullable<PoolHooks[K]>>): void {
    for (const h of this.#hooks) (h[event] as ((...a: typeof args) => void) | undefined)?.(...args);
  }

  /** The model requests without a `model` field get: the first configured. */
  get defaultName(): string {
    return this.#entries[0].config.name;
  }

  get budgetBytes(): number {
    return this.#opts.budgetBytes;
  }

  /** Bytes counted against the budget by models loading or loaded. */
  get reservedBytes(): number {
    return this.#entries.reduce((sum, e) => sum + e.reservedBytes, 0);
  }

  /** The configured name `requested` refers to (a name or an alias), if any. */
  resolveName(requested: string): string | undefined {
    return this.#byName.get(requested)?.config.name;
  }

  /** Reads every model's format, context length and weight size from its files (no weights). */
  async inspect(): Promise<void> {
    await Promise.all(this.#entries.map((e) => this.#footprint(e).catch(() => undefined)));
  }

  /**
   * The model `requested` names (a name or alias; the default when absent), loaded: waits while
   * it loads, loads it when unloaded (making room by unloading idle models). Throws
   * MODEL_NOT_FOUND (404), INSUFFICIENT_MEMORY (507) or UNAVAILABLE (503, load failed).
   */
  async acquire(requested: string | null | undefined, fallbackToDefault = false): Promise<{ model: ServedModel; name: string }> {
    let entry = requested == null ? this.#entries[0] : this.#byName.get(requested);
    if (!entry && fallbackToDefault) entry = this.#entries[0];
    if (!entry) {
      const names = this.#entries.map((e) => `'${e.config.name}'`).join(', ');
      throw new MlxNativeError('MODEL_NOT_FOUND', `The model '${requested}' does not exist; this server serves ${names}`, {
        param: 'model',
      });
    }
    entry.leases++;
    entry.lastUsed = Date.now();
    this.#emit('routed', entry.config.name);
    try {
      const model = await this.#ensureLoaded(entry, false);
      entry.lastUsed = Date.now();
      return { model, name: entry.config.name };
    } finally {
      // The lease covers the gap between routing and the generation starting.
      setTimeout(() => entry.leases--, this.#opts.leaseMs).unref();
    }
  }

  /** Loads `name` now (an admin load or a preload); a failed model is retried at once. */
  async load(name: string): Promise<ModelStatus> {
    const entry = this.#entry(name);
    entry.lastUsed = Date.now();
    await this.#ensureLoaded(entry, true);
    return this.#status(entry);
  }

  /**
   * Unloads `name`: its running generations end with finish_reason 'abort'. Resolves with
   * whether it was loaded and how many generations were cut short.
   */
  async unload(name: string, reason: UnloadReason = 'admin'): Promise<{ unloaded: boolean; aborted: number }> {
    const entry = this.#entry(name);
    if (entry.loading) await entry.loading.catch(() => undefined);
    return this.#unload(entry, reason);
  }

  /** Every configured model's status, in configuration order. */
  list(): ModelStatus[] {
    return this.#entries.map((e) => this.#status(e));
  }

  /** One model's status; throws MODEL_NOT_FOUND for an unknown name or alias. */
  status(name: string): ModelStatus {
    return this.#status(this.#entry(name));
  }

  /** The loaded models, for metrics. */
  loaded(): { name: string; model: ServedModel }[] {
    return this.#entries.filter((e) => e.state === 'loaded' && e.model).map((e) => ({ name: e.config.name, model: e.model! }));
  }

  /** Stops unloading idle models, waits for loads in flight and unloads every model. */
  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    await Promise.all(this.#entries.map((e) => e.loading?.catch(() => undefined)));
    await Promise.all(this.#entries.map((e) => this.#unload(e, 'shutdown')));
  }

  #entry(name: string): Entry {
    const entry = this.#byName.get(name);
    if (!entry) throw new MlxNativeError('MODEL_NOT_FOUND', `The model '${name}' does not exist`, { param: 'model' });
    return entry;
  }

  #busy(e: Entry): boolean {
    const s = e.model?.stats();
    return e.leases > 0 || (s !== undefined && s.activeSequences + s.queuedRequests > 0);
  }

  async #footprint(e: Entry): Promise<Footprint> {
    e.footprint ??= await readFootprint(e.config.path);
    return e.footprint;
  }

  #ensureLoaded(e: Entry, retryNow: boolean): Promise<ServedModel> {
    if (this.#closed) return Promise.reject(new MlxNativeError('UNAVAILABLE', 'The server is shutting down', { reason: 'server_shutting_down' }));
    if (e.state === 'loaded' && e.model) return Promise.resolve(e.model);
    if (e.loading) return e.loading;
    if (e.state === 'failed' && e.failure && !retryNow && Date.now() - e.failure.at < this.#opts.retryFailedMs) {
      return Promise.reject(loadFailedError(e.config.name, e.failure.error));
    }
    e.state = 'loading';
    e.loading = this.#load(e).finally(() => (e.loading = undefined));
    return e.loading;
  }

  async #load(e: Entry): Promise<ServedModel> {
    const { name } = e.config;
    const started = performance.now();
    try {
      if (e.unloading) await e.unloading;
      const footprint = await this.#footprint(e).catch((err: unknown) => {
        throw new MlxNativeError('MODEL_NOT_FOUND', `[load] cannot read ${e.config.path}: ${(err as Error).message}`, { cause: err });
      });
      await this.#makeRoom(e, footprint.weightBytes);
      const model = await this.#opts.loader.loadModel(name, e.config.path, this.#loadOptions(e));
      e.model = model;
      e.state = 'loaded';
      e.failure = undefined;
      // Count what the engine reports from now on (MLX may dequantize or convert weights).
      e.reservedBytes = estimateBytes(e.config, model.info.weightBytes);
      e.lastUsed = Date.now();
      this.#emit('loaded', name, performance.now() - started);
      return model;
    } catch (err) {
      e.reservedBytes = 0;
      const error = err instanceof MlxNativeError ? err : new MlxNativeError('INTERNAL', String((err as Error)?.message ?? err));
      // A budget problem or a shutdown is not the model's fault: it stays unloaded.
      if (error.code === 'INSUFFICIENT_MEMORY' || error.reason === 'no_memory_room' || error.reason === 'server_shutting_down') {
        e.state = 'unloaded';
        throw error;
      }
      e.state = 'failed';
      e.failure = { error, at: Date.now() };
      this.#emit('loadFailed', name, error);
      throw loadFailedError(name, error);
    }
  }

  #loadOptions(e: Entry): LoadOptions {
    const c = e.config;
    return {
      contextLength: c.contextLength,
      maxBatch: c.maxBatch,
      prefillChunk: c.prefillChunk,
      dtype: c.dtype,
      kvBudgetBytes: c.kvBudgetBytes,
      prefixCacheBytes: c.prefixCacheBytes,
      chatTemplate: c.chatTemplate,
      onWarning: (message) => this.#emit('warning', c.name, message),
    };
  }

  /**
   * Reserves `need` bytes for `e`, unloading idle unpinned models least recently used first.
   * Waits (bounded) for busy models to go idle; throws INSUFFICIENT_MEMORY when `need` cannot
   * fit even with every unpinned model unloaded.
   */
  async #makeRoom(e: Entry, weightBytes: number): Promise<void> {
    const need = estimateBytes(e.config, weightBytes);
    const budget = this.#opts.budgetBytes;
    const deadline = performance.now() + this.#opts.roomWaitMs;
    for (;;) {
      if (this.#closed) throw new MlxNativeError('UNAVAILABLE', 'The server is shutting down', { reason: 'server_shutting_down' });
      const others = this.#entries.filter((o) => o !== e && o.reservedBytes > 0);
      const pinned = others.filter((o) => o.config.pinned).reduce((s, o) => s + o.reservedBytes, 0);
      if (need + pinned > budget) throw this.#neverFits(e, need, weightBytes, pinned);
      const used = others.reduce((s, o) => s + o.reservedBytes, 0);
      if (used + need <= budget) {
        e.reservedBytes = need;
        return;
      }
      const victim = others
        .filter((o) => o.state === 'loaded' && !o.config.pinned && !this.#busy(o))
        .sort((a, b) => a.lastUsed - b.lastUsed)[0];
      if (victim) {
        await this.#unload(victim, 'lru');
        continue;
      }
      if (performance.now() > deadline) {
        throw new MlxNativeError(
          'UNAVAILABLE',
          `No room to load '${e.config.name}' (needs ${formatBytes(need)}; ${formatBytes(used)} of the ${formatBytes(budget)} budget is held by models that are busy or loading); retry shortly`,
          { reason: 'no_memory_room' },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  #neverFits(e: Entry, need: number, weightBytes: number, pinned: number): MlxNativeError {
    const { name } = e.config;
    const budget = this.#opts.budgetBytes;
    return new MlxNativeError(
      'INSUFFICIENT_MEMORY',
      `The model '${name}' needs about ${formatBytes(need)} (weights ${formatBytes(weightBytes)} plus KV cache ` +
        `${formatBytes(need - weightBytes)}) but the memory budget is ${formatBytes(budget)}` +
        `${pinned > 0 ? ` and pinned models hold ${formatBytes(pinned)} of it` : ''}, so it can never be loaded; ` +
        'raise --memory-budget or lower its kv_budget',
      { reason: 'insufficient_memory' },
    );
  }

  async #unload(e: Entry, reason: UnloadReason): Promise<{ unloaded: boolean; aborted: number }> {
    if (e.state !== 'loaded' || !e.model) {
      if (e.unloading) await e.unloading;
      return { unloaded: false, aborted: 0 };
    }
    const s = e.model.stats();
    const aborted = s.activeSequences + s.queuedRequests;
    e.state = 'unloaded';
    e.model = undefined;
    e.unloading = this.#opts.loader.unloadModel(e.config.name).catch(() => undefined);
    await e.unloading;
    e.unloading = undefined;
    e.reservedBytes = 0;
    this.#emit('unloaded', e.config.name, reason, aborted);
    return { unloaded: true, aborted };
  }

  /** Unloads models idle for longer than their TTL; a running generation counts as use. */
  #sweep(): void {
    const now = Date.now();
    for (const e of this.#entries) {
      if (e.state !== 'loaded' || e.config.pinned || e.config.idleTtlMs <= 0 || e.unloading) continue;
      if (this.#busy(e)) e.lastUsed = now;
      else if (now - e.lastUsed >= e.config.idleTtlMs) void this.#unload(e, 'idle');
    }
  }

  #status(e: Entry): ModelStatus {
    const s = e.model?.stats();
    return {
      name: e.config.name,
      aliases: e.config.aliases,
      path: e.config.path,
      state: e.state,
      format: e.model?.info.format ?? e.footprint?.format,
      contextLength: e.model?.info.contextLength ?? e.config.contextLength ?? e.footprint?.contextLength,
      pinned: e.config.pinned,
      idleTtlMs: e.config.idleTtlMs,
      estimatedBytes: e.reservedBytes || (e.footprint && estimateBytes(e.config, e.footprint.weightBytes)),
      activeSequences: s?.activeSequences ?? 0,
      queuedRequests: s?.queuedRequests ?? 0,
      ...(e.lastUsed > 0 && { lastUsedAt: e.lastUsed }),
      ...(e.state === 'failed' && e.failure && { error: `${e.failure.error.code}: ${e.failure.error.message}` }),
    };
  }
}

/** The 503 a request gets for a model whose load failed. */
function loadFailedError(name: string, err: MlxNativeError): MlxNativeError {
  return new MlxNativeError('UNAVAILABLE', `The model '${name}' failed to load: ${err.code}: ${err.message}`, {
    reason: 'model_load_failed',
    cause: err,
  });
}
