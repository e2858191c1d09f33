// Parity against a reference nobody here wrote: mlx-lm (scripts/reference.py, project venv) and
// mlx-native load the same MLX directories and must agree on prompt token ids, on 64 greedy
// tokens per prompt, and on the distribution at the last prompt position. The real SmolLM2
// fixture (converted by mlx-native's own converter, float32) and the tiny random-weight models
// of every supported family (llama, qwen2, qwen3, smollm3, phi3, qwen3_moe, gpt_oss, gemma3 in
// its text and vision-language layouts, and quantized ones with per-layer overrides, MoE experts
// through gather_qmm, MXFP4) are covered; the fixture GGUF loaded directly must give the converted
// directory's tokens.
//
// A greedy mismatch is reported with mlx-lm's top-1/top-2 margin at the diverging step: a margin
// below ~1e-4 would be a numerical tie that two correct implementations may break differently,
// but the test does not excuse it; it fails and says so.
import { availableParallelism } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, Runtime, type ChatMessage, type GenerationResult, type Model } from '../src/index.js';
import {
  ensureFixture,
  ensureFixtureF32,
  logSoftmax,
  range,
  referenceGenerate,
  referenceTokenize,
  requireVenv,
  tinyModel,
  type ReferenceCaseResult,
  type ReferenceTokenized,
  type TinyModel,
} from './helpers/models.js';

const MAX_TOKENS = 64;
const TOP = 20; // the most alternatives the API returns per position

type Dtype = 'float32' | 'float16';
interface Tolerances {
  logit: number;
  norm: number;
  margin: number;
}

/*
 * Final-position logits. mlx-native exposes log-probabilities, not raw logits, so for the 20 most
 * likely tokens two things are checked against mlx-lm's float32 logits:
 * - logits relative to the top token: |(lp_i - lp_top) - (logit_i - logit_top)| <= `logit` *
 *   (max logit - min logit), the logit range of that position (~20-40 here), so one number fits
 *   every model. Measured on this CPU backend (MLX 0.32.4): 0 for SmolLM2 and the Qwen models,
 *   <= 1.7e-8 of the range for the Llama ones (both engines run the same MLX kernels; float16
 *   models included). The floor is float32 rounding of logprobs of magnitude ~30 (ulp ~2e-6,
 *   ~1e-7 of the range); 1e-6 of the range (~3e-5 absolute) leaves room for that and a different
 *   summation order, and is far below what a real defect (rope layout, norm epsilon, a bias) moves.
 * - the normalization: |lp_top - log_softmax(logits)_top| <= `norm`. mlx-native sums exp()
 *   over the vocabulary in float32; measured 1.44e-4 nats for SmolLM2's 49152 entries (what a
 *   float32 sum of them loses), <= 2e-6 for the tiny models' 384-512.
 * Per generated step, `margin`: mlx-native's top-1 minus top-2 logprob against mlx-lm's
 * `margins`, relative to max(1, |margin|). Both run the same incremental decode: in float32 they
 * agree exactly (measured 0). mlx-lm takes log-softmax in the model's dtype, mlx-native in
 * float32, so for float16 models they differ by float16 rounding of the logprobs: measured
 * 4.9e-4 = one half-ulp (2^-11); the tolerance allows four.
 */
