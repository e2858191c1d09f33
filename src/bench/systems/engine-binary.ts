/**
 * The native engine alone (native/tools/engine_bench.cpp): the same Scheduler and model code
 * as the addon, with no Node in the loop. It reads the model's config.json itself.
 */
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveModel } from '../../engine/model-spec.js';
import { LineWorker, peakRssOf } from '../child.js';
import type { BenchPrompt } from '../prompts.js';
import type { MemoryFigures, RunOutput, SystemInfo, SystemRunner } from './types.js';
import { toStreams } from './types.js';
import { MlxNativeError } from '../../errors.js';

/** Options of the engine-binary runner. */
export interface EngineBinaryOptions {
  binary: string;
  modelPath: string;
  maxBatch?: number;
  verbose?: boolean;
}

/** Decode-step profile from the binary: graph building vs evaluation (ms per step). */
export interface StepProfile {
  context: number;
  batch: number;
  buildMs: number;
  evalMs: number;
  pipelinedStepMs: number;
}

/**
 * Command-line flags engine_bench reads for a model: the path, and for a GGUF file the
 * config.json mlx-native derives from its metadata (written next to the system temp files).
 */
export async function engineFlags(modelPath: string): Promise<string[]> {
  const m = await resolveModel(modelPath);
  const flags = ['--model', m.path];
  if (m.format === 'gguf') {
    const dir = mkdtempSync(join(tmpdir(), 'mlx-native-bench-'));
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify(m.hfConfig));
    flags.push('--config', config);
  }
  return flags;
}

/** Drives engine_bench over its line protocol. */
export class EngineBinaryRunner implements SystemRunner {
  readonly id = 'engine' as const;
  readonly label = 'engine (C++, no Node)';
  readonly maxStreams = 64;
  readonly #o: EngineBinaryOptions;
  readonly #worker = new LineWorker('engine_bench');

  constructor(o: EngineBinaryOptions) {
    this.#o = o;
  }

  async start(): Promise<SystemInfo> {
    if (!existsSync(this.#o.binary)) {
      throw new MlxNativeError('INTERNAL', `${this.#o.binary} is not built (node scripts/install.mjs --force builds native/tools)`);
    }
    const flags = await engineFlags(this.#o.modelPath);
    if (this.#o.maxBatch) flags.push('--max-batch', String(this.#o.maxBatch));
    const ready = await this.#worker.start(this.#o.binary, flags, { verbose: this.#o.verbose });
    return { weightBytes: Number(ready.weightBytes), loadMs: Number(ready.loadMs), versions: { mlx: String(ready.mlxVersion) } };
  }

  async run(prompts: BenchPrompt[], maxTokens: number): Promise<RunOutput> {
    const r = await this.#worker.request(`run ${maxTokens} ${prompts.map((p) => p.ids.join(' ')).join(' | ')}`);
    return { wallMs: Number(r.wallMs), streams: toStreams(r.streams) };
  }

  async memory(): Promise<MemoryFigures> {
    const r = await this.#worker.request('memory');
    return { mlxPeakBytes: Number(r.peakMemory), rssPeakBytes: peakRssOf(this.#worker.pid) ?? Number(r.maxRss) };
  }

  /** Times `steps` decode steps at a context of `context` tokens with `batch` rows. */
  async profile(steps: number, context: number, batch: number): Promise<StepProfile> {
    const r = await this.#worker.request(`profile ${steps} ${context} ${batch}`, 300_000);
    return {
      context: Number(r.context),
      batch: Number(r.batch),
      buildMs: Number(r.buildMs),
      evalMs: Number(r.evalMs),
      pipelinedStepMs: Number(r.pipelinedStepMs),
    };
  }

  async stop(): Promise<void> {
    await this.#worker.stop('quit');
  }
}
