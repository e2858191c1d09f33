// The engine API on the real fixture (SmolLM2-135M-Instruct, Q4_1 GGUF) with the real addon and
// MLX: metadata, streaming, stopping, sampling options, logprobs, cancellation, concurrency,
// chat and disposal. Generations are short: this CPU decodes ~5-10 tokens/s.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, MlxNativeError, type Generation, type GenerationChunk, type Model } from '../src/index.js';
import { ensureFixture } from './helpers/models.js';

const FRANCE = 'The capital of France is';
const GREEDY_LEN = 12;

let model: Model;
let progress: number[] = [];
/** Greedy tokens of FRANCE (GREEDY_LEN of them), streamed; several tests compare against them. */
let greedy: { chunks: GenerationChunk[]; text: string; tokens: number[] };

async function collect(gen: Generation): Promise<GenerationChunk[]> {
  const chunks: GenerationChunk[] = [];
  for await (const c of gen) chunks.push(c);
  return chunks;
}

async function expectCode(p: Promise<unknown> | (() => unknown), code: string): Promise<MlxNativeError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected an error with code ${code}`).toBeInstanceOf(MlxNativeError);
  expect((err as MlxNativeError).code).toBe(code);
  return err as MlxNativeError;
}

beforeAll(async () => {
  const path = await ensureFixture();
  progress = [];
  model = await loadModel(path, { onProgress: (p) => progress.push(p) });
  const gen = model.generate(FRANCE, { maxTokens: GREEDY_LEN });
  const chunks = await collect(gen);
  const result = await gen.result;
  greedy = { chunks, text: result.text, tokens: result.tokens };
}, 300_000);
afterAll(() => model?.dispose());

describe('loading', () => {
  it('reports the fixture metadata', () => {
    const info = model.info;
    expect(info.format).toBe('gguf');
    expect(info.architecture).toBe('llama');
    expect(info.numLayers).toBe(30);
    expect(info.vocabSize).toBe(49152);
    expect(info.contextLength).toBe(8192);
    expect(info.hiddenSize).toBe(576);
    expect(info.quantization).toBe('Q4_1');
    expect(info.parameterCount).toBeGreaterThan(134.4e6);
    expect(info.parameterCount).toBeLessThan(134.6e6);
    expect(info.weightBytes).toBeGreaterThan(50e6); // ~4.5 bits per weight for 134.5M parameters
    expect(info.weightBytes).toBeLessThan(200e6);
  });

  it('reports load progress up to 1, never going back', () => {
    expect(progress.length).toBeGreaterThan(1);
    for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThanOrEqual(progress[i - 1]);
    expect(progress[0]).toBeGreaterThanOrEqual(0);
    expect(progress.at(-1)).toBe(1);
  });
});

describe('generation', () => {
  it('answers greedily: "The capital of France is" -> " Paris"', () => {
    expect(greedy.text.startsWith(' Paris')).toBe(true);
    expect(greedy.tokens).toHaveLength(GREEDY_LEN);
  });

  it('streams chunks that concatenate exactly to the result', () => {
    expect(greedy.chunks.length).toBeGreaterThan(1);
    expect(greedy.chunks.map((c) => c.text).join('')).toBe(greedy.text);
    expect(greedy.chunks.flatMap((c) => c.tokens)).toEqual(greedy.tokens);
    expect(model.detokenize(greedy.tokens)).toBe(greedy.text);
  });

  it('stops at a stop string that spans several tokens, and strips it', async () => {
    // " Paris" "." "\n" "\n" "The": the stop string starts inside the first token.
    expect(greedy.text.startsWith(' Paris.\n\nThe')).toBe(true);
    const gen = model.generate(FRANCE, { maxTokens: GREEDY_LEN, stop: ['never appears', 's.\n\nThe'] });
    const chunks = await collect(gen);
    const r = await gen.result;
    expect(r.finishReason).toBe('stop');
    expect(r.text).toBe(' Pari');
    expect(chunks.map((c) => c.text).join('')).toBe(' Pari');
    expect(r.usage.completionTokens).toBeGreaterThanOrEqual(5);
    expect(r.usage.completionTokens).toBeLessThan(GREEDY_LEN);
  });

  it('ends with "length" after exactly maxTokens', async () => {
    const r = await model.generate(FRANCE, { maxTokens: 3 }).result;
    expect(r.finishReason).toBe('length');
    expect(r.usage.completionTokens).toBe(3);
    expect(r.tokens).toEqual(greedy.tokens.slice(0, 3));
    expect(r.usage.promptTokens).toBe(model.tokenize(FRANCE).length);
    expect(r.usage.totalTokens).toBe(r.usage.promptTokens + 3);
    expect(r.timings.totalMs).toBeGreaterThan(0);
    expect(r.timings.timeToFirstTokenMs).toBeGreaterThan(0);
  });

  it('stops at end-of-sequence with "stop" unless ignoreEos', async () => {
    // Greedy decoding of "What is 2+2?" ends its turn ("... 4.<|im_end|>") within 12 tokens.
    const messages = [{ role: 'user' as const, content: 'What is 2+2?' }];
    const r = await model.chat(messages, { maxTokens: 16 }).result;
    expect(r.finishReason).toBe('stop');
    expect(r.tokens.length).toBeLessThan(16);
    // The end-of-sequence token ends the turn; it is not part of the output.
    expect(r.tokens.filter((t) => model.tokenizer.eosTokenIds.includes(t))).toEqual([]);
    expect(r.text).not.toContain('<|im_end|>');
  });
});

describe('sampling', () => {
  const sampled = (seed: number) => model.generate(FRANCE, { maxTokens: 8, temperature: 1.2, seed, ignoreEos: true }).result;

  it('repeats itself with the same seed, and varies with the seed', async () => {
    const a = await sampled(11);
    const b = await sampled(11);
    expect(b.tokens).toEqual(a.tokens);
    const others = [await sampled(12), await sampled(13)];
    expect(others.some((o) => o.tokens.join() !== a.tokens.join())).toBe(true);
  });

  it('equals greedy with topK=1 at any temperature', async () => {
    const r = await model.generate(FRANCE, { maxTokens: 6, temperature: 1.5, topK: 1, seed: 3 }).result;
    expect(r.tokens).toEqual(greedy.tokens.slice(0, 6));
  });

  it('is steered by logitBias', async () => {
    const forced = model.tokenize(' banana');
    expect(forced).toHaveLength(1);
    const up = await model.generate(FRANCE, { maxTokens: 3, logitBias: { [forced[0]]: 100 }, ignoreEos: true }).result;
    expect(up.tokens).toEqual([forced[0], forced[0], forced[0]]);
    // Forbidding greedy's first token (" Paris") picks another one.
    const down = await model.generate(FRANCE, { maxTokens: 1, logitBias: { [greedy.tokens[0]]: -100 } }).result;
    expect(down.tokens).toHaveLength(1);
    expect(down.tokens[0]).not.toBe(greedy.tokens[0]);
  });

  it('returns logprobs with sorted top alternatives', async () => {
    const k = 5;
    const r = await model.generate(FRANCE, { maxTokens: 4, logprobs: true, topLogprobs: k }).result;
    expect(r.tokens).toEqual(greedy.tokens.slice(0, 4));
    expect(r.logprobs).toHaveLength(4);
    r.logprobs!.forEach((lp, i) => {
      expect(lp.token).toBe(r.tokens[i]);
      expect(lp.text).toBe(model.tokenizer.decode([lp.token]));
      expect(lp.logprob).toBeLessThanOrEqual(0);
      expect(lp.topLogprobs).toHaveLength(k);
      for (let j = 1; j < k; j++) expect(lp.topLogprobs[j].logprob).toBeLessThanOrEqual(lp.topLogprobs[j - 1].logprob);
      expect(new Set(lp.topLogprobs.map((a) => a.token)).size).toBe(k);
      // Greedy: the chosen token is the most likely one.
      expect(lp.topLogprobs[0].token).toBe(lp.token);
      expect(lp.topLogprobs[0].logprob).toBeCloseTo(lp.logprob, 5);
      const mass = lp.topLogprobs.reduce((s, a) => s + Math.exp(a.logprob), 0);
      expect(mass).toBeLessThanOrEqual(1 + 1e-4);
    });
    // " Paris" is a confident answer.
    expect(Math.exp(r.logprobs![0].logprob)).toBeGreaterThan(0.3);
    // Without topLogprobs: only the chosen token's logprob.
    const plain = await model.generate(FRANCE, { maxTokens: 1, logprobs: true }).result;
    expect(plain.logprobs![0].topLogprobs).toEqual([]);
    expect(plain.logprobs![0].logprob).toBeCloseTo(r.logprobs![0].logprob, 4);
  });

  it('changes a repetitive continuation with a repetition penalty', async () => {
    const prompt = 'one two one two one two one two one two one two one two';
    const plain = await model.generate(prompt, { maxTokens: 8, ignoreEos: true }).result;
    const penalized = await model.generate(prompt, { maxTokens: 8, ignoreEos: true, repetitionPenalty: 2 }).result;
    const promptIds = new Set(model.tokenize(prompt));
    const repeats = (ids: number[]) => ids.filter((t) => promptIds.has(t)).length;
    expect(penalized.tokens).not.toEqual(plain.tokens);
    expect(repeats(penalized.tokens)).toBeLessThan(repeats(plain.tokens));
  });
});

describe('cancellation', () => {
  // The engine reads cancellation between decode steps; tokens already sampled may still arrive.
  const SLACK = 2;

  it('aborts through an AbortSignal within a step or two', async () => {
    const ac = new AbortController();
    const gen = model.generate(FRANCE, { maxTokens: 200, ignoreEos: true, signal: ac.signal });
    let seen = 0;
    for await (const c of gen) {
      seen += c.tokens.length;
      if (seen >= 2) {
        ac.abort();
        break;
      }
    }
    const r = await gen.result;
    expect(r.finishReason).toBe('abort');
    expect(r.usage.completionTokens).toBeLessThanOrEqual(seen + SLACK);
  });

  it('aborts through generation.abort() within a step or two', async () => {
    const gen = model.generate(FRANCE, { maxTokens: 200, ignoreEos: true });
    const it = gen[Symbol.asyncIterator]();
    let seen = 0;
    while (seen < 2) {
      const next = await it.next();
      expect(next.done).toBe(false);
      seen += next.value!.tokens.length;
    }
    gen.abort();
    let after = 0;
    for (;;) {
      const next = await it.next();
      if (next.done) break;
      after += next.value.tokens.length;
    }
    const r = await gen.result;
    expect(r.finishReason).toBe('abort');
    expect(after).toBeLessThanOrEqual(SLACK);
    expect(r.usage.completionTokens).toBe(seen + after);
  });

  it('does not start a generation aborted before the engine thread picked it up', async () => {
    // The request and its cancellation often reach the engine thread in the same batch; the
    // cancellation must not be lost (it was: such requests ran to the end). If the thread picked
    // up the request first, its prefill may still deliver one token.
    const pre = await model.generate(FRANCE, { maxTokens: 50, ignoreEos: true, signal: AbortSignal.abort() }).result;
    expect(pre.finishReason).toBe('abort');
    expect(pre.usage.completionTokens).toBeLessThanOrEqual(1);
    const gen = model.generate(FRANCE, { maxTokens: 50, ignoreEos: true });
    gen.abort();
    const r = await gen.result;
    expect(r.finishReason).toBe('abort');
    expect(r.usage.completionTokens).toBeLessThanOrEqual(1);
  });

  it('aborts when a for-await loop breaks', async () => {
    const gen = model.generate(FRANCE, { maxTokens: 200, ignoreEos: true });
    let seen = 0;
    for await (const c of gen) {
      seen += c.tokens.length;
      if (seen >= 1) break;
    }
    const r = await gen.result;
    expect(r.finishReason).toBe('abort');
    expect(r.usage.completionTokens).toBeLessThanOrEqual(seen + SLACK);
    expect(model.stats()).toEqual({ activeSequences: 0, queuedRequests: 0 });
    expect((await model.counters()).activeSequences).toBe(0);
  });
});

describe('concurrency and chat', () => {
  it('gives concurrent greedy generations the text each gets alone', async () => {
    const prompts = [FRANCE, 'Water boils at', 'def add(a, b):'];
    const n = 8;
    const alone = [model.detokenize(greedy.tokens.slice(0, n))];
    for (const p of prompts.slice(1)) alone.push((await model.generate(p, { maxTokens: n, ignoreEos: true }).result).text);
    const together = await Promise.all(prompts.map((p) => model.generate(p, { maxTokens: n, ignoreEos: true }).result));
    expect(together.map((r) => r.text)).toEqual(alone);
    together.forEach((r) => expect(r.usage.completionTokens).toBe(n));
  });

  it('renders the chat template: prompt tokens are chatPromptTokens', async () => {
    const messages = [
      { role: 'system' as const, content: 'You are a geography expert.' },
      { role: 'user' as const, content: 'Name the capital of Italy.' },
    ];
    const ids = model.chatPromptTokens(messages);
    const rendered = model.tokenizer.decode(ids);
    expect(rendered).toContain('<|im_start|>system\nYou are a geography expert.<|im_end|>');
    expect(rendered.endsWith('<|im_start|>assistant\n')).toBe(true);
    const chat = await model.chat(messages, { maxTokens: 4 }).result;
    expect(chat.usage.promptTokens).toBe(ids.length);
    const same = await model.generate(ids, { maxTokens: 4 }).result;
    expect(chat.tokens).toEqual(same.tokens);
    expect(chat.text.length).toBeGreaterThan(0);
  });
});

describe('dispose', () => {
  it('fails a pending generation and later calls with DISPOSED', async () => {
    const other = await loadModel(await ensureFixture());
    const gen = other.generate(FRANCE, { maxTokens: 200, ignoreEos: true });
    const it = gen[Symbol.asyncIterator]();
    expect((await it.next()).done).toBe(false); // it is decoding
    await other.dispose();
    expect(other.disposed).toBe(true);
    await expectCode(gen.result, 'DISPOSED');
    await expectCode(async () => {
      for (;;) if ((await it.next()).done) break;
    }, 'DISPOSED');
    await expectCode(() => other.generate(FRANCE), 'DISPOSED');
    await expectCode(() => other.chat([{ role: 'user', content: 'hi' }]), 'DISPOSED');
    await expectCode(other.counters(), 'DISPOSED');
    await other.dispose(); // idempotent
    // The first model is untouched.
    const r = await model.generate(FRANCE, { maxTokens: 2 }).result;
    expect(r.tokens).toEqual(greedy.tokens.slice(0, 2));
  });
});
