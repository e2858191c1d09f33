/**
 * Loads the native addon and declares its whole surface. Nothing else in TypeScript sees an
 * untyped native value: events from the engine thread are the discriminated union
 * `NativeEvent` (their fields are named in native/addon/event_js.cpp).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ComputeDtype } from './engine/types.js';
import { MlxNativeError } from './errors.js';

export interface NativeDeviceFields {
  backend: 'cpu' | 'cuda' | 'metal' | 'gpu';
  device: 'cpu' | 'gpu';
  deviceName: string;
  mlxVersion: string;
  /** The GPU's memory in bytes as MLX reports it (Metal, CUDA); 0 on the CPU. */
  memoryBytes: number;
  /** Metal: the GPU working set the system recommends (MLX's own memory limit); 0 elsewhere. */
  recommendedWorkingSetBytes: number;
}

export interface NativeMemoryFields {
  activeMemory: number;
  peakMemory: number;
  cacheMemory: number;
}

export interface NativeTokensEvent {
  id: number;
  type: 'tokens';
  tokens: Int32Array;
  /** Per token, when logprobs were asked for. */
  logprobs?: Float32Array;
  /** k per token, when top logprobs were asked for. */
  topIds?: Int32Array;
  topLogprobs?: Float32Array;
}

export interface NativeDoneEvent {
  id: number;
  type: 'done';
  finishReason: 'stop' | 'length' | 'abort';
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  timeToFirstTokenMs: number;
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  totalMs: number;
}

export interface NativeErrorEvent {
  id: number;
  type: 'error';
  code: string;
  message: string;
}

export interface NativeProgressEvent {
  id: number;
  type: 'progress';
  progress: number;
}

export interface NativeDeviceEvent extends NativeDeviceFields, NativeMemoryFields {
  id: number;
  type: 'device';
}

export interface NativeLoadedEvent extends NativeDeviceFields, NativeMemoryFields {
  id: number;
  type: 'loaded';
  /** The registry family the config's model_type resolved to. */
  family: string;
  modelType: string;
  quantization: string;
  dtype: string;
  vocabSize: number;
  contextLength: number;
  numLayers: number;
  hiddenSize: number;
  streams: number;
  parameterCount: number;
  weightBytes: number;
  kvBytesPerToken: number;
}

export interface NativeStatsEvent extends NativeMemoryFields {
  id: number;
  type: 'stats';
  activeSequences: number;
  waitingRequests: number;
  kvReservedBytes: number;
  prefixCacheBytes: number;
  prefixCacheHits: number;
  prefixCacheTokens: number;
  decodeSteps: number;
  /** Grammar masks computed (every model in the process) and the host milliseconds they took. */
  grammarMasks: number;
  grammarMaskMs: number;
}

export interface NativeConvertedEvent {
  id: number;
  type: 'converted';
  /** Module paths kept quantized, with their bits and group sizes. */
  quantizedNames: string[];
  bits: Int32Array;
  groupSizes: Int32Array;
}

/** Pooled embeddings, row-major [inputs, dims]. */
export interface NativeEmbeddingEvent {
  id: number;
  type: 'embedding';
  dims: number;
  promptTokens: number;
  values: Float32Array;
}

/** Results of the test diagnostics (quantizedMatmul, busy); not part of the public API. */
export interface NativeDiagnosticEvent extends NativeDeviceFields {
  id: number;
  type: 'diagnostic';
  values: Float32Array;
  checksum: number;
}

export type NativeEvent =
  | NativeTokensEvent
  | NativeDoneEvent
  | NativeErrorEvent
  | NativeProgressEvent
  | NativeDeviceEvent
  | NativeLoadedEvent
  | NativeStatsEvent
  | NativeConvertedEvent
  | NativeEmbeddingEvent
  | NativeDiagnosticEvent;

export type NativeEventType = NativeEvent['type'];

export interface NativeQuantizedMatmul {
  m: number;
  n: number;
  k: number;
  bits?: number;
  groupSize?: number;
  x: Float32Array;
  w: Float32Array;
}

/** What the engine thread loads: the model's own config.json text is its one configuration. */
export interface NativeModelSpec {
  format: 'gguf' | 'mlx';
  files: string[];
  configJson: string;
  dtype?: ComputeDtype;
  contextLength?: number;
  cpuStreams?: number;
  maxBatch?: number;
  prefillChunk?: number;
  kvBudgetBytes?: number;
  prefixCacheBytes?: number;
}

/** A generation request; absent fields take the engine's defaults. */
export interface NativeGenerateRequest {
  prompt: Int32Array;
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  topK?: number;
  minP?: number;
  repetitionPenalty?: number;
  repetitionContextSize?: number;
  presencePenalty?: number;
  frequencyPenalty?: number;
  logitBiasIds?: Int32Array;
  logitBiasValues?: Float32Array;
  seed?: number;
  /** -1 or absent: none; 0: the chosen token's; k: with k alternatives. */
  logprobs?: number;
  eosTokenIds?: Int32Array;
  /** A grammar from compileGrammar that constrains every token. */
  grammar?: NativeGrammar;
  /** A thinking block ahead of the answer (budget, or a grammar that starts after it). */
  reasoning?: NativeReasoning;
}

/** An opaque compiled grammar (llguidance matcher in its start state). */
export type NativeGrammar = { readonly __grammar: unique symbol };

export interface NativeReasoning {
  open: string;
  close: string;
  /** Tokens forced to close the block once the budget is spent. */
  closeIds: Int32Array;
  /** The prompt already opened the block. */
  inside: boolean;
  /** Thinking tokens allowed; -1: no limit. */
  budget: number;
}

