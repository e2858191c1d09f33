// mlx-native as the MLX server binary a fleet supervisor runs: started as
// `BIN --model DIR --host H --port P --max-slots N --tool-call-format F --reasoning R` (no
// subcommand), polled on GET /health every 500 ms until 200, given traffic, stopped with
// SIGTERM; it must exit cleanly well inside the supervisor's 10 s SIGKILL deadline, ending
// in-flight requests explicitly.
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureFixtureF32 } from './helpers/models.js';
import { openStream, request } from './helpers/server.js';

const BIN = fileURLToPath(new URL('../bin/mlx-native.js', import.meta.url));
const POLL_MS = 500;
const STARTUP_LIMIT_MS = 120_000;
const KILL_AFTER_MS = 10_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

const children: ReturnType<typeof spawn>[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

describe('drop-in for an MLX server binary', () => {
  it('starts without a subcommand, is 503 then 200 on /health, and exits 0 within 10 s of SIGTERM with requests ended', async () => {
    const dir = await ensureFixtureF32();
    const port = await freePort();
    const args = ['--model', dir, '--host', '127.0.0.1', '--port', String(port), '--max-slots', '4', '--tool-call-format', 'hermes', '--reasoning', 'auto'];
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MLX_NATIVE_LOG_LEVEL: 'info' } });
    children.push(child);
    let output = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (output += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<{ code: number | null; signal: string | null; at: number }>((resolve) =>
      child.on('exit', (code, signal) => resolve({ code, signal, at: performance.now() })),
    );
    const base = `http://127.0.0.1:${port}`;

    // The supervisor's readiness loop.
    const statuses: (number | 'refused')[] = [];
    const started = performance.now();
    for (;;) {
      const status = await request(base, 'GET', '/health').then((r) => r.status, () => 'refused' as const);
      statuses.push(status);
      if (status === 200) break;
      expect(performance.now() - started, output).toBeLessThan(STARTUP_LIMIT_MS);
      expect(child.exitCode, output).toBeNull();
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
    // Never a 200 before ready: everything before the last answer was refused or 503.
    expect(statuses.slice(0, -1).every((s) => s === 'refused' || s === 503)).toBe(true);
    expect(output).toMatch(/"maxBatch":4/);
    expect(output).toMatch(/"toolCallFormat":"hermes"/);
    expect(output).toMatch(/"reasoning":"auto"/);

    // Traffic: a request that finishes, and two long ones still running at SIGTERM.
    const quick = await request(base, 'POST', '/v1/completions', { body: { prompt: 'The capital of France is', max_tokens: 4, temperature: 0 } });
    expect(quick.status).toBe(200);
    // Longer than the 5 s shutdown timeout on any device (ignore_eos: no early stop).
    const long = { messages: [{ role: 'user', content: 'Tell me a long story.' }], max_tokens: 8000, ignore_eos: true, temperature: 0 };
    const stream = openStream(base, '/v1/chat/completions', { ...long, stream: true });
    const whole = request(base, 'POST', '/v1/chat/completions', { body: long });
    await stream.waitForEvents(3);

    const sigtermAt = performance.now();
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    const exit = await exited;
    clearTimeout(killer);
    const stopMs = exit.at - sigtermAt;
    console.info(`SIGTERM to exit: ${Math.round(stopMs)} ms (in-flight requests aborted after the default 5 s shutdown timeout)`);

    expect(exit, output).toMatchObject({ code: 0, signal: null });
    // Well inside the 10 s SIGKILL deadline (default --shutdown-timeout 5 s, then flush and close).
    expect(stopMs).toBeLessThan(9000);
    const events = await stream.done();
    expect(events.at(-1)!.data).toBe('[DONE]');
    expect(JSON.parse(events.at(-2)!.data).choices[0].finish_reason).toBe('abort');
    const res = await whole;
    expect(res.status).toBe(200);
    expect((res.json() as { choices: { finish_reason: string }[] }).choices[0].finish_reason).toBe('abort');
    expect(output).toMatch(/"msg":"stopped"/);
  });

  it('refuses unknown --tool-call-format and --reasoning values with a message and exit code 2', () => {
    for (const [flag, value] of [
      ['--tool-call-format', 'xml-ish'],
      ['--reasoning', 'sometimes'],
    ]) {
      const run = spawnSync(process.execPath, [BIN, '--model', 'm.gguf', flag, value], { encoding: 'utf8' });
      expect(run.status).toBe(2);
      expect(run.stderr).toContain(`${flag}`);
      expect(run.stderr).toContain(`"${value}" is not one of`);
    }
  });
});
