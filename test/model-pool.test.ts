// The server's model pool in-process, with the real engine as its loader and the real fixture
// models: requests for a loading model wait for that one load, pinned models are never
// unloaded (so a model that only fits without them is a 507 naming them), busy models are not
// unloaded for room, and idle TTLs spare pinned models.
import { afterEach, describe, expect, it } from 'vitest';
import { createEngine, type Engine } from '../src/index.js';
import { ModelPool } from '../src/server/model-pool.js';
import { modelConfig, type ModelConfig } from '../src/server/models-config.js';
import { FIXTURE } from './helpers/fixture.js';
import { ensureFixtureF32 } from './helpers/models.js';

// About 150 MB each (weights and a 32 MiB KV budget): one fits 220 MB, two do not.
const BUDGET = 220e6;
const small = { kvBudgetBytes: 32 * 2 ** 20, prefixCacheBytes: 0 };

let engine: Engine | undefined;
let pool: ModelPool | undefined;
afterEach(async () => {
  await pool?.close();
  await engine?.dispose();
  pool = undefined;
  engine = undefined;
});

function makePool(models: ModelConfig[], options: { roomWaitMs?: number; budgetBytes?: number } = {}) {
  engine = createEngine();
  const events: string[] = [];
  pool = new ModelPool(models, {
    loader: engine,
    budgetBytes: BUDGET,
    leaseMs: 50,
    ...options,
    hooks: {
      loaded: (name) => events.push(`loaded ${name}`),
      unloaded: (name, reason) => events.push(`unloaded ${name} ${reason}`),
    },
  });
  return { pool, events };
}

describe('model pool', () => {
  it('makes concurrent requests for an unloaded model wait for one load', async () => {
    const { pool, events } = makePool([modelConfig({ name: 'g', path: FIXTURE, ...small })]);
    const first = pool.acquire('g');
    expect(pool.status('g').state).toBe('loading');
    const [a, b] = await Promise.all([first, pool.acquire('g'), pool.acquire(undefined)]);
    expect(a.model).toBe(b.model);
    expect(a.name).toBe('g');
    expect(events).toEqual(['loaded g']);
    expect(pool.status('g')).toMatchObject({ state: 'loaded', format: 'gguf', contextLength: 8192 });
    await expect(pool.acquire('other')).rejects.toMatchObject({ code: 'MODEL_NOT_FOUND', param: 'model' });
  });

  it('never unloads a pinned model: one that fits only without it is a 507 naming both sizes', async () => {
    const { pool, events } = makePool([
      modelConfig({ name: 'p', path: FIXTURE, pinned: true, ...small }),
      modelConfig({ name: 'm', path: await ensureFixtureF32(), ...small }),
    ]);
    await pool.load('p');
    const err = await pool.acquire('m').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INSUFFICIENT_MEMORY' });
    expect((err as Error).message).toMatch(/'m' needs about 1\d\d\.\d MiB .* budget is 209\.8 MiB and pinned models hold 1\d\d\.\d MiB of it/);
    expect(pool.list().map((s) => s.state)).toEqual(['loaded', 'unloaded']);
    expect(events).toEqual(['loaded p']);
  });

  it('does not unload a model with a running generation for room; the load waits, then gets 503', async () => {
    const { pool, events } = makePool(
      [modelConfig({ name: 'g', path: FIXTURE, ...small }), modelConfig({ name: 'm', path: await ensureFixtureF32(), ...small })],
      { roomWaitMs: 1500 },
    );
    const { model } = await pool.acquire('g');
    const running = model.generate('Once upon a time', { maxTokens: 500, ignoreEos: true });
    await running[Symbol.asyncIterator]().next();
    const err = await pool.acquire('m').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'UNAVAILABLE', reason: 'no_memory_room' });
    expect((err as Error).message).toMatch(/No room to load 'm'/);
    expect(pool.status('m').state).toBe('unloaded');
    running.abort();
    expect((await running.result).finishReason).toBe('abort');
    await new Promise((r) => setTimeout(r, 100)); // the lease of the first request ends
    await pool.acquire('m');
    expect(events).toEqual(['loaded g', 'unloaded g lru', 'loaded m']);
  });

  it('unloads idle models after their TTL but never pinned ones', async () => {
    const { pool, events } = makePool(
      [
        modelConfig({ name: 'p', path: FIXTURE, pinned: true, idleTtlMs: 200, ...small }),
        modelConfig({ name: 't', path: FIXTURE, idleTtlMs: 200, ...small }),
      ],
      { budgetBytes: 1e9 },
    );
    await pool.load('p');
    await pool.acquire('t');
    await new Promise((r) => setTimeout(r, 1500));
    expect(pool.list().map((s) => [s.name, s.state])).toEqual([
      ['p', 'loaded'],
      ['t', 'unloaded'],
    ]);
    expect(events).toContain('unloaded t idle');
  });
});
