/**
 * The JSON-RPC 2.0 server of `mlx-native rpc`: reads requests line by line, answers single
 * requests and batches, and owns the lifecycle. A stop (the `shutdown` method, SIGTERM/SIGINT,
 * stdin EOF, or stdout closing) aborts every running generation, whose final results go out
 * with finish_reason "abort", frees the models and resolves `run()`.
 */
import type { Readable } from 'node:stream';
import { Generations } from './generations.js';
import { readLines, type Line } from './line-reader.js';
import type { Logger } from './logger.js';
import { MemoryMonitor } from './memory.js';
import { callMethod, deviceInfoSource, isMethod, type MethodContext } from './methods.js';
import { ModelRegistry } from './models.js';
import type { LineWriter } from './output.js';
import { toErrorObject } from './errors.js';
import {
  applicationError,
  RpcErrorCode,
  type JsonRpcErrorObject,
  type JsonRpcId,
  type JsonRpcResponse,
} from './protocol.js';

export interface RpcServerOptions {
  writer: LineWriter;
  log: Logger;
  /** Longer lines are skipped and answered with -32600 (default 16 MiB). */
  maxLineBytes?: number;
  /** How long a stop waits for final results to reach stdout (default 5 s). */
  flushTimeoutMs?: number;
}

/** Methods that still answer while the process stops. */
const WHILE_STOPPING = new Set(['health', 'initialize', 'list_models', 'memory_report', 'cancel', 'shutdown']);

const isId = (v: unknown): v is JsonRpcId => v === null || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));

export class RpcServer {
  readonly models: ModelRegistry;
  readonly generations: Generations;
  readonly #writer: LineWriter;
  readonly #log: Logger;
  readonly #maxLineBytes: number;
  readonly #flushTimeoutMs: number;
  readonly #device = deviceInfoSource();
  readonly #ctx: MethodContext;
  readonly #pending = new Set<Promise<unknown>>();
  #stopping: Promise<number> | undefined;
  #input: Readable | undefined;

  constructor(opts: RpcServerOptions) {
    this.#writer = opts.writer;
    this.#log = opts.log;
    this.#maxLineBytes = opts.maxLineBytes ?? 16 * 1024 * 1024;
    this.#flushTimeoutMs = opts.flushTimeoutMs ?? 5000;
    this.models = new ModelRegistry(opts.log);
    const memory = new MemoryMonitor(async () => (await this.models.any()?.memory()) ?? undefined);
    this.generations = new Generations(this.#writer, memory);
    this.#ctx = {
      models: this.models,
      generations: this.generations,
      startedAt: performance.now(),
      stopping: () => this.#stopping !== undefined,
      shutdown: (reason) => this.stop(reason),
      device: this.#device.get,
    };
  }

