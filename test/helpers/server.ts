// A real `mlx-native serve` process on 127.0.0.1 with the fixture model, plus raw HTTP and SSE
// helpers for the cases the openai client hides (bad input, disconnects, shutdown).
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { FIXTURE } from './fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = `${ROOT}dist/cli.js`;

/** One parsed pino line of the server's stdout. */
export type LogLine = Record<string, unknown> & { msg?: string; level?: number };

export interface ServerProcess {
  url: string;
  port: number;
  proc: ChildProcess;
  /** Everything the process wrote, stdout and stderr. */
  output(): string;
  logs(): LogLine[];
  /** Resolves with the first log line matching `pred` (already written or still to come). */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Resolves with the exit code once the process has exited. */
  exited: Promise<number | null>;
  /** SIGTERM (or `signal`), then SIGKILL if it has not exited after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>;
}

/**
 * Spawns `node dist/cli.js serve --model <fixture> --port 0 ...args` (`modelArgs` replaces
 * `--model <fixture>`) and waits for its 'listening' line (and its 'ready' line unless
 * `waitReady` is false).
 */
export async function startServer(
  args: string[] = [],
  opts: { waitReady?: boolean; env?: NodeJS.ProcessEnv; modelArgs?: string[] } = {},
): Promise<ServerProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const modelArgs = opts.modelArgs ?? ['--model', FIXTURE];
  const proc = spawn(process.execPath, [CLI, 'serve', ...modelArgs, '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const lines: LogLine[] = [];
  const waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  let pending = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    output += d;
    pending += d;
    const parts = pending.split('\n');
    pending = parts.pop()!;
    for (const text of parts) {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        continue;
      }
      lines.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));

  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 60_000) => {
    const found = lines.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line in ${timeoutMs} ms; output:\n${output}`)), timeoutMs);
      const settle = (l: LogLine) => {
        clearTimeout(timer);
        resolve(l);
      };
      waiters.push({ pred, resolve: settle });
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`server exited with ${code} before the expected log line; output:\n${output}`));
      });
    });
  };

  const listening = await waitForLog((l) => l.msg === 'listening');
  const port = listening.port as number;
  if (opts.waitReady !== false) await waitForLog((l) => l.msg === 'ready');

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    proc,
    output: () => output,
    logs: () => lines,
    waitForLog,
    exited,
    async stop(signal = 'SIGTERM', graceMs = 20_000) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
  json(): unknown;
}

/** One HTTP request with full control over the bytes sent. */
export function request(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; rawBody?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<RawResponse> {
  const body = opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = { ...opts.headers };
  if (body !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) {
    headers['content-type'] = 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${path}`, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, text, json: () => JSON.parse(text) as unknown }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** One server-sent event. */
export interface SseEvent {
  event?: string;
  data: string;
}

/** Splits an SSE body into events. */
export function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim())
    .map((block) => {
      const ev: SseEvent = { data: '' };
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) ev.event = line.slice(7);
        else if (line.startsWith('data: ')) ev.data += line.slice(6);
      }
      return ev;
    });
}

/**
 * A streaming request the test can read event by event and cut off at any point, as a client
 * that disconnects would.
 */
export function openStream(base: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const events: SseEvent[] = [];
  let buffer = '';
  let wake: (() => void) | undefined;
  let response: http.IncomingMessage | undefined;
  let ended = false;
  const req = http.request(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    agent: false,
  });
  const started = new Promise<http.IncomingMessage>((resolve, reject) => {
    req.on('response', (res) => {
      response = res;
      res.setEncoding('utf8').on('data', (d: string) => {
        buffer += d;
        const blocks = buffer.split('\n\n');
        buffer = blocks.pop()!;
        events.push(...parseSse(blocks.join('\n\n')));
        wake?.();
      });
      res.on('end', () => {
        ended = true;
        wake?.();
      });
      res.on('error', () => undefined);
      resolve(res);
    });
    req.on('error', (err) => {
      ended = true;
      wake?.();
      if (!response) reject(err);
    });
  });
  // A test that disconnects before the response never awaits `started`.
  started.catch(() => undefined);
  req.end(JSON.stringify(body));
  return {
    events,
    started,
    /** Resolves once `n` events arrived (or the stream ended). */
    async waitForEvents(n: number, timeoutMs = 60_000): Promise<SseEvent[]> {
      const deadline = Date.now() + timeoutMs;
      while (events.length < n && !ended) {
        if (Date.now() > deadline) throw new Error(`only ${events.length} of ${n} events after ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 200);
        });
      }
      return events;
    },
    async done(timeoutMs = 60_000): Promise<SseEvent[]> {
      await this.waitForEvents(Number.MAX_SAFE_INTEGER, timeoutMs);
      return events;
    },
    /** Drops the connection, like a client that went away. */
    disconnect(): void {
      req.destroy();
    },
  };
}

/** Reads one sample from Prometheus text: `name` or `name{labels}` exactly as exposed. */
export function metricValue(text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return 0;
}

/** Fetches /metrics and reads several series at once. */
export async function readMetrics(base: string, series: string[]): Promise<Record<string, number>> {
  const res = await request(base, 'GET', '/metrics');
  return Object.fromEntries(series.map((s) => [s, metricValue(res.text, s)]));
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000, intervalMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
