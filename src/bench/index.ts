/**
 * The benchmark: mlx-native in-process, over HTTP and as a bare C++ engine, against mlx-lm
 * in-process and mlx_lm.server, in one run on one machine. Every system is loaded once in its
 * own process; the phases then alternate between systems so drift in machine load spreads over
 * all of them. See plan.ts for what runs and report.ts for what is written.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { resolveModel } from '../engine/model-spec.js';
import { describeEnvironment, engineBinary, ensureMlxDirectory, measureBandwidth, venvPython } from './env.js';
import { buildJobs, DEFAULT_RATES, estimateSeconds, FULL, QUICK, type Job, type PlanConfig, type Rates } from './plan.js';
import { PromptFactory } from './prompts.js';
import { writeReport } from './report.js';
import type { BenchResults, SystemRecord } from './results.js';
import { aggregateFigures, decodeRate, streamFigures, type AggregateFigures, type StreamFigures, type StreamTiming } from './stats.js';
import { EngineBinaryRunner } from './systems/engine-binary.js';
import { candidates } from './systems/index.js';
import type { SystemId, SystemRunner } from './systems/types.js';
import { MlxNativeError } from '../errors.js';

/** Options of a run (the CLI's flags). */
export interface BenchOptions {
  /** GGUF file or MLX directory. */
  model: string;
  /** MLX directory for mlx-lm; default: the GGUF converted to float32 beside it. */
  mlxDir?: string;
  /** Output directory; default bench-results/<timestamp>. */
  out?: string;
  quick?: boolean;
  /** Only these systems. */
  systems?: SystemId[];
  /** Override the plan's time budget (seconds). */
  budgetSec?: number;
  maxBatch?: number;
  python?: string;
  engineBinary?: string;
  verbose?: boolean;
  /** Progress lines (default: stderr). */
  log?: (message: string) => void;
}

export type { BenchResults, RunRecord, SystemRecord } from './results.js';

function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, '-').replace('T', '_').slice(0, 19);
}