  /** Serves `input` until it ends or a stop; resolves once the stop has completed. */
  async run(input: Readable): Promise<void> {
    this.#input = input;
    try {
      for await (const line of readLines(input, this.#maxLineBytes)) {
        this.#onLine(line);
      }
    } catch (err) {
      // A destroyed stdin (after a stop) ends the loop with ERR_STREAM_PREMATURE_CLOSE.
      if (!this.#stopping) this.#log.error('reading stdin failed', { err });
    }
    await this.stop(this.#stopping ? 'stopped' : 'stdin closed');
    // Answers still on their way (the shutdown request's own, a batch's) go out before returning.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#pending]),
      new Promise((r) => (timer = setTimeout(r, this.#flushTimeoutMs))),
    ]);
    clearTimeout(timer);
    this.#device.close();
  }

  /**
   * Stops: refuses new work, aborts running generations (they answer with finish_reason
   * "abort"), frees the models. Idempotent; resolves with the number of aborted generations.
   */
  stop(reason: string): Promise<number> {
    this.#stopping ??= this.#stop(reason);
    return this.#stopping;
  }

  async #stop(reason: string): Promise<number> {
    this.#log.info('stopping', { reason, in_flight: this.generations.size, models: this.models.size });
    this.#writer.release(); // aborted streams must end even if nobody reads stdout any more
    const aborted = await this.generations.abortAll();
    await this.models.close();
    this.#input?.destroy();
    this.#log.info('stopped', { aborted_requests: aborted });
    return aborted;
  }

  /** Waits until every line written so far has reached the OS (bounded). */
  flush(): Promise<boolean> {
    return this.#writer.flush(this.#flushTimeoutMs);
  }

  #onLine(line: Line): void {
    if (line.kind === 'too_long') {
      this.#send(errorResponse(null, RpcErrorCode.INVALID_REQUEST, `Invalid Request: line of ${line.bytes} bytes exceeds the limit of ${this.#maxLineBytes}`));
      return;
    }
    if (line.kind === 'invalid_utf8') {
      this.#send(errorResponse(null, RpcErrorCode.PARSE_ERROR, 'Parse error: the line is not valid UTF-8'));
      return;
    }
    let message: unknown;
    try {
      message = JSON.parse(line.text);
    } catch (err) {
      this.#send(errorResponse(null, RpcErrorCode.PARSE_ERROR, `Parse error: ${(err as Error).message}`));
      return;
    }
    if (Array.isArray(message)) {
      if (message.length === 0) {
        this.#send(errorResponse(null, RpcErrorCode.INVALID_REQUEST, 'Invalid Request: empty batch'));
        return;
      }
      this.#track(
        Promise.all(message.map((m) => this.#handle(m))).then((responses) => {
          const out = responses.filter((r): r is JsonRpcResponse => r !== undefined);
          if (out.length > 0) this.#send(out);
        }),
      );
      return;
    }
    this.#track(
      this.#handle(message).then((r) => {
        if (r) this.#send(r);
      }),
    );
  }

  /** One request of a line or a batch; undefined for a notification. */
  async #handle(msg: unknown): Promise<JsonRpcResponse | undefined> {
    if (msg === null || typeof msg !== 'object' || Array.isArray(msg)) {
      return errorResponse(null, RpcErrorCode.INVALID_REQUEST, 'Invalid Request: expected an object');
    }
    const req = msg as Record<string, unknown>;
    const hasId = Object.hasOwn(req, 'id');
    const id = hasId && isId(req.id) ? req.id : null;
    const invalid = (why: string) => errorResponse(id, RpcErrorCode.INVALID_REQUEST, `Invalid Request: ${why}`);
    if (req.jsonrpc !== '2.0') return invalid('"jsonrpc" must be "2.0"');
    if (hasId && !isId(req.id)) return invalid('"id" must be a string, a number or null');
    if (typeof req.method !== 'string') return invalid('"method" must be a string');
    if (req.params !== undefined && (req.params === null || typeof req.params !== 'object')) {
      return invalid('"params" must be an object or an array');
    }
    const method = req.method;
    let response: JsonRpcResponse;
    if (!isMethod(method)) {
      response = errorResponse(id, RpcErrorCode.METHOD_NOT_FOUND, `Method not found: ${method}`);
    } else {
      try {
        if (this.#stopping && !WHILE_STOPPING.has(method)) throw applicationError('SHUTTING_DOWN', 'the process is shutting down');
        const result = await callMethod(this.#ctx, method, req.params, hasId ? id : undefined);
        response = { jsonrpc: '2.0', id, result };
      } catch (err) {
        const error = toErrorObject(err);
        if (error.code === RpcErrorCode.INTERNAL_ERROR) this.#log.error('method failed', { method, err });
        response = { jsonrpc: '2.0', id, error };
      }
    }
    return hasId ? response : undefined;
  }

  #send(message: unknown): void {
    this.#writer.send(message);
  }

  #track(p: Promise<unknown>): void {
    const tracked = p.catch((err: unknown) => this.#log.error('request failed', { err }));
    this.#pending.add(tracked);
    void tracked.finally(() => this.#pending.delete(tracked));
  }
}

function errorResponse(id: JsonRpcId, code: number, message: string, data?: JsonRpcErrorObject['data']): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: data ? { code, message, data } : { code, message } };
}
