/** The doctor's end-to-end check: load a model and generate a few tokens, timed. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../engine/model.js';
import { PACKAGE_ROOT } from './system.js';
import { ok, problem, warn, type CheckResult } from './types.js';

/** The model `npm start` serves, once scripts/fetch-fixtures.mjs fetched it. */
export const DEFAULT_MODEL = join(PACKAGE_ROOT, 'models', 'SmolLM2-135M-Instruct.Q4_1.gguf');

const PROMPT = 'The capital of France is';

/** Fixes by error code, for the errors a person can do something about. */
const FIXES: Record<string, string> = {
  MODEL_NOT_FOUND: 'Check the path: a .gguf file or an MLX model directory (config.json, *.safetensors, tokenizer files).',
  INVALID_MODEL: 'The file is damaged or not a model: download it again.',
  UNSUPPORTED_ARCHITECTURE: 'This model family is not supported yet: use Llama, Mistral, SmolLM, Qwen2 or Qwen3.',
  UNSUPPORTED_TOKENIZER: 'Use a model whose tokenizer is in tokenizer.json or the GGUF metadata.',
};

/**
 * Loads `modelPath` (or the default model when it is there) and generates up to `maxTokens`
 * greedy tokens. No model at all is a warning, not a problem: the install may still be fine.
 */
export async function checkGeneration(modelPath: string | undefined, maxTokens = 32): Promise<CheckResult> {
  const title = 'generation';
  const path = modelPath ?? process.env.MLX_NATIVE_MODEL ?? (existsSync(DEFAULT_MODEL) ? DEFAULT_MODEL : undefined);
  if (!path) {
    return warn(title, title, 'skipped: no model given and the default model is not fetched',
      'Pass --model PATH, or fetch the default: `node scripts/fetch-fixtures.mjs` (in the package folder).');
  }
  const started = performance.now();
  let model;
  try {
    model = await loadModel(path);
  } catch (err) {
    const e = err as { code?: string; message: string };
    return problem(title, title, `cannot load ${path}: ${e.message.split('\n')[0]}`, FIXES[e.code ?? ''] ?? 'See the message above; `mlx-native info --model PATH` shows more.', { model: path, code: e.code });
  }
  try {
    const loadMs = performance.now() - started;
    const { usage, timings, text } = await model.generate(PROMPT, { maxTokens, temperature: 0 }).result;
    const data = {
      model: path,
      loadMs: Math.round(loadMs),
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      timeToFirstTokenMs: Math.round(timings.timeToFirstTokenMs),
      prefillTokensPerSecond: Number(timings.prefillTokensPerSecond.toFixed(1)),
      decodeTokensPerSecond: Number(timings.decodeTokensPerSecond.toFixed(1)),
      text,
    };
    if (usage.completionTokens === 0) {
      return problem(title, title, `${model.name} generated nothing`, 'The model ended at once: try another model, and report it if it works in mlx-lm.', data);
    }
    return ok(title, title,
      `${model.name}: ${usage.completionTokens} tokens at ${data.decodeTokensPerSecond} tok/s (TTFT ${data.timeToFirstTokenMs} ms, load ${data.loadMs} ms)`, data);
  } catch (err) {
    return problem(title, title, `generating failed: ${(err as Error).message.split('\n')[0]}`, 'Run `mlx-native generate --model PATH --prompt hi` to see the whole error.', { model: path });
  } finally {
    await model.dispose();
  }
}
