/**
 * `createEngine()` and `Engine`: several models in one process, each chosen by an id. Every
 * model runs on its own native engine thread (the native engine hosts one model and batches its
 * sequences), so two models generate at the same time and loading or unloading one never pauses
 * another's generations.
 */
import { MlxNativeError } from '../errors.js';
import type { Generation } from './generation.js';
import { loadModel, type LoadOptions, type Model, type ModelStats } from './model.js';
import type { ChatMessage, GenerateOptions, GenerationResult, ModelInfo } from './types.js';

/** A model an {@link Engine} holds: still loading, or loaded with its metadata and live counts. */
export interface EngineModel {
  id: string;
  path: string;
  state: 'loading' | 'loaded';
  /** Metadata once loaded. */
  info?: ModelInfo;
  /** Live counts once loaded. */
  stats?: ModelStats;
}

interface Entry {
  id: string;
  path: string;
  loading?: Promise<Model>;
  model?: Model;
}

/**
 * Holds several loaded models by id. Generations of one model are batched on its engine
 * thread; different models run on different threads at the same time.
 *
 * @example
 * await using engine = createEngine();
 * await engine.loadModel('gguf', 'models/SmolLM2-135M-Instruct.Q4_1.gguf');
 * await engine.loadModel('mlx', 'models/SmolLM2-135M-Instruct-mlx-f32', { maxBatch: 4 });
 * const [a, b] = await Promise.all([
 *   engine.generate('gguf', 'The capital of France is', { maxTokens: 8, temperature: 0 }).result,
 *   engine.chat('mlx', [{ role: 'user', content: 'Name a color.' }], { maxTokens: 8 }).result,
 * ]);
 * console.log(a.text, b.text, engine.listModels());
 */
export class Engine {
  readonly #entries = new Map<string, Entry>();
  #disposed = false;

  /**
   * Loads the model at `path` (GGUF file or MLX directory) under `id` and resolves with it.
   * Throws INVALID_ARGUMENT when `id` is taken (loaded or loading), and the loader's errors
   * (MODEL_NOT_FOUND, INVALID_MODEL, …) when the model cannot load; other models are untouched.
   */
  async loadModel(id: string, path: string, options: LoadOptions = {}): Promise<Model> {
    this.#checkOpen();
    if (typeof id !== 'string' || id.length === 0) {
      throw new MlxNativeError('INVALID_ARGUMENT', 'model id must be a non-empty string', { param: 'id' });
    }
    if (this.#entries.has(id)) {
      throw new MlxNativeError('INVALID_ARGUMENT', `a model with id '${id}' is already loaded or loading; unload it first`, { param: 'id' });
    }
    const entry: Entry = { id, path, loading: loadModel(path, options) };
    this.#entries.set(id, entry);
    let model: Model;
    try {
      model = await entry.loading!;
    } catch (err) {
      if (this.#entries.get(id) === entry) this.#entries.delete(id);
      throw err;
    }
    entry.loading = undefined;
    if (this.#disposed || this.#entries.get(id) !== entry) {
      // Disposed or unloaded while it loaded: free it at once.
      await model.dispose();
      throw new MlxNativeError('DISPOSED', `the model '${id}' was unloaded while it loaded`);
    }
    entry.model = model;
    return model;
  }

  /**
   * Unloads `id`: its running generations end with finishReason 'abort', then its weights and
   * engine thread are freed. A load in flight is awaited first. Resolves false for an unknown id.
   */
  async unloadModel(id: string): Promise<boolean> {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    this.#entries.delete(id);
    const model = entry.model ?? (await entry.loading!.catch(() => undefined));
    if (!model) return true;
    await model.abortAll();
    await model.dispose();
    return true;
  }

  /** Whether `id` is loaded or loading. */
  has(id: string): boolean {
    return this.#entries.has(id);
  }

  /** The loaded model `id`; throws MODEL_NOT_FOUND for an unknown or still-loading id. */
  model(id: string): Model {
    const entry = this.#entries.get(id);
    if (!entry?.model) {
      const why = entry ? 'is still loading; await its loadModel() first' : 'is not loaded';
      throw new MlxNativeError('MODEL_NOT_FOUND', `the model '${id}' ${why}`, { param: 'model' });
    }
    return entry.model;
  }

  /** Every model, loading or loaded, in load order. */
  listModels(): EngineModel[] {
    return [...this.#entries.values()].map((e) => ({
      id: e.id,
      path: e.path,
      state: e.model ? 'loaded' : 'loading',
      ...(e.model && { info: e.model.info, stats: e.model.stats() }),
    }));
  }

  /** Metadata of the loaded model `id` (architecture, format, context length, weight bytes, …). */
  getModelInfo(id: string): ModelInfo {
    return this.model(id).info;
  }

  /**
   * Runs one short generation so the first real request does not pay for kernel compilation
   * and first-touch allocations. Resolves with its result.
   */
  async warmup(id: string): Promise<GenerationResult> {
    return this.model(id).generate('Hello', { maxTokens: 1, temperature: 0 }).result;
  }

  /** Token ids of `text` with model `id`'s tokenizer (no chat template, no BOS). */
  tokenize(id: string, text: string): number[] {
    return this.model(id).tokenize(text);
  }

  /** Text of token ids with model `id`'s tokenizer (special tokens skipped). */
  detokenize(id: string, ids: readonly number[]): string {
    return this.model(id).detokenize(ids);
  }

  /** {@link Model.generate} on model `id`. */
  generate(id: string, prompt: string | readonly number[], options?: GenerateOptions): Generation {
    return this.model(id).generate(prompt, options);
  }

  /** {@link Model.chat} on model `id`. */
  chat(id: string, messages: ChatMessage[], options?: GenerateOptions): Generation {
    return this.model(id).chat(messages, options);
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** Unloads every model (their generations end with 'abort'); later calls throw DISPOSED. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await Promise.all([...this.#entries.keys()].map((id) => this.unloadModel(id)));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  #checkOpen(): void {
    if (this.#disposed) throw new MlxNativeError('DISPOSED', 'the engine was disposed');
  }
}

/**
 * A new, empty {@link Engine}; load models into it with `engine.loadModel(id, path, options)`.
 *
 * @example
 * const engine = createEngine();
 * await engine.loadModel('smol', 'models/SmolLM2-135M-Instruct.Q4_1.gguf');
 * for await (const chunk of engine.chat('smol', [{ role: 'user', content: 'Hi!' }])) process.stdout.write(chunk.text);
 * await engine.dispose();
 */
export function createEngine(): Engine {
  return new Engine();
}
