// The foundation: the addon drives real MLX on its own thread, errors arrive as JS errors with
// codes at the caller's stack, and the engine thread never blocks or crashes the process.
import { spawnSync } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MlxNativeError, Runtime } from '../src/index.js';
import { MLX_VERSION } from '../scripts/mlx-version.mjs';
import { Diagnostics } from './helpers/diagnostics.js';

const rt = new Runtime();
const diag = new Diagnostics();
afterAll(() => {
  rt.dispose();
  diag.dispose();
});

/** Deterministic pseudo-random numbers (LCG), independent of MLX. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('runtime', () => {
  it('reports the MLX backend and the pinned version', async () => {
    const info = await rt.deviceInfo();
    expect(info.mlxVersion).toBe(MLX_VERSION);
    expect(['cpu', 'cuda', 'metal']).toContain(info.backend);
    // Linux builds are CPU ones unless installed with MLX_BACKEND=cuda12|cuda13.
    if (process.platform === 'linux') expect(info.backend).toBe(process.env.MLX_BACKEND?.startsWith('cuda') ? 'cuda' : 'cpu');
  });

  it('computes a 4-bit quantized matmul that matches a JS reference', async () => {
    const m = 3, n = 40, k = 128, groupSize = 64, bits = 4;
    const rand = lcg(7);
    const x = Float32Array.from({ length: m * k }, () => rand() * 2 - 1);
    // Weights on each group's exact 4-bit grid (±q·scale with q in 0..15, 0 and 15 present,
    // a power-of-two scale), so affine quantization is lossless and the product is checkable
    // in plain JS.
    const w = new Float32Array(n * k);
    for (let row = 0; row < n; row++) {
      for (let g = 0; g < k / groupSize; g++) {
        const sign = rand() < 0.5 ? -1 : 1, scale = 2 ** -(2 + Math.floor(rand() * 4));
        for (let i = 0; i < groupSize; i++) {
          const q = i === 0 ? 0 : i === 1 ? 15 : Math.floor(rand() * 16);
          w[row * k + g * groupSize + i] = sign * q * scale;
        }
      }
    }
    const res = await diag.quantizedMatmul({ m, n, k, x, w, bits, groupSize });
    expect(res.y).toBeInstanceOf(Float32Array);
    expect(res.y.length).toBe(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let ref = 0;
        for (let t = 0; t < k; t++) ref += x[i * k + t] * w[j * k + t];
        expect(res.y[i * n + j]).toBeCloseTo(ref, 3);
      }
    }
  });

  it('keeps the event loop responsive during a long native computation', async () => {
    // About 400 ms of work whatever the device: 30 rounds take ~700 ms on the CI CPU, ~3 ms on an
    // H200. Timed after a first call, which compiles the GPU kernels.
    await diag.busy(384, 1);
    const probe = performance.now();
    await diag.busy(384, 20);
    const rounds = Math.min(100_000, Math.max(30, Math.ceil((400 * 20) / (performance.now() - probe))));
    const h = monitorEventLoopDelay({ resolution: 5 });
    h.enable();
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = performance.now();
    await diag.busy(384, rounds);
    const elapsed = performance.now() - started;
    clearInterval(timer);
    h.disable();
    expect(elapsed).toBeGreaterThan(200); // the computation was long enough to matter
    expect(ticks).toBeGreaterThan(elapsed / 10 / 3);
    expect(h.max / 1e6).toBeLessThan(100);
  });

  it('turns MLX exceptions into MlxNativeError with a code at the caller stack', async () => {
    const x = new Float32Array(64), w = new Float32Array(128);
    const err = await diag.quantizedMatmul({ m: 1, n: 2, k: 64, x, w, groupSize: 7 }).catch((e) => e);
    expect(err).toBeInstanceOf(MlxNativeError);
    expect(err.code).toBe('MLX_ERROR');
    expect(err.message).toMatch(/\[quantize\]/);
    expect(err.stack).toContain('runtime.test.ts');
  });

  it('rejects bad arguments synchronously with INVALID_ARGUMENT', async () => {
    const bad = { m: 1, n: 1, k: 64, x: [1, 2] as unknown as Float32Array, w: new Float32Array(64) };
    await expect(diag.quantizedMatmul(bad)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const wrongSize = { m: 2, n: 1, k: 64, x: new Float32Array(64), w: new Float32Array(64) };
    await expect(diag.quantizedMatmul(wrongSize)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('fails pending work with DISPOSED when disposed mid-computation', async () => {
    const other = new Diagnostics();
    const busy = other.busy(512, 200);
    const queued = other.busy(8, 1);
    await new Promise((r) => setTimeout(r, 20));
    other.dispose();
    await expect(busy).rejects.toMatchObject({ code: 'DISPOSED' });
    await expect(queued).rejects.toMatchObject({ code: 'DISPOSED' });
    await expect(other.busy(8, 1)).rejects.toMatchObject({ code: 'DISPOSED' });
    const runtime = new Runtime();
    runtime.dispose();
    await expect(runtime.deviceInfo()).rejects.toMatchObject({ code: 'DISPOSED' });
  });

  it('supports await using', async () => {
    let version = '';
    {
      await using scoped = new Runtime();
      version = (await scoped.deviceInfo()).mlxVersion;
    }
    expect(version).toBe(MLX_VERSION);
  });
});

describe('process lifecycle', () => {
  const child = fileURLToPath(new URL('./fixtures/child.mjs', import.meta.url));
  const run = (scenario: string, flags: string[] = []) =>
    spawnSync(process.execPath, [...flags, child, scenario], { encoding: 'utf8', timeout: 60_000 });

  it.each([
    ['exit-idle', []],
    ['exit-busy', []],
    ['gc-busy', ['--expose-gc']],
    ['worker', []],
  ])('%s exits cleanly', (scenario, flags) => {
    const r = run(scenario, flags as string[]);
    expect(r.signal, r.stderr).toBeNull();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ok/);
    if (scenario === 'gc-busy') expect(r.stderr).toContain('collected raw');
  });
});
