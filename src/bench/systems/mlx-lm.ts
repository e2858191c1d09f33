/** mlx-lm in-process (Python, the project venv): scripts/bench-mlx-lm.py kept loaded in a child. */
import { existsSync } from 'node:fs';
import { LineWorker, peakRssOf } from '../child.js';
import type { BenchPrompt } from '../prompts.js';
import type { MemoryFigures, RunOutput, SystemInfo, SystemRunner } from './types.js';
import { toStreams } from './types.js';

/** Options of the mlx-lm runner. */
export interface MlxLmOptions {
  python: string;
  /** scripts/bench-mlx-lm.py */
  script: string;
  /** An MLX model directory (mlx-lm does not read GGUF). */
  modelDir: string;
  verbose?: boolean;
}

/** mlx-lm's `generate_step`, one stream at a time, timed in the Python process. */
export class MlxLmRunner implements SystemRunner {
  readonly id = 'mlx-lm' as const;
  readonly label = 'mlx-lm';
  readonly maxStreams = 1;
  readonly #o: MlxLmOptions;
  readonly #worker = new LineWorker('mlx-lm');

  constructor(o: MlxLmOptions) {
    this.#o = o;
  }

  async start(): Promise<SystemInfo> {
    if (!existsSync(this.#o.python)) throw new Error(`no Python at ${this.#o.python} (run scripts/setup-venv.sh)`);
    const ready = await this.#worker.start(this.#o.python, [this.#o.script, '--model', this.#o.modelDir], {
      verbose: this.#o.verbose,
    });
    return {
      weightBytes: Number(ready.weightBytes),
      loadMs: Number(ready.loadMs),
      versions: {
        mlx: String(ready.mlxVersion),
        'mlx-lm': String(ready.mlxLmVersion),
        python: String(ready.pythonVersion),
      },
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
