// The server's life with real processes: 503 while loading, generations that stop when their
// client disconnects (mid-stream, non-streaming, during prefill, while queued) and free the
// engine for the next request at once, and a clean drain on SIGTERM/SIGINT.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertSchema } from './helpers/server-schemas.js';
import { eventually, openStream, readMetrics, request, startServer, type ServerProcess } from './helpers/server.js';

const CANCELLED = 'mlx_native_requests_cancelled_total{reason="client_disconnect"}';
const COMPLETION_TOKENS = 'mlx_native_completion_tokens_total';
const QUEUE = 'mlx_native_queue_depth';
const IN_FLIGHT = 'mlx_native_requests_in_flight';

/** A prompt no earlier request shares, so the prefix cache cannot shorten its prefill. */
const fresh = (words: number) => {
  const tag = Math.random().toString(36).slice(2, 8);
  return Array.from({ length: words }, (_, i) => `${tag}${i}`).join(' ');
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('cancellation', () => {
  let server: ServerProcess;
  const metrics = (series: string[] = [CANCELLED, COMPLETION_TOKENS, QUEUE, IN_FLIGHT]) => readMetrics(server.url, series);

  /** Waits for the cancel counter to pass `before`, then checks no tokens are generated after. */
  async function expectStopped(before: number) {
    expect(await eventually(async () => (await metrics())[CANCELLED] > before, 10_000)).toBe(true);
    const a = await metrics();
    await sleep(600);
    const b = await metrics();
    expect(b[COMPLETION_TOKENS]).toBe(a[COMPLETION_TOKENS]);
    expect(b[IN_FLIGHT]).toBe(0);
  }

  /** The next request is served at once: a one-token answer well under a second or two. */
  async function expectNextStartsAtOnce() {
    const t0 = performance.now();
    const res = await request(server.url, 'POST', '/v1/completions', { body: { prompt: 'Hi', max_tokens: 1 } });
    expect(res.status).toBe(200);
    expect(performance.now() - t0).toBeLessThan(2500);
  }

  beforeAll(async () => {
    // One sequence at a time makes "queued" observable; small prefill steps make a prefill
    // cancellable within a step on this slow CPU.
    server = await startServer(['--max-batch', '1', '--prefill-chunk', '16'], { waitReady: false });
  });
  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
  });

  it('says 503 on /health and the API while the model loads, then 200', async () => {
    const early = await request(server.url, 'GET', '/health');
    if (!server.logs().some((l) => l.msg === 'ready')) {
      expect(early.status).toBe(503);
      expect(early.json()).toMatchObject({ state: 'loading' });
    }
    await server.waitForLog((l) => l.msg === 'ready');
    const ready = await request(server.url, 'GET', '/health');
    expect(ready.status).toBe(200);
  });

  it('stops a stream whose client disconnects mid-stream', async () => {
    const before = (await metrics())[CANCELLED];
    const stream = openStream(server.url, '/v1/chat/completions', {
      messages: [{ role: 'user', content: 'Tell me a long story.' }],
      max_tokens: 200,
      stream: true,
    });
    await stream.waitForEvents(3);
    stream.disconnect();
    await expectStopped(before);
    await expectNextStartsAtOnce();
  });

  it('stops a non-streaming generation whose client disconnects', async () => {
    const before = await metrics();
    const stream = openStream(server.url, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 200 });
    // Disconnect once tokens are flowing.
    expect(await eventually(async () => (await metrics())[COMPLETION_TOKENS] > before[COMPLETION_TOKENS] + 1)).toBe(true);
    stream.disconnect();
    await expectStopped(before[CANCELLED]);
    const log = await server.waitForLog((l) => l.msg === 'request' && l.status === 499 && l.route === '/v1/completions');
    expect(log).toMatchObject({ abortReason: 'client_disconnect', finishReason: 'abort' });
  });

  it('stops a generation during prefill', async () => {
    const before = await metrics();
    const stream = openStream(server.url, '/v1/completions', { prompt: fresh(60), max_tokens: 50, stream: true });
    await stream.started; // headers are sent before prefill starts
    await sleep(300);
    stream.disconnect();
    await expectStopped(before[CANCELLED]);
    expect((await metrics())[COMPLETION_TOKENS]).toBe(before[COMPLETION_TOKENS]);
    await expectNextStartsAtOnce();
  });

  it('drops a queued request whose client disconnects, without disturbing the running one', async () => {
    const running = openStream(server.url, '/v1/completions', { prompt: 'Once upon a time', max_tokens: 200, stream: true });
    await running.waitForEvents(1);
    const before = await metrics();
    const queued = openStream(server.url, '/v1/completions', { prompt: 'Hello there', max_tokens: 50, stream: true });
    expect(await eventually(async () => (await metrics())[QUEUE] === 1)).toBe(true);
    queued.disconnect();
    expect(await eventually(async () => (await metrics())[CANCELLED] > before[CANCELLED])).toBe(true);
    expect((await metrics())[QUEUE]).toBe(0);
    // The running stream carries on.
    const seen = running.events.length;
    await running.waitForEvents(seen + 2);
    running.disconnect();
    await expectStopped(before[CANCELLED] + 1);
  });
});

