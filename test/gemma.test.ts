// The Gemma 3 270M Q4_K_M GGUF as published (F32, Q8_0, Q5_0, Q4_K and Q6_K tensors, a
// SentencePiece vocabulary): loaded from the file directly, its greedy tokens must equal mlx-lm's
// on the MLX directory `mlx-native convert` makes from the same file (both in float32, which a GPU
// does not default to, so both compute the same values), through the CLI as a user runs it, with
// weight memory near the file size.
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type ChatMessage, type Model } from '../src/index.js';
import { convertGguf } from '../src/engine/convert.js';
import { ensureGemmaFixture } from '../scripts/fetch-fixtures.mjs';
import { ROOT, referenceGenerate, referenceTokenize, requireVenv, type ReferenceTokenized } from './helpers/models.js';

const PROMPT = 'The capital of France is';
const TEXTS = [PROMPT, 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n'];
const CHATS: ChatMessage[][] = [[{ role: 'user', content: 'Name three colours.' }]];
const TOKENS = 12;

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('Gemma 3 270M Q4_K_M GGUF', () => {
  let gguf: string;
  let dir: string;
  let tmp: string;
  let model: Model;
  let tokenized: ReferenceTokenized;
  let reference: number[][];

  beforeAll(async () => {
    requireVenv();
    gguf = await ensureGemmaFixture({ quiet: true });
    tmp = await mkdtemp(join(tmpdir(), 'mlx-native-gemma-'));
    dir = join(tmp, 'gemma-3-270m-f32');
    await convertGguf(gguf, dir, { dtype: 'float32' });
    tokenized = await referenceTokenize(dir, TEXTS, CHATS);
    const prompts = [...tokenized.texts, ...tokenized.chat];
    reference = (await referenceGenerate(dir, prompts.map((p) => ({ prompt_tokens: p, max_tokens: TOKENS })), false)).cases.map((c) => c.tokens);
    model = await loadModel(gguf, { dtype: 'float32', onWarning: () => {} });
  }, 900_000);

  afterAll(async () => {
    await model?.dispose();
    if (tmp) await rm(tmp, { recursive: true, force: true });
  });

  it('tokenizes prompts (BOS added) and chats (the Gemma turn format) as mlx-lm does on the converted directory', () => {
    expect(TEXTS.map((t) => model.tokenizer.encode(t, { addSpecialTokens: true }))).toEqual(tokenized.texts);
    expect(CHATS.map((c) => model.chatPromptTokens(c))).toEqual(tokenized.chat);
    expect(tokenized.chat_text[0]).toContain('<start_of_turn>user\nName three colours.<end_of_turn>\n<start_of_turn>model\n');
  });

  it(`gives mlx-lm's ${TOKENS} greedy tokens, loaded from the GGUF directly`, async () => {
    const opts = { maxTokens: TOKENS, ignoreEos: true, temperature: 0 };
    const native = [];
    for (const t of TEXTS) native.push((await model.generate(t, opts).result).tokens);
    for (const c of CHATS) native.push((await model.chat(c, opts).result).tokens);
    expect(native).toEqual(reference);
  }, 600_000);

  it('`mlx-native generate` continues "The capital of France is" sensibly', async () => {
    const run = await cli(['generate', '--model', gguf, '--dtype', 'float32', '--prompt', PROMPT, '--max-tokens', '8', '--temperature', '0']);
    expect(run.code, run.stderr).toBe(0);
    const eight = reference[0].slice(0, 8);
    expect(run.stdout.trim()).toBe(model.tokenizer.decode(eight, { skipSpecialTokens: true }).trim());
    expect(run.stdout).toMatch(/France|Paris/);
    // An unknown --dtype is refused before the model loads.
    const bad = await cli(['generate', '--model', gguf, '--dtype', 'float64', '--prompt', PROMPT]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('[INVALID_ARGUMENT] dtype must be one of float32, float16, bfloat16');
  }, 600_000);

  it('keeps the weights quantized: memory near the file size, not float16 (~3.5x)', async () => {
    const size = statSync(gguf).size;
    // float32 scales and biases per group of 32 add 2 bits per weight on the CPU.
    expect(model.info.weightBytes).toBeLessThan(1.4 * size);
    expect((await model.memory()).activeMemory).toBeLessThan(1.6 * size);
    console.log(`[gemma] file ${(size / 2 ** 20).toFixed(1)} MiB, weights ${(model.info.weightBytes / 2 ** 20).toFixed(1)} MiB`);
  });

  it('`mlx-native info` reports each GGUF tensor type, its count and what it became', async () => {
    const run = await cli(['info', '--model', gguf, '--json']);
    expect(run.code, run.stderr).toBe(0);
    const info = JSON.parse(run.stdout) as { family: string; ggufTensorTypes: { type: string; count: number; becomes: string }[] };
    expect(info.family).toBe('gemma3');
    const byType = Object.fromEntries(info.ggufTensorTypes.map((t) => [t.type, t]));
    expect(Object.keys(byType).sort()).toEqual(['F32', 'Q4_K', 'Q5_0', 'Q6_K', 'Q8_0']);
    expect(info.ggufTensorTypes.reduce((n, t) => n + t.count, 0)).toBe(236);
    expect(byType.Q4_K.becomes).toBe('4-bit g32');
    expect(byType.Q6_K.becomes).toBe('8-bit g32 (requantized)');
  }, 600_000);
});
