// SentencePiece tokenizers rebuilt from GGUF metadata (src/engine/gguf-spm.ts) against the
// `sentencepiece` library itself, run on a model built from the same GGUF's tokens, scores and
// types (scripts/spm-reference.py in the project venv), on a few thousand generated strings:
// words, code, whitespace runs, every script the vocabulary covers and characters it does not
// (byte fallback), user-defined pieces and control-token text.
import { spawnSync } from 'node:child_process';
import { beforeAll, describe, expect, it } from 'vitest';
import { readGgufMetadata } from '../src/engine/gguf.js';
import { Tokenizer } from '../src/engine/tokenizer.js';
import { ensureGemmaFixture } from '../scripts/fetch-fixtures.mjs';
import { ROOT, requireVenv } from './helpers/models.js';

const COUNT = 3000;

const PARTS = [
  'the', 'The', 'capital', 'of', 'France', 'is', 'Paris', 'hello', 'world', 'tokenizer', 'naïve', 'café', 'Straße',
  'résumé', '東京', '北京市', 'こんにちは', '안녕하세요', 'Привет', 'مرحبا', 'שלום', 'नमस्ते', 'ภาษาไทย', '🙂', '🚀🚀',
  '👩‍👩‍👧', 'e\u0301', 'ﬁ', '½', 'Ⅻ', '\u00a0', '\u2003', '\u200b', '\ue000', '\u{10FFFD}', '\u0000', '\u0007', 'ÿ',
  'def', 'f(x):', 'return', 'x**2', '{', '}', '[1, 2, 3]', '=>', '!==', '//', '#', '0', '7', '42', '3.14159', '1e-5',
  '2048', '-', '_', '...', '?', '!', ',', '.', ';', ':', "'", '"', '`', '(', ')', '<', '>', '<div>', '</div>',
  '<start_of_turn>', '<end_of_turn>', '<bos>', '<eos>', '<unk>', '[multimodal]', 'http://example.com/a?b=c',
];
const SPACES = [' ', ' ', ' ', '  ', '   ', '\t', '\t\t', '\n', '\n\n', '\r\n', ' \n ', '', ''];

/** Deterministic strings (mulberry32). */
function strings(n: number): string[] {
  let seed = 0x5eed;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    let s = rand() < 0.2 ? pick(SPACES) : '';
    const parts = 1 + Math.floor(rand() * 12);
    for (let j = 0; j < parts; j++) s += pick(PARTS) + pick(SPACES);
    out.push(s);
  }
  return out;
}

describe('SentencePiece tokenizer from GGUF metadata (Gemma 3) vs the sentencepiece library', () => {
  let gguf: string;
  let tokenizer: Tokenizer;
  const texts = strings(COUNT);

  beforeAll(async () => {
    gguf = await ensureGemmaFixture({ quiet: true });
    tokenizer = Tokenizer.fromGguf(await readGgufMetadata(gguf));
  }, 600_000);

  function expectReference(tok: Tokenizer, strs: string[], args: string[] = []): void {
    const run = spawnSync(requireVenv(), [`${ROOT}/scripts/spm-reference.py`, gguf, ...args], {
      input: JSON.stringify(strs),
      maxBuffer: 1 << 28,
      encoding: 'utf8',
    });
    expect(run.status, run.stderr).toBe(0);
    const reference = JSON.parse(run.stdout) as number[][];
    const differ = strs.map((t, i) => ({ t, ours: tok.encode(t), ref: reference[i] })).filter((d) => JSON.stringify(d.ours) !== JSON.stringify(d.ref));
    expect(differ.slice(0, 5), `${differ.length} of ${strs.length} strings differ`).toEqual([]);
  }

  it(`encodes ${COUNT} strings to the same ids`, () => expectReference(tokenizer, texts), 600_000);

  it('with add_space_prefix (Llama 2 style): a "▁" before each run of text, as SentencePiece adds it', async () => {
    const meta = await readGgufMetadata(gguf);
    const prefixed = Tokenizer.fromGguf({ ...meta, kv: { ...meta.kv, 'tokenizer.ggml.add_space_prefix': true } });
    const some = texts.slice(0, 1000);
    expectReference(prefixed, some, ['--add-space-prefix']);
    expect(prefixed.encode('Paris')[0]).toBe(prefixed.tokenToId('▁Paris'));
    // The decoder drops the prefix space at the start (text after a user-defined piece keeps
    // the one its run got, as with llama.cpp).
    for (const t of ['Paris', 'The capital of France is', ' leading space', 'café 東京 🙂 ﬁ\u0001']) {
      expect(prefixed.decode(prefixed.encode(t))).toBe(t);
    }
  }, 600_000);

  it('decodes every encoding back to its text', () => {
    const wrong = texts.filter((t) => tokenizer.decode(tokenizer.encode(t)) !== t);
    expect(wrong.slice(0, 5)).toEqual([]);
  });

  it('adds BOS as the metadata says, keeps control-token text plain, and brings a Gemma chat template', () => {
    const bos = tokenizer.bosTokenId!;
    expect(tokenizer.idToToken(bos)).toBe('<bos>');
    expect(tokenizer.encode('Hi', { addSpecialTokens: true })[0]).toBe(bos);
    expect(tokenizer.encode('<end_of_turn>')).not.toContain(tokenizer.tokenToId('<end_of_turn>'));
    expect(tokenizer.encodeWithSpecials('<end_of_turn>')).toEqual([tokenizer.tokenToId('<end_of_turn>')]);
    expect(tokenizer.chatTemplate).toContain('<start_of_turn>');
    expect(tokenizer.eosTokenIds).toContain(tokenizer.tokenToId('<end_of_turn>'));
  });
});
