// `mlx-native rpc` over raw stdin/stdout lines with the real fixture model: every method,
// streaming, batches, cancellation, and every error code, on one child process that keeps
// answering after each bad line.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '../src/index.js';
import { FIXTURE } from './helpers/fixture.js';
import { response, spawnRpc, token, type Message, type RpcProcess } from './helpers/rpc.js';

const FRANCE = 'The capital of France is';
const MODEL_ID = 'SmolLM2-135M-Instruct.Q4_1';

let rpc: RpcProcess;
let initMs = 0;

/** The error of a response, checked to be in JSON-RPC's shape. */
function errorOf(m: Message) {
  expect(m.result, JSON.stringify(m)).toBeUndefined();
  expect(m.error).toBeDefined();
  return m.error!;
}

async function expectStillAnswers() {
  const h = await rpc.request('health');
  expect(h.result).toMatchObject({ status: 'ok' });
}

beforeAll(async () => {
  const t0 = performance.now();
  rpc = spawnRpc();
  const init = await rpc.request('initialize', { client_info: { name: 'test' } });
  initMs = performance.now() - t0;
  expect(init.result).toMatchObject({ protocol_version: '1', server: { name: 'mlx-native' }, capabilities: { streaming: true, batch: true } });
  expect(init.result!.mlx_version).toMatch(/^\d+\.\d+/);
  expect(['cpu', 'cuda', 'metal', 'gpu']).toContain(init.result!.backend);
  console.log(`spawn → initialize answered: ${initMs.toFixed(0)} ms`);
});

afterAll(async () => {
  expect(await rpc?.close()).toBe(0);
});

