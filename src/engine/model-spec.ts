/**
 * Resolves a model path (a GGUF file or an MLX / Hugging Face directory) into what the engine
 * thread needs: weight files and a normalized config, plus the tokenizer and chat template.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MlxNativeError } from '../errors.js';
import { ChatTemplate } from './chat-template.js';
import { GGML_TYPE_NAMES, ggufToHfConfig, readGgufMetadata } from './gguf.js';
import { Tokenizer } from './tokenizer.js';

/** The config the native engine takes (native/engine/model_config.h). */
export interface NativeConfig {
  architecture: string;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  contextLength: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeTraditional: boolean;
  tieWordEmbeddings: boolean;
  ropeScaling?: {
    type: string;
    factor: number;
    lowFreqFactor?: number;
    highFreqFactor?: number;
    originalMaxPositionEmbeddings?: number;
  };
}

export interface ResolvedModel {
  path: string;
  name: string;
  format: 'gguf' | 'mlx';
  files: string[];
  config: NativeConfig;
  /** The Hugging Face style config (written by `convert`). */
  hfConfig: Record<string, unknown>;
  tokenizer: Tokenizer;
  chatTemplate: ChatTemplate;
  /** A label for the weights' format when the file says it (GGUF's tensor types). */
  quantizationLabel?: string;
  warnings: string[];
}

/** GGUF tensor types MLX keeps as they are; anything else is dequantized to float16 by MLX. */
const NATIVE_GGUF_TYPES = new Set(['F32', 'F16', 'BF16', 'Q4_0', 'Q4_1', 'Q8_0']);
/**
 * The other types MLX's GGUF loader reads (dequantized to float16). For the rest (Q5_0, Q5_1, Q3_K,
 * Q5_K, IQ*, ...) it fails with "gguf_tensor_to_f16 failed", and a type it does not know at all
 * makes it silently stop reading tensors, so such files are rejected here, naming the types.
 */
const DEQUANTIZED_GGUF_TYPES = new Set(['Q2_K', 'Q4_K', 'Q6_K', 'I8', 'I16', 'I32']);

function invalid(message: string): MlxNativeError {
  return new MlxNativeError('INVALID_MODEL', message);
}

function asNumber(v: unknown, key: string, fallback?: number): number {
  if (v === undefined || v === null) {
    if (fallback !== undefined) return fallback;
    throw invalid(`[load] config.json has no ${key}`);
  }
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`[load] config.json: ${key} must be a number`);
  return v;
}

/** Hugging Face config.json → the engine's config. Unknown keys are ignored. */
export function nativeConfig(hf: Record<string, unknown>, ropeTraditional: boolean): NativeConfig {
  const heads = asNumber(hf.num_attention_heads, 'num_attention_heads');
  const hidden = asNumber(hf.hidden_size, 'hidden_size');
  const arch = hf.model_type;
  if (typeof arch !== 'string') throw invalid('[load] config.json has no model_type');
  const config: NativeConfig = {
    architecture: arch,
    hiddenSize: hidden,
    intermediateSize: asNumber(hf.intermediate_size, 'intermediate_size'),
    numLayers: asNumber(hf.num_hidden_layers, 'num_hidden_layers'),
    numHeads: heads,
    numKvHeads: asNumber(hf.num_key_value_heads, 'num_key_value_heads', heads),
    headDim: asNumber(hf.head_dim, 'head_dim', Math.floor(hidden / heads)),
    vocabSize: asNumber(hf.vocab_size, 'vocab_size'),
    contextLength: asNumber(hf.max_position_embeddings, 'max_position_embeddings', 4096),
    rmsNormEps: asNumber(hf.rms_norm_eps, 'rms_norm_eps', 1e-6),
    ropeTheta: asNumber(hf.rope_theta, 'rope_theta', 10000),
    ropeTraditional: ropeTraditional || hf.rope_traditional === true,
    tieWordEmbeddings: hf.tie_word_embeddings !== false,
  };
  const rs = hf.rope_scaling as Record<string, unknown> | null | undefined;
  if (rs && typeof rs === 'object') {
    const type = String(rs.rope_type ?? rs.type ?? '');
    if (type === 'llama3' || type === 'linear') {
      config.ropeScaling = {
        type,
        factor: asNumber(rs.factor, 'rope_scaling.factor', 1),
        lowFreqFactor: asNumber(rs.low_freq_factor, 'rope_scaling.low_freq_factor', 1),
        highFreqFactor: asNumber(rs.high_freq_factor, 'rope_scaling.high_freq_factor', 4),
        originalMaxPositionEmbeddings: asNumber(rs.original_max_position_embeddings, 'rope_scaling.original_max_position_embeddings', 8192),
      };
    } else if (type && type !== 'default') {
      throw new MlxNativeError('UNSUPPORTED_ARCHITECTURE', `[load] rope scaling "${type}" is not supported`);
    }
  }
  return config;
}

