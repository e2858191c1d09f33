/** mlx-native in-process: `loadModel` + `Generation`, in a Node child of its own. */
import { fileURLToPath } from 'node:url';
import { JsonWorkerRunner } from './json-worker-runner.js';
import type { SystemId, SystemInfo, SystemRunner } from './types.js';

/** Options of the in-process runner. */
export interface InProcessOptions {
  id: SystemId;
  label: string;
  modelPath: string;
  maxBatch?: number;
  verbose?: boolean;
}

/** Runs mlx-native's public API in a child Node process (see inprocess-worker.ts). */
export class InProcessRunner extends JsonWorkerRunner implements SystemRunner {
  readonly id: SystemId;
  readonly label: string;
  readonly maxStreams = 64;
  readonly #o: InProcessOptions;

  constructor(o: InProcessOptions) {
    super(o.label);
    this.#o = o;
    this.id = o.id;
    this.label = o.label;
  }

  async start(): Promise<SystemInfo> {
    const script = fileURLToPath(new URL('./inprocess-worker.js', import.meta.url));
    const args = [script, '--model', this.#o.modelPath];
    if (this.#o.maxBatch) args.push('--max-batch', String(this.#o.maxBatch));
    const ready = await this.worker.start(process.execPath, args, { verbose: this.#o.verbose });
    const d = (ready.device ?? {}) as Record<string, unknown>;
    return {
      weightBytes: Number(ready.weightBytes),
      loadMs: Number(ready.loadMs),
      device: `${String(d.backend)} (${String(d.deviceName)})`,
      versions: { node: process.version, mlx: String(d.mlxVersion) },
    };
  }
}
