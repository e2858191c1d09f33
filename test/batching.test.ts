// Continuous batching and the prefix cache on the real fixture: answers do not depend on what
// else is in the batch, and a second chat turn prefills only its new tokens.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';
import { FIXTURE } from './helpers/fixture.js';

let model: Model;
beforeAll(async () => {
  model = await loadModel(FIXTURE, { maxBatch: 16, prefillChunk: 32 });
});
afterAll(() => model?.dispose());

const prompts = [
  'The capital of France is',
  'Once upon a time, in a small village by the sea, there lived an old fisherman who',
  'List three colors:',
  'def fibonacci(n):',
  'The quick brown fox jumps over the lazy dog. The quick brown fox jumps over the lazy dog. Then',
  'Water boils at',
  'My favourite book is a long novel about a family that moves across the country during a hard winter, and',
  'Hello',
];

async function run(prompt: string, options: Parameters<Model['generate']>[1]) {
  return (await model.generate(prompt, options).result).tokens;
}

describe('continuous batching', () => {
  it('gives each of 8 concurrent greedy requests the tokens it gets alone', async () => {
    const maxTokens = 12;
    const alone: number[][] = [];
    for (const p of prompts) alone.push(await run(p, { maxTokens, ignoreEos: true }));
    await model.clearPrefixCache();
    let peakActive = 0;
    const timer = setInterval(() => (peakActive = Math.max(peakActive, model.stats().activeSequences)), 5);
    const together = await Promise.all(prompts.map((p) => run(p, { maxTokens, ignoreEos: true })));
    clearInterval(timer);
    expect(together).toEqual(alone);
    expect(peakActive).toBeGreaterThan(1); // they really shared decode steps
  });

  it('keeps seeded sampling identical whatever else is in the batch', async () => {
    const opts = { maxTokens: 10, temperature: 0.9, topP: 0.95, seed: 1234, ignoreEos: true };
    const alone = await run(prompts[1], opts);
    const mixed = await Promise.all([
      run(prompts[0], { maxTokens: 10, ignoreEos: true }),
      run(prompts[1], opts),
      run(prompts[3], { ...opts, seed: 99 }),
      run(prompts[5], { maxTokens: 10, temperature: 0.7, seed: 5, repetitionPenalty: 1.3, ignoreEos: true }),
    ]);
    expect(mixed[1]).toEqual(alone);
  });

  it('fails only the request with a bad logit bias', async () => {
    const good = model.generate(prompts[0], { maxTokens: 6, ignoreEos: true });
    const bad = model.generate(prompts[2], { maxTokens: 6, logitBias: { 999999: 5 } });
    await expect(bad.result).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await good.result).usage.completionTokens).toBe(6);
  });

  it('keeps streaming running sequences while a long prompt is prefilled in chunks', async () => {
    const longPrompt = Array.from({ length: 24 }, (_, i) => `Sentence number ${i} is here.`).join(' ');
    const longIds = model.tokenize(longPrompt);
    expect(longIds.length).toBeGreaterThan(4 * 32); // several prefill chunks of 32
    const short = model.generate(prompts[0], { maxTokens: 40, ignoreEos: true });
    const it = short[Symbol.asyncIterator]();
    await it.next(); // the short request is decoding
    let duringPrefill = 0;
    let prefilling = true;
    const long = model.generate(longIds, { maxTokens: 1 });
    const longFirst = long[Symbol.asyncIterator]().next().then(() => (prefilling = false));
    while (prefilling) {
      const next = await Promise.race([it.next(), longFirst.then(() => null)]);
      if (next === null || next.done) break;
      duringPrefill += next.value.tokens.length;
    }
    await long.result;
    short.abort();
    await short.result;
    // One decode step runs between prefill chunks, so the stream kept going.
    expect(duringPrefill).toBeGreaterThanOrEqual(3);
  });
});

describe('prefix cache', () => {
  it('prefills only the new tokens of a second chat turn, with the same output', async () => {
    await model.clearPrefixCache();
    const turn1 = [
      { role: 'system' as const, content: 'You are a concise assistant that answers geography questions.' },
      { role: 'user' as const, content: 'What is the capital of France?' },
    ];
    const r1 = await model.chat(turn1, { maxTokens: 8 }).result;
    expect(r1.usage.cachedTokens).toBe(0);
    const turn2 = [...turn1, { role: 'assistant' as const, content: r1.text }, { role: 'user' as const, content: 'And of Italy?' }];
    const before = await model.counters();
    const r2 = await model.chat(turn2, { maxTokens: 8 }).result;
    const after = await model.counters();
    const promptLen = model.chatPromptTokens(turn2).length;
    expect(r2.usage.cachedTokens).toBeGreaterThan(model.chatPromptTokens(turn1).length - 2);
    expect(r2.usage.cachedTokens).toBeLessThan(promptLen);
    expect(after.prefixCacheHits - before.prefixCacheHits).toBe(1);
    // Same greedy output without the cache.
    await model.clearPrefixCache();
    const cold = await model.chat(turn2, { maxTokens: 8 }).result;
    expect(cold.usage.cachedTokens).toBe(0);
    expect(r2.tokens).toEqual(cold.tokens);
  });

  it('rejects a request whose KV cache can never fit the budget', async () => {
    const small = await loadModel(FIXTURE, { kvBudgetBytes: 16 << 20 });
    try {
      const gen = small.generate('Hello there', { maxTokens: 4000 });
      await expect(gen.result).rejects.toMatchObject({ code: 'OUT_OF_MEMORY' });
      const ok = await small.generate('Hello there', { maxTokens: 3 }).result;
      expect(ok.usage.completionTokens).toBeGreaterThan(0);
    } finally {
      await small.dispose();
    }
  });
});
