/**
 * The wire format of `mlx-native rpc`: JSON-RPC 2.0 messages, one per line, and the typed
 * params and results of every method. Shared by the server (src/rpc/server.ts) and the client
 * (src/rpc/client.ts), so both sides agree on one definition.
 */
import type { ComputeDtype, FinishReason } from '../engine/types.js';

export const PROTOCOL_VERSION = '1';

/** JSON-RPC 2.0 error codes, plus the one this server uses for engine and lifecycle errors. */
export const RpcErrorCode = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  INTERNAL_ERROR: -32603,
  /** An application error: `data.code` says which (an engine code such as CONTEXT_OVERFLOW). */
  APPLICATION_ERROR: -32000,
} as const;

/**
 * `data.code` of application errors: the engine's codes (see `ErrorCode`) and these of the RPC
 * layer.
 */
export type RpcApplicationCode =
  | 'UNKNOWN_MODEL' // no loaded model has this id (or none is loaded and the request named none)
  | 'MODEL_ID_IN_USE' // load_model with an id that is loaded or loading
  | 'REQUEST_ID_IN_USE' // generate/chat with the request_id of a running generation
  | 'SHUTTING_DOWN'; // the process is stopping and takes no new work

export type JsonRpcId = string | number | null;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id?: JsonRpcId;
  method: string;
  params?: unknown;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: { code?: string; field?: string; [key: string]: unknown };
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId; result: unknown }
  | { jsonrpc: '2.0'; id: JsonRpcId; error: JsonRpcErrorObject };

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params: unknown;
}

/** An error a method handler throws; the server turns it into a JSON-RPC error response. */
export class RpcFailure extends Error {
  constructor(
    readonly rpcCode: number,
    message: string,
    readonly data?: JsonRpcErrorObject['data'],
  ) {
    super(message);
    this.name = 'RpcFailure';
  }

  toJSON(): JsonRpcErrorObject {
    return this.data ? { code: this.rpcCode, message: this.message, data: this.data } : { code: this.rpcCode, message: this.message };
  }
}

/** -32602 naming the field. */
export function invalidParams(field: string, message: string): RpcFailure {
  return new RpcFailure(RpcErrorCode.INVALID_PARAMS, `Invalid params: ${field ? `${field}: ` : ''}${message}`, {
    code: 'INVALID_ARGUMENT',
    field,
  });
}

/** -32000 with `data.code`. */
export function applicationError(code: string, message: string): RpcFailure {
  return new RpcFailure(RpcErrorCode.APPLICATION_ERROR, message, { code });
}

// ---- Methods: params and results (snake_case on the wire) ----

/** Sampling options; every key is also accepted in camelCase (`max_tokens` or `maxTokens`). */
export interface RpcGenerateOptions {
  max_tokens?: number;
  stop?: string | string[];
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  repetition_penalty?: number;
  repetition_context_size?: number;
  presence_penalty?: number;
  frequency_penalty?: number;
  logit_bias?: Record<string, number>;
  seed?: number;
  logprobs?: boolean;
  top_logprobs?: number;
  ignore_eos?: boolean;
  /** Constrains the output with a grammar (OpenAI's shape, plus llguidance's Lark). */
  response_format?: RpcResponseFormat;
}

export type RpcResponseFormat =
  | { type: 'text' }
  | { type: 'json_object' }
  | { type: 'json_schema'; json_schema: { name?: string; schema: Record<string, unknown>; strict?: boolean } }
  | { type: 'lark'; grammar: string };

/** A call the model made (OpenAI's shape: `arguments` is a JSON object as text). */
export interface RpcToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** A piece of a streamed tool call, as OpenAI streams `delta.tool_calls`. */
export interface RpcToolCallDelta {
  index: number;
  id?: string;
  type?: 'function';
  function: { name?: string; arguments: string };
}

export interface RpcChatMessage {
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  content: string | null;
  /** Assistant turns: the calls it made. */
  tool_calls?: RpcToolCall[];
  /** Tool turns: the call this answers, and the function's name. */
  tool_call_id?: string;
  name?: string;
  /** Assistant turns: their thinking, for templates that render it. */
  reasoning_content?: string;
}

interface GenerationCommon extends RpcGenerateOptions {
  /** Model id; may be left out while exactly one model is loaded. */
  model?: string;
  /** Send `token` notifications as tokens arrive. */
  stream?: boolean;
  /** Id for `cancel` and the notifications; default: the JSON-RPC id. */
  request_id?: string | number;
}

export interface RpcGenerateParams extends GenerationCommon {
  /** Text (no chat template) or token ids. */
  prompt: string | number[];
}

export interface RpcChatParams extends GenerationCommon {
  messages: RpcChatMessage[];
  /** Functions the model may call (OpenAI's `tools`). */
  tools?: { type: 'function'; function: { name: string; description?: string; parameters?: Record<string, unknown>; strict?: boolean } }[];
  /** `auto` (default), `none`, `required` or one function: the last two are grammar-constrained. */
  tool_choice?: 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
  parallel_tool_calls?: boolean;
  /** How the model writes calls, when not the format inferred from its chat template. */
  tool_call_format?: 'hermes' | 'llama3' | 'mistral' | 'gemma' | 'harmony';
  /** Thinking kept apart from the answer (`reasoning` in the result and notifications). */
  reasoning?: { mode?: 'auto' | 'prefilled' | 'off'; budget?: number; effort?: 'minimal' | 'low' | 'medium' | 'high'; enable_thinking?: boolean };
}