/** Runs the benchmark and writes results.json, results.txt and chart.svg into the output directory. */
export async function runBench(o: BenchOptions): Promise<{ results: BenchResults; outDir: string }> {
  const log = o.log ?? ((m: string) => process.stderr.write(`${m}\n`));
  const plan: PlanConfig = { ...(o.quick ? QUICK : FULL) };
  if (o.budgetSec) plan.budgetSec = o.budgetSec;
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const outDir = o.out ?? join('bench-results', timestamp());
  await mkdir(outDir, { recursive: true });

  // Models: the MLX float32 directory is what every system can run, so it is the primary one.
  const isDir = existsSync(o.model) && statSync(o.model).isDirectory();
  const gguf = isDir ? undefined : o.model;
  let mlxDir = isDir ? o.model : o.mlxDir;
  const notes: string[] = [];
  if (!mlxDir && gguf) {
    const target = join(dirname(gguf), mlxDirName(gguf));
    try {
      mlxDir = ensureMlxDirectory(gguf, target, log);
    } catch (err) {
      notes.push(`no MLX directory: ${(err as Error).message}`);
      log(`! ${notes[notes.length - 1]}`);
    }
  }
  const primary = mlxDir ?? o.model;
  const note =
    'mlx-native, engine and both servers run the same MLX float32 directory as mlx-lm (on the CPU backend float16 activations ' +
    'make quantized matmul ~40x slower, for both); "mlx-native (GGUF)" runs the GGUF file itself.' + (notes.length ? ` ${notes.join(' ')}` : '');

  const environment = describeEnvironment();
  log(`mlx-native bench (${plan.mode}): ${primary} on ${environment.cpuModel} (${environment.cpuCount} cores), budget ${plan.budgetSec} s`);
  const bandwidth = await measureBandwidth();
  log(`memory bandwidth: ${(bandwidth.bytesPerSec / 1e9).toFixed(1)} GB/s on ${bandwidth.threads} thread(s), ${(bandwidth.singleThreadBytesPerSec / 1e9).toFixed(1)} GB/s on one`);

  const runners = new Map<SystemId, SystemRunner>();
  const systems: SystemRecord[] = [];
  const all = candidates({
    primary, mlxDir, gguf, python: o.python ?? venvPython(), engineBinary: o.engineBinary ?? engineBinary(),
    maxBatch: o.maxBatch, verbose: o.verbose,
  }).filter((c) => !o.systems || o.systems.includes(c.id));
  const stopAll = async () => {
    await Promise.allSettled([...runners.values()].map((r) => r.stop()));
  };
  const onSignal = () => void stopAll().finally(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  const results: BenchResults = {
    schema: 1, mode: plan.mode, startedAt: new Date().toISOString(), totalSec: 0, loadAverageEnd: [], plan, environment,
    model: { path: o.model, primary, mlxDir, gguf, note }, bandwidth, systems, runs: [], skipped: [], profile: [],
  };
  try {
    // Loading in parallel saves minutes; nothing is timed until every system is up.
    log('starting systems…');
    const started = await Promise.allSettled(
      all.map(async (c) => {
        if ('unavailable' in c) throw new MlxNativeError('INTERNAL', c.unavailable);
        const info = await c.runner.start();
        runners.set(c.id, c.runner);
        return info;
      }),
    );
    all.forEach((c, i) => {
      const s = started[i];
      const label = 'runner' in c ? c.runner.label : c.id;
      if (s.status === 'fulfilled') {
        systems.push({ id: c.id, label, status: 'ok', info: s.value });
        log(`  ${label}: loaded in ${((s.value.loadMs ?? 0) / 1000).toFixed(1)} s`);
      } else {
        const reason = (s.reason as Error).message;
        systems.push({ id: c.id, label, status: 'unavailable' in c ? 'unavailable' : 'failed', reason });
        log(`  ${label}: ${'unavailable' in c ? 'unavailable' : 'FAILED'}: ${reason.split('\n')[0]}`);
      }
    });
    fillServerInfo(systems);

    const tokenizer = (await resolveModel(primary)).tokenizer;
    const prompts = new PromptFactory(tokenizer);
    const available = systems.filter((s) => s.status === 'ok').map((s) => s.id);
    const jobs = buildJobs(plan, available);
    const rates = new Map<SystemId, Rates>(available.map((id) => [id, { ...DEFAULT_RATES }]));
    const main = jobs.filter((j) => !(j.phase === 'decode' && j.round > 1));
    const extra = jobs.filter((j) => j.phase === 'decode' && j.round > 1);

    const execute = async (job: Job) => {
      const est = estimateSeconds(job, rates.get(job.system)!);
      const { required: _r, ...plain } = job;
      if (!job.required && elapsed() + est > plan.budgetSec) {
        results.skipped.push({ job: plain, reason: `time budget (needs ~${est.toFixed(0)} s, ${Math.max(0, plan.budgetSec - elapsed()).toFixed(0)} s left)` });
        return;
      }
      const batch = Array.from({ length: job.streams }, () => prompts.make(job.promptTokens));
      const atSec = elapsed();
      const load1 = loadavg()[0];
      const runner = runners.get(job.system);
      if (!runner) {
        results.skipped.push({ job: plain, reason: 'the system was stopped after an earlier failure' });
        return;
      }
      // A system that hangs must not eat the budget: give up on it well past its estimate.
      const limitMs = Math.max(120, est * 4) * 1000;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new MlxNativeError('INTERNAL', `no answer within ${(limitMs / 1000).toFixed(0)} s`)), limitMs);
      });
      try {
        const out = await Promise.race([runner.run(batch, job.maxTokens), timeout]);
        const figures = job.streams === 1 ? streamFigures(out.streams[0]) : aggregateFigures(out.streams, out.wallMs);
        results.runs.push({ ...plain, atSec, load1, wallMs: out.wallMs, raw: out.streams, figures });
        learn(rates, job, out.streams);
        log(`  [${elapsed().toFixed(0).padStart(4)} s] ${describeJob(job)}: ${describeFigures(figures)}`);
        const errors = out.streams.filter((s) => s.error).map((s) => s.error);
        if (errors.length) log(`    ! ${errors.length} stream(s) failed: ${errors[0]}`);
      } catch (err) {
        results.skipped.push({ job: plain, reason: `failed: ${(err as Error).message.split('\n')[0]}` });
        log(`  ${describeJob(job)}: FAILED ${(err as Error).message.split('\n')[0]}`);
        if ((err as Error).message.startsWith('no answer within')) {
          runners.delete(job.system);
          await runner.stop().catch(() => {});
        }
      } finally {
        clearTimeout(timer);
      }
    };

    log('warm-up');
    for (const job of main.filter((j) => j.phase === 'warmup')) await execute(job);
    printTimePlan(log, jobs, rates, elapsed(), plan.budgetSec);
    const engine = runners.get('engine');
    const profile = async () => {
      if (!(engine instanceof EngineBinaryRunner)) return;
      log('profile (engine binary: graph building vs evaluation per decode step)');
      for (const batch of plan.profile.batches) {
        // Two passes of `steps` steps with `batch` rows each, at ~0.1 s per row-step on this CPU.
        if (elapsed() + (plan.profile.steps * 2 * batch) / 8 > plan.budgetSec) break;
        const p = await engine.profile(plan.profile.steps, plan.profile.context, batch).catch(() => undefined);
        if (!p) continue;
        results.profile.push(p);
        log(`  batch ${batch}: build ${p.buildMs.toFixed(2)} ms, eval ${p.evalMs.toFixed(1)} ms, pipelined step ${p.pipelinedStepMs.toFixed(1)} ms`);
      }
    };
    let phase = 'warmup';
    for (const job of main.filter((j) => j.phase !== 'warmup')) {
      if (job.phase !== phase) {
        // The profile is cheap and explains the decode figures: right after the first round.
        if (phase === 'decode') await profile();
        log((phase = job.phase));
      }
      await execute(job);
    }
    if (phase === 'decode') await profile();
    if (extra.length) log('decode (more rounds, while the budget lasts)');
    for (const job of extra) await execute(job);

    for (const s of systems) {
      const r = runners.get(s.id);
      if (r) s.memory = await r.memory().catch(() => undefined);
    }
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  results.totalSec = elapsed();
  results.loadAverageEnd = loadavg();
  await writeReport(results, outDir, log);
  return { results, outDir };
}

