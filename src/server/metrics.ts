/**
 * Prometheus metrics of one server, on its own registry (several apps in one process, as in
 * tests, never share counters). Engine gauges are read when /metrics is scraped.
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { GenerationResult } from '../engine/types.js';

/** What the metrics read from the engine at scrape time; absent while the model loads. */
export interface EngineProbe {
  stats(): { activeSequences: number; queuedRequests: number };
  memory(): Promise<{ activeMemory: number; peakMemory: number; cacheMemory: number }>;
  counters(): Promise<{ kvReservedBytes: number; prefixCacheBytes: number }>;
}

// Latencies of a small CPU model reach seconds; of a large one on Metal, milliseconds.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/**
 * The server's metrics, all prefixed `mlx_native_`.
 *
 * @example
 * const metrics = new Metrics(() => model);
 * metrics.requests.inc({ route: '/v1/models', status: '200' });
 * reply.type(metrics.contentType).send(await metrics.render());
 */
export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'status'>;
  readonly cancelled: Counter<'reason'>;
  readonly admitted: Counter;
  readonly settled: Counter<'outcome'>;
  readonly promptTokens: Counter;
  readonly completionTokens: Counter;
  readonly prefixCacheHits: Counter;
  readonly prefixCacheReusedTokens: Counter;
  readonly timeToFirstToken: Histogram;
  readonly interTokenLatency: Histogram;
  readonly requestDuration: Histogram<'route'>;
  readonly inFlight: Gauge;

  constructor(probe: () => EngineProbe | undefined) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'mlx_native_requests_total',
      help: 'HTTP requests by route and status (499: the client closed the connection first)',
      labelNames: ['route', 'status'],
      registers,
    });
    this.cancelled = new Counter({
      name: 'mlx_native_requests_cancelled_total',
      help: 'Generations aborted before they finished, by reason (client_disconnect, shutdown)',
      labelNames: ['reason'],
      registers,
    });
    this.admitted = new Counter({
      name: 'mlx_native_requests_admitted_total',
      help: 'Completion requests whose generation started (after the queue bound and input checks)',
      registers,
    });
    this.settled = new Counter({
      name: 'mlx_native_requests_settled_total',
      help: 'Admitted completion requests that ended, by outcome (completed, errored, cancelled); equals admitted once idle',
      labelNames: ['outcome'],
      registers,
    });
    this.promptTokens = new Counter({ name: 'mlx_native_prompt_tokens_total', help: 'Prompt tokens processed', registers });
    this.completionTokens = new Counter({
      name: 'mlx_native_completion_tokens_total',
      help: 'Tokens generated',
      registers,
    });
    this.prefixCacheHits = new Counter({
      name: 'mlx_native_prefix_cache_hits_total',
      help: 'Requests that reused prompt tokens from the prefix cache',
      registers,
    });
    this.prefixCacheReusedTokens = new Counter({
      name: 'mlx_native_prefix_cache_reused_tokens_total',
      help: 'Prompt tokens whose KV came from the prefix cache',
      registers,
    });
    this.timeToFirstToken = new Histogram({
      name: 'mlx_native_time_to_first_token_seconds',
      help: 'Time from admitting a request to its first generated token, queueing and prefill included',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.interTokenLatency = new Histogram({
      name: 'mlx_native_inter_token_latency_seconds',
      help: 'Time between generated tokens as the server receives them',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.requestDuration = new Histogram({
      name: 'mlx_native_request_duration_seconds',
      help: 'Time from receiving a completion request to its last byte',
      labelNames: ['route'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.inFlight = new Gauge({
      name: 'mlx_native_requests_in_flight',
      help: 'Completion requests admitted and not finished (the --max-queue limit applies to this)',
      registers,
    });
    new Gauge({
      name: 'mlx_native_queue_depth',
      help: 'Requests waiting in the engine for a batch slot',
      registers,
      collect() {
        this.set(probe()?.stats().queuedRequests ?? 0);
      },
    });
    new Gauge({
      name: 'mlx_native_active_sequences',
      help: 'Sequences the engine is prefilling or decoding',
      registers,
      collect() {
        this.set(probe()?.stats().activeSequences ?? 0);
      },
    });
    const memoryGauge = (name: string, help: string, field: 'activeMemory' | 'peakMemory' | 'cacheMemory') =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const engine = probe();
          // A model disposed during shutdown cannot answer; report nothing rather than fail the scrape.
          const mem = engine ? await engine.memory().catch(() => undefined) : undefined;
          this.set(mem?.[field] ?? 0);
        },
      });
    memoryGauge('mlx_native_mlx_active_memory_bytes', 'MLX memory in use by arrays', 'activeMemory');
    memoryGauge('mlx_native_mlx_peak_memory_bytes', 'Highest MLX memory in use since start', 'peakMemory');
    memoryGauge('mlx_native_mlx_cache_memory_bytes', 'MLX memory held in its buffer cache', 'cacheMemory');
    const counterGauge = (name: string, help: string, field: 'kvReservedBytes' | 'prefixCacheBytes') =>
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          const engine = probe();
          const counters = engine ? await engine.counters().catch(() => undefined) : undefined;
          this.set(counters?.[field] ?? 0);
        },
      });
    counterGauge('mlx_native_kv_reserved_bytes', 'KV cache bytes reserved by running sequences', 'kvReservedBytes');
    counterGauge('mlx_native_prefix_cache_bytes', 'KV cache bytes kept for prefix reuse (bounded; part of MLX active memory)', 'prefixCacheBytes');
  }

  /**
   * Counts a finished generation. Completion tokens are counted live as chunks arrive (so a
   * cancelled stream visibly stops adding); `streamedTokens` is that count, topped up here to
   * the engine's final figure.
   */
  recordResult(result: GenerationResult, streamedTokens: number): void {
    this.promptTokens.inc(result.usage.promptTokens);
    if (result.usage.completionTokens > streamedTokens) {
      this.completionTokens.inc(result.usage.completionTokens - streamedTokens);
    }
    if (result.usage.cachedTokens > 0) {
      this.prefixCacheHits.inc();
      this.prefixCacheReusedTokens.inc(result.usage.cachedTokens);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The exposition text. */
  render(): Promise<string> {
    return this.registry.metrics();
  }
}