/** An embedding request: the inputs' token ids one after the other, and each input's length. */
export interface NativeEmbedRequest {
  tokens: Int32Array;
  lengths: Int32Array;
  /** Last-token pooling; otherwise the mean over each input's tokens. */
  lastToken: boolean;
}

export interface NativeConvertRequest {
  file: string;
  outFile: string;
  dtype: string;
  numHeads: number;
  numKvHeads: number;
  unpermuteQk: boolean;
}

/** The native `Engine` class: one engine thread. Every method enqueues and returns at once. */
export interface NativeEngine {
  deviceInfo(id: number): void;
  quantizedMatmul(id: number, options: NativeQuantizedMatmul): void;
  busy(id: number, n: number, iterations: number): void;
  convertGguf(id: number, options: NativeConvertRequest): void;
  loadModel(id: number, spec: NativeModelSpec): void;
  generate(id: number, request: NativeGenerateRequest): void;
  embed(id: number, request: NativeEmbedRequest): void;
  modelCommand(id: number, command: 'stats' | 'clearPrefixCache'): void;
  /** The model's vocabulary for grammars: token t is bytes[offsets[t], offsets[t + 1]). Synchronous. */
  setGrammarVocab(bytes: Uint8Array, offsets: Uint32Array, eos: Int32Array): void;
  /** Compiles a grammar (kinds: json_schema, json_object, lark, regex); throws INVALID_ARGUMENT. Synchronous. */
  compileGrammar(kind: string, text: string): NativeGrammar;
  cancel(id: number): void;
  ref(): void;
  unref(): void;
  dispose(): void;
}

export interface NativeAddon {
  Engine: new (onEvents: (events: NativeEvent[]) => void) => NativeEngine;
  /** Stops and joins every engine thread of this environment (native/addon/addon.cpp). */
  closeAll?(): void;
  abi: number;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * prebuilds/ folders for this platform, best first: the CUDA builds (prebuilds/linux-x64-cuda13/)
 * where an NVIDIA driver is loaded or MLX_BACKEND asks for CUDA, then the CPU one. A folder whose
 * binary does not load here (no driver, a CUDA library missing) is passed over by loadAddon.
 */
export function prebuildDirs(env: NodeJS.ProcessEnv = process.env, nvidiaDriver = hasNvidiaDriver()): string[] {
  const platform = `${process.platform}-${process.arch}`;
  const requested = (env.MLX_BACKEND ?? '').toLowerCase();
  if (requested === 'cpu' || process.platform !== 'linux') return [platform];
  const cuda = requested === 'cuda12' ? ['cuda12', 'cuda13'] : ['cuda13', 'cuda12'];
  const cudaDirs = cuda.map((b) => `${platform}-${b}`);
  return requested.startsWith('cuda') || nvidiaDriver ? [...cudaDirs, platform] : [platform, ...cudaDirs];
}

function hasNvidiaDriver(): boolean {
  return existsSync('/proc/driver/nvidia/version');
}

/** Where the binary may be, in order: a local build, then the prebuilt ones for this platform. */
export function addonCandidates(): string[] {
  return [
    process.env.MLX_NATIVE_BINARY ?? '',
    join(packageRoot, 'build', 'Release', 'mlx_native.node'),
    join(packageRoot, 'build', 'Debug', 'mlx_native.node'),
    ...prebuildDirs().map((d) => join(packageRoot, 'prebuilds', d, 'mlx-native.node')),
  ].filter((p) => p !== '');
}

let cached: NativeAddon | undefined;
let cachedFile: string | undefined;

/** The file the addon was loaded from, once {@link loadAddon} succeeded. */
export function loadedAddonFile(): string | undefined {
  return cachedFile;
}

/** The addon, loaded once. Throws an MlxNativeError that explains what to do when it cannot load. */
export function loadAddon(): NativeAddon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  const tried: string[] = [];
  for (const file of addonCandidates()) {
    if (!existsSync(file)) {
      tried.push(`${file} (missing)`);
      continue;
    }
    try {
      const addon = require(file) as NativeAddon;
      cached = addon;
      cachedFile = file;
      // process.exit() skips the addon's environment cleanup on the main thread: stop the engine
      // threads before the C library's exit handlers tear MLX and the GPU runtime down under them.
      process.once('exit', () => addon.closeAll?.());
      return cached;
    } catch (err) {
      tried.push(`${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new MlxNativeError(
    'NATIVE_LOAD_FAILED',
    `mlx-native could not load its native addon for ${process.platform}-${process.arch} (Node ${process.version}).\n` +
      `Tried:\n  ${tried.join('\n  ')}\n` +
      'Possible solutions:\n' +
      '- Build it from source: `npm rebuild mlx-native` (needs cmake, a C++20 compiler and pip; see the README).\n' +
      '- If the binary exists but fails to load, a library it needs is missing: on Linux run `ldd` on it and\n' +
      '  install what is "not found" (BLAS/LAPACK: `apt-get install libblas3 liblapack3 liblapacke`; CUDA builds:\n' +
      '  libcuda.so.1 is the NVIDIA driver, cuBLAS/cuDNN/NVRTC/NCCL are NVIDIA\'s pip packages, which\n' +
      '  `MLX_BACKEND=cuda13 npm rebuild mlx-native` links or downloads into deps/nvidia).\n' +
      '- A prebuilt binary is for one platform only: install on the machine that runs it, not copied from another OS.',
  );
}
