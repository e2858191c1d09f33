// RpcClient against a real `mlx-native rpc` child: typed calls, generations as async iterators,
// concurrency, AbortSignal → cancel, timeouts, errors, and a child killed with SIGKILL under the
// client (in-flight calls fail with CHILD_EXITED, the child restarts with its model).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient, RpcError } from '../src/index.js';
import { FIXTURE } from './helpers/fixture.js';

const FRANCE = 'The capital of France is';
const MODEL_ID = 'SmolLM2-135M-Instruct.Q4_1';

async function rejection(p: Promise<unknown>): Promise<RpcError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(RpcError);
  return err as RpcError;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

let client: RpcClient;
const stderr: string[] = [];

beforeAll(async () => {
  client = new RpcClient({ restart: { retries: 3, initialDelayMs: 100 } });
  client.on('stderr', (line: string) => stderr.push(line));
  const init = await client.start();
  expect(init.server.name).toBe('mlx-native');
  const loaded = await client.loadModel(FIXTURE, { max_batch: 8 });
  expect(loaded).toMatchObject({ id: MODEL_ID, context_length: 8192 });
});

afterAll(async () => {
  await client?.close();
});

describe('RpcClient', () => {
  it('chat with a forced tool call: typed tool_calls in the chunks and the result', async () => {
    const parameters = { type: 'object', properties: { city: { type: 'string', maxLength: 20 } }, required: ['city'], additionalProperties: false };
    const gen = client.chat([{ role: 'user', content: 'Weather in Rome?' }], {
      tools: [{ type: 'function', function: { name: 'get_weather', parameters } }],
      toolChoice: 'required',
      maxTokens: 60,
    });
    let args = '';
    for await (const t of gen) for (const d of t.tool_calls ?? []) args += d.function.arguments;
    const r = await gen.result;
    expect(r.finish_reason).toBe('tool_calls');
    expect(r.tool_calls![0].function.name).toBe('get_weather');
    expect(args).toBe(r.tool_calls![0].function.arguments);
    expect(typeof JSON.parse(args).city).toBe('string');
  });

  it('generate is an async iterator of tokens with a typed result', async () => {
    const gen = client.generate(FRANCE, { maxTokens: 8, ignoreEos: true });
    let text = '';
    let last = 0;
    for await (const t of gen) {
      text += t.text;
      expect(t.tokens_generated).toBeGreaterThan(last);
      last = t.tokens_generated;
    }
    const r = await gen.result;
    expect(r).toMatchObject({ request_id: gen.requestId, text, completion_tokens: 8, finish_reason: 'length', prompt_tokens: 5 });
    expect(last).toBe(8);
  });

  it('concurrent chats and a JSON-RPC batch all complete', async () => {
    const gens = ['red', 'green', 'blue'].map((c) => client.chat([{ role: 'user', content: `Say ${c}.` }], { max_tokens: 6 }));
    const results = await Promise.all(gens.map((g) => g.result));
    for (const r of results) expect(r.completion_tokens).toBeGreaterThan(0);
    const batch = await client.batch([
      { method: 'health' },
      { method: 'list_models' },
      { method: 'generate', params: { prompt: FRANCE, max_tokens: 2 } },
      { method: 'nope' as never },
    ]);
    expect(batch.map((b) => b.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected']);
    expect((batch[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'METHOD_NOT_FOUND', rpcCode: -32601 });
  });

  it('an AbortSignal cancels a stream mid-way: finish_reason "abort"', async () => {
    const controller = new AbortController();
    const gen = client.generate(FRANCE, { maxTokens: 2000, ignoreEos: true, signal: controller.signal });
    let n = 0;
    for await (const t of gen) {
      n = t.tokens_generated;
      if (n >= 3) controller.abort();
    }
    const r = await gen.result;
    expect(r.finish_reason).toBe('abort');
    expect(r.completion_tokens).toBeLessThan(2000);
  });

  it('breaking out of the iteration ends the generation', async () => {
    const gen = client.generate(FRANCE, { maxTokens: 2000, ignoreEos: true });
    for await (const t of gen) if (t.tokens_generated >= 2) break;
    expect((await gen.result).finish_reason).toBe('abort');
  });

  it('a timeout rejects with TIMEOUT and cancels the generation in the child', async () => {
    const gen = client.generate(FRANCE, { maxTokens: 4000, ignoreEos: true, timeoutMs: 1500 });
    const err = await rejection(gen.result);
    expect(err.code).toBe('TIMEOUT');
    expect(await eventually(async () => (await client.health()).in_flight === 0)).toBe(true);
  });

  it('errors keep the engine code and the field', async () => {
    const overflow = await rejection(client.generate(new Array(8192).fill(504)).result);
    expect(overflow).toMatchObject({ code: 'CONTEXT_OVERFLOW', rpcCode: -32000 });
    const params = await rejection(client.generate(FRANCE, { topP: 3 }).result);
    expect(params).toMatchObject({ code: 'INVALID_PARAMS', rpcCode: -32602, field: 'top_p' });
    const missing = await rejection(client.loadModel('/nonexistent.gguf'));
    expect(missing.code).toBe('MODEL_NOT_FOUND');
    const unknown = await rejection(client.unloadModel('nope'));
    expect(unknown.code).toBe('UNKNOWN_MODEL');
  });

  it('kill -9 of the child: in-flight calls fail with CHILD_EXITED, the child restarts with its model', async () => {
    const pid = client.pid!;
    const restarted = new Promise<{ attempt: number; delayMs: number }>((r) => client.once('restart', r));
    const gen = client.generate(FRANCE, { maxTokens: 4000, ignoreEos: true });
    for await (const t of gen) if (t.tokens_generated >= 1) break; // stop iterating; the call stays pending
    const gen2 = client.generate(FRANCE, { maxTokens: 4000, ignoreEos: true });
    await new Promise((r) => setTimeout(r, 200));
    process.kill(pid, 'SIGKILL');
    const err = await rejection(gen2.result);
    expect(err.code).toBe('CHILD_EXITED');
    expect(err.message).toMatch(/SIGKILL/);
    expect(err.message).toMatch(/"generate"/);
    expect(await restarted).toMatchObject({ attempt: 1, delayMs: 100 });
    // Calls made during the restart wait for it; the model is loaded again.
    const models = await client.listModels();
    expect(models.models.map((m) => m.id)).toEqual([MODEL_ID]);
    expect(client.pid).not.toBe(pid);
    const r = await client.generate(FRANCE, { maxTokens: 3 }).result;
    expect(r.completion_tokens).toBe(3);
  });

  it('gives up after the restart budget with a clear error', async () => {
    const broken = new RpcClient({ command: process.execPath, args: ['-e', 'process.exit(3)'], restart: { retries: 2, initialDelayMs: 10 } });
    const restarts: number[] = [];
    broken.on('restart', (e: { attempt: number }) => restarts.push(e.attempt));
    const err = await rejection(broken.start());
    expect(err.code).toBe('CHILD_EXITED');
    expect(err.message).toMatch(/exited with code 3 and 2 restarts failed/);
    expect(restarts).toEqual([1, 2]);
    await broken.close();
  });

  it('close() with a generation in flight: it ends with "abort" and the child exits 0', async () => {
    const other = new RpcClient();
    await other.loadModel(FIXTURE);
    const exit = new Promise((r) => other.once('exit', r));
    const gen = other.generate(FRANCE, { maxTokens: 4000, ignoreEos: true });
    await gen[Symbol.asyncIterator]().next(); // one token arrived; the generation runs on
    const queued = other.generate(FRANCE, { maxTokens: 4000, ignoreEos: true }); // made before close(): sent before the shutdown
    await other.close();
    expect((await gen.result).finish_reason).toBe('abort');
    expect((await queued.result).finish_reason).toBe('abort');
    expect(await exit).toEqual({ code: 0, signal: null });
  });
});
