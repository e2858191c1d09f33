// Reproducers of known bugs in native code that are not fixed yet. Each is `it.fails`: it
// passes while the bug is there and fails once it is fixed — then make it a plain `it`.
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

describe('KNOWN NATIVE BUG: threads outlive their model', () => {
  // Each load makes MLX streams on the engine thread (its default CPU stream, and the extra ones
  // of Model::shard_matmuls via mx::new_stream). MLX's scheduler keeps one thread per stream
  // until mx::clear_streams() runs on the thread that made them, and the engine thread exits
  // without calling it: every load leaves those threads behind (2 on a 2-core machine).
  it.fails('loading and disposing a model leaves no thread behind', async () => {
    await loadAndDispose(); // process-wide pools start here
    const before = threadCount();
    await loadAndDispose();
    await loadAndDispose();
    expect(threadCount()).toBe(before);
  });
});