/**
 * Where the float32 conversion of a GGUF is cached: beside it, without the quantization tag
 * (models/SmolLM2-135M-Instruct.Q4_1.gguf → SmolLM2-135M-Instruct-mlx-f32, the directory the
 * parity tests use too, so the fixture is converted once).
 */
export function mlxDirName(gguf: string): string {
  const name = basename(gguf).replace(/\.gguf$/i, '').replace(/[.-](I?Q\d\w*|F16|F32|BF16)$/i, '');
  return `${name}-mlx-f32`;
}

/** The servers load what their in-process twins load: copy what those reported. */
function fillServerInfo(systems: SystemRecord[]): void {
  const get = (id: SystemId) => systems.find((s) => s.id === id);
  for (const [server, twin] of [['mlx-native-http', 'mlx-native'], ['mlx-lm-server', 'mlx-lm']] as const) {
    const s = get(server), t = get(twin);
    if (s?.info && t?.info) {
      s.info.weightBytes ??= t.info.weightBytes;
      s.info.device ??= t.info.device;
      s.info.versions = { ...t.info.versions, ...s.info.versions };
    }
  }
}

/** Updates a system's rates from a single-stream job (long enough to mean something). */
function learn(rates: Map<SystemId, Rates>, job: Job, streams: StreamTiming[]): void {
  const r = rates.get(job.system)!;
  const s = streams[0];
  if (job.streams !== 1 || !s || s.tokenMs.length === 0) return;
  if (job.promptTokens >= 8 && s.tokenMs[0] > 0) r.prefill = (job.promptTokens * 1000) / s.tokenMs[0];
  const d = s.tokenMs.length >= 4 ? decodeRate(s.tokenMs) : undefined;
  if (d) r.decode = d;
}

function describeJob(j: Job): string {
  const what = j.streams > 1 ? `${j.streams} streams × ` : '';
  return `${j.system.padEnd(16)} ${j.phase}${j.round > 1 ? ` #${j.round}` : ''} ${what}prompt ${j.promptTokens} → ${j.maxTokens}`;
}

function describeFigures(f: StreamFigures | AggregateFigures): string {
  const n = (v: number | undefined, d = 1) => (v === undefined ? '–' : v.toFixed(d));
  if ('streams' in f) return `aggregate ${n(f.decodeTokPerSec)} tok/s decode, ${n(f.outputTokPerSec)} tok/s end-to-end, TTFT p99 ${n(f.ttftP99Ms, 0)} ms`;
  return `TTFT ${n(f.ttftMs, 0)} ms, prefill ${n(f.prefillTokPerSec)} tok/s, decode ${n(f.decodeTokPerSec)} tok/s`;
}

/** Prints how long each phase should take at the rates seen in the warm-up. */
function printTimePlan(log: (m: string) => void, jobs: Job[], rates: Map<SystemId, Rates>, now: number, budget: number): void {
  const phases = new Map<string, { n: number; sec: number }>();
  for (const j of jobs) {
    if (j.phase === 'warmup') continue;
    const key = j.phase === 'decode' && j.round > 1 ? 'decode (extra rounds)' : j.phase;
    const p = phases.get(key) ?? { n: 0, sec: 0 };
    p.n += 1;
    p.sec += estimateSeconds(j, rates.get(j.system)!);
    phases.set(key, p);
  }
  log(`time plan (at warm-up rates; ${now.toFixed(0)} s spent, budget ${budget} s):`);
  let total = now;
  for (const [name, p] of phases) {
    total += p.sec;
    log(`  ${name.padEnd(22)} ${String(p.n).padStart(3)} jobs  ~${p.sec.toFixed(0).padStart(4)} s  → ${total.toFixed(0).padStart(4)} s${total > budget ? '  (over budget: trimmed as it runs)' : ''}`);
  }
}