describe('methods', () => {
  it('health before any model', async () => {
    const h = await rpc.request('health');
    expect(h.result).toMatchObject({ status: 'ok', models: 0, in_flight: 0 });
    expect(typeof h.result!.uptime_s).toBe('number');
    expect(h.result!.mlx_version).toMatch(/^\d+\./);
  });

  it('generate before load_model: UNKNOWN_MODEL', async () => {
    const e = errorOf(await rpc.request('generate', { prompt: 'Hi', max_tokens: 1 }));
    expect(e).toMatchObject({ code: -32000, data: { code: 'UNKNOWN_MODEL' } });
  });

  it('load_model returns the id, context length and weight bytes; list_models shows it', async () => {
    const r = await rpc.request('load_model', { model: FIXTURE });
    expect(r.result).toMatchObject({ id: MODEL_ID, context_length: 8192, format: 'gguf', architecture: 'llama' });
    expect(r.result!.weight_bytes).toBeGreaterThan(50e6);
    const list = await rpc.request('list_models');
    expect(list.result!.models).toHaveLength(1);
    expect(list.result!.models[0]).toMatchObject({ id: MODEL_ID, context_length: 8192, active_sequences: 0 });
  });

  it('load_model errors: MODEL_ID_IN_USE, MODEL_NOT_FOUND, INVALID_MODEL', async () => {
    expect(errorOf(await rpc.request('load_model', { model: FIXTURE }))).toMatchObject({ code: -32000, data: { code: 'MODEL_ID_IN_USE' } });
    expect(errorOf(await rpc.request('load_model', { model: '/nonexistent/model.gguf' }))).toMatchObject({
      code: -32000,
      data: { code: 'MODEL_NOT_FOUND' },
    });
    const bad = errorOf(await rpc.request('load_model', { model: 'package.json', id: 'pkg' }));
    expect(bad.code).toBe(-32000);
    expect(['INVALID_MODEL', 'MODEL_NOT_FOUND']).toContain(bad.data?.code);
  });

  it('generate without streaming gives the same greedy tokens as the in-process API', async () => {
    const r = await rpc.request('generate', { prompt: FRANCE, max_tokens: 12, ignore_eos: true });
    expect(r.result).toMatchObject({ model: MODEL_ID, prompt_tokens: 5, completion_tokens: 12, finish_reason: 'length' });
    expect(rpc.messages.some(token(r.id))).toBe(false); // no stream: no notifications
    let model: Model | undefined;
    try {
      model = await loadModel(FIXTURE);
      const local = await model.generate(FRANCE, { maxTokens: 12, ignoreEos: true }).result;
      expect(r.result!.tokens).toEqual(local.tokens);
      expect(r.result!.text).toBe(local.text);
      console.log(
        `decode tok/s: rpc ${r.result!.timings.decode_tokens_per_second.toFixed(1)}, in-process ${local.timings.decodeTokensPerSecond.toFixed(1)}; ` +
          `total ms: rpc ${r.result!.timings.total_ms.toFixed(0)}, in-process ${local.timings.totalMs.toFixed(0)}`,
      );
    } finally {
      await model?.dispose();
    }
  });

  it('streams token notifications with memory figures, then the final result', async () => {
    rpc.send({ jsonrpc: '2.0', id: 'stream-1', method: 'generate', params: { prompt: FRANCE, max_tokens: 10, ignore_eos: true, stream: true } });
    const result = await rpc.next(response('stream-1'));
    const tokens = rpc.messages.filter(token('stream-1'));
    expect(tokens.length).toBeGreaterThan(0);
    expect(tokens.map((t) => t.params!.text).join('')).toBe(result.result!.text);
    expect(tokens.flatMap((t) => t.params!.tokens)).toEqual(result.result!.tokens);
    expect(tokens.at(-1)!.params!.tokens_generated).toBe(10);
    const counts = tokens.map((t) => t.params!.tokens_generated as number);
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    for (const t of tokens) expect(t.params!.memory.active_bytes).toBeGreaterThan(50e6);
    expect(result.result).toMatchObject({ request_id: 'stream-1', completion_tokens: 10, finish_reason: 'length' });
    expect(Object.keys(result.result!.timings).sort()).toEqual(['decode_tokens_per_second', 'prefill_tokens_per_second', 'time_to_first_token_ms', 'total_ms']);
    // The index of the result comes after every notification of the request.
    expect(rpc.messages.indexOf(result)).toBeGreaterThan(rpc.messages.indexOf(tokens.at(-1)!));
  });

  it('chat takes snake_case and camelCase options, and an explicit request_id', async () => {
    const messages = [{ role: 'user', content: 'Name a color.' }];
    const a = await rpc.request('chat', { messages, max_tokens: 6, top_k: 1, stream: true, request_id: 'mine' });
    const b = await rpc.request('chat', { messages, maxTokens: 6, topK: 1 });
    expect(a.result).toMatchObject({ request_id: 'mine', completion_tokens: b.result!.completion_tokens });
    expect(a.result!.tokens).toEqual(b.result!.tokens);
    expect(rpc.messages.filter(token('mine')).length).toBeGreaterThan(0);
    expect(a.result!.prompt_tokens).toBeGreaterThan(10); // the chat template was applied
  });

  it('stop strings and logprobs come through', async () => {
    const r = await rpc.request('generate', { prompt: FRANCE, max_tokens: 20, stop: '.', logprobs: true, top_logprobs: 2 });
    expect(r.result).toMatchObject({ text: ' Paris', finish_reason: 'stop' });
    expect(r.result!.logprobs.length).toBeGreaterThan(0);
    expect(r.result!.logprobs[0]).toMatchObject({ token: r.result!.tokens[0], text: ' Paris' });
    expect(r.result!.logprobs[0].top_logprobs).toHaveLength(2);
  });

  it('a batch of concurrent generations is answered with one array; they ran together', async () => {
    const ids = ['b1', 'b2', 'b3'];
    rpc.send(
      ids.map((id, i) => ({
        jsonrpc: '2.0',
        id,
        method: 'generate',
        params: { prompt: `${FRANCE} ${'and '.repeat(i)}`, max_tokens: 8, ignore_eos: true, stream: true },
      })),
    );
    const batch = await rpc.next((m) => Array.isArray(m));
    const answers = batch as unknown as Message[];
    expect(answers.map((a) => a.id).sort()).toEqual(ids);
    for (const a of answers) expect(a.result).toMatchObject({ request_id: a.id, completion_tokens: 8, finish_reason: 'length' });
    // Batched on the engine: the streams interleave instead of running one after another.
    const order = rpc.messages.filter((m) => m.method === 'token' && ids.includes(m.params!.request_id)).map((m) => m.params!.request_id);
    const firstEnd = Math.min(...ids.map((id) => order.lastIndexOf(id)));
    const lastStart = Math.max(...ids.map((id) => order.indexOf(id)));
    expect(lastStart).toBeLessThan(firstEnd);
  });

  it('a batch mixing requests, a notification and invalid entries', async () => {
    rpc.send([
      { jsonrpc: '2.0', id: 'm1', method: 'health' },
      { jsonrpc: '2.0', method: 'health' },
      1,
      { jsonrpc: '2.0', id: 'm2', method: 'nope' },
    ]);
    const batch = (await rpc.next((m) => Array.isArray(m) && (m as unknown as Message[]).some((x) => x.id === 'm1'))) as unknown as Message[];
    expect(batch).toHaveLength(3);
    expect(batch.find((x) => x.id === 'm1')!.result).toMatchObject({ status: 'ok' });
    expect(batch.find((x) => x.id === null)!.error).toMatchObject({ code: -32600 });
    expect(batch.find((x) => x.id === 'm2')!.error).toMatchObject({ code: -32601 });
  });

  it('cancel stops a stream mid-way: the result has finish_reason "abort"', async () => {
    rpc.send({ jsonrpc: '2.0', id: 'long', method: 'generate', params: { prompt: FRANCE, max_tokens: 2000, ignore_eos: true, stream: true } });
    await rpc.next((m) => token('long')(m) && m.params!.tokens_generated >= 3);
    const c = await rpc.request('cancel', { request_id: 'long' });
    expect(c.result).toEqual({ request_id: 'long', cancelled: true });
    const r = await rpc.next(response('long'));
    expect(r.result).toMatchObject({ request_id: 'long', finish_reason: 'abort' });
    expect(r.result!.completion_tokens).toBeLessThan(2000);
    const again = await rpc.request('cancel', { request_id: 'long' });
    expect(again.result).toEqual({ request_id: 'long', cancelled: false });
  });

  it('a cancel on the line right after its generate is not lost', async () => {
    rpc.send({ jsonrpc: '2.0', id: 'quick', method: 'generate', params: { prompt: FRANCE, max_tokens: 2000, ignore_eos: true } });
    rpc.send({ jsonrpc: '2.0', id: 'quick-cancel', method: 'cancel', params: { request_id: 'quick' } });
    expect((await rpc.next(response('quick-cancel'))).result).toMatchObject({ cancelled: true });
    expect((await rpc.next(response('quick'))).result).toMatchObject({ finish_reason: 'abort' });
  });

  it('memory_report: process, KV and per-model figures', async () => {
    const r = await rpc.request('memory_report');
    expect(r.result!.active_bytes).toBeGreaterThan(50e6);
    expect(r.result!.peak_bytes).toBeGreaterThanOrEqual(r.result!.active_bytes);
    expect(r.result!.models).toEqual([expect.objectContaining({ id: MODEL_ID, weight_bytes: expect.any(Number), kv_reserved_bytes: 0 })]);
    expect(r.result!.kv_bytes).toBeGreaterThanOrEqual(0);
  });
});

