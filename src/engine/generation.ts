/**
 * One running generation: an async iterable of chunks plus a promise of the final result.
 * Detokenization and stop strings run here, on the JS thread, as tokens arrive in batches.
 */
import { randomBytes } from 'node:crypto';
import { captureCallSite, MlxNativeError } from '../errors.js';
import { ChatOutput, type ChatOutputOptions, type OutputPiece } from './chat-output.js';
import type { NativeDoneEvent, NativeEvent, NativeTokensEvent } from '../native.js';
import type { EngineThread } from './engine-thread.js';
import { StopMatcher } from './stop-matcher.js';
import { StreamDecoder } from './stream-decoder.js';
import type { Tokenizer } from './tokenizer.js';
import type { FinishReason, GenerationChunk, GenerationResult, TokenLogprob, ToolCall, ToolCallDelta } from './types.js';

/** An OpenAI-style call id. */
function callId(): string {
  return `call_${randomBytes(12).toString('hex')}`;
}

export interface GenerationHooks {
  onFirstToken?(): void;
  onEnd?(): void;
}

export class Generation implements AsyncIterable<GenerationChunk> {
  /** Number of prompt tokens. */
  readonly promptTokens: number;
  /** The final result. Rejects with MlxNativeError if the generation fails. */
  readonly result: Promise<GenerationResult>;

  #thread: EngineThread;
  #tokenizer: Tokenizer;
  #id = 0;
  #decoder: StreamDecoder;
  #stops: StopMatcher;
  #tokens: number[] = [];
  #text = '';
  #logprobs: TokenLogprob[] | undefined;
  #output: ChatOutput | undefined;
  #reasoning = '';
  #toolCalls: ToolCall[] = [];
  #chunks: GenerationChunk[] = [];
  #wake: (() => void) | undefined;
  #ended = false;
  #error: Error | undefined;
  #stopped = false;
  #stopSequence: string | undefined;
  #aborted = false;
  #hooks: GenerationHooks;
  #sawToken = false;
  // Wall-clock from the caller's point of view: queueing on the engine thread included.
  #startedAt = performance.now();
  #firstTokenAt = 0;
  #signal: AbortSignal | undefined;
  #onAbort = () => this.abort();
  #resolve!: (r: GenerationResult) => void;
  #reject!: (e: Error) => void;

