/**
 * What a run measures, in which order, and how long it should take. On the Linux CPU backend
 * SmolLM2-135M runs at ~10 tok/s for prefill and decode alike, so every token is ~0.1 s and the
 * plan is sized by token counts: the full run fits 15 minutes only with the 2048-token prefill
 * measured once per in-process system and short streams at each concurrency level.
 */
import type { SystemId } from './systems/types.js';

/** One request batch sent to one system. */
export interface Job {
  phase: 'warmup' | 'decode' | 'prefill' | 'ttft' | 'concurrency';
  system: SystemId;
  promptTokens: number;
  maxTokens: number;
  streams: number;
  /** Round (trial) number within its phase, from 1. */
  round: number;
  /** Must run even past the budget (the warm-ups); the rest is skipped when time runs out. */
  required?: boolean;
}

/** The sizes of one run mode. */
export interface PlanConfig {
  mode: 'quick' | 'full';
  /** Wall-clock budget for the whole run, startup included (seconds). */
  budgetSec: number;
  warmup: { promptTokens: number; maxTokens: number };
  decode: { promptTokens: number; maxTokens: number; rounds: number };
  /** Prompt lengths measured with one generated token, on the in-process systems. */
  prefillLengths: number[];
  ttft: { promptTokens: number; reps: number };
  concurrency: { levels: number[]; promptTokens: number; maxTokens: number };
  profile: { steps: number; context: number; batches: number[] };
}

/**
 * The full run: < 15 min on a 2-core CPU machine at ~10 tok/s. The 2048-token prefills alone
 * take ~7 of those minutes, so decode gets one round per system (more if time is left) and the
 * concurrency levels use short prompts and 12 tokens per stream.
 */
export const FULL: PlanConfig = {
  mode: 'full',
  budgetSec: 840,
  warmup: { promptTokens: 16, maxTokens: 8 },
  decode: { promptTokens: 128, maxTokens: 128, rounds: 3 },
  prefillLengths: [512, 2048],
  ttft: { promptTokens: 2, reps: 8 },
  concurrency: { levels: [16, 1, 4, 8], promptTokens: 4, maxTokens: 12 },
  profile: { steps: 8, context: 128, batches: [1, 4] },
};

/** CI smoke run: < 2 min, every system once, tiny sizes; timings are not meaningful. */
export const QUICK: PlanConfig = {
  mode: 'quick',
  budgetSec: 100,
  warmup: { promptTokens: 8, maxTokens: 4 },
  decode: { promptTokens: 32, maxTokens: 16, rounds: 1 },
  prefillLengths: [],
  ttft: { promptTokens: 2, reps: 3 },
  concurrency: { levels: [4, 1], promptTokens: 8, maxTokens: 8 },
  profile: { steps: 4, context: 32, batches: [1] },
};

/** The in-process pairs whose TTFT difference is the HTTP hop's cost. */
export const TTFT_PAIRS: [SystemId, SystemId][] = [
  ['mlx-native', 'mlx-native-http'],
  ['mlx-lm', 'mlx-lm-server'],
];

/** Systems that get the long prefill runs: the in-process reference pair. */
export const PREFILL_SYSTEMS: SystemId[] = ['mlx-native', 'mlx-lm'];
/** Systems measured at several concurrency levels. */
export const SERVER_SYSTEMS: SystemId[] = ['mlx-native-http', 'mlx-lm-server'];
/** Systems that get extra decode rounds when time allows. */
export const EXTRA_ROUND_SYSTEMS: SystemId[] = ['mlx-native', 'mlx-lm', 'mlx-native-http', 'mlx-lm-server', 'engine'];

/** Rotates `list` by `k`, so alternating rounds do not always start with the same system. */
export function rotate<T>(list: readonly T[], k: number): T[] {
  if (list.length === 0) return [];
  const s = ((k % list.length) + list.length) % list.length;
  return [...list.slice(s), ...list.slice(0, s)];
}

/**
 * Every job of a run, in execution order: warm-ups, one decode round on every system, the
 * prefill lengths, the TTFT pairs, the concurrency levels, then extra decode rounds. Systems
 * alternate within each phase. `available` are the systems that started.
 */
export function buildJobs(c: PlanConfig, available: readonly SystemId[]): Job[] {
  const has = (id: SystemId) => available.includes(id);
  const jobs: Job[] = [];
  for (const system of available) jobs.push({ phase: 'warmup', system, ...c.warmup, streams: 1, round: 1, required: true });
  const decode = (system: SystemId, round: number): Job => ({
    phase: 'decode', system, promptTokens: c.decode.promptTokens, maxTokens: c.decode.maxTokens, streams: 1, round,
  });
  for (const system of available) jobs.push(decode(system, 1));
  c.prefillLengths.forEach((len, i) => {
    for (const system of rotate(PREFILL_SYSTEMS.filter(has), i)) {
      jobs.push({ phase: 'prefill', system, promptTokens: len, maxTokens: 1, streams: 1, round: 1 });
    }
  });
  for (let rep = 1; rep <= c.ttft.reps; rep++) {
    for (const pair of TTFT_PAIRS) {
      if (!pair.every(has)) continue;
      for (const system of rotate(pair, rep)) {
        jobs.push({ phase: 'ttft', system, promptTokens: c.ttft.promptTokens, maxTokens: 1, streams: 1, round: rep });
      }
    }
  }
  c.concurrency.levels.forEach((streams, i) => {
    for (const system of rotate(SERVER_SYSTEMS.filter(has), i)) {
      jobs.push({ phase: 'concurrency', system, promptTokens: c.concurrency.promptTokens, maxTokens: c.concurrency.maxTokens, streams, round: 1 });
    }
  });
  for (let round = 2; round <= c.decode.rounds; round++) {
    for (const system of rotate(EXTRA_ROUND_SYSTEMS.filter(has), round)) jobs.push(decode(system, round));
  }
  return jobs;
}

/** Throughput a system has shown so far (tokens per second), used to predict job times. */
export interface Rates {
  prefill: number;
  decode: number;
}

/** Rates to assume before a system has run anything (this CPU: ~10 tok/s). */
export const DEFAULT_RATES: Rates = { prefill: 10, decode: 8 };

/**
 * Predicted seconds for a job. Streams are assumed not to speed each other up (true of the CPU
 * backend, where a batch of B rows costs about B single steps), so the estimate stays on the
 * safe side where batching helps.
 */
export function estimateSeconds(job: Job, rates: Rates): number {
  const prefill = (job.streams * job.promptTokens) / rates.prefill;
  const decode = (job.streams * Math.max(0, job.maxTokens - 1)) / rates.decode;
  return prefill + decode + 0.3; // request and process overhead
}