async function resolveGguf(path: string): Promise<ResolvedModel> {
  const meta = await readGgufMetadata(path);
  const hfConfig = ggufToHfConfig(meta);
  const warnings: string[] = [];
  const counts = new Map<string, number>();
  for (const t of meta.tensors) {
    const name = GGML_TYPE_NAMES[t.type] ?? `type ${t.type}`;
    if (t.dims.length >= 2) counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const unreadable = [...new Set(meta.tensors.map((t) => GGML_TYPE_NAMES[t.type] ?? `type ${t.type}`))].filter(
    (n) => !NATIVE_GGUF_TYPES.has(n) && !DEQUANTIZED_GGUF_TYPES.has(n),
  );
  if (unreadable.length > 0) {
    throw new MlxNativeError(
      'UNSUPPORTED_QUANTIZATION',
      `[load] ${path} has ${unreadable.join(', ')} tensors, which MLX cannot load ` +
        `(supported GGUF types: ${[...NATIVE_GGUF_TYPES, ...DEQUANTIZED_GGUF_TYPES].join(', ')})`,
    );
  }
  const foreign = [...counts.keys()].filter((n) => !NATIVE_GGUF_TYPES.has(n));
  if (foreign.length > 0) {
    warnings.push(`${foreign.join(', ')} tensors are dequantized to float16 by MLX (about 3.5x the memory of 4-bit)`);
  }
  const label = [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const tokenizer = Tokenizer.fromGguf(meta);
  return {
    path,
    name: basename(path).replace(/\.gguf$/i, ''),
    format: 'gguf',
    files: [path],
    // llama.cpp permutes Q/K rows for interleaved rope: run rope in that layout.
    config: nativeConfig(hfConfig, hfConfig.model_type === 'llama' || hfConfig.model_type === 'mistral'),
    hfConfig,
    tokenizer,
    chatTemplate: new ChatTemplate(tokenizer.chatTemplate, {
      bosToken: tokenizer.bosTokenId === undefined ? undefined : tokenizer.idToToken(tokenizer.bosTokenId),
    }),
    quantizationLabel: label,
    warnings,
  };
}

async function resolveDirectory(dir: string): Promise<ResolvedModel> {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw invalid(`[load] ${dir} has no config.json`);
  let hfConfig: Record<string, unknown>;
  try {
    hfConfig = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (err) {
    throw invalid(`[load] ${configPath} is not valid JSON: ${(err as Error).message}`);
  }
  let files: string[];
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (existsSync(indexPath)) {
    const index = JSON.parse(await readFile(indexPath, 'utf8')) as { weight_map?: Record<string, string> };
    files = [...new Set(Object.values(index.weight_map ?? {}))].sort().map((f) => join(dir, f));
  } else {
    files = (await readdir(dir)).filter((f) => f.endsWith('.safetensors')).sort().map((f) => join(dir, f));
  }
  if (files.length === 0) throw invalid(`[load] ${dir} has no .safetensors weights`);
  for (const f of files) if (!existsSync(f)) throw invalid(`[load] missing weight file ${f}`);
  const tokenizer = await Tokenizer.fromDirectory(dir);
  const cfg = hfConfig.quantization as { bits?: number; group_size?: number } | undefined;
  return {
    path: dir,
    name: basename(dir),
    format: 'mlx',
    files,
    config: nativeConfig(hfConfig, false),
    hfConfig,
    tokenizer,
    chatTemplate: new ChatTemplate(tokenizer.chatTemplate, {
      bosToken: tokenizer.bosTokenId === undefined ? undefined : tokenizer.idToToken(tokenizer.bosTokenId),
    }),
    quantizationLabel: cfg?.bits ? `${cfg.bits}-bit g${cfg.group_size ?? 64}` : undefined,
    warnings: [],
  };
}

/** Reads a model's metadata and tokenizer (no weights). */
export async function resolveModel(path: string): Promise<ResolvedModel> {
  if (typeof path !== 'string' || path.length === 0) {
    throw new MlxNativeError('INVALID_ARGUMENT', 'model path must be a non-empty string');
  }
  if (!existsSync(path)) throw new MlxNativeError('MODEL_NOT_FOUND', `[load] no such file or directory: ${path}`);
  return statSync(path).isDirectory() ? resolveDirectory(path) : resolveGguf(path);
}