describe('shutdown', () => {
  // ignore_eos: a request runs exactly as long as its max_tokens say.
  const body = (maxTokens: number, stream: boolean) => ({ prompt: 'Once upon a time', max_tokens: maxTokens, ignore_eos: true, stream });

  it('on SIGTERM refuses new work with 503, finishes in-flight requests and exits 0', async () => {
    const server = await startServer(['--shutdown-timeout', '60']);
    // About 3 s of decoding on this device (30 tokens on the CI CPU, ~1000 on an H200), so the
    // request is still running when the 503 checks below are made. Timed after a first request,
    // which also compiles the GPU's kernels.
    expect((await request(server.url, 'POST', '/v1/completions', { body: body(4, false) })).status).toBe(200);
    const t0 = performance.now();
    expect((await request(server.url, 'POST', '/v1/completions', { body: body(16, false) })).status).toBe(200);
    const perSecond = 16 / ((performance.now() - t0) / 1000);
    const stream = openStream(server.url, '/v1/completions', body(Math.min(7000, Math.max(30, Math.ceil(perSecond * 3))), true));
    await stream.waitForEvents(1);
    server.proc.kill('SIGTERM');
    await server.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('shutting down'));

    const refused = await request(server.url, 'POST', '/v1/completions', { body: body(1, false) });
    expect(refused.status).toBe(503);
    assertSchema('ErrorResponse', refused.json());
    const health = await request(server.url, 'GET', '/health');
    expect(health.status).toBe(503);
    expect(health.json()).toMatchObject({ state: 'shutting_down' });

    const events = await stream.done();
    expect(events.at(-1)!.data).toBe('[DONE]');
    const finish = JSON.parse(events.at(-2)!.data);
    expect(finish.choices[0].finish_reason).toBe('length');
    expect(await server.exited).toBe(0);
    expect(server.logs().some((l) => l.msg === 'stopped')).toBe(true);
  });

  it('on SIGINT aborts what is still running after --shutdown-timeout, with finish_reason "abort", and exits 0', async () => {
    const server = await startServer(['--shutdown-timeout', '1']);
    const stream = openStream(server.url, '/v1/completions', body(4000, true));
    const whole = request(server.url, 'POST', '/v1/completions', { body: body(4000, false) });
    await stream.waitForEvents(1);
    const t0 = performance.now();
    server.proc.kill('SIGINT');

    const events = await stream.done();
    expect(events.at(-1)!.data).toBe('[DONE]');
    expect(JSON.parse(events.at(-2)!.data).choices[0].finish_reason).toBe('abort');
    const res = await whole;
    expect(res.status).toBe(200);
    expect((res.json() as { choices: { finish_reason: string }[] }).choices[0].finish_reason).toBe('abort');
    expect(await server.exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(10_000);
    const warn = server.logs().find((l) => typeof l.msg === 'string' && l.msg.startsWith('shutdown timeout'));
    expect(warn).toMatchObject({ aborted: 2 });
  });
});
