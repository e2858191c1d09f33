/** The part shared by runners whose child speaks the JSON line protocol (inprocess-worker.js, bench-mlx-lm.py). */
import { LineWorker, peakRssOf } from '../child.js';
import type { BenchPrompt } from '../prompts.js';
import type { MemoryFigures, RunOutput } from './types.js';
import { toStreams } from './types.js';

export abstract class JsonWorkerRunner {
  protected readonly worker: LineWorker;

  constructor(name: string) {
    this.worker = new LineWorker(name);
  }

  async run(prompts: BenchPrompt[], maxTokens: number): Promise<RunOutput> {
    const r = await this.worker.request(JSON.stringify({ cmd: 'run', maxTokens, prompts: prompts.map((p) => p.ids) }));
    return { wallMs: Number(r.wallMs), streams: toStreams(r.streams) };
  }

  async memory(): Promise<MemoryFigures> {
    const r = await this.worker.request(JSON.stringify({ cmd: 'memory' }));
    return { mlxPeakBytes: Number(r.peakMemory), rssPeakBytes: peakRssOf(this.worker.pid) ?? Number(r.maxRss) };
  }

  async stop(): Promise<void> {
    await this.worker.stop(JSON.stringify({ cmd: 'quit' }));
  }
}