  /** @internal Created by Model.generate / Model.chat. */
  constructor(
    thread: EngineThread,
    tokenizer: Tokenizer,
    request: {
      prompt: Int32Array;
      stop?: string | string[];
      logprobs: boolean;
      signal?: AbortSignal;
      /** Chat replies read for reasoning and tool calls (decoded with their special tokens). */
      output?: ChatOutputOptions;
    },
    start: (id: number) => void,
    hooks: GenerationHooks = {},
  ) {
    this.promptTokens = request.prompt.length;
    this.#thread = thread;
    this.#tokenizer = tokenizer;
    this.#hooks = hooks;
    if (request.output) this.#output = new ChatOutput(request.output);
    this.#decoder = new StreamDecoder(tokenizer, { skipSpecialTokens: !this.#output });
    this.#stops = new StopMatcher(request.stop);
    if (request.logprobs) this.#logprobs = [];
    this.result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.result.catch(() => {}); // iterating callers see the error; no unhandled rejection
    const site = captureCallSite();
    this.#id = thread.open({ onEvent: (ev) => this.#onEvent(ev, site) }, (_native, id) => start(id));
    this.#signal = request.signal;
    if (this.#signal) {
      if (this.#signal.aborted) this.abort();
      else this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /** Stops the generation within one decode step; the result's finishReason is 'abort'. */
  abort(): void {
    if (this.#ended || this.#aborted) return;
    this.#aborted = true;
    this.#thread.cancel(this.#id);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<GenerationChunk> {
    try {
      for (;;) {
        const chunk = this.#chunks.shift();
        if (chunk) {
          yield chunk;
          continue;
        }
        if (this.#error) throw this.#error;
        if (this.#ended) return;
        await new Promise<void>((resolve) => (this.#wake = resolve));
      }
    } finally {
      // A consumer that stops early (break, throw) ends the generation.
      if (!this.#ended) this.abort();
    }
  }

  #push(chunk: GenerationChunk): void {
    this.#chunks.push(chunk);
    this.#wakeUp();
  }

  #wakeUp(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  #onEvent(ev: NativeEvent, site: ReturnType<typeof captureCallSite>): void {
    if (ev.type === 'tokens') this.#onTokens(ev);
    else if (ev.type === 'done') this.#onDone(ev);
    else if (ev.type === 'error') this.#fail(site.graft(ev.code, ev.message));
  }

  #onTokens(ev: NativeTokensEvent): void {
    if (this.#stopped || this.#ended) return; // tokens after a stop string are dropped
    if (!this.#sawToken) {
      this.#sawToken = true;
      this.#firstTokenAt = performance.now();
      this.#hooks.onFirstToken?.();
    }
    const ids = Array.from(ev.tokens);
    this.#tokens.push(...ids);
    let logprobs: TokenLogprob[] | undefined;
    if (this.#logprobs && ev.logprobs) {
      logprobs = this.#makeLogprobs(ids, ev);
      this.#logprobs.push(...logprobs);
    }
    const match = this.#stops.push(this.#decoder.push(ids));
    if (match.stopped) {
      this.#stopped = true;
      this.#stopSequence = match.stop;
      this.#thread.cancel(this.#id);
    }
    const piece = this.#read(match.text, this.#stopped);
    if (piece.text || piece.reasoning || piece.toolCalls || logprobs || ids.length) this.#push({ ...piece, tokens: ids, logprobs });
  }

  /** Routes decoded text: content to `text`, and (chat replies) thinking and tool calls apart. */
  #read(raw: string, end: boolean): Pick<GenerationChunk, 'text' | 'reasoning' | 'toolCalls'> {
    if (!this.#output) {
      this.#text += raw;
      return { text: raw };
    }
    const a = this.#output.push(raw);
    const b: OutputPiece = end ? this.#output.flush() : { content: '', reasoning: '', calls: [] };
    const text = a.content + b.content;
    const reasoning = a.reasoning + b.reasoning;
    this.#text += text;
    this.#reasoning += reasoning;
    const deltas: ToolCallDelta[] = [];
    for (const call of [...a.calls, ...b.calls]) {
      const index = this.#toolCalls.length;
      const full: ToolCall = { id: callId(), type: 'function', function: { name: call.name, arguments: call.arguments } };
      this.#toolCalls.push(full);
      // As OpenAI streams a call: id and name with empty arguments, then the arguments.
      deltas.push({ index, id: full.id, type: 'function', function: { name: call.name, arguments: '' } });
      deltas.push({ index, function: { arguments: call.arguments } });
    }
    const out: Pick<GenerationChunk, 'text' | 'reasoning' | 'toolCalls'> = { text };
    if (reasoning) out.reasoning = reasoning;
    if (deltas.length) out.toolCalls = deltas;
    return out;
  }

  #makeLogprobs(ids: number[], ev: NativeTokensEvent): TokenLogprob[] {
    const lp = ev.logprobs ?? new Float32Array();
    const topIds = ev.topIds ?? new Int32Array();
    const topLp = ev.topLogprobs ?? new Float32Array();
    const k = ids.length > 0 ? topIds.length / ids.length : 0;
    return ids.map((token, i) => ({
      token,
      text: this.#tokenizer.decode([token]),
      logprob: lp[i],
      topLogprobs: Array.from(topIds.subarray(i * k, (i + 1) * k), (t, j) => ({
        token: t,
        text: this.#tokenizer.decode([t]),
        logprob: topLp[i * k + j],
      })),
    }));
  }

  #onDone(ev: NativeDoneEvent): void {
    if (!this.#stopped) {
      const tail = this.#stops.push(this.#decoder.flush());
      const rest = tail.stopped ? tail.text : tail.text + this.#stops.flush();
      const piece = this.#read(rest, true);
      if (piece.text || piece.reasoning || piece.toolCalls) this.#push({ ...piece, tokens: [] });
    }
    let reason: FinishReason = this.#stopped ? 'stop' : this.#aborted ? 'abort' : ev.finishReason;
    if (reason === 'stop' && this.#toolCalls.length > 0) reason = 'tool_calls';
    const completionTokens = this.#tokens.length;
    this.#finish();
    this.#resolve({
      text: this.#text,
      tokens: this.#tokens,
      finishReason: reason,
      usage: {
        promptTokens: this.promptTokens,
        completionTokens,
        totalTokens: this.promptTokens + completionTokens,
        cachedTokens: ev.cachedTokens,
      },
      timings: {
        timeToFirstTokenMs: this.#sawToken ? this.#firstTokenAt - this.#startedAt : 0,
        prefillTokensPerSecond: ev.prefillTokensPerSecond,
        decodeTokensPerSecond: ev.decodeTokensPerSecond,
        totalMs: performance.now() - this.#startedAt,
      },
      logprobs: this.#logprobs,
      ...(this.#stopSequence !== undefined && { stopSequence: this.#stopSequence }),
      ...(this.#output ? { reasoning: this.#reasoning, toolCalls: this.#toolCalls } : {}),
    });
  }

  #fail(err: MlxNativeError): void {
    if (this.#ended) return;
    this.#error = err;
    this.#finish();
    this.#reject(err);
  }

  #finish(): void {
    this.#ended = true;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    this.#hooks.onEnd?.();
    this.#wakeUp();
  }
}
