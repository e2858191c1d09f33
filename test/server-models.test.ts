// Several models in one server process: a GGUF file and the MLX directory converted from it,
// routed by `model` (names and aliases) and answering at the same time; loads on first
// request, idle unloading and reloading, admin load/unload, a corrupt model failing alone, a
// model that can never fit (507), unknown models (404), and LRU eviction under a small budget.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE } from './helpers/fixture.js';
import { ensureFixtureF32 } from './helpers/models.js';
import { assertSchema } from './helpers/server-schemas.js';
import { eventually, metricValue, openStream, request, startServer, type ServerProcess } from './helpers/server.js';

const KEY = 'sk-models-test';
const AUTH = { authorization: `Bearer ${KEY}` };
const MESSAGES = [{ role: 'user' as const, content: 'Name a color.' }];

interface ListedModel {
  id: string;
  state: string;
  format: string | null;
  context_length: number | null;
  aliases: string[];
  capabilities: { tools: boolean; reasoning: boolean; vision: boolean };
  error?: string;
}

async function models(base: string): Promise<Record<string, ListedModel>> {
  const res = await request(base, 'GET', '/v1/models', { headers: AUTH });
  expect(res.status).toBe(200);
  assertSchema('ListModelsResponse', res.json());
  return Object.fromEntries((res.json() as { data: ListedModel[] }).data.map((m) => [m.id, m]));
}

async function metrics(base: string): Promise<string> {
  return (await request(base, 'GET', '/metrics')).text;
}

/** A greedy chat answer from `model` through the official client. */
async function answer(client: OpenAI, model: string, maxTokens = 8): Promise<string> {
  const res = await client.chat.completions.create({ model, messages: MESSAGES, max_tokens: maxTokens, temperature: 0 });
  expect(res.model).toBe(model);
  return res.choices[0].message.content ?? '';
}

