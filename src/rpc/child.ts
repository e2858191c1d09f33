/**
 * One `mlx-native rpc` child process as the client sees it: messages in (parsed lines of its
 * stdout), messages out (lines on its stdin), its stderr lines, and how it ended.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readLines } from './line-reader.js';

export interface ChildSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started (ENOENT, EACCES …). */
  error?: Error;
}

const STDERR_TAIL = 20;

export class RpcChild {
  readonly process: ChildProcess;
  /** Resolves once the process has exited and its stdout is read to the end. */
  readonly exited: Promise<ChildExit>;
  readonly startedAt = performance.now();
  readonly #stderrTail: string[] = [];

  constructor(
    spec: ChildSpec,
    onMessage: (message: unknown) => void,
    onStderr: (line: string) => void,
    onBadLine: (line: string) => void,
  ) {
    const proc = spawn(spec.command, spec.args, {
      env: spec.env ?? process.env,
      cwd: spec.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.process = proc;
    // A child that died leaves a broken pipe: writes fail with EPIPE, reported by `exited`.
    this.process.stdin!.on('error', () => undefined);
    let spawnError: Error | undefined;
    const exit = new Promise<ChildExit>((resolve) => {
      this.process.once('error', (err) => {
        spawnError = err;
        resolve({ code: null, signal: null, error: err });
      });
      this.process.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const stdoutDone = (async () => {
      for await (const line of readLines(proc.stdout!, 1 << 30)) {
        if (line.kind !== 'text') {
          onBadLine(`<${line.kind}, ${line.bytes} bytes>`);
          continue;
        }
        let message: unknown;
        try {
          message = JSON.parse(line.text);
        } catch {
          onBadLine(line.text);
          continue;
        }
        onMessage(message);
      }
    })().catch(() => undefined);
    (async () => {
      for await (const line of readLines(proc.stderr!, 1 << 24)) {
        if (line.kind !== 'text') continue;
        this.#stderrTail.push(line.text);
        if (this.#stderrTail.length > STDERR_TAIL) this.#stderrTail.shift();
        onStderr(line.text);
      }
    })().catch(() => undefined);
    this.exited = exit.then(async (e) => {
      if (!spawnError) await stdoutDone;
      return e;
    });
  }

  get pid(): number | undefined {
    return this.process.pid;
  }

  /** The last lines the child wrote to stderr. */
  stderrTail(): string[] {
    return [...this.#stderrTail];
  }

  /** Writes one message as a line; false when the child's stdin is gone. */
  send(message: unknown): boolean {
    const stdin = this.process.stdin!;
    if (stdin.destroyed || !stdin.writable) return false;
    stdin.write(`${JSON.stringify(message)}\n`);
    return true;
  }

  /** Closes stdin (the child stops as at EOF). */
  endInput(): void {
    this.process.stdin!.end();
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.process.exitCode === null && this.process.signalCode === null) this.process.kill(signal);
  }
}
