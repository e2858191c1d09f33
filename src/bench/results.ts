/**
 * The shapes of a benchmark run's results (results.json) and of the summaries derived from them,
 * shared by the runner, the report and the chart.
 */
import type { Bandwidth, Environment } from './env.js';
import type { Job, PlanConfig } from './plan.js';
import type { AggregateFigures, StreamFigures, StreamTiming, Summary } from './stats.js';
import type { StepProfile } from './systems/engine-binary.js';
import type { MemoryFigures, SystemId, SystemInfo } from './systems/types.js';

/** One job's raw data and figures. */
export interface RunRecord extends Omit<Job, 'required'> {
  /** Seconds after the run started. */
  atSec: number;
  /** 1-minute load average when the job started: other work on the machine shows up here. */
  load1: number;
  wallMs: number;
  /** Raw per-stream timings (token times in ms after the batch was sent). */
  raw: StreamTiming[];
  /** Single stream: its figures; several: the aggregate. */
  figures: StreamFigures | AggregateFigures;
}

/** What became of one system. */
export interface SystemRecord {
  id: SystemId;
  label: string;
  status: 'ok' | 'failed' | 'unavailable';
  reason?: string;
  info?: SystemInfo;
  memory?: MemoryFigures;
}

/** Everything a run measured; written as results.json. */
export interface BenchResults {
  schema: 1;
  mode: PlanConfig['mode'];
  startedAt: string;
  totalSec: number;
  /** Load average when the run ended (the start's is in `environment`). */
  loadAverageEnd: number[];
  plan: PlanConfig;
  environment: Environment;
  model: { path: string; primary: string; mlxDir?: string; gguf?: string; note: string };
  bandwidth: Bandwidth;
  systems: SystemRecord[];
  runs: RunRecord[];
  skipped: { job: Omit<Job, 'required'>; reason: string }[];
  profile: StepProfile[];
}

/** Per-system figures, medians over the rounds. */
export interface SystemSummary {
  id: SystemId;
  label: string;
  status: string;
  reason?: string;
  /** Prefill tok/s by prompt length. */
  prefill: Record<number, Summary>;
  decode?: Summary;
  /** TTFT (ms) of the decode rounds' prompts. */
  ttft?: Summary;
  itlP50Ms?: number;
  itlP99Ms?: number;
  weightBytes?: number;
  /** Decode tok/s if a step cost only reading the weights once at the measured bandwidth. */
  ceilingTokPerSec?: number;
  /** decode / ceiling. */
  bandwidthFraction?: number;
  /** Aggregate figures by number of streams. */
  concurrency: Record<number, AggregateFigures>;
  mlxPeakBytes?: number;
  rssPeakBytes?: number;
}

/** One goal of the issue, with what this run measured. */
export interface Target {
  name: string;
  measured?: number;
  /** How the measured value reads, e.g. "1.31×" or "0.4 ms". */
  display: string;
  pass?: boolean;
}

/**
 * The HTTP hop's cost to TTFT: HTTP minus in-process, for short prompts sent alternately. Other
 * work on the machine only ever adds delay, so the difference of the minimums is the estimate
 * least disturbed by it; the difference of the medians is reported beside it.
 */
export interface TtftOverhead {
  inProcess: SystemId;
  http: SystemId;
  n: number;
  deltaMinMs?: number;
  deltaMedianMs?: number;
  inProcessMs?: Summary;
  httpMs?: Summary;
}

/** Everything derived from the raw records. */
export interface Summaries {
  systems: SystemSummary[];
  /** HTTP TTFT minus in-process TTFT (ms, medians of the short-prompt pairs). */
  ttftOverhead: TtftOverhead[];
  targets: Target[];
}