/** A streamed greedy chat answer, with when each content chunk arrived. */
async function streamed(client: OpenAI, model: string, maxTokens: number) {
  const stream = await client.chat.completions.create({ model, messages: MESSAGES, max_tokens: maxTokens, temperature: 0, stream: true });
  let text = '';
  const times: number[] = [];
  let finish: string | null = null;
  for await (const chunk of stream) {
    const delta = chunk.choices[0]?.delta.content;
    if (delta) {
      text += delta;
      times.push(performance.now());
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  return { text, times, finish };
}

/** A stream that ended on its own (not aborted), with its [DONE]. */
async function expectCompleted(stream: ReturnType<typeof openStream>): Promise<void> {
  const events = await stream.done();
  expect(events.at(-1)!.data).toBe('[DONE]');
  expect(['stop', 'length']).toContain(JSON.parse(events.at(-2)!.data).choices[0].finish_reason);
}

describe('a GGUF model and an MLX directory in one server', () => {
  let server: ServerProcess;
  let client: OpenAI;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlx-native-models-'));
    const broken = join(dir, 'broken.gguf');
    await writeFile(broken, Buffer.alloc(4096, 'not a gguf file '));
    const file = join(dir, 'models.yaml');
    await writeFile(
      file,
      [
        'models:',
        '  - name: mlx',
        `    path: ${await ensureFixtureF32()}`,
        '    aliases: [smol-mlx]',
        '    kv_budget: 64MiB',
        '    idle_ttl: 3',
        '  - name: broken',
        '    path: broken.gguf',
        '  - name: huge',
        `    path: ${FIXTURE}`,
        '    kv_budget: 1TiB',
      ].join('\n'),
    );
    server = await startServer(['--served-model-name', 'gguf', '--models-file', file, '--memory-budget', '4GiB', '--api-key', KEY]);
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
  });

  it('lists every configured model with its state, format, context length and capabilities', async () => {
    const listed = await models(server.url);
    expect(Object.keys(listed)).toEqual(['gguf', 'mlx', 'broken', 'huge']);
    expect(listed.gguf).toMatchObject({ state: 'loaded', format: 'gguf', context_length: 8192 });
    // Models of the file load on first request; their format and context come from their files.
    expect(listed.mlx).toMatchObject({ state: 'unloaded', format: 'mlx', context_length: 8192, aliases: ['smol-mlx'] });
    expect(listed.mlx.capabilities).toEqual({ tools: true, reasoning: true, vision: false });
    const one = await request(server.url, 'GET', '/v1/models/smol-mlx', { headers: AUTH });
    expect(one.json()).toMatchObject({ id: 'mlx', state: 'unloaded' });
    const health = (await request(server.url, 'GET', '/health')).json() as { models: { id: string; state: string }[] };
    expect(health.models.map((m) => [m.id, m.state])).toEqual([
      ['gguf', 'loaded'],
      ['mlx', 'unloaded'],
      ['broken', 'unloaded'],
      ['huge', 'unloaded'],
    ]);
  });

  it('answers both models concurrently, each as it answers alone', async () => {
    // Alone first: the MLX model loads on this request (the alias routes to it).
    const ggufAlone = await answer(client, 'gguf', 24);
    const mlxAlone = (await client.chat.completions.create({ model: 'smol-mlx', messages: MESSAGES, max_tokens: 24, temperature: 0 }))
      .choices[0].message.content;
    expect(ggufAlone.length).toBeGreaterThan(0);
    expect(mlxAlone!.length).toBeGreaterThan(0);
    const [a, b] = await Promise.all([streamed(client, 'gguf', 24), streamed(client, 'mlx', 24)]);
    expect(a.text).toBe(ggufAlone);
    expect(b.text).toBe(mlxAlone);
    for (const finish of [a.finish, b.finish]) expect(['stop', 'length']).toContain(finish);
    // Each generated while the other did: their token streams overlap in time.
    expect(a.times[0]).toBeLessThan(b.times.at(-1)!);
    expect(b.times[0]).toBeLessThan(a.times.at(-1)!);
    const text = await metrics(server.url);
    expect(metricValue(text, 'mlx_native_model_requests_total{model="mlx"}')).toBeGreaterThanOrEqual(2);
    expect(metricValue(text, 'mlx_native_model_state{model="mlx",state="loaded"}')).toBe(1);
  });

  it('answers 404 naming `model` for a model it does not serve', async () => {
    const err = await client.chat.completions.create({ model: 'gpt-4o', messages: MESSAGES, max_tokens: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).param).toBe('model');
    const res = await request(server.url, 'POST', '/v1/completions', { headers: AUTH, body: { model: 'nope', prompt: 'Hi', max_tokens: 2 } });
    expect(res.status).toBe(404);
    assertSchema('ErrorResponse', res.json());
    expect(res.json()).toMatchObject({ error: { param: 'model', code: 'model_not_found' } });
    expect((res.json() as { error: { message: string } }).error.message).toContain("'gguf'");
  });

  it('fails a corrupt model on its own with a clear error while the other keeps streaming', async () => {
    const stream = openStream(server.url, '/v1/chat/completions', { model: 'gguf', messages: MESSAGES, max_tokens: 40, temperature: 0, stream: true }, AUTH);
    await stream.waitForEvents(2);
    const res = await request(server.url, 'POST', '/v1/chat/completions', { headers: AUTH, body: { model: 'broken', messages: MESSAGES, max_tokens: 2 } });
    expect(res.status).toBe(503);
    assertSchema('ErrorResponse', res.json());
    const error = (res.json() as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('model_load_failed');
    expect(error.message).toMatch(/'broken' failed to load: INVALID_MODEL: .*broken\.gguf/);
    await expectCompleted(stream);
    expect((await models(server.url)).broken).toMatchObject({ state: 'failed', error: expect.stringContaining('INVALID_MODEL') });
    expect(metricValue(await metrics(server.url), 'mlx_native_model_loads_total{model="broken",outcome="failed"}')).toBe(1);
    expect(await answer(client, 'gguf', 2)).not.toBe('');
  });

  it('answers 507 naming the sizes for a model that can never fit the memory budget', async () => {
    const res = await request(server.url, 'POST', '/v1/chat/completions', { headers: AUTH, body: { model: 'huge', messages: MESSAGES, max_tokens: 2 } });
    expect(res.status).toBe(507);
    const error = (res.json() as { error: { code: string; message: string } }).error;
    expect(error.code).toBe('insufficient_memory');
    expect(error.message).toMatch(/'huge' needs about 1\.0 TiB .* memory budget is 4\.0 GiB/);
    expect((await models(server.url)).huge.state).toBe('unloaded');
  });

  it('unloads an idle model after its TTL and loads it again on the next request', async () => {
    await answer(client, 'mlx', 2);
    expect(await eventually(async () => (await models(server.url)).mlx.state === 'unloaded', 20_000, 250)).toBe(true);
    expect(metricValue(await metrics(server.url), 'mlx_native_model_unloads_total{model="mlx",reason="idle"}')).toBeGreaterThanOrEqual(1);
    const again = await answer(client, 'mlx', 24);
    expect(again.length).toBeGreaterThan(0);
    expect((await models(server.url)).mlx.state).toBe('loaded');
    // The pinned-by-command-line model was never unloaded.
    expect(metricValue(await metrics(server.url), 'mlx_native_model_unloads_total{model="gguf",reason="idle"}')).toBe(0);
  });

  it('loads and unloads on admin requests (behind the API key) without disturbing the other model', async () => {
    expect((await request(server.url, 'POST', '/v1/models/mlx/unload')).status).toBe(401);
    const stream = openStream(server.url, '/v1/chat/completions', { model: 'gguf', messages: MESSAGES, max_tokens: 30, temperature: 0, stream: true }, AUTH);
    await stream.waitForEvents(2);
    const loaded = await request(server.url, 'POST', '/v1/models/smol-mlx/load', { headers: AUTH });
    expect(loaded.status).toBe(200);
    expect(loaded.json()).toMatchObject({ id: 'mlx', state: 'loaded' });
    const unloaded = await request(server.url, 'POST', '/v1/models/mlx/unload', { headers: AUTH });
    expect(unloaded.status).toBe(200);
    expect(unloaded.json()).toMatchObject({ id: 'mlx', state: 'unloaded', unloaded: true, aborted_requests: 0 });
    expect(metricValue(await metrics(server.url), 'mlx_native_model_unloads_total{model="mlx",reason="admin"}')).toBe(1);
    await expectCompleted(stream);
    expect((await request(server.url, 'POST', '/v1/models/nope/load', { headers: AUTH })).status).toBe(404);
  });
});

describe('a memory budget that holds one of the two models', () => {
  let server: ServerProcess;
  let client: OpenAI;

  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mlx-native-lru-'));
    const file = join(dir, 'models.json');
    const opts = { kv_budget: '32MiB', prefix_cache: 0 };
    // Each model alone is about 150 MB (weights and KV budget); both together do not fit 220 MB.
    await writeFile(
      file,
      JSON.stringify({
        memory_budget: '220MB',
        models: { g: { path: FIXTURE, ...opts }, m: { path: await ensureFixtureF32(), ...opts } },
      }),
    );
    server = await startServer(['--models-file', file], { modelArgs: [] });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
  });
  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
  });

  it('unloads the least recently used model to make room, and loads it back when asked', async () => {
    expect((await models(server.url)).g.state).toBe('unloaded');
    const first = await answer(client, 'g');
    expect(Object.values(await models(server.url)).map((m) => m.state)).toEqual(['loaded', 'unloaded']);
    await answer(client, 'm');
    expect(Object.values(await models(server.url)).map((m) => m.state)).toEqual(['unloaded', 'loaded']);
    expect(metricValue(await metrics(server.url), 'mlx_native_model_unloads_total{model="g",reason="lru"}')).toBe(1);
    expect(await answer(client, 'g')).toBe(first);
    expect(Object.values(await models(server.url)).map((m) => m.state)).toEqual(['loaded', 'unloaded']);
    const health = (await request(server.url, 'GET', '/health')).json() as { memory: { budgetBytes: number; reservedBytes: number } };
    expect(health.memory.budgetBytes).toBe(220e6);
    expect(health.memory.reservedBytes).toBeGreaterThan(0);
    expect(health.memory.reservedBytes).toBeLessThanOrEqual(220e6);
  });
});
