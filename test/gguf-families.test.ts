// The families published as GGUF by llama.cpp's converter besides Llama/Qwen/Gemma: SmolLM3,
// Phi-3/4 (fused qkv and gate_up, partial rotary, LongRoPE factors as tensors), Qwen3-MoE
// (stacked expert tensors) and gpt-oss (MXFP4 experts, sinks, router biases, sliding layers).
// Each tiny model is written as a GGUF the way the converter writes that architecture
// (scripts/tiny_gguf.py, names from the `gguf` package's own table) and must give, loaded from
// the GGUF, the distributions it gives loaded from its directory, which test/parity.test.ts
// holds to mlx-lm.
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type GenerationResult } from '../src/index.js';
import { referenceTokenize, ROOT, requireVenv, tinyModel, type TinyModel } from './helpers/models.js';

const CASES: { model: TinyModel; arch: string; family: string; types: Record<string, string> }[] = [
  { model: 'tiny-smollm3', arch: 'smollm3', family: 'smollm3', types: { F32: 'float32' } },
  { model: 'tiny-phi3', arch: 'phi3', family: 'phi3', types: { F32: 'float32' } },
  { model: 'tiny-qwen3-moe', arch: 'qwen3_moe', family: 'qwen3_moe', types: { F32: 'float32' } },
  { model: 'tiny-gpt-oss', arch: 'gpt_oss', family: 'gpt_oss', types: { F32: 'float32', MXFP4: 'mxfp4 g32' } },
];
// Prompts past gpt-oss's window of 8, and long enough for Qwen3-MoE's sorted expert path.
const PROMPTS = ['Hello', 'The quick brown fox jumps over the lazy dog and keeps running far away', 'def add(a, b):\n    return a + b\n'];
const TOKENS = 24;
// Both sides run the same kernels on the same float32 values; only the loading path differs.
const TOL = 1e-5;

function convert(dir: string, gguf: string, ...extra: string[]): void {
  const run = spawnSync(requireVenv(), [join(ROOT, 'scripts', 'tiny_gguf.py'), dir, gguf, ...extra], { encoding: 'utf8' });
  expect(run.status, run.stderr).toBe(0);
}

function gap(a: GenerationResult, b: GenerationResult): number {
  let worst = 0;
  a.logprobs!.forEach((step, i) =>
    step.topLogprobs.forEach((alt, j) => {
      const other = b.logprobs![i].topLogprobs[j];
      worst = Math.max(worst, alt.token === other.token ? Math.abs(alt.logprob - other.logprob) : Infinity);
    }),
  );
  return worst;
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'mlx-native-gguf-families-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

/**
 * tiny-smollm3 marks an irregular layer without rope (no_rope_layers) to test that the list is
 * honoured; GGUF cannot say that (llama.cpp skips rope on every fourth layer), so its GGUF twin
 * is made from a copy whose list is that pattern.
 */
async function source(model: TinyModel): Promise<string> {
  const dir = await tinyModel(model);
  if (model !== 'tiny-smollm3') return dir;
  const copy = join(tmp, `${model}-every-4th`);
  await mkdir(copy);
  for (const f of await readdir(dir)) if (f !== 'config.json') await symlink(join(dir, f), join(copy, f));
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { num_hidden_layers: number; no_rope_layers: number[] };
  config.no_rope_layers = Array.from({ length: config.num_hidden_layers }, (_, i) => ((i + 1) % 4 === 0 ? 0 : 1));
  await writeFile(join(copy, 'config.json'), JSON.stringify(config));
  return copy;
}

describe.each(CASES)('$model from GGUF', ({ model, arch, family, types }) => {
  it('loads with the family and tensor types of the file, and generates what its directory generates', async () => {
    const dir = await source(model);
    const gguf = join(tmp, `${model}.gguf`);
    convert(dir, gguf);
    const [fromGguf, fromDir] = [await loadModel(gguf, { dtype: 'float32' }), await loadModel(dir, { dtype: 'float32' })];
    try {
      expect(fromGguf.info).toMatchObject({ format: 'gguf', architecture: arch, family, numLayers: fromDir.info.numLayers, vocabSize: fromDir.info.vocabSize });
      expect(Object.fromEntries(fromGguf.info.ggufTensorTypes!.map((t) => [t.type, t.becomes]))).toEqual(types);
      expect(fromGguf.info.parameterCount).toBe(fromDir.info.parameterCount);
      const opts = { maxTokens: TOKENS, ignoreEos: true, logprobs: true, topLogprobs: 5, temperature: 0 };
      for (const prompt of PROMPTS) {
        const ids = fromDir.tokenizer.encode(prompt);
        expect(fromGguf.tokenizer.encode(prompt), prompt).toEqual(ids);
        const [a, b] = [await fromGguf.generate(ids, opts).result, await fromDir.generate(ids, opts).result];
        expect(a.tokens, prompt).toEqual(b.tokens);
        expect(gap(a, b), prompt).toBeLessThan(TOL);
      }
    } finally {
      await fromGguf.dispose();
      await fromDir.dispose();
    }
  }, 300_000);
});

describe('the "gpt-4o" pre-tokenizer (gpt-oss, Phi-4-mini GGUF files)', () => {
  it("splits as Hugging Face tokenizers does with the o200k pattern those models' tokenizer.json has", async () => {
    // tiny-gpt-oss's vocabulary with the pre-tokenizer of gpt-oss's tokenizer.json; its GGUF
    // says "gpt-4o" (llama.cpp's name for that split) and must encode every text the same way.
    const dir = await tinyModel('tiny-gpt-oss');
    const copy = join(tmp, 'tiny-gpt-oss-o200k');
    await mkdir(copy);
    for (const f of await readdir(dir)) if (f !== 'tokenizer.json') await symlink(join(dir, f), join(copy, f));
    const tok = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
    const o200k = [
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
      "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
      '\\p{N}{1,3}', ' ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*', '\\s*[\\r\\n]+', '\\s+(?!\\S)', '\\s+',
    ].join('|');
    tok.pre_tokenizer = {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: o200k }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    };
    await writeFile(join(copy, 'tokenizer.json'), JSON.stringify(tok));
    const gguf = join(tmp, 'tiny-gpt-oss-o200k.gguf');
    convert(copy, gguf, '--pre', 'gpt-4o');
    const texts = [
      "HELLO World, I'M here and YOU'RE there; don't DON'T Can'T",
      'numbers 1234567 and 3.14159, 2024-11-30 a/b/c\n/path//',
      'camelCaseWords and HTTPServerError, ÉCOLE école naïve e\u0301',
      '中文字符 日本語のテキスト 한국어 текст на русском',
      '  leading spaces\n\n\ttabs\r\nand CRLF   trailing   ',
      'emoji 👋🏽 and symbols ©®™ «quotes» — dashes…',
      'def f(x):\n    return x**2  # comment\n',
    ];
    const model = await loadModel(gguf, { dtype: 'float32' });
    try {
      const ref = await referenceTokenize(copy, texts);
      texts.forEach((t, i) => expect(model.tokenizer.encode(t), t).toEqual(ref.texts[i]));
    } finally {
      await model.dispose();
    }
  }, 300_000);
});
