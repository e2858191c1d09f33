// Engine threads and MLX streams: loading and disposing models leaves nothing running behind.
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadModel } from '../src/index.js';
import { FIXTURE } from './helpers/fixture.js';

/** Threads of this process. */
function threadCount(): number {
  try {
    return readdirSync('/proc/self/task').length;
  } catch {
    // macOS: one header line, then one line per thread.
    return execFileSync('ps', ['-M', '-p', String(process.pid)], { encoding: 'utf8' }).trim().split('\n').length - 1;
  }
}

async function loadAndDispose(): Promise<void> {
  const model = await loadModel(FIXTURE, { onWarning: () => undefined });
  await model.generate('Hi', { maxTokens: 2 }).result;
  await model.dispose();
  await new Promise((resolve) => setTimeout(resolve, 300));
}

describe('engine threads', () => {
  // MLX keeps a worker thread per stream for the life of the process, so each engine thread
  // used to leave its default stream's thread and its CPU matmul streams' threads behind (2 per
  // load on a 2-core machine). Engines now borrow streams from a process-wide pool (device.h).
  it('loading and disposing a model leaves no thread behind', async () => {
    await loadAndDispose(); // process-wide pools start here
    const before = threadCount();
    await loadAndDispose();
    await loadAndDispose();
    expect(threadCount()).toBe(before);
  });
});