const TOL: Record<Dtype, Tolerances> = {
  float32: { logit: 1e-6, norm: 1e-3, margin: 1e-5 },
  float16: { logit: 1e-6, norm: 1e-3, margin: 2 ** -9 },
};
/*
 * On a GPU the two run different kernels for the same math, so their sums round differently.
 * Measured on an H200 (MLX 0.32.4, CUDA, scripts/gpu/test-cuda.sh), largest over the models:
 * - float32: logits 1.08e-6 of the range (SmolLM2; 1.02e-6 for tiny-gpt-oss-q8 against its CPU
 *   reference), per-step margins 1.53e-5 (SmolLM2; 1.43e-5 for tiny-llama-q4 against the CPU).
 *   The same with mlx-native's fused layer kernels off (MLX_NATIVE_FUSED=off): its decode kernel
 *   and GPU-against-CPU summation order are the difference. The tolerances allow about four times.
 * - float16: logits 9.95e-4 of the range (tiny-qwen2-q4; 6.2e-4 tiny-qwen2), about one float16
 *   ulp of a logit; normalization 7.3e-3 nats, what that ulp moves. All of it is the fused layer
 *   kernels (one rounding where MLX's operations round at each step): with MLX_NATIVE_FUSED=off
 *   both were 0 and 4e-7. Per-step margins 0.0156 either way: kernels are picked by shape, and
 *   mlx-native runs q/k/v (and gate/up) as one matmul where mlx-lm runs three (two), so their
 *   float16 outputs differ in the last bit now and then. The tolerances allow two to four times.
 * TF32 is off in both (native/engine/device.cpp, scripts/reference.py).
 */
const GPU_TOL: Record<Dtype, Tolerances> = {
  float32: { logit: 4e-6, norm: 1e-3, margin: 6e-5 },
  float16: { logit: 2 ** -8, norm: 2 ** -5, margin: 2 ** -5 },
};
/*
 * Sliding-window models (gpt-oss): mlx-lm decodes their window layers from a rotating buffer whose
 * keys sit in another order than mlx-native's positional cache, and with a different number of
 * masked keys, so attention sums the same terms in another order. Tokens and the one-pass
 * last-position logits still agree exactly (measured 0); the per-step margins differ by float32
 * rounding: measured up to 4.4e-5 relative (1.05e-5 absolute on the same model with the window
 * widened past the prompt: 0). The tolerance allows about four times that.
 */
const WINDOW_MARGIN_TOL = 2e-4;

interface Suite {
  name: string;
  /** mlx-native's compute dtype: what mlx-lm computes in for this model (its weights' dtype). */
  dtype: Dtype;
  texts: string[];
  chats: ChatMessage[][];
}

const SMOL: Suite = {
  name: 'SmolLM2-135M-Instruct (converted, float32)',
  dtype: 'float32',
  texts: [
    'The capital of France is',
    'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n',
    'Once upon a time, in a small village by the sea,',
  ],
  chats: [
    [{ role: 'user', content: 'What is 2+2?' }],
    [
      { role: 'system', content: 'You are a concise assistant.' },
      { role: 'user', content: 'Write a haiku about the ocean.' },
    ],
  ],
};

// Text from the tiny tokenizers' training corpus, so prompts are a few tokens each.
const TINY_TEXTS = ['The quick brown fox jumps over', 'Hello, world! How are you today?', 'def add(a, b):\n    return'];
const TINY_CHATS: ChatMessage[][] = [
  [{ role: 'user', content: 'Please write a short poem about the ocean.' }],
  [
    { role: 'system', content: 'Please answer briefly.' },
    { role: 'user', content: 'What is your name?' },
  ],
];
const TINY_SUITE = { texts: TINY_TEXTS, chats: TINY_CHATS };
// float16 for the Qwen2 pair: their weights are float16 and mlx-lm computes in float16.
// cpuReference: mlx-lm runs on the CPU even on a GPU machine. These models have quantized layers
// whose one group spans the whole input (hidden size 64, groups of 64: tiny-llama-q4's layers,
// tiny-qwen3-moe-q4's router, tiny-gpt-oss-q8's), where MLX 0.32.4's CUDA quantized_matmul is
// wrong from 3 rows (errors of 1 to 9e37, or NaN: scripts/gpu/qmm_check.py on an H200), so mlx-lm
// on that GPU is no reference; the engine routes those layers around it (native/engine/layers.cpp).
const TINY: { model: TinyModel; dtype: Dtype; slidingWindow?: true; cpuReference?: true }[] = [
  { model: 'tiny-llama', dtype: 'float32' },
  { model: 'tiny-qwen2', dtype: 'float16' },
  { model: 'tiny-qwen3', dtype: 'float32' },
  { model: 'tiny-llama-q4', dtype: 'float32', cpuReference: true },
  { model: 'tiny-qwen2-q4', dtype: 'float16' },
  { model: 'tiny-smollm3', dtype: 'float32' },
  { model: 'tiny-phi3', dtype: 'float32' },
  { model: 'tiny-qwen3-moe', dtype: 'float32' },
  { model: 'tiny-qwen3-moe-q4', dtype: 'float32', cpuReference: true },
  { model: 'tiny-gpt-oss', dtype: 'float32', slidingWindow: true },
  { model: 'tiny-gpt-oss-q8', dtype: 'float32', slidingWindow: true, cpuReference: true },
  { model: 'tiny-phi3-mxfp4', dtype: 'float32' },
  { model: 'tiny-gemma3', dtype: 'float32' },
  { model: 'tiny-gemma3-vl', dtype: 'float32' },
];

