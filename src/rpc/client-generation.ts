/**
 * A generation running in an `mlx-native rpc` child, seen from the client: an async iterable
 * of `token` notifications plus a promise of the final result, like the in-process Generation.
 */
import type { RpcGenerationResult, RpcTokenNotification } from './protocol.js';

export class RpcGeneration implements AsyncIterable<RpcTokenNotification> {
  /** The request_id the child knows this generation by (for `cancel`). */
  readonly requestId: string;
  /** The final result; rejects with RpcError (e.g. CONTEXT_OVERFLOW, CHILD_EXITED, TIMEOUT). */
  readonly result: Promise<RpcGenerationResult>;
  #queue: RpcTokenNotification[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #error: Error | undefined;
  #abort: () => void;
  #resolve!: (r: RpcGenerationResult) => void;
  #reject!: (e: Error) => void;

  /** @internal Created by RpcClient.generate / chat. */
  constructor(requestId: string, abort: () => void) {
    this.requestId = requestId;
    this.#abort = abort;
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.result.catch(() => undefined); // iterating callers see the error; no unhandled rejection
  }

  /** Asks the child to stop this generation; the result's finish_reason is "abort". */
  abort(): void {
    if (!this.#ended) this.#abort();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<RpcTokenNotification> {
    try {
      for (;;) {
        const next = this.#queue.shift();
        if (next) {
          yield next;
          continue;
        }
        if (this.#error) throw this.#error;
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      // A consumer that stops early (break, throw) ends the generation, as in-process.
      if (!this.#ended) this.abort();
    }
  }

  /** @internal */
  push(token: RpcTokenNotification): void {
    if (this.#ended) return;
    this.#queue.push(token);
    this.#wakeUp();
  }

  /** @internal */
  finish(result: RpcGenerationResult): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#resolve(result);
    this.#wakeUp();
  }

  /** @internal */
  fail(err: Error): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = err;
    this.#reject(err);
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
