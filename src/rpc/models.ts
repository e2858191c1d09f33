/**
 * The models an rpc process has loaded, by id: load (ids reserved while loading, so two loads
 * cannot take one id), lookup, unload, listing and the memory report.
 */
import { basename } from 'node:path';
import { loadModel, type Model } from '../engine/model.js';
import type { Logger } from './logger.js';
import { toLoadOptions } from './params.js';
import {
  applicationError,
  type RpcListModelsResult,
  type RpcLoadModelParams,
  type RpcLoadModelResult,
  type RpcMemoryReport,
  type RpcModelDescription,
} from './protocol.js';

export interface LoadedModel {
  id: string;
  model: Model;
}

function describe(id: string, m: Model): RpcModelDescription {
  const i = m.info;
  return {
    id,
    path: i.path,
    format: i.format,
    architecture: i.architecture,
    quantization: i.quantization,
    parameter_count: i.parameterCount,
    context_length: i.contextLength,
    vocab_size: i.vocabSize,
    weight_bytes: i.weightBytes,
  };
}

/** A model's default id: its file or directory name without `.gguf`. */
export function defaultModelId(path: string): string {
  return basename(path.replace(/[/\\]+$/, '')).replace(/\.gguf$/i, '');
}

export class ModelRegistry {
  readonly #models = new Map<string, LoadedModel>();
  readonly #loading = new Map<string, Promise<unknown>>();
  #closed = false;

  constructor(private readonly log: Logger) {}

  get size(): number {
    return this.#models.size;
  }

  async load(p: RpcLoadModelParams): Promise<RpcLoadModelResult> {
    if (this.#closed) throw applicationError('SHUTTING_DOWN', 'the process is shutting down');
    const id = p.id ?? defaultModelId(p.model);
    if (this.#models.has(id) || this.#loading.has(id)) {
      throw applicationError('MODEL_ID_IN_USE', `a model with id "${id}" is already loaded or loading; unload it or pass another id`);
    }
    const started = performance.now();
    const loading = loadModel(p.model, {
      ...toLoadOptions(p.options),
      onWarning: (message) => this.log.warn(message, { model: id }),
    });
    this.#loading.set(id, loading.catch(() => undefined));
    let model: Model;
    try {
      model = await loading;
    } finally {
      this.#loading.delete(id);
    }
    if (this.#closed) {
      await model.dispose();
      throw applicationError('SHUTTING_DOWN', 'the process is shutting down; the model was freed');
    }
    this.#models.set(id, { id, model });
    const load_ms = Math.round(performance.now() - started);
    this.log.info('model loaded', { id, path: model.info.path, load_ms });
    return { ...describe(id, model), load_ms };
  }

  /**
   * Like {@link get}, but first waits for a load in flight that could provide the model, so a
   * supervisor may send load_model and generate back to back.
   */
  async resolve(id: string | undefined): Promise<LoadedModel> {
    if (id !== undefined && this.#loading.has(id)) await this.#loading.get(id);
    else if (id === undefined && this.#models.size === 0) await Promise.all(this.#loading.values());
    return this.get(id);
  }

  /** The model `id`, or the only one loaded when `id` is undefined. */
  get(id: string | undefined): LoadedModel {
    if (id === undefined) {
      if (this.#models.size === 1) return this.#models.values().next().value!;
      throw applicationError(
        'UNKNOWN_MODEL',
        this.#models.size === 0 ? 'no model is loaded: call load_model first' : 'several models are loaded: name one in `model`',
      );
    }
    const m = this.#models.get(id);
    if (!m) throw applicationError('UNKNOWN_MODEL', `no model with id "${id}" is loaded`);
    return m;
  }

  /** Removes the model from the registry (new requests cannot reach it) and frees it. */
  async unload(id: string, beforeDispose: (m: LoadedModel) => Promise<void>): Promise<void> {
    const m = this.get(id);
    this.#models.delete(id);
    await beforeDispose(m);
    await m.model.dispose();
    this.log.info('model unloaded', { id });
  }

  list(): RpcListModelsResult {
    return {
      models: [...this.#models.values()].map(({ id, model }) => ({ ...describe(id, model), ...snakeStats(model.stats()) })),
    };
  }

  /** Any loaded model, for process-wide MLX memory figures. */
  any(): Model | undefined {
    return this.#models.values().next().value?.model;
  }

  async memoryReport(processWide: () => Promise<{ activeMemory: number; peakMemory: number; cacheMemory: number }>): Promise<RpcMemoryReport> {
    const models = await Promise.all(
      [...this.#models.values()].map(async ({ id, model }) => {
        const c = await model.counters();
        return {
          id,
          weight_bytes: model.info.weightBytes,
          kv_reserved_bytes: c.kvReservedBytes,
          prefix_cache_bytes: c.prefixCacheBytes,
          active_sequences: c.activeSequences,
          waiting_requests: c.waitingRequests,
        };
      }),
    );
    const mem = await processWide();
    return {
      active_bytes: mem.activeMemory,
      peak_bytes: mem.peakMemory,
      cache_bytes: mem.cacheMemory,
      kv_bytes: models.reduce((s, m) => s + m.kv_reserved_bytes + m.prefix_cache_bytes, 0),
      models,
    };
  }

  /** Refuses new loads, waits for loads in flight (their models are freed), frees every model. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all(this.#loading.values());
    const models = [...this.#models.values()];
    this.#models.clear();
    await Promise.all(models.map((m) => m.model.dispose()));
  }
}

function snakeStats(s: { activeSequences: number; queuedRequests: number }) {
  return { active_sequences: s.activeSequences, queued_requests: s.queuedRequests };
}