interface Reference {
  tokenized: ReferenceTokenized;
  generated: ReferenceCaseResult[];
}

/** Runs async jobs at most `n` at a time. */
function limiter(n: number): <T>(job: () => Promise<T>) => Promise<T> {
  let running = 0;
  const queue: (() => void)[] = [];
  return async (job) => {
    while (running >= n) await new Promise<void>((r) => queue.push(r));
    running++;
    try {
      return await job();
    } finally {
      running--;
      queue.shift()?.();
    }
  };
}

const refs = new Map<string, Promise<Reference>>();
// A reference process per 4 cores: on 2 cores one runs mlx-lm while the other runs mlx-native; on
// a GPU machine of 16, four references (each mostly loading MLX and compiling kernels) at once.
const limit = limiter(Math.max(1, Math.floor(availableParallelism() / 4)));

/** mlx-lm's tokenization of the suite's prompts, then its greedy tokens and logits for them. */
function startReference(key: string, dir: () => Promise<string>, suite: Pick<Suite, 'texts' | 'chats'>, device?: 'cpu'): void {
  const p = limit(async () => {
    const path = await dir();
    const tokenized = await referenceTokenize(path, suite.texts, suite.chats);
    const cases = [...tokenized.texts, ...tokenized.chat].map((prompt_tokens) => ({ prompt_tokens, max_tokens: MAX_TOKENS }));
    const { cases: generated } = await referenceGenerate(path, cases, true, device);
    return { tokenized, generated };
  });
  p.catch(() => {}); // awaited by the tests; no unhandled rejection in the meantime
  refs.set(key, p);
}

beforeAll(async () => {
  requireVenv();
  const runtime = new Runtime();
  if ((await runtime.deviceInfo()).device !== 'cpu') Object.assign(TOL, GPU_TOL);
  runtime.dispose();
  // The reference (one Python process per model) runs while mlx-native works on the main thread.
  startReference('smol', ensureFixtureF32, SMOL);
  for (const t of TINY) startReference(t.model, () => tinyModel(t.model), TINY_SUITE, t.cpuReference ? 'cpu' : undefined);
});

/** The ids mlx-native feeds for each prompt: plain texts as `generate(text)` does, chats as `chat()`. */
function nativePromptIds(model: Model, suite: Pick<Suite, 'texts' | 'chats'>): { texts: number[][]; chats: number[][] } {
  return {
    texts: suite.texts.map((t) => model.tokenizer.encode(t, { addSpecialTokens: true })),
    chats: suite.chats.map((m) => model.chatPromptTokens(m)),
  };
}

