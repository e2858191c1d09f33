/**
 * The machine under test: versions, hardware, memory bandwidth, and the model files the systems
 * need (mlx-lm reads MLX directories only, so the GGUF fixture is converted once and cached).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { MlxNativeError } from '../errors.js';

/** The repository (or installed package) root: dist/bench/env.js → ../.. */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Hardware and software of this run. */
export interface Environment {
  platform: string;
  release: string;
  arch: string;
  cpuModel: string;
  cpuCount: number;
  totalMemoryBytes: number;
  loadAverage: number[];
  node: string;
  packageVersion: string;
  gitCommit?: string;
  gitDirty?: boolean;
  hostname: string;
}

function git(args: string[]): string | undefined {
  const r = spawnSync('git', args, { cwd: PACKAGE_ROOT, encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Reads the environment (no network, no side effects beyond `git rev-parse`/`git status`). */
export function describeEnvironment(): Environment {
  const pkg = JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string };
  const status = git(['status', '--porcelain']);
  return {
    platform: process.platform,
    release: os.release(),
    arch: process.arch,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cpuCount: os.cpus().length,
    totalMemoryBytes: os.totalmem(),
    // Other work on the machine skews every figure; the load average records how busy it was.
    loadAverage: os.loadavg(),
    node: process.version,
    packageVersion: pkg.version,
    gitCommit: git(['rev-parse', 'HEAD']),
    gitDirty: status === undefined ? undefined : status.length > 0,
    hostname: os.hostname(),
  };
}

/** Result of the copy test. */
export interface Bandwidth {
  /** Bytes moved per second by all cores copying at once (read + write: STREAM "Copy"): the ceiling. */
  bytesPerSec: number;
  /** The same with one thread. */
  singleThreadBytesPerSec: number;
  threads: number;
  bufferBytes: number;
  method: string;
}

// A copy loop for worker threads: waits for the start flag, then times `repeats` copies.
const COPY_WORKER = `
const { parentPort, workerData: { bytes, repeats, flag } } = require('node:worker_threads');
const src = Buffer.alloc(bytes, 1), dst = Buffer.alloc(bytes);
src.copy(dst);
parentPort.postMessage('ready');
Atomics.wait(new Int32Array(flag), 0, 0);
const t0 = performance.now();
for (let i = 0; i < repeats; i++) src.copy(dst);
parentPort.postMessage(performance.now() - t0);
`;

/** Times `repeats` copies of `bytes` in each of `threads` workers started together; returns ms. */
async function parallelCopy(threads: number, bytes: number, repeats: number): Promise<number> {
  const flag = new SharedArrayBuffer(4);
  const workers = Array.from({ length: threads }, () => new Worker(COPY_WORKER, { eval: true, workerData: { bytes, repeats, flag } }));
  const next = (w: Worker) => new Promise<unknown>((resolve, reject) => (w.once('message', resolve), w.once('error', reject)));
  try {
    await Promise.all(workers.map(next));
    const done = workers.map(next);
    Atomics.store(new Int32Array(flag), 0, 1);
    Atomics.notify(new Int32Array(flag), 0);
    return Math.max(...((await Promise.all(done)) as number[]));
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Memory bandwidth from large copies (Buffer.copy is memcpy): one thread, then one thread per
 * core at once. The all-core figure is the ceiling a decode step can approach: the engine
 * splits its matmuls over one MLX stream per core, and GPU figures (where this is only
 * indicative) have their own, higher bandwidth.
 */
export async function measureBandwidth(bufferBytes = 128 << 20, repeats = 5): Promise<Bandwidth> {
  const threads = Math.max(1, os.availableParallelism?.() ?? os.cpus().length);
  let single = Infinity;
  for (let i = 0; i < 2; i++) single = Math.min(single, (await parallelCopy(1, bufferBytes, repeats)) / repeats);
  let all = Infinity;
  for (let i = 0; i < 2; i++) all = Math.min(all, await parallelCopy(threads, bufferBytes, repeats));
  const singleRate = (2 * bufferBytes) / (single / 1000);
  return {
    // Other work on the machine can make the parallel copy the slower one: the ceiling is the best.
    bytesPerSec: Math.max(singleRate, (2 * bufferBytes * repeats * threads) / (all / 1000)),
    singleThreadBytesPerSec: singleRate,
    threads,
    bufferBytes,
    method: `memcpy of ${bufferBytes >> 20} MiB per thread, ${threads} thread(s) at once (read + write bytes)`,
  };
}

/** The Python of the project venv (scripts/setup-venv.sh), or undefined. */
export function venvPython(): string | undefined {
  for (const p of [join(PACKAGE_ROOT, '.venv', 'bin', 'python'), join(PACKAGE_ROOT, '.venv', 'Scripts', 'python.exe')]) {
    if (existsSync(p)) return p;
  }
  return undefined;
}

/** The engine bench binary that cmake-js built, or undefined. */
export function engineBinary(): string | undefined {
  for (const p of ['build/engine_bench', 'build/Release/engine_bench', 'build/Debug/engine_bench']) {
    const full = join(PACKAGE_ROOT, p);
    if (existsSync(full)) return full;
  }
  return undefined;
}

/**
 * An MLX float32 directory made from a GGUF file, converted on first use with
 * `mlx-native convert --dtype float32` and cached beside the models. float32 because on the CPU
 * backend float16 activations make MLX's quantized matmul many times slower, for both systems.
 * @returns the directory, or throws with the converter's output
 */
export function ensureMlxDirectory(gguf: string, outDir: string, log: (m: string) => void): string {
  const config = join(outDir, 'config.json');
  if (existsSync(config)) {
    const dtype = (JSON.parse(readFileSync(config, 'utf8')) as { torch_dtype?: string }).torch_dtype;
    if (dtype !== 'float32') log(`! ${outDir} holds ${dtype ?? 'unknown'} weights, not float32: CPU figures will suffer`);
    return outDir;
  }
  log(`converting ${gguf} → ${outDir} (float32), once`);
  const cli = join(PACKAGE_ROOT, 'dist', 'cli.js');
  const r = spawnSync(process.execPath, [cli, 'convert', gguf, outDir, '--dtype', 'float32'], { encoding: 'utf8' });
  if (r.status !== 0 || !existsSync(join(outDir, 'config.json'))) {
    throw new MlxNativeError('INTERNAL', `mlx-native convert failed (${r.status}): ${(r.stderr || r.stdout || '').trim().slice(-800)}`);
  }
  return outDir;
}
