/** The interface every benchmarked system implements (one runner per system). */
import type { BenchPrompt } from '../prompts.js';
import type { StreamTiming } from '../stats.js';
import { MlxNativeError } from '../../errors.js';

/** The streams of one request batch, with the batch's wall time (ms). */
export interface RunOutput {
  wallMs: number;
  streams: StreamTiming[];
}

/** Memory a system used, in bytes, where it can tell. */
export interface MemoryFigures {
  /** MLX's own peak (mx.get_peak_memory) since load. */
  mlxPeakBytes?: number;
  /** Peak resident set size of the process serving the model. */
  rssPeakBytes?: number;
}

/** What a system says about itself once loaded. */
export interface SystemInfo {
  /** Bytes of weights one decode step reads. */
  weightBytes?: number;
  loadMs?: number;
  /** MLX backend and device, e.g. "cpu (cpu)" or "metal (Apple M3)". */
  device?: string;
  versions: Record<string, string>;
  notes?: string[];
}

/** Identifiers of the systems, in the order tables list them. */
export const SYSTEM_IDS = ['mlx-native', 'mlx-native-http', 'engine', 'mlx-lm', 'mlx-lm-server', 'mlx-native-gguf'] as const;
export type SystemId = (typeof SYSTEM_IDS)[number];

/** One system under test. Runners own a child process; every call runs on it. */
export interface SystemRunner {
  readonly id: SystemId;
  /** Human-readable name for tables and the chart. */
  readonly label: string;
  /** Most streams it serves at once (1: one request at a time). */
  readonly maxStreams: number;
  /** Starts the process and loads the model. */
  start(): Promise<SystemInfo>;
  /** Generates `maxTokens` greedy tokens (EOS ignored where the system allows) for each prompt, concurrently. */
  run(prompts: BenchPrompt[], maxTokens: number): Promise<RunOutput>;
  memory(): Promise<MemoryFigures>;
  stop(): Promise<void>;
}

/** Converts a worker's `streams` reply field into timings. */
export function toStreams(value: unknown): StreamTiming[] {
  if (!Array.isArray(value)) throw new MlxNativeError('INTERNAL', 'worker reply has no streams');
  return value.map((s: Record<string, unknown>) => ({
    promptTokens: Number(s.promptTokens),
    tokenMs: (s.tokenMs as number[]).map(Number),
    startMs: s.startMs === undefined ? 0 : Number(s.startMs),
    finishReason: s.finishReason === undefined ? undefined : String(s.finishReason),
    error: s.error === undefined ? undefined : String(s.error),
  }));
}
