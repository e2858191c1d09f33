/**
 * `RpcClient`: drives an `mlx-native rpc` child process with typed methods. Generations are
 * async iterators of `token` notifications; an AbortSignal sends `cancel`; every call has a
 * timeout; a child that crashes is restarted with exponential backoff (its models reloaded),
 * and the calls that were in flight fail with a CHILD_EXITED RpcError that says what happened.
 */
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { RpcChild, type ChildExit, type ChildSpec } from './child.js';
import { RpcGeneration } from './client-generation.js';
import { RpcError, rpcErrorFrom } from './client-error.js';
import type {
  JsonRpcErrorObject,
  RpcChatParams,
  RpcGenerateOptions,
  RpcGenerateParams,
  RpcInitializeResult,
  RpcLoadModelOptions,
  RpcMethod,
  RpcMethods,
  RpcTokenNotification,
} from './protocol.js';

export interface RpcClientOptions {
  /** Executable to spawn (default: this Node binary running this package's `mlx-native rpc`). */
  command?: string;
  /** Its arguments (default: [<package>/dist/cli.js, 'rpc']). */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Default timeout of every call, generations included, in ms (default 60 000; 0: none). */
  timeoutMs?: number;
  /** Restart a child that exits unexpectedly (default true: 5 attempts, 200 ms doubling to 5 s). */
  restart?: boolean | { retries?: number; initialDelayMs?: number; maxDelayMs?: number };
  /** After a restart, load again the models that were loaded (default true). */
  restoreModels?: boolean;
}

export interface CallOptions {
  /** Overrides the client's timeoutMs for this call (0: none). */
  timeoutMs?: number;
  /** Rejects the call with ABORTED (a generation is cancelled instead). */
  signal?: AbortSignal;
}

/** Options of generate/chat: the engine's sampling options (camelCase or snake_case) and more. */
export type RpcClientGenerateOptions = RpcGenerateOptions & {
  maxTokens?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  logitBias?: Record<number, number>;
  topLogprobs?: number;
  ignoreEos?: boolean;
  responseFormat?: RpcGenerateOptions['response_format'];
  /** Model id (may be left out while one model is loaded). */
  model?: string;
} & CallOptions;

/** Options of chat: those of generate, plus tools and reasoning (snake_case or camelCase). */
export type RpcClientChatOptions = RpcClientGenerateOptions &
  Pick<RpcChatParams, 'tools' | 'tool_choice' | 'parallel_tool_calls' | 'tool_call_format' | 'reasoning'> & {
    toolChoice?: RpcChatParams['tool_choice'];
    parallelToolCalls?: boolean;
    toolCallFormat?: RpcChatParams['tool_call_format'];
  };

type SendOptions = CallOptions & { onTimeout?: () => void };

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

/** A child that ran this long before exiting starts the backoff over. */
const STABLE_MS = 10_000;

/**
 * @example
 * await using client = new RpcClient();
 * await client.loadModel('models/SmolLM2-135M-Instruct.Q4_1.gguf');
 * const gen = client.chat([{ role: 'user', content: 'Hi!' }], { maxTokens: 32 });
 * for await (const t of gen) process.stdout.write(t.text);
 * console.log((await gen.result).finish_reason);
 */
export class RpcClient extends EventEmitter {
  readonly #spec: ChildSpec;
  readonly #timeoutMs: number;
  readonly #restart: { retries: number; initialDelayMs: number; maxDelayMs: number } | undefined;
  readonly #restoreModels: boolean;
  #child: RpcChild | undefined;
  #ready: Promise<RpcInitializeResult> | undefined;
  #attempt = 0;
  #nextId = 1;
  #nextRequest = 1;
  #closing = false;
  readonly #pending = new Map<number, Pending>();
  readonly #generations = new Map<string, RpcGeneration>();
  readonly #models = new Map<string, RpcMethods['load_model']['params']>();

