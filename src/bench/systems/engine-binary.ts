/**
 * The native engine alone (native/tools/engine_bench.cpp): the same Scheduler and model code
 * as the addon, with no Node in the loop. Its config comes from resolveModel, passed as flags.
 */
import { existsSync } from 'node:fs';
import { resolveModel } from '../../engine/model-spec.js';
import { LineWorker, peakRssOf } from '../child.js';
import type { BenchPrompt } from '../prompts.js';
import type { MemoryFigures, RunOutput, SystemInfo, SystemRunner } from './types.js';
import { toStreams } from './types.js';

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

/** Command-line flags engine_bench reads for a model (see spec_from in engine_bench.cpp). */
export async function engineFlags(modelPath: string): Promise<string[]> {
  const m = await resolveModel(modelPath);
  const c = m.config;
  const flags = ['--format', m.format, ...m.files.flatMap((f) => ['--file', f])];
  const add = (k: string, v: string | number | boolean) => flags.push(`--${k}`, typeof v === 'boolean' ? (v ? '1' : '0') : String(v));
  add('arch', c.architecture);
  add('hidden', c.hiddenSize);
  add('intermediate', c.intermediateSize);
  add('layers', c.numLayers);
  add('heads', c.numHeads);
  add('kv-heads', c.numKvHeads);
  add('head-dim', c.headDim);
  add('vocab', c.vocabSize);
  add('context', c.contextLength);
  add('eps', c.rmsNormEps);
  add('rope-theta', c.ropeTheta);
  add('rope-traditional', c.ropeTraditional);
  add('tie', c.tieWordEmbeddings);
  if (c.ropeScaling) {
    add('rope-scaling', c.ropeScaling.type);
    add('rope-factor', c.ropeScaling.factor);
    if (c.ropeScaling.lowFreqFactor !== undefined) add('rope-low-freq', c.ropeScaling.lowFreqFactor);
    if (c.ropeScaling.highFreqFactor !== undefined) add('rope-high-freq', c.ropeScaling.highFreqFactor);
    if (c.ropeScaling.originalMaxPositionEmbeddings !== undefined) add('rope-original-max', c.ropeScaling.originalMaxPositionEmbeddings);
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
      throw new Error(`${this.#o.binary} is not built (node scripts/install.mjs --force builds native/tools)`);
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
