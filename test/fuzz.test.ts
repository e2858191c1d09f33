// A bounded fuzz run in CI (npm run fuzz runs long ones): damaged fixtures load with a clear
// error or load and run; mutated request bodies get documented answers; nothing crashes, hangs
// or leaks a thread beyond what a clean load leaves (engine-threads.test.ts checks that a clean load leaves none).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fuzzRequests } from '../scripts/fuzz/requests.mjs';
import { fuzzFiles } from '../scripts/fuzz/run.mjs';
import { FIXTURE } from './helpers/fixture.js';
import { ensureFixtureF32 } from './helpers/models.js';

const MINUTES = 60_000;
const work = await mkdtemp(join(tmpdir(), 'mlx-native-fuzz-test-'));
afterAll(() => rm(work, { recursive: true, force: true }));

describe('fuzz', () => {
  it('damaged model files: a clear error or a working model, never a crash, hang or leak', { timeout: 10 * MINUTES }, async () => {
    const report = await fuzzFiles({ gguf: FIXTURE, mlxDir: await ensureFixtureF32(), iterations: 30, seconds: 240, seed: 14, workDir: work, caseTimeoutMs: 90_000 });
    expect(report.findings).toEqual([]);
    expect(report.cases).toBeGreaterThanOrEqual(12);
    expect(report.clearError).toBeGreaterThan(0);
  });

  it('mutated request bodies: documented statuses in OpenAI shape, the server stays up', { timeout: 10 * MINUTES }, async () => {
    const report = await fuzzRequests({ model: FIXTURE, count: 150, seed: 14 });
    expect(report.findings).toEqual([]);
    expect(report.requests).toBe(150);
  });
});