  constructor(options: RpcClientOptions = {}) {
    super();
    this.#spec = {
      command: options.command ?? process.execPath,
      // From dist/rpc/ (and src/rpc/ under a TypeScript runner) to the package's dist/cli.js.
      args: options.args ?? (options.command ? [] : [fileURLToPath(new URL('../../dist/cli.js', import.meta.url)), 'rpc']),
      env: options.env,
      cwd: options.cwd,
    };
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    const r = options.restart ?? true;
    this.#restart = r === false ? undefined : { retries: 5, initialDelayMs: 200, maxDelayMs: 5000, ...(r === true ? {} : r) };
    this.#restoreModels = options.restoreModels ?? true;
  }

  /** The child's pid (undefined while none runs). */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Spawns the child (once) and resolves with its `initialize` answer. Calls start it too. */
  start(): Promise<RpcInitializeResult> {
    return this.#whenReady();
  }

  /** Calls `method`; rejects with RpcError (its `code` is the engine's or the protocol's). */
  async call<M extends RpcMethod>(method: M, params?: RpcMethods[M]['params'], opts: SendOptions = {}): Promise<RpcMethods[M]['result']> {
    await this.#whenReady();
    return this.#send(method, params, opts) as Promise<RpcMethods[M]['result']>;
  }

  initialize(): Promise<RpcInitializeResult> {
    return this.call('initialize', { client_info: { name: 'mlx-native RpcClient' } });
  }

  health(opts?: CallOptions) {
    return this.call('health', undefined, opts);
  }

  async loadModel(path: string, options: RpcLoadModelOptions & { id?: string } & CallOptions = {}) {
    const { id, timeoutMs, signal, ...load } = options;
    const params = { model: path, ...(id ? { id } : {}), ...(Object.keys(load).length ? { options: load } : {}) };
    const result = await this.call('load_model', params, { timeoutMs, signal });
    this.#models.set(result.id, { ...params, id: result.id });
    return result;
  }

  async unloadModel(id: string, opts?: CallOptions) {
    const result = await this.call('unload_model', { id }, opts);
    this.#models.delete(id);
    return result;
  }

  listModels(opts?: CallOptions) {
    return this.call('list_models', undefined, opts);
  }

  memoryReport(opts?: CallOptions) {
    return this.call('memory_report', undefined, opts);
  }

  /** Cancels a generation by request_id (see RpcGeneration.requestId). */
  cancel(requestId: string | number, opts?: CallOptions) {
    return this.call('cancel', { request_id: requestId }, opts);
  }

  /** Text (no chat template) or token ids; tokens stream through the returned iterator. */
  generate(prompt: string | number[], options: RpcClientGenerateOptions = {}): RpcGeneration {
    return this.#generation('generate', { prompt }, options);
  }

  chat(messages: RpcChatParams['messages'], options: RpcClientChatOptions = {}): RpcGeneration {
    return this.#generation('chat', { messages }, options);
  }

  /** Sends several calls as one JSON-RPC batch; each entry settles on its own. */
  async batch(calls: { method: RpcMethod; params?: unknown }[], opts: CallOptions = {}): Promise<PromiseSettledResult<unknown>[]> {
    await this.#whenReady();
    const entries = calls.map((c) => ({ ...c, id: this.#nextId++ }));
    const promises = entries.map((e) => this.#expect(e.id, e.method, opts));
    this.#child?.send(entries.map((e) => ({ jsonrpc: '2.0', id: e.id, method: e.method, params: e.params })));
    return Promise.allSettled(promises);
  }

  /**
   * Asks the child to shut down (in-flight generations end with finish_reason "abort"), waits
   * for it to exit (SIGKILL after `timeoutMs`), and stops restarting it.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    this.#closing = true;
    await this.#ready?.catch(() => undefined); // calls already made are sent before the shutdown
    const child = this.#child;
    if (!child) return;
    const exited = child.exited;
    await this.#send('shutdown', undefined, { timeoutMs }).catch(() => undefined);
    child.endInput();
    let timer: NodeJS.Timeout | undefined;
    const killed = new Promise<void>((r) => (timer = setTimeout(() => (child.kill('SIGKILL'), r()), timeoutMs)));
    await Promise.race([exited, killed]);
    clearTimeout(timer);
    await exited;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #generation(method: 'generate' | 'chat', input: object, options: RpcClientGenerateOptions): RpcGeneration {
    const { signal, timeoutMs, ...sampling } = options;
    const requestId = `c${process.pid}-${this.#nextRequest++}`;
    const gen = new RpcGeneration(requestId, () => void this.cancel(requestId).catch(() => undefined));
    this.#generations.set(requestId, gen);
    const onAbort = () => gen.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    const params = { ...sampling, ...input, stream: true, request_id: requestId } as RpcGenerateParams;
    this.call(method, params, { timeoutMs, onTimeout: () => gen.abort() })
      .then(
        (r) => gen.finish(r),
        (e: Error) => gen.fail(e),
      )
      .finally(() => {
        this.#generations.delete(requestId);
        signal?.removeEventListener('abort', onAbort);
      });
    if (signal?.aborted) gen.abort();
    return gen;
  }

  /** The ready promise, following restarts: a call made while the child restarts waits for it. */
  async #whenReady(): Promise<RpcInitializeResult> {
    for (;;) {
      const ready = (this.#ready ??= this.#spawn());
      try {
        return await ready;
      } catch (err) {
        if (this.#ready !== ready) continue; // a restart replaced it
        throw err;
      }
    }
  }

  async #spawn(): Promise<RpcInitializeResult> {
    if (this.#closing) throw new RpcError('CLOSED', 'the RpcClient was closed');
    const child = new RpcChild(
      this.#spec,
      (m) => this.#onMessage(m),
      (line) => this.emit('stderr', line),
      (line) => this.emit('protocol_error', line),
    );
    this.#child = child;
    void child.exited.then((e) => this.#onExit(child, e));
    const init = (await this.#send('initialize', { client_info: { name: 'mlx-native RpcClient' } }, {})) as RpcInitializeResult;
    if (this.#restoreModels) {
      for (const [id, params] of [...this.#models]) {
        await this.#send('load_model', params, { timeoutMs: 0 }).catch((err: Error) => {
          this.#models.delete(id);
          this.emit('restore_failed', { id, error: err });
        });
      }
    }
    return init;
  }

  #send(method: string, params: unknown, opts: SendOptions): Promise<unknown> {
    const id = this.#nextId++;
    const promise = this.#expect(id, method, opts);
    const message = params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
    if (!this.#child?.send(message)) this.#settle(id, undefined, new RpcError('CHILD_EXITED', `cannot send "${method}": no child is running`));
    return promise;
  }

  #expect(id: number, method: string, opts: SendOptions): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const pending: Pending = { method, resolve, reject };
      const timeoutMs = opts.timeoutMs ?? this.#timeoutMs;
      if (timeoutMs > 0) {
        pending.timer = setTimeout(() => {
          opts.onTimeout?.();
          this.#settle(id, undefined, new RpcError('TIMEOUT', `"${method}" got no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }
      if (opts.signal) {
        const onAbort = () => this.#settle(id, undefined, new RpcError('ABORTED', `"${method}" was aborted`));
        if (opts.signal.aborted) queueMicrotask(onAbort);
        else opts.signal.addEventListener('abort', onAbort, { once: true });
      }
      this.#pending.set(id, pending);
    });
  }

  #settle(id: number, result: unknown, error?: Error): void {
    const p = this.#pending.get(id);
    if (!p) return; // timed out or aborted earlier: the late answer is dropped
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (error) p.reject(error);
    else p.resolve(result);
  }

  #onMessage(message: unknown): void {
    if (Array.isArray(message)) {
      for (const m of message) this.#onMessage(m);
      return;
    }
    const m = message as { id?: unknown; method?: string; params?: unknown; result?: unknown; error?: JsonRpcErrorObject };
    if (m.method === 'token') {
      const t = m.params as RpcTokenNotification;
      this.#generations.get(String(t.request_id))?.push(t);
    } else if (typeof m.id === 'number') {
      this.#settle(m.id, m.result, m.error ? rpcErrorFrom(m.error) : undefined);
    } else if (m.error) {
      this.emit('protocol_error', JSON.stringify(m)); // an answer with id null (parse error …)
    }
  }

  #onExit(child: RpcChild, exit: ChildExit): void {
    if (this.#child !== child) return;
    this.#child = undefined;
    const how = exit.error ? `could not start (${exit.error.message})` : exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.code}`;
    const tail = child.stderrTail().slice(-3).join('\n');
    const describe = (what: string) =>
      new RpcError('CHILD_EXITED', `the mlx-native rpc child (pid ${child.pid}) ${how} while ${what} was in flight${tail ? `; its last stderr lines:\n${tail}` : ''}`, {
        exit,
      });
    for (const [id, p] of [...this.#pending]) this.#settle(id, undefined, describe(`"${p.method}"`));
    this.emit('exit', exit);
    if (this.#closing) return;
    const r = this.#restart;
    if (performance.now() - child.startedAt > STABLE_MS) this.#attempt = 0;
    if (!r || this.#attempt >= r.retries) {
      const err = new RpcError(
        'CHILD_EXITED',
        `the mlx-native rpc child ${how}${r ? ` and ${r.retries} restarts failed` : ''}${tail ? `; its last stderr lines:\n${tail}` : ''}`,
        { exit },
      );
      this.#ready = Promise.reject(err);
      this.#ready.catch(() => undefined);
      return;
    }
    const delayMs = Math.min(r.initialDelayMs * 2 ** this.#attempt, r.maxDelayMs);
    this.#attempt++;
    this.emit('restart', { attempt: this.#attempt, delayMs, exit });
    this.#ready = new Promise((resolve) => setTimeout(resolve, delayMs)).then(() => this.#spawn());
    this.#ready.catch(() => undefined);
  }
}

export { RpcError };
