/**
 * GGUF → MLX directory: safetensors with the quantization kept, config.json,
 * tokenizer.json and tokenizer_config.json (with the chat template). mlx-lm loads the result.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { MlxNativeError } from '../errors.js';
import { EngineThread } from './engine-thread.js';
import { resolveModel } from './model-spec.js';
import type { ComputeDtype } from './types.js';

export interface ConvertOptions {
  /** dtype of scales, norms and unquantized weights (default float16; float32 runs faster on CPUs). */
  dtype?: ComputeDtype;
}

/** Converts a GGUF file into an MLX model directory `outDir`. */
export async function convertGguf(input: string, outDir: string, options: ConvertOptions = {}): Promise<void> {
  const resolved = await resolveModel(input);
  if (resolved.format !== 'gguf') throw new MlxNativeError('INVALID_ARGUMENT', `${input} is not a GGUF file`);
  const dtype = options.dtype ?? 'float16';
  await mkdir(outDir, { recursive: true });
  const thread = new EngineThread();
  let ev;
  try {
    const hf = resolved.hfConfig;
    const heads = Number(hf.num_attention_heads);
    ev = await thread.request('converted', (n, id) =>
      n.convertGguf(id, {
        file: input,
        outFile: join(outDir, 'model.safetensors'),
        dtype,
        numHeads: heads,
        numKvHeads: Number(hf.num_key_value_heads ?? heads),
        // llama.cpp permutes Llama Q/K rows for its interleaved rope layout.
        unpermuteQk: hf.model_type === 'llama' || hf.model_type === 'mistral',
      }),
    );
  } finally {
    thread.dispose();
  }
  const { quantizedNames: names, bits, groupSizes: groups } = ev;
  const config: Record<string, unknown> = { ...resolved.hfConfig, torch_dtype: dtype };
  if (names.length > 0) {
    // The most common format is the default; modules that differ are listed by path.
    const tally = new Map<string, number>();
    names.forEach((_, i) => tally.set(`${bits[i]}/${groups[i]}`, (tally.get(`${bits[i]}/${groups[i]}`) ?? 0) + 1));
    const [common] = [...tally.entries()].sort((a, b) => b[1] - a[1])[0][0].split('/').map(Number) as [number];
    const commonGroup = Number([...tally.entries()].sort((a, b) => b[1] - a[1])[0][0].split('/')[1]);
    const quantization: Record<string, unknown> = { group_size: commonGroup, bits: common, mode: 'affine' };
    names.forEach((name, i) => {
      if (bits[i] !== common || groups[i] !== commonGroup) quantization[name] = { group_size: groups[i], bits: bits[i], mode: 'affine' };
    });
    config.quantization = quantization;
    config.quantization_config = quantization;
  }
  const tokenizerConfig = { ...resolved.tokenizer.toTokenizerConfig() };
  if (resolved.tokenizer.chatTemplate) tokenizerConfig.chat_template = resolved.tokenizer.chatTemplate;
  await writeFile(join(outDir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  await writeFile(join(outDir, 'tokenizer.json'), JSON.stringify(resolved.tokenizer.toTokenizerJson()));
  await writeFile(join(outDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
}
