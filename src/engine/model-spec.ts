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
    hfConfig,
    tokenizer,
    chatTemplate: new ChatTemplate(tokenizer.chatTemplate, {
      bosToken: tokenizer.bosTokenId === undefined ? undefined : tokenizer.idToToken(tokenizer.bosTokenId),
    }),
    pooling: ggufPooling(meta),
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
  const cfg = hfConfig.quantization as { bits?: number; group_size?: number } | undefined;
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
