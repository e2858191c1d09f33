// The CUDA decode kernel (native/engine/cuda/qmv_kernel.cpp) against MLX's quantized_matmul and
// a float32 reference, by native/tools/qmv_test.cpp: every format it takes × 1 to 64 rows. The
// kernel needs MLX's CUDA backend; on any other backend the check is listed as a todo with the
// reason, and the binary itself is still asked to refuse cleanly.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const binary = ['build/qmv_test', 'build/Release/qmv_test'].map((p) => join(root, p)).find(existsSync);

function qmvTest(...args: string[]) {
  const r = spawnSync(binary!, args, { encoding: 'utf8', timeout: 600_000 });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}

function qmvTestAsync(...args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(binary!, args);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (status) => resolve({ status, out }));
  });
}

const backend = binary ? qmvTest('backend').out.trim().split('\n')[0] : 'unknown';

describe('CUDA decode kernel (native test binary)', () => {
  it('is built with the native tools and names its backend', () => {
    expect(binary, 'build/qmv_test is missing: `node scripts/install.mjs --force` builds native/tools').toBeDefined();
    expect(['cpu', 'cuda', 'metal', 'gpu']).toContain(backend);
  });

  it('refuses shapes and formats it does not take, with an error and nothing run', () => {
    const { status, out } = qmvTest('refuse');
    expect(status, out).toBe(0);
    expect(out).toMatch(/^7 passed, 0 failed$/m);
  });

  if (backend === 'cuda') {
    // One process per bit width side by side: on a machine where MLX has not cached its own
    // quantized kernels yet, compiling them for every format is most of the time.
    it('matches quantized_matmul and the float32 reference for every format and row count', async () => {
      const widths = [2, 3, 4, 5, 6, 8];
      const runs = await Promise.all(widths.map((bits) => qmvTestAsync('check', '--bits', String(bits))));
      let passed = 0;
      for (const { status, out } of runs) {
        expect(status, out).toBe(0);
        const summary = out.match(/^(\d+) passed, (\d+) failed$/m);
        expect(summary, out).not.toBeNull();
        expect(Number(summary![2]), out).toBe(0);
        passed += Number(summary![1]);
      }
      expect(passed).toBeGreaterThanOrEqual(250);
      const all = runs.map((r) => r.out).join('\n');
      for (const bits of [4, 5, 6, 8]) {
        for (const group of [32, 64, 128]) expect(all).toContain(`ok ${bits}-bit g${group} bfloat16 rows 64 `);
      }
    }, 1_500_000);
  } else {
    it.todo(`kernel exactness vs quantized_matmul: not run, the backend is ${backend} (needs CUDA)`);
    it('refuses to run the check off CUDA, saying why', () => {
      const { status, out } = qmvTest('check');
      expect(status, out).toBe(0);
      expect(out).toContain(`not run: the kernel needs MLX's CUDA backend; this is ${backend}`);
    });
  }
});
