/**
 * The metrics view: polls /metrics (Prometheus text, open without the API key) and shows
 * what the server is doing now: queue, active sequences, memory, throughput.
 */

/**
 * Sums each metric's samples over their labels (a server with several models labels them).
 *
 * @example
 * parsePrometheus('a{x="1"} 2\na{x="2"} 3\n').get('a'); // 5
 */
export function parsePrometheus(text) {
  const sums = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    sums.set(m[1], (sums.get(m[1]) ?? 0) + value);
  }
  return sums;
}

/** Bytes as B / KiB / MiB / GiB. */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

const SPARK_POINTS = 60;

/** Keeps the panel's figures current while it is shown. */
export class MetricsView {
  #root;
  #timer;
  #last;
  #rates = [];

  /** `root` holds elements with `data-metric="<name>"` and an `svg.spark`. */
  constructor(root, intervalMs = 1000) {
    this.#root = root;
    this.intervalMs = intervalMs;
  }

  start() {
    if (this.#timer) return;
    const tick = async () => {
      await this.refresh().catch((err) => this.#set('error', `metrics unavailable: ${err.message}`));
      this.#timer = setTimeout(tick, this.intervalMs);
    };
    this.#timer = setTimeout(tick, 0);
  }

  stop() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async refresh() {
    const res = await fetch('/metrics');
    if (!res.ok) throw new Error(`${res.status} ${res.statusText}`);
    const m = parsePrometheus(await res.text());
    const now = performance.now();
    const tokens = m.get('mlx_native_completion_tokens_total') ?? 0;
    let rate;
    if (this.#last && now > this.#last.at) rate = Math.max(0, ((tokens - this.#last.tokens) * 1000) / (now - this.#last.at));
    this.#last = { at: now, tokens };
    if (rate !== undefined) {
      this.#rates.push(rate);
      if (this.#rates.length > SPARK_POINTS) this.#rates.shift();
    }
    const ttftCount = m.get('mlx_native_time_to_first_token_seconds_count') ?? 0;
    const ttftSum = m.get('mlx_native_time_to_first_token_seconds_sum') ?? 0;
    const get = (name) => m.get(name) ?? 0;
    this.#set('queue', String(get('mlx_native_queue_depth')));
    this.#set('active', String(get('mlx_native_active_sequences')));
    this.#set('inflight', String(get('mlx_native_requests_in_flight')));
    this.#set('rate', rate === undefined ? '—' : `${rate.toFixed(1)} tok/s`);
    this.#set('ttft', ttftCount > 0 ? `${((ttftSum / ttftCount) * 1000).toFixed(0)} ms` : '—');
    this.#set('requests', String(get('mlx_native_requests_admitted_total')));
    this.#set('tokens', String(tokens));
    this.#set('cancelled', String(get('mlx_native_requests_cancelled_total')));
    this.#set('mem-active', formatBytes(get('mlx_native_mlx_active_memory_bytes')));
    this.#set('mem-peak', formatBytes(get('mlx_native_mlx_peak_memory_bytes')));
    this.#set('mem-cache', formatBytes(get('mlx_native_mlx_cache_memory_bytes')));
    this.#set('kv', formatBytes(get('mlx_native_kv_reserved_bytes')));
    this.#set('prefix', formatBytes(get('mlx_native_prefix_cache_bytes')));
    this.#set('rss', formatBytes(get('process_resident_memory_bytes')));
    this.#set('error', '');
    this.#drawSpark();
  }

  #set(name, text) {
    const el = this.#root.querySelector(`[data-metric="${name}"]`);
    if (el && el.textContent !== text) el.textContent = text;
  }

  #drawSpark() {
    const svg = this.#root.querySelector('svg.spark');
    if (!svg || this.#rates.length < 2) return;
    const max = Math.max(1, ...this.#rates);
    const step = 100 / (SPARK_POINTS - 1);
    const offset = (SPARK_POINTS - this.#rates.length) * step;
    const points = this.#rates.map((r, i) => `${(offset + i * step).toFixed(1)},${(30 - (r / max) * 28).toFixed(1)}`);
    svg.querySelector('polyline').setAttribute('points', points.join(' '));
    svg.querySelector('title').textContent = `tokens per second, last ${this.#rates.length} s (peak ${max.toFixed(1)})`;
  }
}
