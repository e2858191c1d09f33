/**
 * Resolves a model path (a GGUF file or an MLX / Hugging Face directory) into what the engine
 * thread needs: weight files and a normalized config, plus the tokenizer and chat template.
 */
import { existsSync, statSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MlxNativeError } from '../errors.js';
import { ChatTemplate } from './chat-template.js';
import { ggufToHfConfig, readGgufMetadata } from './gguf.js';
import { directoryPooling, ggufPooling, type Pooling } from './pooling.js';
import { Tokenizer } from './tokenizer.js';

export interface ResolvedModel {
  path: string;
  name: string;
  format: 'gguf' | 'mlx';
  files: string[];
  /**
   * The model's Hugging Face style config.json (for GGUF, derived from the metadata): the one
   * configuration the engine reads (each family parses it natively) and `convert` writes.
   */
  hfConfig: Record<string, unknown>;
  tokenizer: Tokenizer;
  chatTemplate: ChatTemplate;
  /** How embeddings pool the hidden states, from the model's own files. */
  pooling: Pooling;
  /** A label for the weights' format when the file says it (GGUF's tensor types). */
  quantizationLabel?: string;
  /** GGUF only: tensor types, their counts and what each becomes. */
  ggufTypes?: GgufTypeCount[];
  warnings: string[];
}

/**
 * What mlx-native's GGUF reader (native/engine/gguf_quants.cpp) makes of each tensor type: exact
 * mappings onto MLX's affine quantization stay quantized; Q2_K, Q3_K and Q6_K (sub-blocks of 16,
 * which MLX's groups cannot hold) are requantized.
 */
export const GGUF_TYPE_BECOMES: Readonly<Record<string, string>> = {
  F32: 'float32', F16: 'float16', BF16: 'bfloat16',
  Q4_0: '4-bit g32', Q4_1: '4-bit g32', Q4_K: '4-bit g32',
  Q5_0: '5-bit g32', Q5_1: '5-bit g32', Q5_K: '5-bit g32', Q8_0: '8-bit g32',
  Q2_K: '4-bit g32 (requantized)', Q3_K: '4-bit g32 (requantized)', Q6_K: '8-bit g32 (requantized)',
  MXFP4: 'mxfp4 g32',
};

/** One GGUF tensor type of a model: how many tensors have it and what they become. */
export interface GgufTypeCount {
  type: string;
  count: number;
  becomes: string;
}

function invalid(message: string): MlxNativeError {
  return new MlxNativeError('INVALID_MODEL', message);
}

async function resolveGguf(path: string): Promise<ResolvedModel> {
  const meta = await readGgufMetadata(path);
  const hfConfig = ggufToHfConfig(meta);
  const warnings: string[] = [];
  const counts = new Map<string, number>();
  for (const t of meta.tensors) counts.set(t.typeName, (counts.get(t.typeName) ?? 0) + 1);
  const unreadable = meta.tensors.find((t) => !(t.typeName in GGUF_TYPE_BECOMES));
  if (unreadable) {
    throw new MlxNativeError(
      'UNSUPPORTED_QUANTIZATION',
      `[load] tensor ${unreadable.name} of ${path} has type ${unreadable.typeName}, which mlx-native does not read ` +
        `(GGUF types read: ${Object.keys(GGUF_TYPE_BECOMES).join(', ')})`,
    );
  }
  const ggufTypes = [...counts.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([type, count]) => ({ type, count, becomes: GGUF_TYPE_BECOMES[type] }));
  const requantized = ggufTypes.filter((t) => t.becomes.includes('requantized'));
  if (requantized.length > 0) {
    warnings.push(`${requantized.map((t) => `${t.type} → ${t.becomes}`).join(', ')}: MLX has no groups of 16, so these tensors are requantized`);
  }
  // The most common matrix type names the file's quantization.
  const matrices = new Map<string, number>();
  for (const t of meta.tensors) if (t.dims.length >= 2) matrices.set(t.typeName, (matrices.get(t.typeName) ?? 0) + 1);
  const label = [...matrices.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
  const tokenizer = Tokenizer.fromGguf(meta);
  return {
    path,
    name: basename(path).replace(/\.gguf$/i, ''),
    format: 'gguf',
    files: [path],
    hfConfig,
    tokenizer,
    chatTemplate: new ChatTemplate(tokenizer.chatTemplate, {
      bosToken: tokenizer.bosTokenId === undefined ? undefined : tokenizer.idToToken(tokenizer.bosTokenId),
    }),
    pooling: ggufPooling(meta),
    quantizationLabel: label,
    ggufTypes,
    warnings,
  };
}

/**
 * The label of an MLX directory's quantization block ("4-bit g64"; the mode for MLX's float modes,
 * "mxfp4"), or of a Hugging Face checkpoint's quantization_config ("mxfp4" for gpt-oss as
 * published). Undefined when neither says; the engine's own summary is used then.
 */
function quantizationLabel(cfg: { bits?: number; group_size?: number; mode?: string; quant_method?: string } | undefined): string | undefined {
  if (!cfg || typeof cfg !== 'object') return undefined;
  if (typeof cfg.mode === 'string' && cfg.mode !== 'affine') return cfg.mode;
  if (typeof cfg.bits === 'number') return `${cfg.bits}-bit g${cfg.group_size ?? 64}`;
  if (cfg.quant_method === 'mxfp4' || cfg.quant_method === 'mxfp8') return cfg.quant_method;
  return undefined;
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
  if (hfConfig === null || typeof hfConfig !== 'object' || Array.isArray(hfConfig)) {
    throw invalid(`[load] ${configPath} is not a JSON object`);
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
  const cfg = (hfConfig.quantization ?? hfConfig.quantization_config) as
    | { bits?: number; group_size?: number; mode?: string; quant_method?: string }
    | undefined;
  return {
    path: dir,
    name: basename(dir),
    format: 'mlx',
    files,
    hfConfig,
    tokenizer,
    chatTemplate: new ChatTemplate(tokenizer.chatTemplate, {
      bosToken: tokenizer.bosTokenId === undefined ? undefined : tokenizer.idToToken(tokenizer.bosTokenId),
    }),
    pooling: await directoryPooling(dir),
    quantizationLabel: quantizationLabel(cfg),
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
