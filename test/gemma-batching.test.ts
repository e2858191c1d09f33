// Gemma 3's sliding-window layers in the batched engine (tiny-gemma3: a window of 8, every third
// layer global): prompts prefilled in chunks of 4 (so the window cuts into earlier chunks), rows
// of a batch at different offsets, and prefix-cache reuse must all give what mlx-lm computes for
// each prompt alone. Compared on the distributions, not only the greedy tokens (a random model's
// greedy tokens repeat, which would hide a wrong mask).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type GenerationResult, type Model } from '../src/index.js';
import { logSoftmax, referenceGenerate, requireVenv, tinyModel, type ReferenceCaseResult } from './helpers/models.js';

const PROMPTS = [
  'Hello',
  'The quick brown fox jumps over',
  'Hello, world! How are you today? I am fine, thank you. What is your name?',
  'def add(a, b):\n    return a + b\nfor (let i = 0; i < 10; i++) { console.log(i * 2); }',
  'Please answer briefly.',
];
const TOKENS = 16;
const TOL = 1e-4;

/** Largest difference between two generations' per-step top logprobs (same tokens checked first). */
function logprobGap(a: GenerationResult, b: GenerationResult): number {
  let worst = 0;
  a.logprobs!.forEach((step, i) => {
    step.topLogprobs.forEach((alt, j) => {
      const other = b.logprobs![i].topLogprobs[j];
      worst = Math.max(worst, alt.token === other.token ? Math.abs(alt.logprob - other.logprob) : Infinity);
    });
  });
  return worst;
}

describe('gemma3 sliding-window attention, batched and chunked', () => {
  let model: Model;
  let alone: GenerationResult[];
  let reference: ReferenceCaseResult[];
  const opts = { maxTokens: TOKENS, ignoreEos: true, logprobs: true, topLogprobs: 5 };

  beforeAll(async () => {
    requireVenv();
    const dir = await tinyModel('tiny-gemma3');
    model = await loadModel(dir, { dtype: 'float32', maxBatch: 8, prefillChunk: 4 });
    const ids = PROMPTS.map((p) => model.tokenizer.encode(p, { addSpecialTokens: true }));
    reference = (await referenceGenerate(dir, ids.map((prompt_tokens) => ({ prompt_tokens, max_tokens: TOKENS })), true)).cases;
    alone = [];
    for (const p of PROMPTS) alone.push(await model.generate(p, opts).result);
  }, 600_000);
  afterAll(() => model?.dispose());

  it("prefills in chunks of 4 to mlx-lm's tokens and last-position distribution", () => {
    alone.forEach((r, i) => {
      expect(r.tokens).toEqual(reference[i].tokens);
      const lp = logSoftmax(reference[i].logits!);
      for (const alt of r.logprobs![0].topLogprobs) expect(Math.abs(alt.logprob - lp[alt.token]), `prompt ${i}`).toBeLessThan(TOL);
      r.logprobs!.forEach((step, s) => {
        const margin = step.topLogprobs[0].logprob - step.topLogprobs[1].logprob;
        expect(Math.abs(margin - reference[i].margins[s]), `prompt ${i} step ${s}`).toBeLessThan(TOL);
      });
    });
  });

  it('gives each concurrent request (rows at different offsets) what it gets alone', async () => {
    await model.clearPrefixCache();
    const together = await Promise.all(PROMPTS.map((p) => model.generate(p, opts).result));
    together.forEach((r, i) => {
      expect(r.tokens).toEqual(alone[i].tokens);
      expect(logprobGap(r, alone[i]), `prompt ${i}`).toBeLessThan(TOL);
    });
  }, 600_000);

  /**
   * After `warmUp` fills the prefix cache, `${PROMPTS[3]} and more` must reuse more than a
   * window's worth of it and give what it gives from an empty cache.
   */
  async function reusesPrefix(warmUp: (prompt: string) => Promise<unknown>): Promise<void> {
    await model.clearPrefixCache();
    const long = PROMPTS[3];
    await warmUp(long);
    const warm = await model.generate(`${long} and more`, opts).result;
    expect(warm.usage.cachedTokens).toBeGreaterThan(8);
    await model.clearPrefixCache();
    const cold = await model.generate(`${long} and more`, opts).result;
    expect(cold.usage.cachedTokens).toBe(0);
    expect(warm.tokens).toEqual(cold.tokens);
    expect(logprobGap(warm, cold)).toBeLessThan(TOL);
  }

  it('reuses a cached prefix longer than the window with the same result', async () => {
    await reusesPrefix((long) => model.generate(long, { maxTokens: 1 }).result);
  }, 600_000);

  it('keeps a shorter cached prefix when a longer entry has moved its rings past it, and reuses it', async () => {
    // The chat pattern: a prompt, then a long answer, then a new prompt that shares only the
    // first prompt (as when a template drops the previous answer's reasoning). The long entry's
    // rings no longer hold the window before the shared prefix; the short entry must serve it.
    await reusesPrefix(async (long) => {
      await model.generate(long, { maxTokens: 1 }).result;
      await model.generate(long, { maxTokens: 40, ignoreEos: true }).result;
    });
  }, 600_000);

  it("keeps the sliding layers' KV cache within the window however long the sequence runs", async () => {
    // tiny-gemma3: 4 layers, the third global, the others a window of 8. A finished sequence's
    // cache (kept whole by the prefix cache) holds every position on the global layer but at
    // most window - 1 + chunk (8 - 1 + 4) slots on each sliding one.
    await model.clearPrefixCache();
    const r = await model.generate(PROMPTS[2], { maxTokens: 300, ignoreEos: true }).result;
    expect(r.tokens).toHaveLength(300);
    const perSlot = model.info.kvBytesPerToken / 4;
    const positions = Math.ceil((r.usage.promptTokens + 300) / 256) * 256;
    const { prefixCacheBytes } = await model.counters();
    expect(prefixCacheBytes).toBeGreaterThan(0);
    expect(prefixCacheBytes).toBeLessThanOrEqual(perSlot * (positions + 3 * (8 - 1 + 4)));
    // Under half of what every layer holding every position would take.
    expect(prefixCacheBytes).toBeLessThan((model.info.kvBytesPerToken * (r.usage.promptTokens + 299)) / 2);
  }, 600_000);
});
