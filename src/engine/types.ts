/** Public types of the engine API. Kept in one file so the server, CLI and bench share them. */

export type FinishReason = 'stop' | 'length' | 'abort' | 'tool_calls';

/** The dtype a model computes in (activations, norms and unquantized weights). */
export type ComputeDtype = 'float32' | 'float16' | 'bfloat16';

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
  /** Constrains the output with a grammar: JSON (any object, or one schema), or a Lark grammar. */
  responseFormat?: ResponseFormat;
}

/**
 * The shape the output must take. `json_schema` accepts JSON Schema (draft 2020-12 subset that
 * llguidance compiles); `lark` takes llguidance's Lark dialect.
 */
export type ResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; schema: Record<string, unknown>; name?: string; strict?: boolean }
  | { type: 'lark'; grammar: string };

/** A function the model may call (OpenAI's `tools[].function`). */
export interface ToolFunction {
  name: string;
  description?: string;
  /** JSON Schema of the arguments object. */
  parameters?: Record<string, unknown>;
  strict?: boolean;
}

export interface Tool {
  type: 'function';
  function: ToolFunction;
}

/** `'auto'` (default): the model decides; `'none'`; `'required'`: at least one call; or one function. */
export type ToolChoice = 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };

/** A call the model made. `arguments` is a JSON object as text (OpenAI's shape). */
export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** How a model writes tool calls; inferred from its chat template unless given. */
export type ToolCallFormat = 'hermes' | 'llama3' | 'mistral' | 'gemma' | 'harmony';

/**
 * How thinking is read from the output: `auto` (a block the model opens), `prefilled` (the
 * prompt already opened it), `off` (no separation).
 */
export type ReasoningMode = 'auto' | 'prefilled' | 'off';

export interface ReasoningOptions {
  mode?: ReasoningMode;
  /** Thinking tokens before the block is closed for the model (default: no limit). */
  budget?: number;
  /** OpenAI's reasoning_effort, mapped to a budget when `budget` is not given. */
  effort?: 'minimal' | 'low' | 'medium' | 'high';
  /** Passed to templates that read `enable_thinking` (Qwen3 and others). */
  enableThinking?: boolean;
}

/** Options of Model.chat: generation options plus tools and reasoning. */
export interface ChatOptions extends GenerateOptions {
  tools?: Tool[];
  toolChoice?: ToolChoice;
  /** Whether the model may make several calls in one turn (default true). */
  parallelToolCalls?: boolean;
  /** Overrides the format inferred from the chat template. */
  toolCallFormat?: ToolCallFormat;
  reasoning?: ReasoningOptions;
}

/** A piece of a streamed tool call, as OpenAI streams `delta.tool_calls`. */
export interface ToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
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
  /** Chat: thinking text added by this chunk (kept out of `text`). */
  reasoning?: string;
  /** Chat with tools: tool-call pieces completed by this chunk. */
  toolCalls?: ToolCallDelta[];
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
  /** Chat: the thinking, apart from the answer in `text`. */
  reasoning?: string;
  /** Chat with tools: the calls the model made (finishReason 'tool_calls'). */
  toolCalls?: ToolCall[];
}

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** Assistant turns: the calls it made. */
  tool_calls?: ToolCall[];
  /** Tool turns: the call this answers. */
  tool_call_id?: string;
  /** Tool turns: the function's name. */
  name?: string;
  /** Assistant turns: their thinking, for templates that render it. */
  reasoning_content?: string;
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
  /**
   * KV cache bytes per position when every layer keeps every position. Sliding-window layers
   * (Gemma 3, gpt-oss) keep at most their window, so long sequences of those models take less.
   */
  kvBytesPerToken: number;
  /** How embeddings pool the hidden states: the mean over tokens, or the last token. */
  pooling: 'mean' | 'last';
  /** Compute dtype of the activations ('float32' on CPUs, 'float16' on GPUs by default). */
  dtype: string;
  /** GGUF files: each tensor type, how many tensors have it and what it becomes in MLX. */
  ggufTensorTypes?: { type: string; count: number; becomes: string }[];
}
