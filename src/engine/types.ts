/** Public types of the engine API. Kept in one file so the server, CLI and bench share them. */

export type FinishReason = 'stop' | 'length' | 'abort';

/** Sampling and stopping options for one generation. All optional; defaults are greedy decoding. */
export interface GenerateOptions {
  /** Maximum number of tokens to generate (default 256). */
  maxTokens?: number;
  /** Stop strings, matched on decoded text across token boundaries and stripped from the output. */
  stop?: string | string[];
  /** 0 (default) means greedy. */
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  /** Number of most recent tokens the penalties look at (default 20, as mlx-lm). */
  repetitionContextSize?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  /** Token id → additive bias. */
  logitBias?: Record<number, number>;
  seed?: number;
  /** Return log-probabilities of chosen tokens, with `topLogprobs` alternatives each. */
  logprobs?: boolean;
  topLogprobs?: number;
  /** Aborts the generation within one decode step; the final result has finishReason 'abort'. */
  signal?: AbortSignal;
  /** Keep generating past end-of-sequence tokens (benchmarks). */
  ignoreEos?: boolean;
}

export interface TokenLogprob {
  token: number;
  text: string;
  logprob: number;
  topLogprobs: { token: number; text: string; logprob: number }[];
}

/** One streamed piece of a generation. */
export interface GenerationChunk {
  /** Text added by this chunk (may be empty while a multi-byte character or stop string is pending). */
  text: string;
  /** Token ids added by this chunk. */
  tokens: number[];
  logprobs?: TokenLogprob[];
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Prompt tokens whose KV came from the prefix cache. */
  cachedTokens: number;
}

export interface Timings {
  /** Milliseconds from the generate()/chat() call to the first token reaching JS. */
  timeToFirstTokenMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  /** Milliseconds from the call to the final result. */
  totalMs: number;
}

export interface GenerationResult {
  text: string;
  tokens: number[];
  finishReason: FinishReason;
  usage: Usage;
  timings: Timings;
  logprobs?: TokenLogprob[];
  /** The stop string that ended the generation, when one did. */
  stopSequence?: string;
}

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface ModelInfo {
  path: string;
  format: 'gguf' | 'mlx';
  /** The config's model_type (e.g. 'llama', 'qwen3'). */
  architecture: string;
  /** The model family that runs it (e.g. 'llama' for model_type 'mistral'). */
  family: string;
  parameterCount: number;
  /** e.g. 'q4_1', 'q4_0', 'q8_0', 'affine-4bit-g64', 'f16', 'f32', 'bf16'. */
  quantization: string;
  contextLength: number;
  vocabSize: number;
  weightBytes: number;
  numLayers: number;
  hiddenSize: number;
  /** How embeddings pool the hidden states: the mean over tokens, or the last token. */
  pooling: 'mean' | 'last';
  /** Compute dtype of the activations ('float32' on CPUs, 'float16' on GPUs by default). */
  dtype: string;
  /** GGUF files: each tensor type, how many tensors have it and what it becomes in MLX. */
  ggufTensorTypes?: { type: string; count: number; becomes: string }[];
}
