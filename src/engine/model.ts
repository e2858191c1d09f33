/**
 * `loadModel` and `Model`: a loaded model on its own engine thread, with streaming generation,
 * chat templates and cancellation.
 */
import { MlxNativeError } from '../errors.js';
import type { NativeGenerateRequest, NativeStatsEvent } from '../native.js';
import { planChat, planGenerate, type ChatPlan } from './chat-request.js';
import { ChatTemplate } from './chat-template.js';
import { embed, type EmbeddingResult, type EmbedInput, type EmbedOptions } from './embed.js';
import { EngineThread } from './engine-thread.js';
import { Generation } from './generation.js';
import { GrammarCache } from './grammars.js';
import { resolveModel } from './model-spec.js';
import type { Tokenizer } from './tokenizer.js';
import type { ChatMessage, ChatOptions, ComputeDtype, GenerateOptions, ModelInfo } from './types.js';

/** Every compute dtype, for option parsers. */
export const COMPUTE_DTYPES = ['float32', 'float16', 'bfloat16'] as const satisfies readonly ComputeDtype[];

export interface LoadOptions {
  /** Loading progress in [0, 1]. */
  onProgress?: (fraction: number) => void;
  /** Warnings about the model (e.g. weights MLX dequantizes). Default: console.warn. */
  onWarning?: (message: string) => void;
  /** Sequences decoded together (default 16). */
  maxBatch?: number;
  /** Prompt tokens per prefill step (default: 32 on CPU, 512 on GPUs). */
  prefillChunk?: number;
  /** Bytes of KV cache for running sequences (default 2 GiB). */
  kvBudgetBytes?: number;
  /** Bytes of KV cache kept for prefix reuse (default 512 MiB; 0 disables the prefix cache). */
  prefixCacheBytes?: number;
  /** Override the context length the model declares. */
  contextLength?: number;
  /**
   * CPU backend: streams (one thread each) every matmul is split over (default: the number of
   * cores, at most 4; 1 disables the split).
   */
  cpuStreams?: number;
  /** Compute dtype (default: float32 on CPU, float16 on GPUs). */
  dtype?: ComputeDtype;
  /** Jinja chat template used instead of the model's own. */
  chatTemplate?: string;
}

export interface ModelStats {
  /** Generations that produced their first token and are still running. */
  activeSequences: number;
  /** Generations waiting for or in prefill. */
  queuedRequests: number;
}

/** Engine-side counters: batch, KV and prefix-cache use, scheduler steps, MLX memory (bytes). */
export type EngineCounters = Omit<NativeStatsEvent, 'id' | 'type'>;

const DEFAULT_MAX_TOKENS = 256;
/** Integers go to native code as int32. */
const INT32_MAX = 2 ** 31 - 1;

function checkNumber(name: string, v: unknown, min: number, max = Infinity): void {
  if (v === undefined) return;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
    throw new MlxNativeError('INVALID_ARGUMENT', `${name} must be a number in [${min}, ${max}]`);
  }
}

