/** The two HTTP servers: `mlx-native serve` and `mlx_lm.server`, driven by the same client. */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { peakRssOf, spawnTracked, stopChild, type Tail } from '../child.js';
import type { BenchPrompt } from '../prompts.js';
import { getText, streamCompletion, waitHealthy } from './http-client.js';
import type { MemoryFigures, RunOutput, SystemId, SystemInfo, SystemRunner } from './types.js';
import { MlxNativeError } from '../../errors.js';

/** A free TCP port on 127.0.0.1 (closed again before the server binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** How to launch one server. */
export interface ServerOptions {
  id: SystemId;
  label: string;
  command: string;
  /** Arguments; `{port}` is replaced by the chosen port. */
  args: string[];
  /** Required files (the CLI entry point, the Python interpreter): missing → a clear error. */
  requires: string[];
  /** Prometheus gauge with MLX's peak memory, if the server exports one. */
  peakMetric?: string;
  versions: Record<string, string>;
  weightBytes?: number;
  verbose?: boolean;
}

/** An OpenAI-compatible server in a child process, measured over HTTP. */
export class ServerRunner implements SystemRunner {
  readonly id: SystemId;
  readonly label: string;
  readonly maxStreams = 64;
  readonly #o: ServerOptions;
  #child: ChildProcess | undefined;
  #stderr: Tail | undefined;
  #base = '';
  // Keep-alive sockets, as a real client would hold them; enough for every stream at once.
  readonly #agent = new http.Agent({ keepAlive: true, maxSockets: 128 });

  constructor(o: ServerOptions) {
    this.#o = o;
    this.id = o.id;
    this.label = o.label;
  }

  async start(): Promise<SystemInfo> {
    for (const f of this.#o.requires) if (!existsSync(f)) throw new MlxNativeError('INTERNAL', `${f} is missing`);
    const port = await freePort();
    this.#base = `http://127.0.0.1:${port}`;
    const args = this.#o.args.map((a) => a.replace('{port}', String(port)));
    const t0 = performance.now();
    const { child, stderr } = spawnTracked(this.#o.command, args, { verbose: this.#o.verbose });
    child.stdout!.resume(); // logs: drained, not kept
    this.#child = child;
    this.#stderr = stderr;
    try {
      await waitHealthy(this.#base, '/health', 300_000, () => child.exitCode === null && child.signalCode === null);
    } catch (err) {
      await this.stop();
      throw new MlxNativeError('INTERNAL', `${this.label}: ${(err as Error).message}\n${stderr}`);
    }
    return { weightBytes: this.#o.weightBytes, loadMs: performance.now() - t0, versions: this.#o.versions };
  }

  async run(prompts: BenchPrompt[], maxTokens: number): Promise<RunOutput> {
    const t0 = performance.now();
    const streams = await Promise.all(
      prompts.map((p) =>
        streamCompletion(this.#base, { prompt: p.text, max_tokens: maxTokens }, p.ids.length, t0, this.#agent).catch(
          (err: Error) => ({ promptTokens: p.ids.length, tokenMs: [], error: err.message }),
        ),
      ),
    );
    return { wallMs: performance.now() - t0, streams };
  }

  async memory(): Promise<MemoryFigures> {
    let mlxPeakBytes: number | undefined;
    if (this.#o.peakMetric) {
      const text = await getText(`${this.#base}/metrics`);
      const m = text && new RegExp(`^${this.#o.peakMetric}(?:\\{[^}]*\\})?\\s+([0-9.eE+]+)`, 'm').exec(text);
      if (m) mlxPeakBytes = Number(m[1]);
    }
    return { mlxPeakBytes, rssPeakBytes: peakRssOf(this.#child?.pid) };
  }

  async stop(): Promise<void> {
    this.#agent.destroy();
    if (this.#child) await stopChild(this.#child);
  }

  /** The server's recent stderr (for failures). */
  get stderr(): string {
    return String(this.#stderr ?? '');
  }
}
