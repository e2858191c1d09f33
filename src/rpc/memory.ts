/**
 * MLX memory figures for `token` notifications: the latest sample, refreshed in the background
 * at most every `intervalMs`, so streaming never waits for an engine round trip.
 */
import type { RpcMemoryFigures } from './protocol.js';

type Source = () => Promise<{ activeMemory: number; peakMemory: number; cacheMemory: number } | undefined>;

export class MemoryMonitor {
  #latest: RpcMemoryFigures = { active_bytes: 0, peak_bytes: 0, cache_bytes: 0 };
  #at = -Infinity;
  #pending: Promise<void> | undefined;

  constructor(
    private readonly source: Source,
    private readonly intervalMs = 250,
  ) {}

  /** The latest sample; starts a refresh when it is older than the interval. */
  current(): RpcMemoryFigures {
    if (!this.#pending && performance.now() - this.#at > this.intervalMs) void this.refresh();
    return this.#latest;
  }

  /** Resolves once there is a first sample. */
  async ready(): Promise<void> {
    if (this.#at === -Infinity) await this.refresh();
  }

  /** Samples now (one at a time). */
  refresh(): Promise<void> {
    this.#pending ??= this.source()
      .then((m) => {
        if (m) this.#latest = { active_bytes: m.activeMemory, peak_bytes: m.peakMemory, cache_bytes: m.cacheMemory };
      })
      .catch(() => undefined)
      .finally(() => {
        this.#at = performance.now();
        this.#pending = undefined;
      });
    return this.#pending;
  }
}
