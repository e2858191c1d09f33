// Bad models and bad requests fail with a clear MlxNativeError code, never a crash: a model loaded
// first (the real fixture GGUF) keeps producing its greedy tokens after every failure, and a bad
// request fails alone while a concurrent good one completes.
import { randomBytes } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, MlxNativeError, type ComputeDtype, type Model } from '../src/index.js';
import { ensureFixture, tinyModel } from './helpers/models.js';

const FRANCE = 'The capital of France is';

let main: Model;
let baseline: number[];
let tmp: string;
let gguf: Buffer; // the fixture's bytes, copied and damaged below

async function expectCode(p: Promise<unknown> | (() => unknown), code: string, message?: RegExp): Promise<void> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err, `expected an MlxNativeError with code ${code}`).toBeInstanceOf(MlxNativeError);
  expect((err as MlxNativeError).code, (err as Error).message).toBe(code);
  if (message) expect((err as Error).message).toMatch(message);
}

/** The model loaded first still gives its greedy tokens. */
async function mainStillWorks(): Promise<void> {
  const r = await main.generate(FRANCE, { maxTokens: baseline.length }).result;
  expect(r.tokens).toEqual(baseline);
}

/** Writes `bytes` to a temp file and expects loading it to fail with `code`. */
async function expectLoadFails(name: string, bytes: Buffer, code: string, message?: RegExp): Promise<void> {
  const file = join(tmp, name);
  await writeFile(file, bytes);
  try {
    await expectCode(loadModel(file, { onWarning: () => {} }), code, message);
  } finally {
    await rm(file, { force: true });
  }
  await mainStillWorks();
}

/** Offset of the u32 type field of tensor `name` in a GGUF's tensor-info section. */
function tensorTypeOffset(file: Buffer, name: string): number {
  const key = Buffer.from(name);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(key.length));
  const at = file.indexOf(Buffer.concat([len, key]));
  expect(at).toBeGreaterThan(0);
  const dimsAt = at + 8 + key.length;
  return dimsAt + 4 + 8 * file.readUInt32LE(dimsAt);
}

/** A copy of a tiny model directory with `edit` applied to it. */
async function editedTinyModel(dirName: string, source: Parameters<typeof tinyModel>[0], edit: (dir: string) => Promise<void>): Promise<string> {
  const dir = join(tmp, dirName);
  await cp(await tinyModel(source), dir, { recursive: true });
  await edit(dir);
  return dir;
}

beforeAll(async () => {
  const path = await ensureFixture();
  tmp = await mkdtemp(join(tmpdir(), 'mlx-native-bad-input-'));
  main = await loadModel(path);
  baseline = (await main.generate(FRANCE, { maxTokens: 3 }).result).tokens;
  expect(baseline).toHaveLength(3);
  gguf = await readFile(path);
}, 300_000);

