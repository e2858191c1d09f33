/**
 * What a configured model costs before it is loaded: its format, context length and weight
 * bytes read from its files (GGUF header or config.json; no weights are read), and the memory
 * it needs: weights plus its KV cache budgets.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ggufToHfConfig, readGgufMetadata } from '../engine/gguf.js';
import type { ModelConfig } from './models-config.js';

/** The engine's defaults for the KV budgets (native/engine/scheduler.h). */
export const DEFAULT_KV_BUDGET_BYTES = 2 * 2 ** 30;
export const DEFAULT_PREFIX_CACHE_BYTES = 512 * 2 ** 20;

/** A model's files as read without loading it. */
export interface Footprint {
  format: 'gguf' | 'mlx';
  /** The context the model declares (before a context_length override); undefined when unreadable. */
  contextLength?: number;
  /** Bytes of the weight files. */
  weightBytes: number;
}

/**
 * Reads a model's format, context length and weight size; throws when the path is missing or
 * unreadable (the load would fail the same way).
 */
export async function readFootprint(path: string): Promise<Footprint> {
  const info = await stat(path);
  if (!info.isDirectory()) {
    let contextLength: number | undefined;
    try {
      contextLength = Number(ggufToHfConfig(await readGgufMetadata(path)).max_position_embeddings) || undefined;
    } catch {
      // The load reports what is wrong with the file.
    }
    return { format: 'gguf', contextLength, weightBytes: info.size };
  }
  let weightBytes = 0;
  for (const f of await readdir(path)) {
    if (f.endsWith('.safetensors')) weightBytes += (await stat(join(path, f))).size;
  }
  let contextLength: number | undefined;
  const configPath = join(path, 'config.json');
  if (existsSync(configPath)) {
    try {
      const config = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;
      const text = (config.text_config ?? config) as Record<string, unknown>;
      contextLength = Number(text.max_position_embeddings) || undefined;
    } catch {
      // As above: the load names the problem.
    }
  }
  return { format: 'mlx', contextLength, weightBytes };
}

/**
 * Memory a model needs once loaded: its weights (as loaded when known, else as stored) plus
 * the KV cache it may reserve for running sequences and keep for prefix reuse.
 */
export function estimateBytes(config: ModelConfig, weightBytes: number): number {
  return weightBytes + (config.kvBudgetBytes ?? DEFAULT_KV_BUDGET_BYTES) + (config.prefixCacheBytes ?? DEFAULT_PREFIX_CACHE_BYTES);
}

/** Sizes for people: `1.5 GiB`, `300.0 MiB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}
