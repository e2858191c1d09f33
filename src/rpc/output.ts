/**
 * The protocol's only way to stdout. `takeStdout()` keeps the real `process.stdout.write` for
 * protocol lines and sends everything else that writes to process.stdout (console.log,
 * libraries) to stderr instead, so no stray line can break a supervisor's parser.
 * `LineWriter` writes one JSON message per line and exposes backpressure: `send()` returns
 * false once the consumer stops reading, and `drained()` resolves when it reads again.
 */
import type { Writable } from 'node:stream';

/** The real stdout for protocol lines; from now on other writes to process.stdout go to stderr. */
export function takeStdout(): { stream: Writable; write: (line: string) => boolean } {
  const stdout = process.stdout;
  const write = stdout.write.bind(stdout) as (line: string) => boolean;
  const toStderr = ((chunk: unknown, ...rest: unknown[]) =>
    (process.stderr.write as (...a: unknown[]) => boolean)(chunk, ...rest)) as typeof stdout.write;
  stdout.write = toStderr;
  return { stream: stdout, write };
}

export class LineWriter {
  readonly #stream: Writable;
  readonly #write: (line: string) => boolean;
  #closed = false;
  #released = false;
  #blockedSince: number | undefined;
  #onClose: ((err: Error) => void) | undefined;
  #onBackpressure: ((event: { blocked: boolean; bufferedBytes: number; blockedMs?: number }) => void) | undefined;

  constructor(
    target: { stream: Writable; write: (line: string) => boolean },
    hooks: {
      onClose?: (err: Error) => void;
      /** Reports when the consumer falls behind and when it catches up again. */
      onBackpressure?: (event: { blocked: boolean; bufferedBytes: number; blockedMs?: number }) => void;
    } = {},
  ) {
    this.#stream = target.stream;
    this.#write = target.write;
    this.#onClose = hooks.onClose;
    this.#onBackpressure = hooks.onBackpressure;
    target.stream.on('drain', () => {
      if (this.#blockedSince === undefined) return;
      const blockedMs = Math.round(performance.now() - this.#blockedSince);
      this.#blockedSince = undefined;
      this.#onBackpressure?.({ blocked: false, bufferedBytes: this.#stream.writableLength, blockedMs });
    });
    // A consumer that closes its end gives EPIPE: stop writing, let the owner shut down.
    target.stream.on('error', (err) => this.#close(err));
  }

  /** True once stdout failed (the reader went away); sends are dropped from then on. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while the consumer is behind (more than the stream's high-water mark is buffered). */
  get blocked(): boolean {
    return !this.#closed && !this.#released && this.#stream.writableNeedDrain;
  }

  /**
   * Stops holding writers back (a stop in progress must not wait on a consumer that does not
   * read): `drained()` resolves at once from now on; what is written stays buffered.
   */
  release(): void {
    this.#released = true;
    this.#stream.emit('drain');
  }

  /** Writes one message as a line. Returns false when the caller should wait for `drained()`. */
  send(message: unknown): boolean {
    if (this.#closed) return true;
    const ok = this.#write(`${JSON.stringify(message)}\n`);
    if (!ok && this.#blockedSince === undefined) {
      this.#blockedSince = performance.now();
      this.#onBackpressure?.({ blocked: true, bufferedBytes: this.#stream.writableLength });
    }
    return ok;
  }

  /** Resolves once the consumer has caught up (or stdout is gone). */
  drained(): Promise<void> {
    if (!this.blocked) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#stream.off('drain', done);
        this.#stream.off('error', done);
        this.#stream.off('close', done);
        resolve();
      };
      this.#stream.on('drain', done);
      this.#stream.on('error', done);
      this.#stream.on('close', done);
    });
  }

  /** Waits until every buffered line is handed to the OS, at most `timeoutMs`. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!this.#closed && this.#stream.writableLength > 0) {
      if (performance.now() > deadline) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return true;
  }

  #close(err: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stream.emit('drain'); // wake every drained() waiter
    this.#onClose?.(err);
  }
}