afterAll(async () => {
  await main?.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('bad models', () => {
  it('fails with MODEL_NOT_FOUND for a missing path', async () => {
    await expectCode(loadModel(join(tmp, 'no-such-model.gguf')), 'MODEL_NOT_FOUND', /no-such-model/);
    await expectCode(loadModel(join(tmp, 'no-such-dir')), 'MODEL_NOT_FOUND');
    await expectCode(loadModel(''), 'INVALID_ARGUMENT');
    await mainStillWorks();
  });

  it('fails with INVALID_ARGUMENT naming the choices for an unknown dtype, before reading the model', async () => {
    const dtype = 'float64' as unknown as ComputeDtype;
    await expectCode(loadModel(join(tmp, 'no-such-model.gguf'), { dtype }), 'INVALID_ARGUMENT', /dtype must be one of float32, float16, bfloat16/);
  });

  it('fails with INVALID_MODEL for a GGUF cut off in its metadata or in its tensor data', async () => {
    await expectLoadFails('head.gguf', gguf.subarray(0, 1 << 20), 'INVALID_MODEL', /truncated/);
    await expectLoadFails('cut.gguf', gguf.subarray(0, 60 << 20), 'INVALID_MODEL', /truncated/);
    await expectLoadFails('tiny.gguf', gguf.subarray(0, 10), 'INVALID_MODEL');
  });

  it('fails with INVALID_MODEL for random bytes after a valid header', async () => {
    // magic, version, tensor count and key/value count (24 bytes) stay; then 64 KiB of noise.
    const bad = Buffer.from(gguf);
    randomBytes(1 << 16).copy(bad, 24);
    await expectLoadFails('noise.gguf', bad, 'INVALID_MODEL', /corrupt|truncated/);
    const notGguf = randomBytes(1 << 20);
    await expectLoadFails('random.gguf', notGguf, 'INVALID_MODEL');
  });

  it('loads and runs a GGUF whose tensor data was zeroed (undetectable without checksums)', async () => {
    const bad = Buffer.from(gguf);
    bad.fill(0, 50 << 20, 51 << 20);
    const file = join(tmp, 'zeroed.gguf');
    await writeFile(file, bad);
    const m = await loadModel(file);
    try {
      const r = await m.generate(FRANCE, { maxTokens: 2, ignoreEos: true }).result;
      expect(r.tokens).toHaveLength(2);
      for (const t of r.tokens) expect(t >= 0 && t < m.info.vocabSize).toBe(true);
    } finally {
      await m.dispose();
      await rm(file, { force: true });
    }
    await mainStillWorks();
  });

  it('fails with UNSUPPORTED_QUANTIZATION naming the tensor for GGUF tensor types mlx-native does not read', async () => {
    const at = tensorTypeOffset(gguf, 'blk.0.ffn_down.weight');
    expect(gguf.readUInt32LE(at)).toBe(3); // Q4_1
    const bad = Buffer.from(gguf);
    bad.writeUInt32LE(16, at); // IQ2_XXS
    await expectLoadFails('iq2.gguf', bad, 'UNSUPPORTED_QUANTIZATION', /blk\.0\.ffn_down\.weight.*IQ2_XXS/);
    bad.writeUInt32LE(99, at); // no such type
    await expectLoadFails('type99.gguf', bad, 'UNSUPPORTED_QUANTIZATION', /blk\.0\.ffn_down\.weight.*type_99/);
  });

  it('fails with INVALID_MODEL naming the tensor when the GGUF metadata contradicts its tensor shapes', async () => {
    // llama.attention.head_count_kv is 3 in the fixture; the k/v tensors keep their 3 heads' rows.
    const key = Buffer.from('llama.attention.head_count_kv');
    const at = gguf.indexOf(key) + key.length;
    expect(gguf.readUInt32LE(at)).toBe(4); // uint32 value
    expect(gguf.readUInt32LE(at + 4)).toBe(3);
    const bad = Buffer.from(gguf);
    bad.writeUInt32LE(1, at + 4);
    await expectLoadFails('kv-heads.gguf', bad, 'INVALID_MODEL', /model\.layers\.0\.self_attn/);
  });

  it('fails with UNSUPPORTED_ARCHITECTURE for an unknown model_type', async () => {
    const dir = await editedTinyModel('gpt9', 'tiny-llama', async (d) => {
      const config = JSON.parse(await readFile(join(d, 'config.json'), 'utf8'));
      config.model_type = 'gpt9';
      config.architectures = ['Gpt9ForCausalLM'];
      await writeFile(join(d, 'config.json'), JSON.stringify(config));
    });
    await expectCode(loadModel(dir), 'UNSUPPORTED_ARCHITECTURE', /gpt9/);
    await mainStillWorks();
  });

  it('fails with UNSUPPORTED_QUANTIZATION for 7-bit packed weights', async () => {
    // tiny-llama-q4's layer-0 q_proj is 4-bit: [64, 8] uint32 for 64 inputs. A [64, 14] matrix
    // packs 14 * 32 / 64 = 7 bits per weight, which MLX does not have.
    const dir = await editedTinyModel('seven-bit', 'tiny-llama-q4', async (d) => {
      const file = join(d, 'model.safetensors');
      await writeFile(file, rewriteSafetensors(await readFile(file), 'model.layers.0.self_attn.q_proj.weight', [64, 14]));
    });
    await expectCode(loadModel(dir), 'UNSUPPORTED_QUANTIZATION', /7-bit/);
    await mainStillWorks();
  });

  it('fails with INVALID_MODEL for a directory with a broken config or no weights', async () => {
    const broken = await editedTinyModel('broken-config', 'tiny-qwen3', (d) => writeFile(join(d, 'config.json'), '{"model_type": "qwen3",'));
    await expectCode(loadModel(broken), 'INVALID_MODEL', /config\.json/);
    const empty = await editedTinyModel('no-weights', 'tiny-qwen3', (d) => rm(join(d, 'model.safetensors')));
    await expectCode(loadModel(empty), 'INVALID_MODEL', /safetensors/);
    await mainStillWorks();
  });
});

describe('bad requests', () => {
  it('rejects empty prompts with EMPTY_PROMPT', async () => {
    await expectCode(() => main.generate(''), 'EMPTY_PROMPT');
    await expectCode(() => main.generate([]), 'EMPTY_PROMPT');
    await expectCode(() => main.chat([]), 'EMPTY_PROMPT');
    await mainStillWorks();
  });

  it('rejects a prompt longer than the context with CONTEXT_OVERFLOW', async () => {
    const small = await loadModel(await ensureFixture(), { contextLength: 64 });
    try {
      expect(small.info.contextLength).toBe(64);
      const long = Array.from({ length: 100 }, (_, i) => 100 + i);
      await expectCode(() => small.generate(long), 'CONTEXT_OVERFLOW', /100 tokens/);
      await expectCode(() => small.generate(long.slice(0, 64)), 'CONTEXT_OVERFLOW');
    } finally {
      await small.dispose();
    }
  });

  it('stops at the end of the context: a 60-token prompt in a 64-token context gets 4 tokens', async () => {
    const tiny = await loadModel(await tinyModel('tiny-llama'), { contextLength: 64 });
    try {
      const prompt = Array.from({ length: 60 }, (_, i) => 10 + i);
      const r = await tiny.generate(prompt, { maxTokens: 100, ignoreEos: true }).result;
      expect(r.finishReason).toBe('length');
      expect(r.usage.completionTokens).toBe(4);
    } finally {
      await tiny.dispose();
    }
  });

  it('rejects invalid token ids with INVALID_ARGUMENT', async () => {
    const vocab = main.info.vocabSize;
    for (const ids of [[-1], [vocab], [1, 2, vocab + 7], [1.5], [Number.NaN], ['7' as unknown as number]]) {
      await expectCode(() => main.generate(ids), 'INVALID_ARGUMENT');
    }
    await expectCode(() => main.generate(42 as unknown as string), 'INVALID_ARGUMENT');
    await mainStillWorks();
  });

  it('rejects options of the wrong type or range with INVALID_ARGUMENT', async () => {
    const bad: Record<string, unknown>[] = [
      { temperature: 'hot' },
      { temperature: -1 },
      { maxTokens: 0 },
      { maxTokens: '5' },
      { topP: 2 },
      { topK: -1 },
      { seed: -3 },
      { topLogprobs: 21, logprobs: true },
      { stop: 5 },
      { stop: ['ok', 7] },
      { logprobs: 'yes' },
      { logitBias: 5 },
      { logitBias: { abc: 10 } }, // would silently bias token 0
      { logitBias: { 5: Number.NaN } }, // would silently force token 5
      { logitBias: { 5: 'x' } },
      { repetitionContextSize: 'x', repetitionPenalty: 1.2 },
      { signal: 'soon' }, // used to start the request, then throw from an event callback
    ];
    for (const options of bad) {
      await expectCode(() => main.generate(FRANCE, options as never), 'INVALID_ARGUMENT');
    }
    await expectCode(() => main.generate(FRANCE, null as never), 'INVALID_ARGUMENT');
    // Nothing was started by the rejected calls; the model keeps working.
    await new Promise((r) => setTimeout(r, 200));
    expect(main.stats()).toEqual({ activeSequences: 0, queuedRequests: 0 });
    await mainStillWorks();
  });

  it('fails only the request whose logitBias names a token outside the vocabulary', async () => {
    const good = main.generate(FRANCE, { maxTokens: baseline.length });
    const bad = main.generate(FRANCE, { maxTokens: 3, logitBias: { [main.info.vocabSize + 5]: 10 } });
    await expectCode(bad.result, 'INVALID_ARGUMENT', /outside the vocabulary/);
    expect((await good.result).tokens).toEqual(baseline);
  });

  it('leaves the process and the first model unaffected', async () => {
    const r = await main.generate(FRANCE, { maxTokens: 6 }).result;
    expect(r.tokens.slice(0, baseline.length)).toEqual(baseline);
    expect(r.text.startsWith(' Paris')).toBe(true);
    const c = await main.counters();
    expect(c.activeSequences).toBe(0);
    expect(c.waitingRequests).toBe(0);
  });
});

/** Returns a safetensors file with tensor `name` replaced by a zero-filled one of `shape`. */
function rewriteSafetensors(file: Buffer, name: string, shape: number[]): Buffer {
  const headerLen = Number(file.readBigUInt64LE(0));
  const header = JSON.parse(file.subarray(8, 8 + headerLen).toString('utf8')) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const data = file.subarray(8 + headerLen);
  const itemSize: Record<string, number> = { U32: 4, F32: 4, F16: 2, BF16: 2 };
  const parts: Buffer[] = [];
  const out: Record<string, unknown> = {};
  let offset = 0;
  for (const [key, t] of Object.entries(header)) {
    if (key === '__metadata__') {
      out[key] = t;
      continue;
    }
    const bytes = key === name ? Buffer.alloc(shape.reduce((a, b) => a * b, itemSize[t.dtype])) : data.subarray(t.data_offsets[0], t.data_offsets[1]);
    out[key] = { dtype: t.dtype, shape: key === name ? shape : t.shape, data_offsets: [offset, offset + bytes.length] };
    parts.push(bytes);
    offset += bytes.length;
  }
  expect(Object.keys(out)).toContain(name);
  const json = Buffer.from(JSON.stringify(out));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...parts]);
}
