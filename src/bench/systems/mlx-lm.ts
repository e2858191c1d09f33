/** mlx-lm in-process (Python, the project venv): scripts/bench-mlx-lm.py kept loaded in a child. */
import { existsSync } from 'node:fs';
import { JsonWorkerRunner } from './json-worker-runner.js';
import type { SystemInfo, SystemRunner } from './types.js';
import { MlxNativeError } from '../../errors.js';

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
export class MlxLmRunner extends JsonWorkerRunner implements SystemRunner {
  readonly id = 'mlx-lm' as const;
  readonly label = 'mlx-lm';
  readonly maxStreams = 1;
  readonly #o: MlxLmOptions;

  constructor(o: MlxLmOptions) {
    super('mlx-lm');
    this.#o = o;
  }

  async start(): Promise<SystemInfo> {
    if (!existsSync(this.#o.python)) throw new MlxNativeError('INTERNAL', `no Python at ${this.#o.python} (run scripts/setup-venv.sh)`);
    const ready = await this.worker.start(this.#o.python, [this.#o.script, '--model', this.#o.modelDir], {
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
}