export interface RpcMemoryFigures {
  active_bytes: number;
  peak_bytes: number;
  cache_bytes: number;
}

export interface RpcTokenLogprob {
  token: number;
  text: string;
  logprob: number;
  top_logprobs: { token: number; text: string; logprob: number }[];
}

/** Params of the `token` notification. */
export interface RpcTokenNotification {
  request_id: string | number;
  /** Text added by this notification (may be empty while a character or stop string is pending). */
  text: string;
  /** Token ids added by this notification. */
  tokens: number[];
  /** Tokens generated so far by this request. */
  tokens_generated: number;
  logprobs?: RpcTokenLogprob[];
  /** Chat: thinking text added by this notification (kept out of `text`). */
  reasoning?: string;
  /** Chat with tools: tool-call pieces completed by this notification. */
  tool_calls?: RpcToolCallDelta[];
  /** MLX memory of the process, sampled at most every few hundred milliseconds. */
  memory: RpcMemoryFigures;
}

export interface RpcGenerationResult {
  request_id: string | number;
  model: string;
  text: string;
  tokens: number[];
  prompt_tokens: number;
  completion_tokens: number;
  cached_tokens: number;
  finish_reason: FinishReason;
  timings: {
    time_to_first_token_ms: number;
    prefill_tokens_per_second: number;
    decode_tokens_per_second: number;
    total_ms: number;
  };
  logprobs?: RpcTokenLogprob[];
  /** The stop string that ended the generation, when one did. */
  stop_sequence?: string;
  /** Chat: the thinking, apart from the answer in `text`. */
  reasoning?: string;
  /** Chat with tools: the calls the model made (finish_reason `tool_calls`). */
  tool_calls?: RpcToolCall[];
}

export interface RpcInitializeResult {
  protocol_version: string;
  server: { name: 'mlx-native'; version: string };
  node_version: string;
  mlx_version: string;
  backend: string;
  device: string;
  device_name: string;
  capabilities: {
    methods: string[];
    notifications: string[];
    streaming: boolean;
    batch: boolean;
    cancel: boolean;
    model_formats: string[];
  };
}

export interface RpcHealthResult {
  status: 'ok' | 'shutting_down';
  uptime_s: number;
  mlx_version: string;
  models: number;
  in_flight: number;
}

export interface RpcLoadModelOptions {
  context_length?: number;
  max_batch?: number;
  prefill_chunk?: number;
  kv_budget_bytes?: number;
  prefix_cache_bytes?: number;
  cpu_streams?: number;
  dtype?: ComputeDtype;
}

export interface RpcLoadModelParams {
  /** GGUF file or MLX model directory. */
  model: string;
  /** Id to refer to the model by; default: its file or directory name without extension. */
  id?: string;
  options?: RpcLoadModelOptions;
}

export interface RpcModelDescription {
  id: string;
  path: string;
  format: 'gguf' | 'mlx';
  architecture: string;
  quantization: string;
  parameter_count: number;
  context_length: number;
  vocab_size: number;
  weight_bytes: number;
}

export interface RpcLoadModelResult extends RpcModelDescription {
  load_ms: number;
}

export interface RpcListModelsResult {
  models: (RpcModelDescription & { active_sequences: number; queued_requests: number })[];
}

export interface RpcMemoryReport extends RpcMemoryFigures {
  /** KV cache of all models: reserved by running sequences plus the prefix cache. */
  kv_bytes: number;
  models: {
    id: string;
    weight_bytes: number;
    kv_reserved_bytes: number;
    prefix_cache_bytes: number;
    active_sequences: number;
    waiting_requests: number;
  }[];
}

/** Every method with its params and result, for typed calls. */
export interface RpcMethods {
  initialize: { params: { client_info?: { name?: string; version?: string }; protocol_version?: string } | undefined; result: RpcInitializeResult };
  health: { params: undefined; result: RpcHealthResult };
  load_model: { params: RpcLoadModelParams; result: RpcLoadModelResult };
  unload_model: { params: { id: string }; result: { id: string; unloaded: true; aborted_requests: number } };
  list_models: { params: undefined; result: RpcListModelsResult };
  generate: { params: RpcGenerateParams; result: RpcGenerationResult };
  chat: { params: RpcChatParams; result: RpcGenerationResult };
  cancel: { params: { request_id: string | number }; result: { request_id: string | number; cancelled: boolean } };
  memory_report: { params: undefined; result: RpcMemoryReport };
  shutdown: { params: undefined; result: { ok: true; aborted_requests: number } };
}

export type RpcMethod = keyof RpcMethods;

export const METHODS: RpcMethod[] = [
  'initialize',
  'health',
  'load_model',
  'unload_model',
  'list_models',
  'generate',
  'chat',
  'cancel',
  'memory_report',
  'shutdown',
];
