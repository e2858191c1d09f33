// mlx-native's own GGUF reader (native/engine/gguf_file.cpp, gguf_quants.cpp) against llama.cpp's
// Python reader (`gguf.quants.dequantize`, project venv): build/gguf_dump writes the values the
// engine computes with, scripts/gguf-check.py dequantizes the same rows with the `gguf` package.
// Exact mappings must give equal values; requantized types (sub-blocks of 16) must decode
// exactly before requantization and stay within the measured error. Covered: every tensor type
// of the real Gemma 3 Q4_K_M file, and a generated file with every type mlx-native reads
// (MXFP4, gpt-oss's expert type, included).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGgufMetadata } from '../src/engine/gguf.js';
import { ensureGemmaFixture } from '../scripts/fetch-fixtures.mjs';
import { ROOT, requireVenv } from './helpers/models.js';

const DUMP = ['build/gguf_dump', 'build/Release/gguf_dump'].map((p) => join(ROOT, p)).find(existsSync);
const EXACT = ['F32', 'F16', 'BF16', 'Q4_0', 'Q4_1', 'Q5_0', 'Q5_1', 'Q8_0', 'Q4_K', 'Q5_K', 'MXFP4'];
// Requantization error relative to each tensor's largest magnitude (max over its elements / RMS
// over the tensor). Measured: Q6_K → 8-bit 0.0038 / 0.0050 on the Gemma file, 0.0071 / 0.0043 on
// random blocks; Q2_K → 4-bit 0.031 / 0.036 and Q3_K → 4-bit 0.075 / 0.073 on random blocks
// (random sub-block scales are the worst case for a group of 32 spanning two of them).
const REQUANT_TOLERANCE: Record<string, number> = { Q6_K: 0.01, Q2_K: 0.05, Q3_K: 0.1 };

interface TypeResult {
  type: string;
  tensors: number;
  exact: boolean;
  bits_differ_only_at_zero: boolean;
  decoded_exact?: boolean;
  max_error?: number;
  rms_error?: number;
}

let tmp: string;

function dump(gguf: string, out: string): { status: number | null; lines: Record<string, unknown>[] } {
  expect(DUMP, 'build/gguf_dump is missing: `node scripts/install.mjs --force` builds native/tools').toBeDefined();
  const run = spawnSync(DUMP!, [gguf, out, '--per-type', '3', '--rows', '64'], { encoding: 'utf8' });
  return { status: run.status, lines: run.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) };
}

function python(args: string[]): string {
  const run = spawnSync(requireVenv(), [join(ROOT, 'scripts', 'gguf-check.py'), ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  expect(run.status, run.stderr).toBe(0);
  return run.stdout;
}

function compare(gguf: string): TypeResult[] {
  const out = join(tmp, 'dump.safetensors');
  expect(dump(gguf, out).status).toBe(0);
  return python(['compare', gguf, out]).trim().split('\n').map((l) => JSON.parse(l) as TypeResult);
}

function checkTypes(results: TypeResult[]): void {
  for (const r of results) {
    expect(r.tensors, r.type).toBeGreaterThan(0);
    if (EXACT.includes(r.type)) {
      expect(r.exact, `${r.type} values equal gguf.quants.dequantize`).toBe(true);
      expect(r.bits_differ_only_at_zero, r.type).toBe(true);
    } else {
      expect(r.decoded_exact, `${r.type} decoded exactly before requantization`).toBe(true);
      expect(r.max_error!, `${r.type} requantization error`).toBeLessThanOrEqual(REQUANT_TOLERANCE[r.type]);
      expect(r.rms_error!, `${r.type} requantization error`).toBeLessThanOrEqual(REQUANT_TOLERANCE[r.type]);
      expect(r.exact).toBe(false);
    }
  }
}

/** Offset of the tensor-info entry of tensor `name` (at its name length). */
function tensorInfo(file: Buffer, name: string): { dims: number; type: number; offset: number } {
  const key = Buffer.from(name);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(key.length));
  const at = file.indexOf(Buffer.concat([len, key]));
  expect(at).toBeGreaterThan(0);
  const nDims = at + 8 + key.length;
  const type = nDims + 4 + 8 * file.readUInt32LE(nDims);
  return { dims: nDims + 4, type, offset: type + 4 };
}

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'mlx-native-gguf-reader-'));
}, 60_000);

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('GGUF tensors read by mlx-native vs the gguf package', () => {
  it('reads every tensor type of the Gemma 3 Q4_K_M file as llama.cpp does', async () => {
    const gguf = await ensureGemmaFixture({ quiet: true });
    const results = compare(gguf);
    const meta = await readGgufMetadata(gguf);
    expect(results.map((r) => r.type).sort()).toEqual([...new Set(meta.tensors.map((t) => t.typeName))].sort());
    checkTypes(results);
    // Per-type counts and what each becomes, from the native reader, match the TypeScript reader.
    const { lines } = dump(gguf, join(tmp, 'again.safetensors'));
    for (const line of lines) {
      expect(line.count).toBe(meta.tensors.filter((t) => t.typeName === line.type).length);
    }
    expect(Object.fromEntries(lines.map((l) => [l.type, l.becomes]))).toMatchObject({ Q4_K: '4-bit g32', Q5_0: '5-bit g32', Q8_0: '8-bit g32', Q6_K: '8-bit g32 (requantized)' });
  }, 600_000);

  it('reads F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and MXFP4 blocks', () => {
    const gguf = join(tmp, 'synth.gguf');
    python(['synth', gguf]);
    const results = compare(gguf);
    expect(results.map((r) => r.type).sort()).toEqual([...EXACT, 'Q2_K', 'Q3_K', 'Q6_K'].sort());
    checkTypes(results);
  }, 600_000);
});

