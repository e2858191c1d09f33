// Embeddings from the engine: each input's hidden states after the final norm, pooled on the
// engine thread, checked against the same pooling computed on mlx-lm's model in Python
// (scripts/reference.py, mode embed: each input alone through model.model). Batched inputs,
// a long input run in chunks through its own KV cache, pooling read from the model's files,
// `dimensions`, bad input, and embedding while a generation runs are covered.
import { mkdtemp, mkdir, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, MlxNativeError, type Model } from '../src/index.js';
import { ensureFixture, ensureFixtureF32, requireVenv, runReference, tinyModel } from './helpers/models.js';

// The mlx-lm reference and a second model load make these tests slow on a busy 2-core machine.

/*
 * Tolerance per component of unit vectors (|x| ~ 0.04 for 576 dimensions). Both sides run the
 * same MLX kernels in float32; the differences left are summation order (batched, padded and
 * chunked forward passes against one pass per input): measured at <= 2.4e-7 here. 1e-5 leaves
 * room for that and stays far below what a wrong position, mask or norm moves (>1e-2).
 */
const TOL = 1e-5;

const TEXTS = [
  'The quick brown fox jumps over the lazy dog.',
  'Hello world',
  'Embeddings map text to vectors; similar texts get similar vectors.',
  'a',
];
// Longer than an embedding step (4 prefill chunks when idle: 128 tokens on the CPU backend, which
// prefills ~10-20 tokens/s here), so it runs in chunks through its own cache.
const LONG = Array.from({ length: 24 }, (_, i) => `sentence ${i} says something.`).join(' ');

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));

function reference(dir: string, inputs: number[][], pooling: 'mean' | 'last') {
  return runReference<{ embeddings: number[][] }>({ mode: 'embed', model: dir, inputs, pooling });
}

let dir: string;
let model: Model;

beforeAll(async () => {
  requireVenv();
  dir = await ensureFixtureF32();
  // float32 as the reference computes (GPUs default to float16), and the CPU's prefill step on
  // every backend: the test beside generation counts the steps a long embedding takes.
  model = await loadModel(dir, { dtype: 'float32', prefillChunk: 32 });
});
afterAll(async () => {
  await model?.dispose();
});

describe('model.embed against mlx-lm', () => {
  it('mean pooling (the default without a pooling config) over a batch, a long input included', async () => {
    expect(model.info.pooling).toBe('mean');
    const inputs = [...TEXTS, LONG];
    const ids = inputs.map((t) => model.tokenizer.encode(t, { addSpecialTokens: true }));
    expect(ids.at(-1)!.length).toBeGreaterThan(128);
    const [ours, ref] = await Promise.all([model.embed(inputs), reference(dir, ids, 'mean')]);
    expect(ours.embeddings).toHaveLength(inputs.length);
    expect(ours.promptTokens).toBe(ids.flat().length);
    for (const [i, v] of ours.embeddings.entries()) {
      expect(v.length).toBe(model.info.hiddenSize);
      expect(norm(v)).toBeCloseTo(1, 5);
      expect(maxDiff(v, ref.embeddings[i])).toBeLessThan(TOL);
    }
  }, 300_000);

  it('last-token pooling, from token ids', async () => {
    const ids = TEXTS.map((t) => model.tokenize(t));
    const [ours, ref] = await Promise.all([model.embed(ids, { pooling: 'last' }), reference(dir, ids, 'last')]);
    for (const [i, v] of ours.embeddings.entries()) expect(maxDiff(v, ref.embeddings[i])).toBeLessThan(TOL);
  }, 300_000);

  it('qwen3 (q/k norms) with last-token pooling taken from its 1_Pooling/config.json', async () => {
    const tiny = await tinyModel('tiny-qwen3');
    // The same weights, plus the sentence-transformers pooling file Qwen3-Embedding ships.
    const withPooling = await mkdtemp(join(tmpdir(), 'mlx-native-pooling-'));
    try {
      for (const f of await readdir(tiny)) await symlink(join(tiny, f), join(withPooling, f));
      await mkdir(join(withPooling, '1_Pooling'));
      await writeFile(join(withPooling, '1_Pooling', 'config.json'), JSON.stringify({ pooling_mode_lasttoken: true, pooling_mode_mean_tokens: false }));
      const qwen = await loadModel(withPooling, { dtype: 'float32' });
      try {
        expect(qwen.info.pooling).toBe('last');
        const ids = [[1, 2, 3, 4, 5, 6, 7], [9, 8], [42]];
        const [ours, ref] = await Promise.all([qwen.embed(ids), reference(tiny, ids, 'last')]);
        for (const [i, v] of ours.embeddings.entries()) expect(maxDiff(v, ref.embeddings[i])).toBeLessThan(TOL);
      } finally {
        await qwen.dispose();
      }
    } finally {
      await rm(withPooling, { recursive: true, force: true });
    }
  }, 300_000);

  it('gemma3 (sliding-window layers), inputs longer than its window run in chunks through the ring', async () => {
    const tiny = await tinyModel('tiny-gemma3');
    // A window of 8 and 4-token prefill chunks: idle embedding steps are 16 tokens, so a
    // 40-token input takes three steps and its sliding layers' ring wraps.
    const gemma = await loadModel(tiny, { dtype: 'float32', prefillChunk: 4 });
    try {
      const ids = [Array.from({ length: 40 }, (_, i) => 3 + ((i * 37) % 500)), [7, 8, 9], Array.from({ length: 12 }, (_, i) => 20 + i)];
      const [ours, ref] = await Promise.all([gemma.embed(ids), reference(tiny, ids, 'mean')]);
      for (const [i, v] of ours.embeddings.entries()) expect(maxDiff(v, ref.embeddings[i]), `input ${i}`).toBeLessThan(TOL);
    } finally {
      await gemma.dispose();
    }
  }, 300_000);

  it('the GGUF fixture gives the vectors of its float32 conversion', async () => {
    const gguf = await loadModel(await ensureFixture(), { dtype: 'float32', prefillChunk: 32, onWarning: () => undefined });
    try {
      const [a, b] = await Promise.all([gguf.embed(TEXTS), model.embed(TEXTS)]);
      for (const [i, v] of a.embeddings.entries()) expect(maxDiff(v, b.embeddings[i])).toBeLessThan(TOL);
    } finally {
      await gguf.dispose();
    }
  }, 300_000);
});

