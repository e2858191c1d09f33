// How an `mlx-native rpc` child ends: SIGTERM, SIGINT, stdin EOF and the `shutdown` method each
// answer in-flight generations with finish_reason "abort", free the models and exit 0; a half
// line at EOF is answered, not a crash; a consumer that stops reading stdout holds the streams.
import { describe, expect, it } from 'vitest';
import { FIXTURE } from './helpers/fixture.js';
import { logLines, response, spawnRpc, token, type RpcProcess } from './helpers/rpc.js';

const FRANCE = 'The capital of France is';

/** A child with the fixture preloaded (--model), answering `health`. */
async function ready(args: string[] = []): Promise<RpcProcess> {
  const rpc = spawnRpc(['--model', FIXTURE, ...args]);
  expect((await rpc.request('health')).result).toMatchObject({ status: 'ok', models: 1 });
  return rpc;
}

/** Starts long streaming generations and waits until each has produced a token. */
async function inFlight(rpc: RpcProcess, ids: string[]): Promise<void> {
  for (const id of ids) {
    rpc.send({ jsonrpc: '2.0', id, method: 'generate', params: { prompt: `${FRANCE} ${id}`, max_tokens: 4000, ignore_eos: true, stream: true } });
  }
  await Promise.all(ids.map((id) => rpc.next(token(id))));
}

async function expectAborted(rpc: RpcProcess, ids: string[]): Promise<void> {
  for (const id of ids) {
    const r = await rpc.next(response(id), 30_000);
    expect(r.result, JSON.stringify(r)).toMatchObject({ request_id: id, finish_reason: 'abort' });
    expect(r.result!.completion_tokens).toBeLessThan(4000);
  }
}

describe('stopping with requests in flight', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s: final results with finish_reason "abort", models freed, exit 0', async (signal) => {
    const rpc = await ready();
    await inFlight(rpc, ['a', 'b']);
    rpc.proc.kill(signal);
    await expectAborted(rpc, ['a', 'b']);
    expect(await rpc.exited).toEqual({ code: 0, signal: null });
    const logs = logLines(rpc.stderr());
    expect(logs.find((l) => l.msg === 'stopping')).toMatchObject({ reason: signal, in_flight: 2, models: 1 });
    expect(logs.find((l) => l.msg === 'stopped')).toMatchObject({ aborted_requests: 2 });
  });

  it('stdin EOF (the parent went away): the same, so no orphan is left', async () => {
    const rpc = await ready();
    await inFlight(rpc, ['eof']);
    rpc.proc.stdin!.end();
    await expectAborted(rpc, ['eof']);
    expect(await rpc.exited).toEqual({ code: 0, signal: null });
  });

  it('the shutdown method answers after aborting; later requests get SHUTTING_DOWN', async () => {
    const rpc = await ready();
    await inFlight(rpc, ['s1']);
    rpc.send({ jsonrpc: '2.0', id: 'bye', method: 'shutdown' });
    rpc.send({ jsonrpc: '2.0', id: 'late', method: 'generate', params: { prompt: FRANCE } });
    await expectAborted(rpc, ['s1']);
    expect((await rpc.next(response('bye'))).result).toEqual({ ok: true, aborted_requests: 1 });
    expect((await rpc.next(response('late'))).error).toMatchObject({ code: -32000, data: { code: 'SHUTTING_DOWN' } });
    expect(await rpc.exited).toEqual({ code: 0, signal: null });
  });

  it('a model still loading when stdin closes is freed; its load_model gets SHUTTING_DOWN', async () => {
    const rpc = spawnRpc();
    rpc.send({ jsonrpc: '2.0', id: 'load', method: 'load_model', params: { model: FIXTURE } });
    rpc.proc.stdin!.end();
    expect((await rpc.next(response('load'))).error).toMatchObject({ data: { code: 'SHUTTING_DOWN' } });
    expect(await rpc.exited).toEqual({ code: 0, signal: null });
  });
});

describe('end of input', () => {
  it('a half-written line at EOF gets -32700 and a clean exit', async () => {
    const rpc = spawnRpc();
    rpc.proc.stdin!.end('{"jsonrpc":"2.0","id":1,"method":"hea');
    const e = await rpc.next((m) => m.id === null);
    expect(e.error).toMatchObject({ code: -32700 });
    expect(await rpc.exited).toEqual({ code: 0, signal: null });
  });

  it('a complete last request without its newline is answered', async () => {
    const rpc = spawnRpc();
    rpc.proc.stdin!.end('{"jsonrpc":"2.0","id":"last","method":"health"}');
    expect((await rpc.next(response('last'))).result).toMatchObject({ status: 'shutting_down' });
    expect(await rpc.exited).toEqual({ code: 0, signal: null });
  });

  it('a --model that cannot load: a fatal log line on stderr, nothing on stdout, exit 1', async () => {
    const rpc = spawnRpc(['--model', '/nonexistent.gguf']);
    expect((await rpc.exited).code).toBe(1);
    expect(rpc.messages).toEqual([]);
    expect(logLines(rpc.stderr()).find((l) => l.level === 'fatal')).toMatchObject({ err: { code: 'MODEL_NOT_FOUND' } });
  });
});

describe('backpressure', () => {
  /** Stops reading stdout, starts streams with ~1 KB notifications, waits for the child to notice. */
  async function block(rpc: RpcProcess, ids: string[], maxTokens: number, times: number) {
    rpc.proc.stdout!.pause();
    for (const id of ids) {
      // top_logprobs makes each notification ~1 KB, so the pipe fills after a few dozen tokens.
      rpc.send({
        jsonrpc: '2.0',
        id,
        method: 'generate',
        params: { prompt: `${FRANCE} ${id}`, max_tokens: maxTokens, ignore_eos: true, stream: true, top_logprobs: 20 },
      });
    }
    const blocked = () => logLines(rpc.stderr()).filter((l) => String(l.msg).startsWith('stdout backpressure')).length >= times;
    const deadline = performance.now() + 120_000;
    while (!blocked() && performance.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(blocked(), rpc.stderr()).toBe(true);
  }

  it('a consumer that stops reading stdout holds the streams; nothing is lost when it reads again; SIGTERM still exits', async () => {
    const rpc = await ready(['--log-level', 'debug']);
    const ids = ['p1', 'p2', 'p3', 'p4'];
    const maxTokens = 30;
    await block(rpc, ids, maxTokens, 1);
    rpc.proc.stdout!.resume();
    for (const id of ids) {
      const r = await rpc.next(response(id), 120_000);
      expect(r.result).toMatchObject({ completion_tokens: maxTokens, finish_reason: 'length' });
      const counts = rpc.messages.filter(token(id)).flatMap((t) => t.params!.tokens);
      expect(counts).toEqual(r.result!.tokens);
    }
    expect(logLines(rpc.stderr()).some((l) => String(l.msg).startsWith('stdout drained'))).toBe(true);

    // Blocked again, for good this time: a stop must not wait for a reader that never comes.
    await block(rpc, ['q1', 'q2', 'q3', 'q4'], 4000, 2);
    const t0 = performance.now();
    rpc.proc.kill('SIGTERM');
    expect(await rpc.exited).toEqual({ code: 0, signal: null });
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});