describe("mlx-native's GGUF reader refuses damaged files, naming the tensor", () => {
  let synth: Buffer;
  const refused = async (name: string, bytes: Buffer): Promise<{ error: string; message: string }> => {
    const file = join(tmp, name);
    await writeFile(file, bytes);
    const { status, lines } = dump(file, join(tmp, `${name}.safetensors`));
    expect(status).toBe(2);
    return lines[0] as { error: string; message: string };
  };

  beforeAll(async () => {
    const file = join(tmp, 'synth-src.gguf');
    python(['synth', file]);
    synth = await readFile(file);
  }, 120_000);

  it('an unknown or unsupported tensor type', async () => {
    const bad = Buffer.from(synth);
    bad.writeUInt32LE(16, tensorInfo(synth, 'q4_k.weight').type); // IQ2_XXS
    expect(await refused('iq2.gguf', bad)).toMatchObject({ error: 'UNSUPPORTED_QUANTIZATION', message: expect.stringMatching(/q4_k\.weight.*IQ2_XXS/) });
    bad.writeUInt32LE(77, tensorInfo(synth, 'q4_k.weight').type);
    expect(await refused('type77.gguf', bad)).toMatchObject({ error: 'UNSUPPORTED_QUANTIZATION', message: expect.stringMatching(/q4_k\.weight.*type 77/) });
  });

  it('tensor data cut off, or an offset past the end of the file', async () => {
    expect(await refused('cut.gguf', synth.subarray(0, synth.length - 100))).toMatchObject({ error: 'INVALID_MODEL', message: expect.stringMatching(/\.weight.*truncated/) });
    const bad = Buffer.from(synth);
    bad.writeBigUInt64LE(1n << 40n, tensorInfo(synth, 'q8_0.weight').offset);
    expect(await refused('offset.gguf', bad)).toMatchObject({ error: 'INVALID_MODEL', message: expect.stringMatching(/q8_0\.weight/) });
  });

  it('a shape that contradicts its type (rows not a whole number of blocks) or is impossible', async () => {
    const bad = Buffer.from(synth);
    const { dims } = tensorInfo(synth, 'q5_k.weight');
    bad.writeBigUInt64LE(500n, dims);
    expect(await refused('rows.gguf', bad)).toMatchObject({ error: 'INVALID_MODEL', message: expect.stringMatching(/q5_k\.weight.*blocks of 256/) });
    bad.writeBigUInt64LE(0n, dims);
    expect(await refused('zero.gguf', bad)).toMatchObject({ error: 'INVALID_MODEL', message: expect.stringMatching(/q5_k\.weight/) });
  });

  it('a file cut off in its header', async () => {
    expect(await refused('head.gguf', synth.subarray(0, 40))).toMatchObject({ error: 'INVALID_MODEL' });
  });
});
