/**
 * Loads the native addon and declares its whole surface. Nothing else in TypeScript sees an
 * untyped native value.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MlxNativeError } from './errors.js';

/** An event from the engine thread; which fields are present depends on the command. */
export interface NativeEvent {
  id: number;
  type: 'result' | 'error' | 'progress' | 'tokens' | 'done';
  code?: string;
  message?: string;
  progress?: number;
  [field: string]: unknown;
}

export interface NativeQuantizedMatmul {
  m: number;
  n: number;
  k: number;
  bits?: number;
  groupSize?: number;
  x: Float32Array;
  w: Float32Array;
}

/** Model description handed to the engine thread (see src/engine/model-spec.ts). */
export interface NativeModelSpec {
  [key: string]: unknown;
}

/** The native `Engine` class: one engine thread. Every method enqueues and returns at once. */
export interface NativeEngine {
  deviceInfo(id: number): void;
  quantizedMatmul(id: number, options: NativeQuantizedMatmul): void;
  busy(id: number, n: number, iterations: number): void;
  convertGguf(
    id: number,
    options: { file: string; outFile: string; dtype: string; numHeads: number; numKvHeads: number; unpermuteQk: boolean },
  ): void;
  loadModel(id: number, spec: NativeModelSpec): void;
  generate(id: number, request: NativeGenerateRequest): void;
  modelCommand(id: number, command: string, args?: Record<string, unknown>): void;
  cancel(id: number): void;
  ref(): void;
  unref(): void;
  dispose(): void;
}

export interface NativeGenerateRequest {
  prompt: Int32Array;
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  repetitionPenalty: number;
  repetitionContextSize: number;
  presencePenalty: number;
  frequencyPenalty: number;
  logitBiasIds: Int32Array;
  logitBiasValues: Float32Array;
  seed: number;
  logprobs: number;
  eosTokenIds: Int32Array;
}

export interface NativeAddon {
  Engine: new (onEvents: (events: NativeEvent[]) => void) => NativeEngine;
  abi: number;
}

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Where the binary may be, in order: a local build, then the prebuilt one for this platform. */
export function addonCandidates(): string[] {
  const platform = `${process.platform}-${process.arch}`;
  return [
    process.env.MLX_NATIVE_BINARY ?? '',
    join(packageRoot, 'build', 'Release', 'mlx_native.node'),
    join(packageRoot, 'build', 'Debug', 'mlx_native.node'),
    join(packageRoot, 'prebuilds', platform, 'mlx-native.node'),
  ].filter((p) => p !== '');
}

let cached: NativeAddon | undefined;

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
      cached = require(file) as NativeAddon;
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
      '  install what is "not found" (BLAS/LAPACK: `apt-get install libblas3 liblapack3 liblapacke`).\n' +
      '- A prebuilt binary is for one platform only: install on the machine that runs it, not copied from another OS.',
  );
}