/** Greedy generations through the public paths (generate(text), chat(messages)), one at a time. */
async function nativeGreedy(model: Model, suite: Pick<Suite, 'texts' | 'chats'>, logprobs: boolean): Promise<GenerationResult[]> {
  const opts = { maxTokens: MAX_TOKENS, ignoreEos: true, ...(logprobs ? { logprobs: true, topLogprobs: TOP } : {}) };
  const out: GenerationResult[] = [];
  for (const t of suite.texts) out.push(await model.generate(t, opts).result);
  for (const c of suite.chats) out.push(await model.chat(c, opts).result);
  return out;
}

/** Index of the first differing token, or -1. */
function firstMismatch(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function expectSameTokens(label: string, native: GenerationResult[], ref: ReferenceCaseResult[]): void {
  const problems: string[] = [];
  native.forEach((r, i) => {
    expect(r.tokens.length, `${label} case ${i}: generated ${r.tokens.length} tokens`).toBe(MAX_TOKENS);
    const at = firstMismatch(r.tokens, ref[i].tokens);
    if (at >= 0) {
      const margin = ref[i].margins[at];
      problems.push(
        `case ${i} diverges at step ${at}: mlx-native ${r.tokens[at]}, mlx-lm ${ref[i].tokens[at]} ` +
          `(mlx-lm top-1/top-2 margin there: ${margin.toExponential(2)}${margin < 1e-4 ? ', a near-tie' : ''})`,
      );
    }
  });
  expect(problems, `${label}: greedy tokens differ from mlx-lm`).toEqual([]);
}

/** Last-position errors: shift-free logit error (fraction of the range) and normalization error. */
function distributionError(native: GenerationResult, ref: ReferenceCaseResult): { logit: number; norm: number; range: number } {
  const logits = ref.logits!;
  const lp = logSoftmax(logits);
  const alts = native.logprobs![0].topLogprobs;
  expect(alts.length).toBe(Math.min(TOP, logits.length));
  const top = alts[0];
  let logit = 0;
  for (const alt of alts) logit = Math.max(logit, Math.abs(alt.logprob - top.logprob - (logits[alt.token] - logits[top.token])));
  // The top-20 must really be the top-20 of the reference distribution (up to ties at the edge).
  const kth = [...lp].sort((a, b) => b - a)[alts.length - 1];
  for (const alt of alts) expect(lp[alt.token]).toBeGreaterThanOrEqual(kth - 1e-3);
  const r = range(logits);
  return { logit: logit / r, norm: Math.abs(top.logprob - lp[top.token]), range: r };
}

/** Largest |Δ margin| over the generated steps (all steps agree on the token, checked first). */
function marginError(native: GenerationResult, ref: ReferenceCaseResult): number {
  let worst = 0;
  native.logprobs!.forEach((lp, step) => {
    const m = lp.topLogprobs[0].logprob - lp.topLogprobs[1].logprob;
    worst = Math.max(worst, Math.abs(m - ref.margins[step]) / Math.max(1, Math.abs(ref.margins[step])));
  });
  return worst;
}

function checkDistributions(
  label: string,
  dtype: Dtype,
  native: GenerationResult[],
  ref: ReferenceCaseResult[],
  marginTol: number = TOL[dtype].margin,
): void {
  const errs = native.map((r, i) => distributionError(r, ref[i]));
  const margins = native.map((r, i) => marginError(r, ref[i]));
  const max = (xs: number[]) => Math.max(...xs).toExponential(2);
  console.log(
    `[parity] ${label}: last position, top-${TOP}: logit error ${max(errs.map((e) => e.logit))} of the range ` +
      `(tolerance ${TOL[dtype].logit}), normalization ${max(errs.map((e) => e.norm))} (tolerance ${TOL[dtype].norm}); ` +
      `per-step margins: ${max(margins)} relative (tolerance ${marginTol})`,
  );
  errs.forEach((e, i) => {
    expect(e.logit, `${label} case ${i}: logits (fraction of the range ${e.range})`).toBeLessThanOrEqual(TOL[dtype].logit);
    expect(e.norm, `${label} case ${i}: logprob normalization`).toBeLessThanOrEqual(TOL[dtype].norm);
  });
  margins.forEach((m, i) => expect(m, `${label} case ${i}: per-step margins`).toBeLessThanOrEqual(marginTol));
}

describe(`parity: ${SMOL.name} vs mlx-lm`, () => {
  let model: Model;
  let native: GenerationResult[];
  let ids: { texts: number[][]; chats: number[][] };

  beforeAll(async () => {
    model = await loadModel(await ensureFixtureF32(), { dtype: SMOL.dtype });
    ids = nativePromptIds(model, SMOL);
    native = await nativeGreedy(model, SMOL, true);
  }, 300_000);
  afterAll(() => model?.dispose());

  it('tokenizes plain and chat prompts to the same ids as mlx-lm', async () => {
    const ref = await refs.get('smol')!;
    expect(ids.texts).toEqual(ref.tokenized.texts);
    expect(ids.chats).toEqual(ref.tokenized.chat);
    native.forEach((r, i) => expect(r.usage.promptTokens).toBe([...ref.tokenized.texts, ...ref.tokenized.chat][i].length));
  }, 300_000);

  it(`decodes ${MAX_TOKENS} greedy tokens per prompt exactly as mlx-lm does`, async () => {
    const ref = await refs.get('smol')!;
    expectSameTokens('SmolLM2', native, ref.generated);
  }, 300_000);

  it('agrees with mlx-lm on the distribution at the last prompt position and at every step', async () => {
    const ref = await refs.get('smol')!;
    checkDistributions('SmolLM2', SMOL.dtype, native, ref.generated);
  }, 300_000);

  it('gives the same greedy tokens from the GGUF file as from the converted directory', async () => {
    const gguf = await loadModel(await ensureFixture(), { dtype: SMOL.dtype });
    try {
      expect(nativePromptIds(gguf, SMOL)).toEqual(ids);
      // One plain and one chat prompt (64 tokens each; this CPU decodes ~10 tokens/s), through the
      // plain greedy path (no logprobs) on the GGUF's own weights, with llama.cpp's Q/K row order.
      const some = { texts: SMOL.texts.slice(0, 1), chats: SMOL.chats.slice(0, 1) };
      const direct = await nativeGreedy(gguf, some, false);
      expect(direct.map((r) => r.tokens)).toEqual([native[0].tokens, native[SMOL.texts.length].tokens]);
    } finally {
      await gguf.dispose();
    }
  }, 300_000);
});

for (const t of TINY) {
  describe(`parity: ${t.model} (random weights, ${t.dtype}) vs mlx-lm`, () => {
    let model: Model;
    let native: GenerationResult[];
    const suite = TINY_SUITE;

    beforeAll(async () => {
      model = await loadModel(await tinyModel(t.model), { dtype: t.dtype });
      native = await nativeGreedy(model, suite, true);
    }, 300_000);
    afterAll(() => model?.dispose());

    it('tokenizes plain and chat prompts to the same ids as mlx-lm', async () => {
      const ref = await refs.get(t.model)!;
      const ids = nativePromptIds(model, suite);
      expect(ids.texts).toEqual(ref.tokenized.texts);
      expect(ids.chats).toEqual(ref.tokenized.chat);
      native.forEach((r, i) => expect(r.usage.promptTokens).toBe([...ids.texts, ...ids.chats][i].length));
    }, 600_000); // waits for the references queued before this model's (one at a time on 2 cores)

    it(`decodes ${MAX_TOKENS} greedy tokens per prompt exactly as mlx-lm does, with matching distributions`, async () => {
      const ref = await refs.get(t.model)!;
      expectSameTokens(t.model, native, ref.generated);
      checkDistributions(t.model, t.dtype, native, ref.generated, t.slidingWindow ? WINDOW_MARGIN_TOL : TOL[t.dtype].margin);
    }, 300_000);
  });
}
