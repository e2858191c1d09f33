// The engine's own CUDA kernels, by their native test binaries:
// - native/tools/qmv_test.cpp: the decode matmul (native/engine/cuda/qmv_kernel.cpp) against
//   MLX's quantized_matmul and a float32 reference, every format it takes × 1 to 64 rows, and its
//   fused variants against the MLX operations they replace;
// - native/tools/fused_test.cpp: the fused layer kernels (native/engine/cuda/fused.cpp) against
//   the MLX operations they replace.
// The kernels need MLX's CUDA backend; on any other backend the checks are listed as todos with
// the reason, and each binary is still asked to refuse bad input cleanly.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function tool(name: string) {
  const binary = [`build/${name}`, `build/Release/${name}`].map((p) => join(root, p)).find(existsSync);
  const runSync = (...args: string[]) => {
    const r = spawnSync(binary!, args, { encoding: 'utf8', timeout: 600_000 });
    return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
  };
  const run = (...args: string[]): Promise<{ status: number | null; out: string }> =>
    new Promise((resolve) => {
      const child = spawn(binary!, args);
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (status) => resolve({ status, out }));
    });
  const backend = binary ? runSync('backend').out.trim().split('\n')[0] : 'unknown';
  return { binary, runSync, run, backend };
}

// Passed and failed counts of a run's "N passed, N failed" line; the run must have exited 0.
function summary({ status, out }: { status: number | null; out: string }) {
  expect(status, out).toBe(0);
  const m = out.match(/^(\d+) passed, (\d+) failed$/m);
  expect(m, out).not.toBeNull();
  return { passed: Number(m![1]), failed: Number(m![2]) };
}

function builtAndRefuses(t: ReturnType<typeof tool>, name: string, refusals: number) {
  it('is built with the native tools and names its backend', () => {
    expect(t.binary, `build/${name} is missing: \`node scripts/install.mjs --force\` builds native/tools`).toBeDefined();
    expect(['cpu', 'cuda', 'metal', 'gpu']).toContain(t.backend);
  });

  it('refuses shapes and formats it does not take, with an error and nothing run', () => {
    expect(summary(t.runSync('refuse'))).toEqual({ passed: refusals, failed: 0 });
  });
}

function notRunOffCuda(t: ReturnType<typeof tool>, what: string, message: string) {
  it.todo(`${what}: not run, the backend is ${t.backend} (needs CUDA)`);
  it('refuses to run the check off CUDA, saying why', () => {
    const { status, out } = t.runSync('check');
    expect(status, out).toBe(0);
    expect(out).toContain(`not run: ${message}; this is ${t.backend}`);
  });
}

describe('CUDA decode kernel (native/tools/qmv_test)', () => {
  const qmv = tool('qmv_test');
  builtAndRefuses(qmv, 'qmv_test', 12);

  if (qmv.backend === 'cuda') {
    // One process per bit width side by side: on a machine where MLX has not cached its own
    // quantized kernels yet, compiling them for every format is most of the time.
    it('matches quantized_matmul and the float32 reference for every format and row count', async () => {
      const runs = await Promise.all([2, 3, 4, 5, 6, 8].map((bits) => qmv.run('check', '--bits', String(bits))));
      let passed = 0;
      for (const run of runs) {
        const s = summary(run);
        expect(s.failed, run.out).toBe(0);
        passed += s.passed;
      }
      expect(passed).toBeGreaterThanOrEqual(250);
      const all = runs.map((r) => r.out).join('\n');
      for (const bits of [4, 5, 6, 8]) {
        for (const group of [32, 64, 128]) expect(all).toContain(`ok ${bits}-bit g${group} bfloat16 rows 64 `);
      }
      // Inputs of one group (K <= group size), where the engine relies on the kernel (device.h).
      expect(all).toContain('ok 4-bit g64 float32 rows 64 K 64 N 128 ');
      expect(all).toContain('ok 8-bit g64 bfloat16 rows 64 K 64 N 96 ');
      // A row has the same bits at 1 to 8 rows a call (every tile height): a sequence decodes the
      // same alone or batched.
      for (const format of ['4-bit g64 bfloat16 K 4096', '8-bit g32 float16 K 1024', '5-bit g64 bfloat16 K 1024']) {
        expect(all).toContain(`ok same bits for a row at 1 to 8 rows: ${format}`);
      }
      // The fused variants: norm before, residual or swiglu after, in each dtype.
      for (const what of ['norm', 'residual', 'swiglu', 'norm swiglu', 'norm residual']) {
        for (const format of ['4-bit g64 bfloat16', '8-bit g32 float16', '4-bit g64 float32']) {
          expect(all).toContain(`ok fused ${what} ${format} rows 2 `);
        }
      }
    }, 1_500_000);
  } else {
    notRunOffCuda(qmv, 'kernel exactness vs quantized_matmul', "the kernel needs MLX's CUDA backend");
  }
});

describe('CUDA fused layer kernels (native/tools/fused_test)', () => {
  const fused = tool('fused_test');
  builtAndRefuses(fused, 'fused_test', 7);

  if (fused.backend === 'cuda') {
    it('compute what the MLX operations they replace compute, for every head shape, rope and dtype', async () => {
      const run = await fused.run('check');
      const s = summary(run);
      expect(s.failed, run.out).toBe(0);
      expect(s.passed).toBeGreaterThanOrEqual(250);
      for (const dtype of ['bfloat16', 'float16', 'float32']) {
        expect(run.out).toContain(`ok split_heads_rope ${dtype} H32 KV8 D128 freqs qk-norm B2 L3 per-row offsets`);
        expect(run.out).toContain(`ok swiglu_halves ${dtype} I14336 rows 64`);
      }
    }, 1_500_000);
  } else {
    notRunOffCuda(fused, 'fused kernels vs the MLX operations they replace', "the kernels need MLX's CUDA backend");
  }
});
