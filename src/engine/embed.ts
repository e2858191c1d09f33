/**
 * Embeddings of a loaded model: inputs to token ids, one native request pooled on the engine
 * thread (batched there between decode steps), then truncation and L2 normalisation here.
 */
import { MlxNativeError } from '../errors.js';
import type { EngineThread } from './engine-thread.js';
import type { Pooling } from './pooling.js';
import type { Tokenizer } from './tokenizer.js';
import type { ModelInfo } from './types.js';

/** One text, several texts, one input's token ids, or several inputs' token ids. */
export type EmbedInput = string | readonly string[] | readonly number[] | readonly (readonly number[])[];

export interface EmbedOptions {
  /** Pooling of the hidden states (default: the model's own, `info.pooling`). */
  pooling?: Pooling;
  /** Keep the first n dimensions (then normalised again). Default: all of them. */
  dimensions?: number;
  /** Scale each vector to unit length (default true). */
  normalize?: boolean;
}

export interface EmbeddingResult {
  /** One vector per input, in input order. */
  embeddings: Float32Array[];
  /** Tokens of all inputs together. */
  promptTokens: number;
}

const bad = (message: string, param?: string) => new MlxNativeError('INVALID_ARGUMENT', message, { param });

/** The token ids of each input; strings go through the tokenizer with its special tokens. */
export function embedInputIds(input: EmbedInput, tokenizer: Tokenizer): number[][] {
  if (typeof input === 'string') return [tokenizer.encode(input, { addSpecialTokens: true })];
  if (!Array.isArray(input) || input.length === 0) throw bad('embedding input must be a string or a non-empty array', 'input');
  if (input.every((x) => typeof x === 'string')) {
    return (input as string[]).map((s) => tokenizer.encode(s, { addSpecialTokens: true }));
  }
  if (input.every((x) => typeof x === 'number')) return [[...(input as number[])]];
  if (input.every((x) => Array.isArray(x))) return (input as number[][]).map((ids) => [...ids]);
  throw bad('embedding input must be strings, token ids, or arrays of token ids, not a mix', 'input');
}

/** Scales `v` to unit length in place (a zero vector stays zero). */
function normalise(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}

/**
 * Embeds `input` on `thread`. Throws EMPTY_PROMPT, CONTEXT_OVERFLOW or INVALID_ARGUMENT for
 * bad input before any work starts.
 */
export async function embed(
  thread: EngineThread,
  tokenizer: Tokenizer,
  info: ModelInfo,
  input: EmbedInput,
  options: EmbedOptions = {},
): Promise<EmbeddingResult> {
  if (thread.disposed) throw new MlxNativeError('DISPOSED', 'the model was disposed');
  const pooling = options.pooling ?? info.pooling;
  if (pooling !== 'mean' && pooling !== 'last') throw bad("pooling must be 'mean' or 'last'", 'pooling');
  const { dimensions } = options;
  if (dimensions !== undefined && !(Number.isInteger(dimensions) && dimensions >= 1 && dimensions <= info.hiddenSize)) {
    throw bad(`dimensions must be an integer in [1, ${info.hiddenSize}]`, 'dimensions');
  }
  const inputs = embedInputIds(input, tokenizer);
  for (const [i, ids] of inputs.entries()) {
    if (ids.length === 0) throw new MlxNativeError('EMPTY_PROMPT', `input ${i} has no tokens`);
    if (ids.length > info.contextLength) {
      throw new MlxNativeError('CONTEXT_OVERFLOW', `input ${i} has ${ids.length} tokens; the context holds ${info.contextLength}`);
    }
    for (const t of ids) {
      if (!Number.isInteger(t) || t < 0 || t >= info.vocabSize) {
        throw bad(`input ${i}: token id ${t} is outside the vocabulary (0..${info.vocabSize - 1})`, 'input');
      }
    }
  }
  const request = {
    tokens: Int32Array.from(inputs.flat()),
    lengths: Int32Array.from(inputs.map((ids) => ids.length)),
    lastToken: pooling === 'last',
  };
  const ev = await thread.request('embedding', (n, id) => n.embed(id, request));
  const keep = dimensions ?? ev.dims;
  const embeddings = inputs.map((_, i) => {
    const row = ev.values.slice(i * ev.dims, i * ev.dims + keep);
    return options.normalize === false ? row : normalise(row);
  });
  return { embeddings, promptTokens: ev.promptTokens };
}
