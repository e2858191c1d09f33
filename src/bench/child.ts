/**
 * Child processes of the benchmark. Every system runs in its own process, so its memory peaks
 * are its own and it can stay loaded while the bench alternates between systems. Workers speak
 * a line protocol: one request line in, one JSON line out; the first line they print says
 * they are ready.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { MlxNativeError } from '../errors.js';

/** A JSON reply from a worker. */
export type Reply = Record<string, unknown>;

/** Options of a spawned worker or server. */
export interface SpawnOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Forward the child's stderr to ours (--verbose). */
  verbose?: boolean;
}

/** Keeps the last lines of a stream, for error messages. */
export class Tail {
  readonly #lines: string[] = [];
  constructor(readonly max = 30) {}
  push(line: string): void {
    this.#lines.push(line);
    if (this.#lines.length > this.max) this.#lines.shift();
  }
  toString(): string {
    return this.#lines.join('\n');
  }
}

/**
 * Peak resident memory of a process in bytes, from /proc (Linux). Undefined elsewhere or once
 * the process is gone. Preferred over a worker's own getrusage peak: Linux carries the parent's
 * peak RSS across fork+exec into ru_maxrss, so a child of the bench would report the bench's.
 */
export function peakRssOf(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const m = /VmHWM:\s+(\d+)\s*kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Spawns a child with piped stdio, remembering its stderr tail. */
export function spawnTracked(command: string, args: string[], o: SpawnOptions = {}): { child: ChildProcess; stderr: Tail } {
  const child = spawn(command, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] });
  const stderr = new Tail();
  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr.push(line);
    if (o.verbose) process.stderr.write(`  | ${line}\n`);
  });
  return { child, stderr };
}

/** Stops a child: asks politely (`quit` line or SIGTERM), then SIGKILL after `graceMs`. */
export async function stopChild(child: ChildProcess, quitLine?: string, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  if (quitLine !== undefined && child.stdin?.writable) child.stdin.write(`${quitLine}\n`);
  else child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGTERM'), graceMs);
  const hard = setTimeout(() => child.kill('SIGKILL'), graceMs * 2);
  await exited;
  clearTimeout(timer);
  clearTimeout(hard);
}

/** A worker that answers one JSON line per request line. */
export class LineWorker {
  readonly name: string;
  #child: ChildProcess | undefined;
  #stderr = new Tail();
  #queue: { resolve: (r: Reply) => void; reject: (e: Error) => void }[] = [];
  #exitError: Error | undefined;

  constructor(name: string) {
    this.name = name;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Spawns the worker and resolves with its ready line. */
  async start(command: string, args: string[], o: SpawnOptions & { timeoutMs?: number } = {}): Promise<Reply> {
    const { child, stderr } = spawnTracked(command, args, o);
    this.#child = child;
    this.#stderr = stderr;
    createInterface({ input: child.stdout! }).on('line', (line) => this.#onLine(line));
    child.on('error', (err) => this.#fail(new MlxNativeError('INTERNAL', `${this.name}: ${err.message}`)));
    child.on('exit', (code, signal) => {
      this.#fail(new MlxNativeError('INTERNAL', `${this.name} exited (${signal ?? `code ${code}`})\n${this.#stderr}`));
    });
    child.stdin!.on('error', () => {}); // a dead worker is reported by 'exit'
    const ready = await this.#next(o.timeoutMs ?? 300_000);
    if (ready.error || !ready.ready) throw new MlxNativeError('INTERNAL', `${this.name} failed to start: ${String(ready.error ?? JSON.stringify(ready))}\n${this.#stderr}`);
    return ready;
  }

  /** Sends one request line and resolves with the reply; a reply with `error` rejects. */
  async request(line: string, timeoutMs = 900_000): Promise<Reply> {
    if (this.#exitError) throw this.#exitError;
    const reply = this.#next(timeoutMs);
    this.#child!.stdin!.write(`${line}\n`);
    const r = await reply;
    if (r.error) throw new MlxNativeError('INTERNAL', `${this.name}: ${String(r.error)}`);
    return r;
  }

  /** Stops the worker (sends `quitLine`, then signals). */
  async stop(quitLine: string): Promise<void> {
    if (this.#child) await stopChild(this.#child, quitLine);
  }

  #next(timeoutMs: number): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new MlxNativeError('INTERNAL', `${this.name}: no reply within ${timeoutMs} ms`)), timeoutMs);
      this.#queue.push({
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
    });
  }

  #onLine(line: string): void {
    let parsed: Reply;
    try {
      parsed = JSON.parse(line) as Reply;
    } catch {
      // Replies are whole JSON lines: anything else is a broken reply, and waiting for another
      // would hang the run, so it fails the pending request instead.
      this.#stderr.push(`[stdout] ${line}`);
      this.#queue.shift()?.reject(new MlxNativeError('INTERNAL', `${this.name}: not a JSON reply: ${line.slice(0, 200)}`));
      return;
    }
    this.#queue.shift()?.resolve(parsed);
  }

  #fail(err: Error): void {
    this.#exitError ??= err;
    for (const w of this.#queue.splice(0)) w.reject(err);
  }
}