describe('model.embed options and input', () => {
  it('a batch gives each input the vector it gets alone', async () => {
    const batch = await model.embed(TEXTS);
    for (const [i, text] of TEXTS.entries()) {
      const alone = await model.embed(text);
      expect(maxDiff(alone.embeddings[0], batch.embeddings[i])).toBeLessThan(TOL);
    }
  });

  it('dimensions keeps the first n components, normalised again; normalize: false gives the raw pooled state', async () => {
    const full = (await model.embed(TEXTS[0])).embeddings[0];
    const cut = (await model.embed(TEXTS[0], { dimensions: 64 })).embeddings[0];
    expect(cut.length).toBe(64);
    expect(norm(cut)).toBeCloseTo(1, 5);
    const prefix = full.slice(0, 64);
    const scale = norm(prefix);
    expect(maxDiff(cut, prefix.map((x) => x / scale))).toBeLessThan(1e-6);
    const raw = (await model.embed(TEXTS[0], { normalize: false })).embeddings[0];
    expect(norm(raw)).toBeGreaterThan(1.5);
    expect(maxDiff(raw.map((x) => x / norm(raw)), full)).toBeLessThan(1e-6);
  });

  it('refuses bad input before any work, with the error code that says why', async () => {
    const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof MlxNativeError ? e.code : String(e)));
    expect(await code(model.embed(''))).toBe('EMPTY_PROMPT');
    expect(await code(model.embed([]))).toBe('INVALID_ARGUMENT');
    expect(await code(model.embed([[1, 2], [model.info.vocabSize]]))).toBe('INVALID_ARGUMENT');
    expect(await code(model.embed(['a', 1] as unknown as string[]))).toBe('INVALID_ARGUMENT');
    expect(await code(model.embed('a', { dimensions: 0 }))).toBe('INVALID_ARGUMENT');
    expect(await code(model.embed('a', { dimensions: model.info.hiddenSize + 1 }))).toBe('INVALID_ARGUMENT');
    expect(await code(model.embed('a', { pooling: 'cls' as 'mean' }))).toBe('INVALID_ARGUMENT');
    expect(await code(model.embed([Array.from({ length: model.info.contextLength + 1 }, () => 1)]))).toBe('CONTEXT_OVERFLOW');
    // The model still works.
    expect((await model.embed('a')).embeddings).toHaveLength(1);
  });
});

describe('embedding beside generation', () => {
  it('a long embedding runs in steps between decode steps: the generation keeps streaming meanwhile', async () => {
    const generation = model.generate('Once upon a time', { maxTokens: 1000, ignoreEos: true });
    const arrivals: number[] = [];
    const reading = (async () => {
      for await (const chunk of generation) if (chunk.tokens.length) arrivals.push(performance.now());
    })();
    while (arrivals.length < 2) await new Promise((r) => setTimeout(r, 20));
    const started = performance.now();
    const { embeddings } = await model.embed([LONG, LONG.slice(0, 100)]);
    const ended = performance.now();
    generation.abort();
    await reading;
    expect(embeddings).toHaveLength(2);
    const during = arrivals.filter((t) => t > started && t < ended).length;
    // Beside a running stream an embedding step is prefill-sized (32 tokens, as loaded above),
    // so the ~180 tokens take several steps, each followed by a decode step whose token reaches JS.
    expect(during).toBeGreaterThanOrEqual(4);
  }, 300_000);
});