/** Options that are not numbers: a wrong type must fail here, not later on the engine thread. */
function checkOtherOptions(o: GenerateOptions): void {
  const bad = (message: string) => new MlxNativeError('INVALID_ARGUMENT', message);
  const stop = o.stop as unknown;
  if (stop !== undefined && typeof stop !== 'string' && !(Array.isArray(stop) && stop.every((s) => typeof s === 'string'))) {
    throw bad('stop must be a string or an array of strings');
  }
  for (const key of ['logprobs', 'ignoreEos'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw bad(`${key} must be a boolean`);
  }
  // An AbortSignal is used after the request started: a wrong value would throw asynchronously.
  const signal = o.signal as unknown as { addEventListener?: unknown; aborted?: unknown } | undefined;
  if (signal !== undefined && (typeof signal?.addEventListener !== 'function' || typeof signal.aborted !== 'boolean')) {
    throw bad('signal must be an AbortSignal');
  }
  const bias = o.logitBias as unknown;
  if (bias === undefined) return;
  if (bias === null || typeof bias !== 'object' || Array.isArray(bias)) throw bad('logitBias must be an object of token id -> bias');
  for (const [id, value] of Object.entries(bias)) {
    // Keys are object keys (strings): "abc" or "1.5" would otherwise become token 0 or 1.
    if (!/^(0|[1-9][0-9]*)$/.test(id)) throw bad(`logitBias key ${JSON.stringify(id)} is not a token id`);
    if (typeof value !== 'number' || Number.isNaN(value)) throw bad(`logitBias[${id}] must be a number`);
  }
}

/**
 * A loaded model. Generations run concurrently and are batched on the engine thread.
 * @example
 * await using model = await loadModel('models/SmolLM2-135M-Instruct.Q4_1.gguf');
 * for await (const chunk of model.chat([{ role: 'user', content: 'Hi!' }])) process.stdout.write(chunk.text);
 */
export class Model {
  readonly info: ModelInfo;
  /** The model's name: its file or directory name. */
  readonly name: string;
  readonly tokenizer: Tokenizer;
  readonly chatTemplate: ChatTemplate;
  #thread: EngineThread;
  #grammars: GrammarCache;
  #queued = 0;
  #active = 0;
  readonly #live = new Set<Generation>();
  /** BOS id that text prompts start with, when the tokenizer adds one (Llama-style post-processor). */
  #bos: number | undefined;

  /** @internal use loadModel() */
  constructor(thread: EngineThread, info: ModelInfo, name: string, tokenizer: Tokenizer, chatTemplate: ChatTemplate) {
    this.#thread = thread;
    this.info = info;
    this.name = name;
    this.tokenizer = tokenizer;
    this.chatTemplate = chatTemplate;
    this.#grammars = new GrammarCache(() => thread.native, tokenizer, info.vocabSize);
    const bos = tokenizer.bosTokenId;
    // Tokenizers that add BOS do it in their post-processor (for GGUF files when the metadata's
    // tokenizer.ggml.add_bos_token says so, as llama.cpp does); encode() adds no specials.
    const adds = bos !== undefined && tokenizer.encode('a', { addSpecialTokens: true })[0] === bos;
    this.#bos = adds ? bos : undefined;
  }

  /** Token ids of `text` (no chat template, no BOS). */
  tokenize(text: string): number[] {
    return this.tokenizer.encode(text);
  }

  /** Text of token ids (special tokens skipped). */
  detokenize(ids: readonly number[]): string {
    return this.tokenizer.decode(ids, { skipSpecialTokens: true });
  }

  /** Prompt token ids for a chat: the template applied, the assistant turn opened (unless `addGenerationPrompt: false`). */
  chatPromptTokens(messages: ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): number[] {
    if (!Array.isArray(messages) || messages.length === 0) {
      throw new MlxNativeError('EMPTY_PROMPT', 'messages must be a non-empty array');
    }
    const addGenerationPrompt = options.addGenerationPrompt ?? true;
    return this.tokenizer.encodeChat(this.chatTemplate, messages, { addGenerationPrompt }).ids;
  }

  /**
   * Generates from a prompt (text, encoded without a chat template, or token ids).
   * Throws EMPTY_PROMPT, CONTEXT_OVERFLOW, INVALID_ARGUMENT or DISPOSED before any work starts.
   */
  generate(prompt: string | readonly number[], options: GenerateOptions = {}): Generation {
    let ids: number[];
    if (typeof prompt === 'string') {
      ids = this.tokenizer.encode(prompt);
      if (this.#bos !== undefined) ids.unshift(this.#bos);
    } else if (Array.isArray(prompt)) {
      ids = [...prompt];
    } else {
      throw new MlxNativeError('INVALID_ARGUMENT', 'prompt must be a string or an array of token ids');
    }
    return this.#start(ids, options, planGenerate(options ?? {}));
  }

  /**
   * Generates the assistant's reply to `messages` with the model's chat template: with tools
   * (the result's `toolCalls`), a response format, and thinking kept apart (`reasoning`).
   */
  chat(messages: ChatMessage[], options: ChatOptions = {}): Generation {
    if (options === null || typeof options !== 'object') throw new MlxNativeError('INVALID_ARGUMENT', 'options must be an object');
    const plan = planChat(this.tokenizer, this.chatTemplate, messages, options);
    return this.#start(plan.ids, options, plan);
  }

  /**
   * Embeddings of one or more inputs (texts or token ids): the hidden states after the final
   * norm, pooled as the model says (`info.pooling`) and normalised to unit length.
   * @example
   * const { embeddings } = await model.embed(['first text', 'second text'], { dimensions: 256 });
   */
  embed(input: EmbedInput, options: EmbedOptions = {}): Promise<EmbeddingResult> {
    return embed(this.#thread, this.tokenizer, this.info, input, options);
  }

  /** Live counts of this model's generations. */
  stats(): ModelStats {
    return { activeSequences: this.#active, queuedRequests: this.#queued };
  }

  /** Engine-side counters: batch, KV and prefix-cache use, MLX memory (bytes). */
  async counters(): Promise<EngineCounters> {
    const { id: _id, type: _type, ...counters } = await this.#thread.request('stats', (n, id) => n.modelCommand(id, 'stats'));
    return counters;
  }

  /** MLX memory in use, its peak, and the allocator cache (bytes). */
  async memory(): Promise<{ activeMemory: number; peakMemory: number; cacheMemory: number }> {
    const c = await this.counters();
    return { activeMemory: c.activeMemory, peakMemory: c.peakMemory, cacheMemory: c.cacheMemory };
  }

  /**
   * Aborts every running generation of this model and resolves, with their number, once each
   * has settled (finishReason 'abort'). The model stays loaded.
   */
  async abortAll(): Promise<number> {
    const live = [...this.#live];
    for (const g of live) g.abort();
    await Promise.allSettled(live.map((g) => g.result));
    return live.length;
  }

  /** Drops every cached prefix. */
  async clearPrefixCache(): Promise<void> {
    await this.#thread.request('stats', (n, id) => n.modelCommand(id, 'clearPrefixCache'));
  }

  get disposed(): boolean {
    return this.#thread.disposed;
  }

  /** Aborts running generations, frees the weights and stops the engine thread. */
  async dispose(): Promise<void> {
    this.#thread.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #start(ids: number[], o: GenerateOptions, plan: Omit<ChatPlan, 'ids'>): Generation {
    if (this.#thread.disposed) throw new MlxNativeError('DISPOSED', 'the model was disposed');
    if (ids.length === 0) throw new MlxNativeError('EMPTY_PROMPT', 'the prompt has no tokens');
    for (const t of ids) {
      if (!Number.isInteger(t) || t < 0 || t >= this.info.vocabSize) {
        throw new MlxNativeError('INVALID_ARGUMENT', `token id ${t} is outside the vocabulary (0..${this.info.vocabSize - 1})`);
      }
    }
    if (ids.length + 1 > this.info.contextLength) {
      throw new MlxNativeError(
        'CONTEXT_OVERFLOW',
        `the prompt has ${ids.length} tokens; with at least one generated token it exceeds the context of ${this.info.contextLength}`,
      );
    }
    if (o === null || typeof o !== 'object') throw new MlxNativeError('INVALID_ARGUMENT', 'options must be an object');
    checkNumber('maxTokens', o.maxTokens, 1, INT32_MAX);
    checkNumber('temperature', o.temperature, 0, 100);
    checkNumber('topP', o.topP, 0, 1);
    checkNumber('topK', o.topK, 0, INT32_MAX);
    checkNumber('minP', o.minP, 0, 1);
    checkNumber('repetitionPenalty', o.repetitionPenalty, 0.01, 100);
    checkNumber('presencePenalty', o.presencePenalty, -100, 100);
    checkNumber('frequencyPenalty', o.frequencyPenalty, -100, 100);
    checkNumber('topLogprobs', o.topLogprobs, 0, 20);
    checkNumber('seed', o.seed, 0, Number.MAX_SAFE_INTEGER);
    checkNumber('repetitionContextSize', o.repetitionContextSize, 0, 1 << 30);
    checkOtherOptions(o);
    const bias = Object.entries(o.logitBias ?? {});
    const int = (v: number | undefined) => (v === undefined ? undefined : Math.floor(v));
    const request: NativeGenerateRequest = {
      prompt: Int32Array.from(ids),
      maxTokens: Math.floor(o.maxTokens ?? DEFAULT_MAX_TOKENS),
      temperature: o.temperature,
      topP: o.topP,
      topK: int(o.topK),
      minP: o.minP,
      repetitionPenalty: o.repetitionPenalty,
      repetitionContextSize: int(o.repetitionContextSize),
      presencePenalty: o.presencePenalty,
      frequencyPenalty: o.frequencyPenalty,
      logitBiasIds: Int32Array.from(bias.map(([k]) => Number(k))),
      logitBiasValues: Float32Array.from(bias.map(([, v]) => Number(v))),
      seed: o.seed,
      logprobs: o.logprobs || o.topLogprobs ? Math.floor(o.topLogprobs ?? 0) : -1,
      eosTokenIds: Int32Array.from(o.ignoreEos ? [] : this.tokenizer.eosTokenIds),
    };
    if (plan.grammar) request.grammar = this.#grammars.compile(plan.grammar);
    if (plan.reasoning) {
      this.#grammars.ensureVocab();
      request.reasoning = { ...plan.reasoning, closeIds: Int32Array.from(plan.reasoning.closeIds) };
    }
    this.#queued++;
    let phase: 'queued' | 'active' | 'ended' = 'queued';
    // onEnd may run before the constructor returns (a signal already aborted).
    const self: { generation?: Generation } = {};
    const generation = new Generation(
      this.#thread,
      this.tokenizer,
      { prompt: request.prompt, stop: o.stop, logprobs: (request.logprobs ?? -1) >= 0, signal: o.signal, output: plan.output },
      (id) => this.#thread.native.generate(id, request),
      {
        onFirstToken: () => {
          if (phase !== 'queued') return;
          phase = 'active';
          this.#queued--;
          this.#active++;
        },
        onEnd: () => {
          if (phase === 'queued') this.#queued--;
          else if (phase === 'active') this.#active--;
          phase = 'ended';
          if (self.generation) this.#live.delete(self.generation);
        },
      },
    );
    if (phase !== ('ended' as typeof phase)) {
      self.generation = generation;
      this.#live.add(generation);
    }
    return generation;
  }
}

/**
 * Loads a model: a GGUF file or an MLX / Hugging Face directory.
 * @example
 * const model = await loadModel('models/SmolLM2-135M-Instruct.Q4_1.gguf', { onProgress: (p) => console.log(p) });
 */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<Model> {
  // Before the model's files are read: a typo in the dtype costs no load.
  if (options.dtype !== undefined && !(COMPUTE_DTYPES as readonly string[]).includes(options.dtype)) {
    throw new MlxNativeError('INVALID_ARGUMENT', `dtype must be one of ${COMPUTE_DTYPES.join(', ')}`, { param: 'dtype' });
  }
  let resolved;
  try {
    resolved = await resolveModel(path);
  } catch (err) {
    if (err instanceof MlxNativeError) throw err;
    // File-system and parser failures (EACCES, EISDIR, ...) reading the model's files.
    const message = err instanceof Error ? err.message : String(err);
    throw new MlxNativeError('INVALID_MODEL', `[load] cannot read ${path}: ${message}`, { cause: err });
  }
  if (options.chatTemplate !== undefined) {
    if (typeof options.chatTemplate !== 'string' || options.chatTemplate.length === 0) {
      throw new MlxNativeError('INVALID_ARGUMENT', 'chatTemplate must be a non-empty string', { param: 'chatTemplate' });
    }
    const bos = resolved.tokenizer.bosTokenId;
    resolved.chatTemplate = new ChatTemplate(options.chatTemplate, {
      bosToken: bos === undefined ? undefined : resolved.tokenizer.idToToken(bos),
    });
  }
  for (const w of resolved.warnings) (options.onWarning ?? ((m: string) => console.warn(`[mlx-native] ${m}`)))(w);
  const thread = new EngineThread();
  try {
    const ev = await thread.request(
      'loaded',
      (n, id) =>
        n.loadModel(id, {
          format: resolved.format,
          files: resolved.files,
          configJson: JSON.stringify(resolved.hfConfig),
          contextLength: options.contextLength,
          dtype: options.dtype,
          cpuStreams: options.cpuStreams ?? (Number(process.env.MLX_NATIVE_CPU_STREAMS) || undefined),
          maxBatch: options.maxBatch,
          prefillChunk: options.prefillChunk,
          kvBudgetBytes: options.kvBudgetBytes,
          prefixCacheBytes: options.prefixCacheBytes,
        }),
      options.onProgress,
    );
    const info: ModelInfo = {
      path: resolved.path,
      format: resolved.format,
      architecture: ev.modelType,
      family: ev.family,
      parameterCount: ev.parameterCount,
      quantization: resolved.quantizationLabel ?? ev.quantization,
      contextLength: ev.contextLength,
      vocabSize: ev.vocabSize,
      weightBytes: ev.weightBytes,
      numLayers: ev.numLayers,
      hiddenSize: ev.hiddenSize,
      kvBytesPerToken: ev.kvBytesPerToken,
      pooling: resolved.pooling,
      dtype: ev.dtype,
      ...(resolved.ggufTypes ? { ggufTensorTypes: resolved.ggufTypes } : {}),
    };
    return new Model(thread, info, resolved.name, resolved.tokenizer, resolved.chatTemplate);
  } catch (err) {
    thread.dispose();
    throw err;
  }
}