describe('errors', () => {
  it('-32700 for a line that is not JSON, and the process keeps reading', async () => {
    rpc.send('{"jsonrpc": "2.0", "method": ');
    expect(errorOf(await rpc.next((m) => m.id === null && m.error?.code === -32700))).toMatchObject({ code: -32700 });
    await expectStillAnswers();
  });

  it('-32700 for a line of invalid UTF-8', async () => {
    rpc.send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]));
    const e = errorOf(await rpc.next((m) => m.id === null && m.error?.code === -32700));
    expect(e.message).toMatch(/UTF-8/);
    await expectStillAnswers();
  });

  it('-32600 for requests that are not JSON-RPC 2.0', async () => {
    for (const bad of [{ id: 'v', method: 'health' }, { jsonrpc: '2.0', id: 'w', method: 5 }, { jsonrpc: '2.0', id: 'x', method: 'health', params: 3 }]) {
      rpc.send(bad);
      expect(errorOf(await rpc.next(response(bad.id)))).toMatchObject({ code: -32600 });
    }
    rpc.send('[]');
    expect(errorOf(await rpc.next((m) => m.id === null && m.error?.code === -32600))).toMatchObject({ message: /empty batch/ });
    rpc.send('"just a string"');
    expect(errorOf(await rpc.next((m) => m.id === null && m.error?.code === -32600))).toBeDefined();
  });

  it('-32601 for an unknown method', async () => {
    expect(errorOf(await rpc.request('generate_all_the_things'))).toMatchObject({ code: -32601, message: /generate_all_the_things/ });
  });

  it('-32602 names the field', async () => {
    const cases: [string, unknown, string][] = [
      ['generate', { prompt: FRANCE, max_tokens: 0 }, 'max_tokens'],
      ['generate', { prompt: FRANCE, top_p: 2 }, 'top_p'],
      ['generate', { prompt: FRANCE, temprature: 0.5 }, 'temprature'],
      ['generate', { max_tokens: 3 }, 'prompt'],
      ['generate', { prompt: FRANCE, max_tokens: 3, maxTokens: 3 }, 'max_tokens'],
      ['generate', { prompt: [1, -2] }, 'prompt.1'],
      ['generate', { prompt: [1, 49152] }, 'prompt'],
      ['chat', { messages: [{ role: 'robot', content: 'hi' }] }, 'messages.0.role'],
      ['load_model', { model: FIXTURE, options: { max_batch: 'x' } }, 'options.max_batch'],
      ['cancel', {}, 'request_id'],
      ['health', ['positional'], 'params'],
    ];
    for (const [method, params, field] of cases) {
      const e = errorOf(await rpc.request(method, params));
      expect(e, `${method} ${JSON.stringify(params)}`).toMatchObject({ code: -32602, data: { field } });
      expect(e.message).toContain(field);
    }
  });

  it('application errors carry the engine code: CONTEXT_OVERFLOW, EMPTY_PROMPT, UNKNOWN_MODEL, REQUEST_ID_IN_USE', async () => {
    const overflow = errorOf(await rpc.request('generate', { prompt: new Array(8192).fill(504) }));
    expect(overflow).toMatchObject({ code: -32000, data: { code: 'CONTEXT_OVERFLOW' } });
    expect(errorOf(await rpc.request('generate', { prompt: '' }))).toMatchObject({ code: -32000, data: { code: 'EMPTY_PROMPT' } });
    expect(errorOf(await rpc.request('generate', { prompt: FRANCE, model: 'other' }))).toMatchObject({ data: { code: 'UNKNOWN_MODEL' } });
    rpc.send({ jsonrpc: '2.0', id: 'dup-a', method: 'generate', params: { prompt: FRANCE, max_tokens: 500, ignore_eos: true, request_id: 'dup' } });
    rpc.send({ jsonrpc: '2.0', id: 'dup-b', method: 'generate', params: { prompt: FRANCE, max_tokens: 1, request_id: 'dup' } });
    expect(errorOf(await rpc.next(response('dup-b')))).toMatchObject({ code: -32000, data: { code: 'REQUEST_ID_IN_USE' } });
    await rpc.request('cancel', { request_id: 'dup' });
    expect((await rpc.next(response('dup-a'))).result).toMatchObject({ finish_reason: 'abort' });
  });

  it('a notification (no id) gets no answer, even when it fails', async () => {
    const before = rpc.messages.length;
    rpc.send({ jsonrpc: '2.0', method: 'health' });
    rpc.send({ jsonrpc: '2.0', method: 'no_such_method' });
    rpc.send({ jsonrpc: '2.0', method: 'generate', params: { prompt: FRANCE, max_tokens: 2 } });
    await expectStillAnswers();
    await new Promise((r) => setTimeout(r, 1000));
    expect(rpc.messages.slice(before).filter((m) => m.id === undefined || m.id === null)).toEqual([]);
  });

  it('a 50 MB line is skipped with -32600 without holding it, and the process keeps reading', async () => {
    const line = `{"jsonrpc":"2.0","id":"huge","method":"generate","params":{"prompt":"${'a'.repeat(50 * 1024 * 1024)}"}}`;
    rpc.send(line);
    const e = errorOf(await rpc.next((m) => m.id === null && m.error?.code === -32600 && /exceeds/.test(m.error.message)));
    expect(e.message).toMatch(/52428\d\d\d bytes/);
    await expectStillAnswers();
  });

  it('unload_model aborts its running generations; the model is gone afterwards', async () => {
    rpc.send({ jsonrpc: '2.0', id: 'doomed', method: 'generate', params: { prompt: FRANCE, max_tokens: 2000, ignore_eos: true, stream: true } });
    await rpc.next(token('doomed'));
    const u = await rpc.request('unload_model', { id: MODEL_ID });
    expect(u.result).toEqual({ id: MODEL_ID, unloaded: true, aborted_requests: 1 });
    expect((await rpc.next(response('doomed'))).result).toMatchObject({ finish_reason: 'abort' });
    expect(errorOf(await rpc.request('generate', { prompt: FRANCE }))).toMatchObject({ data: { code: 'UNKNOWN_MODEL' } });
    expect(errorOf(await rpc.request('unload_model', { id: MODEL_ID }))).toMatchObject({ data: { code: 'UNKNOWN_MODEL' } });
    expect((await rpc.request('list_models')).result).toEqual({ models: [] });
  });
});
