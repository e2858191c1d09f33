// A short soak in CI (npm run soak runs long ones): a real server on 127.0.0.1 takes a few
// hundred mixed requests and must lose none, answer each well-formed, stay up and return to its
// memory baseline; then a second server gets SIGTERM mid-run and must end every admitted request
// and exit 0 within its shutdown timeout.
import { describe, expect, it } from 'vitest';
import { soak } from '../scripts/soak/run.mjs';
import { FIXTURE } from './helpers/fixture.js';

const MINUTES = 60_000;

describe('soak', () => {
  it('loses nothing, answers well-formed, stays up and returns to its memory baseline', { timeout: 12 * MINUTES }, async () => {
    const report = await soak({ model: FIXTURE, requests: 240, concurrency: 6, warmup: 40, seed: 14 });
    console.log(`soak: ${JSON.stringify({ ...report, failures: undefined })}`);
    expect(report.failures).toEqual([]);
    // The mix really ran: admitted work, cancellations, rejections and over-queue answers.
    expect(report.completed).toBeGreaterThan(50);
    expect(report.cancelled).toBeGreaterThan(0);
    expect(report.status[400]).toBeGreaterThan(0);
    expect(report.status[429]).toBeGreaterThan(0);
    expect(report.server.admitted).toBe(report.server.completed + report.server.errored + report.server.cancelled);
    expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50);
  });

  it('on SIGTERM mid-run ends every admitted request and exits 0 in time', { timeout: 12 * MINUTES }, async () => {
    const report = await soak({ model: FIXTURE, requests: 100, concurrency: 6, warmup: 10, seed: 15, sigterm: true, shutdownTimeoutS: 3 });
    expect(report.failures).toEqual([]);
    expect(report.shutdown.code).toBe(0);
    expect(report.shutdown.ms).toBeLessThan(report.shutdown.limitMs);
    expect(report.loggedAdmitted).toBe(report.admittedByClient);
  });
});
