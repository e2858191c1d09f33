/**
 * Statistics for the benchmark: rates from per-token timestamps, percentiles, summaries.
 * Pure functions, unit-tested in test/bench.test.ts.
 */

/** What one generation stream reports: times in ms from the moment its request was sent. */
export interface StreamTiming {
  /** Prompt length in tokens. */
  promptTokens: number;
  /** Time each generated token reached the client (several tokens may share one time). */
  tokenMs: number[];
  /** Offset of this stream's submit from the start of the batch it was sent with (ms). */
  startMs?: number;
  finishReason?: string;
  error?: string;
}

/**
 * Linear-interpolated percentile (the "R-7" definition numpy uses by default).
 * @param values any order; not modified
 * @param p in [0, 100]
 * @returns NaN for an empty input
 */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const rank = (Math.min(100, Math.max(0, p)) / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return s[lo] + (s[hi] - s[lo]) * (rank - lo);
}

/** The median (50th percentile). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Arithmetic mean; NaN for an empty input. */
export function mean(values: readonly number[]): number {
  return values.length === 0 ? NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/**
 * Decode tokens per second from per-token timestamps: `(N−1)/(t_N − t_1)`. The first token is
 * left out because its time is the prefill's. Undefined with fewer than two tokens or when all
 * tokens arrived at once.
 */
export function decodeRate(tokenMs: readonly number[]): number | undefined {
  const n = tokenMs.length;
  if (n < 2) return undefined;
  const span = tokenMs[n - 1] - tokenMs[0];
  return span > 0 ? ((n - 1) * 1000) / span : undefined;
}

/** Prefill tokens per second: prompt tokens over the time to the first token. */
export function prefillRate(promptTokens: number, ttftMs: number | undefined): number | undefined {
  return ttftMs !== undefined && ttftMs > 0 ? (promptTokens * 1000) / ttftMs : undefined;
}

/** Gaps between consecutive tokens (ms): the inter-token latencies. */
export function interTokenGaps(tokenMs: readonly number[]): number[] {
  const gaps: number[] = [];
  for (let i = 1; i < tokenMs.length; i++) gaps.push(tokenMs[i] - tokenMs[i - 1]);
  return gaps;
}

/** Per-stream figures derived from its timestamps. */
export interface StreamFigures {
  promptTokens: number;
  completionTokens: number;
  ttftMs?: number;
  prefillTokPerSec?: number;
  decodeTokPerSec?: number;
  itlP50Ms?: number;
  itlP99Ms?: number;
}

/** Figures of one stream. TTFT is measured from this stream's own submit time. */
export function streamFigures(s: StreamTiming): StreamFigures {
  const ttft = s.tokenMs.length > 0 ? s.tokenMs[0] - (s.startMs ?? 0) : undefined;
  const gaps = interTokenGaps(s.tokenMs);
  return {
    promptTokens: s.promptTokens,
    completionTokens: s.tokenMs.length,
    ttftMs: ttft,
    prefillTokPerSec: prefillRate(s.promptTokens, ttft),
    decodeTokPerSec: decodeRate(s.tokenMs),
    itlP50Ms: gaps.length ? percentile(gaps, 50) : undefined,
    itlP99Ms: gaps.length ? percentile(gaps, 99) : undefined,
  };
}

/** Figures of several streams served together (one concurrency level). */
export interface AggregateFigures {
  streams: number;
  completionTokens: number;
  wallMs: number;
  /** All generated tokens over the wall time, prefill included (end-to-end throughput). */
  outputTokPerSec: number;
  /**
   * Tokens after each stream's first, over the span from the earliest first token to the last
   * token of any stream: the decode rate of the batch, prefill of the first tokens excluded.
   */
  decodeTokPerSec?: number;
  ttftP50Ms?: number;
  ttftP99Ms?: number;
  itlP50Ms?: number;
  itlP99Ms?: number;
}

/** Aggregates the streams of one concurrency level; `wallMs` is the level's total time. */
export function aggregateFigures(streams: readonly StreamTiming[], wallMs: number): AggregateFigures {
  const ok = streams.filter((s) => s.tokenMs.length > 0);
  const total = ok.reduce((a, s) => a + s.tokenMs.length, 0);
  const firsts = ok.map((s) => s.tokenMs[0]);
  const lasts = ok.map((s) => s.tokenMs[s.tokenMs.length - 1]);
  const span = ok.length ? Math.max(...lasts) - Math.min(...firsts) : 0;
  const after = total - ok.length;
  const ttfts = ok.map((s) => s.tokenMs[0] - (s.startMs ?? 0));
  const gaps = ok.flatMap((s) => interTokenGaps(s.tokenMs));
  return {
    streams: streams.length,
    completionTokens: total,
    wallMs,
    outputTokPerSec: wallMs > 0 ? (total * 1000) / wallMs : 0,
    decodeTokPerSec: span > 0 && after > 0 ? (after * 1000) / span : undefined,
    ttftP50Ms: ttfts.length ? percentile(ttfts, 50) : undefined,
    ttftP99Ms: ttfts.length ? percentile(ttfts, 99) : undefined,
    itlP50Ms: gaps.length ? percentile(gaps, 50) : undefined,
    itlP99Ms: gaps.length ? percentile(gaps, 99) : undefined,
  };
}

/** Median, min and max of the defined values, with how many there were. */
export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** Summarizes the defined values; undefined when there are none. */
export function summarize(values: readonly (number | undefined)[]): Summary | undefined {
  const v = values.filter((x): x is number => x !== undefined && Number.isFinite(x));
  if (v.length === 0) return undefined;
  return { median: median(v), min: Math.min(...v), max: Math.max(...v), n: v.length };
}

/** a / b, or undefined when either is missing or b is 0. */
export function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b !== 0 && Number.isFinite(a) && Number.isFinite(b) ? a / b : undefined;
}
