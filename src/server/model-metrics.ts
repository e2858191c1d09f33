/**
 * Per-model Prometheus metrics, labelled `model`: state, memory counted against the budget,
 * live sequences, KV cache, routed requests, loads and unloads. Engine figures are read when
 * /metrics is scraped.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EngineProbe } from './metrics.js';
import type { ModelPool, ModelState } from './model-pool.js';

const STATES: ModelState[] = ['unloaded', 'loading', 'loaded', 'failed'];

/**
 * Registers the per-model metrics on `registry` and subscribes to the pool's events.
 *
 * @example
 * registerModelMetrics(metrics.registry, pool);
 */
export function registerModelMetrics(registry: Registry, pool: ModelPool): void {
  const registers = [registry];
  const requests = new Counter({
    name: 'mlx_native_model_requests_total',
    help: 'API requests routed to a model (by its configured name)',
    labelNames: ['model'],
    registers,
  });
  const loads = new Counter({
    name: 'mlx_native_model_loads_total',
    help: 'Model loads by outcome (loaded, failed)',
    labelNames: ['model', 'outcome'],
    registers,
  });
  const unloads = new Counter({
    name: 'mlx_native_model_unloads_total',
    help: 'Model unloads by reason (admin, lru, idle, shutdown)',
    labelNames: ['model', 'reason'],
    registers,
  });
  const loadSeconds = new Histogram({
    name: 'mlx_native_model_load_seconds',
    help: 'Time to load a model, making room included',
    labelNames: ['model'],
    buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers,
  });
  pool.on({
    routed: (model) => requests.inc({ model }),
    loaded: (model, ms) => {
      loads.inc({ model, outcome: 'loaded' });
      loadSeconds.observe({ model }, ms / 1000);
    },
    loadFailed: (model) => loads.inc({ model, outcome: 'failed' }),
    unloaded: (model, reason) => unloads.inc({ model, reason }),
  });

  new Gauge({
    name: 'mlx_native_model_state',
    help: 'A model\'s state: 1 for the state it is in (unloaded, loading, loaded, failed)',
    labelNames: ['model', 'state'],
    registers,
    collect() {
      for (const m of pool.list()) for (const state of STATES) this.set({ model: m.name, state }, m.state === state ? 1 : 0);
    },
  });
  new Gauge({
    name: 'mlx_native_model_memory_bytes',
    help: 'Memory a model is counted for against the budget (weights plus KV budgets) while loading or loaded',
    labelNames: ['model'],
    registers,
    collect() {
      for (const m of pool.list()) this.set({ model: m.name }, m.state === 'loaded' || m.state === 'loading' ? (m.estimatedBytes ?? 0) : 0);
    },
  });
  new Gauge({
    name: 'mlx_native_memory_budget_bytes',
    help: 'The memory budget all loaded models share (--memory-budget)',
    registers,
    collect() {
      this.set(pool.budgetBytes);
    },
  });
  new Gauge({
    name: 'mlx_native_model_active_sequences',
    help: 'Sequences a model is decoding',
    labelNames: ['model'],
    registers,
    collect() {
      for (const m of pool.list()) this.set({ model: m.name }, m.activeSequences);
    },
  });
  new Gauge({
    name: 'mlx_native_model_queued_requests',
    help: 'Requests waiting for or in prefill on a model',
    labelNames: ['model'],
    registers,
    collect() {
      for (const m of pool.list()) this.set({ model: m.name }, m.queuedRequests);
    },
  });
  new Gauge({
    name: 'mlx_native_model_kv_reserved_bytes',
    help: 'KV cache bytes reserved by a model\'s running sequences',
    labelNames: ['model'],
    registers,
    async collect() {
      this.reset();
      await Promise.all(
        pool.loaded().map(async ({ name, model }) => {
          const c = await model.counters().catch(() => undefined);
          this.set({ model: name }, c?.kvReservedBytes ?? 0);
        }),
      );
    },
  });
}

/**
 * The server-wide engine figures over every loaded model: live counts and KV bytes add up; MLX
 * memory is one allocator for the whole process, so any model reports it.
 */
export function poolProbe(pool: ModelPool): EngineProbe | undefined {
  const models = pool.loaded().map((m) => m.model);
  if (models.length === 0) return undefined;
  return {
    stats: () =>
      models.reduce(
        (sum, m) => {
          const s = m.stats();
          return { activeSequences: sum.activeSequences + s.activeSequences, queuedRequests: sum.queuedRequests + s.queuedRequests };
        },
        { activeSequences: 0, queuedRequests: 0 },
      ),
    memory: () => models[0].memory(),
    counters: async () => {
      const all = await Promise.all(models.map((m) => m.counters()));
      return all.reduce(
        (sum, c) => ({ kvReservedBytes: sum.kvReservedBytes + c.kvReservedBytes, prefixCacheBytes: sum.prefixCacheBytes + c.prefixCacheBytes }),
        { kvReservedBytes: 0, prefixCacheBytes: 0 },
      );
    },
  };
}
