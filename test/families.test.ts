// The model families beyond Llama/Qwen on their tiny random-weight models (scripts/make-tiny-
// models.py; test/parity.test.ts checks each against mlx-lm token for token): continuous batching
// gives every request the tokens it gets alone (sliding windows, NoPE layers, partial rotary and
// MoE routing across a ragged batch), the registry names them in UNSUPPORTED_ARCHITECTURE, and
// configs that contradict their weights fail with INVALID_MODEL instead of a crash.
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, MlxNativeError, type Model } from '../src/index.js';
import { engineBackend, expectSameDecode, NEAR_TIE_LOGPROBS, type Decoded } from './helpers/batch-invariance.js';
import { tinyModel, type TinyModel } from './helpers/models.js';

// Lengths from 2 to 40+ tokens: longer than gpt-oss's window of 8, and long enough (16+ tokens,
// 4 experts each) for the MoE to sort tokens by expert in prefill.
const backend = await engineBackend();

const PROMPTS = [
  'Hello',
  'The quick brown fox jumps over the lazy dog while the cat sleeps in the sun.',
  'def add(a, b):\n    return a + b',
  'A small model can still tell a story: once upon a time there was a tiny robot. The robot lived in a quiet village near the river and liked to count the stars.',
  'Numbers matter too: 0 1 2 3 4 5 6 7 8 9 10 42',
  'Please answer briefly.',
];

// quantization: what ModelInfo reports (the config's quantization block, or the published
// checkpoint's quantization_config for gpt-oss; the engine's weight summary otherwise).
const FAMILIES: { model: TinyModel; family: string; quantization: string }[] = [
  { model: 'tiny-smollm3', family: 'smollm3', quantization: 'float32' },
  { model: 'tiny-phi3', family: 'phi3', quantization: 'float32' },
  { model: 'tiny-qwen3-moe', family: 'qwen3_moe', quantization: 'float32' },
  { model: 'tiny-qwen3-moe-q4', family: 'qwen3_moe', quantization: '4-bit g32' },
  { model: 'tiny-gpt-oss', family: 'gpt_oss', quantization: 'mxfp4' },
  { model: 'tiny-gpt-oss-q8', family: 'gpt_oss', quantization: 'mxfp4' },
  { model: 'tiny-phi3-mxfp4', family: 'phi3', quantization: 'mxfp4' },
];

for (const { model: name, family, quantization } of FAMILIES) {
  describe(`${name}: batched decoding`, () => {
    let model: Model;
    beforeAll(async () => {
      model = await loadModel(await tinyModel(name), { dtype: 'float32', maxBatch: 8, prefillChunk: 16 });
    }, 300_000);
    afterAll(() => model?.dispose());

    it(`loads as the ${family} family`, () => {
      expect(model.info.family).toBe(family);
      expect(model.info.architecture).toBe(family);
      expect(model.info.quantization).toBe(quantization);
      expect(model.info.weightBytes).toBeGreaterThan(0);
    });

    // Mixture-of-experts rows pick their experts by top-k: on a GPU, where MLX's kernels round a
    // row differently with the row count, a near tie between two experts' router scores can
    // flip, and the row then decodes another text without any near tie in its tokens. Measured
    // on an H200: gather_qmm itself agrees with the CPU to 2e-6 sorted, unsorted and row by row;
    // tiny random routers are nearly flat. So there the tokens are not compared (the todo says
    // so); the batch must still share decode steps and give every row its length.
    const routed = family === 'qwen3_moe' || family === 'gpt_oss';
    if (routed && backend !== 'cpu') {
      it.todo(`batched = solo tokens: not compared for mixture-of-experts models on ${backend} (expert routing flips on near ties)`);
    }

    it('gives each of several concurrent greedy requests of different lengths the tokens it gets alone', async () => {
      const opts = { maxTokens: 24, ignoreEos: true, ...NEAR_TIE_LOGPROBS };
      const steps = async () => (await model.counters()).decodeSteps;
      const start = await steps();
      const alone: Decoded[] = [];
      for (const p of PROMPTS) alone.push(await model.generate(p, opts).result);
      const aloneSteps = (await steps()) - start;
      await model.clearPrefixCache();
      const mid = await steps();
      const together = await Promise.all(PROMPTS.map((p) => model.generate(p, opts).result));
      const togetherSteps = (await steps()) - mid;
      // Exact on the CPU; on a GPU up to a float32 near tie (helpers/batch-invariance.ts).
      for (const [i, t] of together.entries()) {
        if (routed && backend !== 'cpu') expect(t.tokens.length).toBe(alone[i]!.tokens.length);
        else await expectSameDecode(t, alone[i]!, 1e-3, `prompt ${i}`);
      }
      // They really shared decode steps (a step decodes every running row).
      expect(togetherSteps).toBeLessThan(aloneSteps);
    }, 300_000);
  });
}

describe('family configs', () => {
  let tmp: string;
  beforeAll(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'mlx-native-families-'));
  });
  afterAll(() => rm(tmp, { recursive: true, force: true }));

  /** A copy of a tiny model whose config.json is edited. */
  async function edited(source: TinyModel, edit: (config: Record<string, unknown>) => void): Promise<string> {
    const dir = join(tmp, `${source}-${Math.random().toString(36).slice(2)}`);
    await cp(await tinyModel(source), dir, { recursive: true });
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as Record<string, unknown>;
    edit(config);
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    return dir;
  }

  async function loadError(dir: string): Promise<MlxNativeError> {
    const err = await loadModel(dir).then(
      (m) => {
        void m.dispose();
        return undefined;
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(MlxNativeError);
    return err as MlxNativeError;
  }

  it('names every registered family when the model_type is unknown', async () => {
    const err = await loadError(await edited('tiny-phi3', (c) => (c.model_type = 'phi99')));
    expect(err.code).toBe('UNSUPPORTED_ARCHITECTURE');
    for (const t of ['gpt_oss', 'llama', 'mistral', 'phi3', 'qwen2', 'qwen3', 'qwen3_moe', 'smollm3']) {
      expect(err.message).toContain(t);
    }
    expect(err.message).toMatch(/phi99/);
  });

  it.each([
    ['tiny-gpt-oss', (c: Record<string, unknown>) => (c.layer_types = ['full_attention']), /layer_types/],
    ['tiny-gpt-oss', (c: Record<string, unknown>) => (c.num_local_experts = 16), /router|experts/],
    ['tiny-qwen3-moe', (c: Record<string, unknown>) => (c.num_experts_per_tok = 9), /experts per token/],
    ['tiny-qwen3-moe', (c: Record<string, unknown>) => (c.moe_intermediate_size = 48), /expert shapes|input size/],
    ['tiny-phi3', (c: Record<string, unknown>) => ((c.rope_scaling as Record<string, unknown>).long_factor = [1, 2]), /long_factor/],
    ['tiny-phi3', (c: Record<string, unknown>) => (c.num_key_value_heads = 4), /qkv_proj/],
    ['tiny-smollm3', (c: Record<string, unknown>) => (c.no_rope_layers = [1, 0]), /no_rope_layers/],
    ['tiny-phi3', (c: Record<string, unknown>) => (c.partial_rotary_factor = 0.625), /partial_rotary_factor/],
  ] as const)('refuses %s with a config that contradicts it (INVALID_MODEL)', async (source, edit, message) => {
    const err = await loadError(await edited(source, edit));
    expect(err.code, err.message).toBe('INVALID_MODEL');
    expect(err.message).toMatch(message);
  });
});
