/** mlx-native in-process: `loadModel` + `Generation`, in a Node child of its own. */
import { fileURLToPath } from 'node:url';
import { LineWorker, peakRssOf } from '../child.js';
import type { BenchPrompt } from '../prompts.js';
import type { MemoryFigures, RunOutput, SystemId, SystemInfo, SystemRunner } from './types.js';
import { toStreams } from './types.js';

/** Options of the in-process runner. */
export interface InProcessOptions {
  id: SystemId;
  label: string;
  modelPath: string;
  maxBatch?: number;
  verbose?: boolean;
}

/** Runs mlx-native's public API in a child Node process (see inprocess-worker.ts). */
export class InProcessRunner implements SystemRunner {
  readonly id: SystemId;
  readonly label: string;
  readonly maxStreams = 64;
  readonly #o: InProcessOptions;
  readonly #worker: LineWorker;

  constructor(o: InProcessOptions) {
    this.#o = o;
    this.id = o.id;
    this.label = o.label;
    this.#worker = new LineWorker(o.label);
  }

  async start(): Promise<SystemInfo> {
    const script = fileURLToPath(new URL('./inprocess-worker.js', import.meta.url));
    const args = [script, '--model', this.#o.modelPath];
    if (this.#o.maxBatch) args.push('--max-batch', String(this.#o.maxBatch));
    const ready = await this.#worker.start(process.execPath, args, { verbose: this.#o.verbose });
    const d = (ready.device ?? {}) as Record<string, unknown>;
    return {
      weightBytes: Number(ready.weightBytes),
      loadMs: Number(ready.loadMs),
      device: `${String(d.backend)} (${String(d.deviceName)})`,
      versions: { node: process.version, mlx: String(d.mlxVersion) },
    };
  }

  async run(prompts: BenchPrompt[], maxTokens: number): Promise<RunOutput> {
    const r = await this.#worker.request(JSON.stringify({ cmd: 'run', maxTokens, prompts: prompts.map((p) => p.ids) }));
    return { wallMs: Number(r.wallMs), streams: toStreams(r.streams) };
  }

  async memory(): Promise<MemoryFigures> {
    const r = await this.#worker.request(JSON.stringify({ cmd: 'memory' }));
    return { mlxPeakBytes: Number(r.peakMemory), rssPeakBytes: peakRssOf(this.#worker.pid) ?? Number(r.maxRss) };
  }

  async stop(): Promise<void> {
    await this.#worker.stop(JSON.stringify({ cmd: 'quit' }));
  }
}
