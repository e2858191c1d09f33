/**
 * How a model's hidden states become one embedding per input: the mean over the input's tokens,
 * or its last token's state (models trained for it, such as Qwen3-Embedding, whose tokenizer
 * ends every input with an end-of-text token). Read from the model's own files.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GgufMetadata } from './gguf.js';

export type Pooling = 'mean' | 'last';

/**
 * A directory's pooling: sentence-transformers' `1_Pooling/config.json` when present
 * (`pooling_mode_lasttoken` or `pooling_mode_mean_tokens`), else 'mean'.
 */
export async function directoryPooling(dir: string): Promise<Pooling> {
  const file = join(dir, '1_Pooling', 'config.json');
  if (!existsSync(file)) return 'mean';
  try {
    const config = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
    return config.pooling_mode_lasttoken === true ? 'last' : 'mean';
  } catch {
    return 'mean';
  }
}

/** GGUF's `<arch>.pooling_type` (llama.cpp: 1 mean, 3 last); anything else is 'mean'. */
export function ggufPooling(meta: GgufMetadata): Pooling {
  const arch = meta.kv['general.architecture'];
  return meta.kv[`${String(arch)}.pooling_type`] === 3 ? 'last' : 'mean';
}
