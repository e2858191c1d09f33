// A real `mlx-native serve` process for the soak: spawned on 127.0.0.1 with --port 0, its JSON
// log lines collected, its memory read from /metrics and the OS, and stopped with a signal.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = `${ROOT}dist/cli.js`;

/**
 * Starts the server and resolves once it is ready.
 * @param {{ model: string, args?: string[], env?: Record<string, string>, readyTimeoutMs?: number }} opts
 */
export async function startServer({ model, args = [], env = {}, readyTimeoutMs = 180_000 }) {
  const proc = spawn(process.execPath, [CLI, 'serve', '--model', model, '--host', '127.0.0.1', '--port', '0', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines = [];
  let stderr = '';
  let pending = '';
  const waiters = [];
  proc.stdout.setEncoding('utf8').on('data', (d) => {
    pending += d;
    const parts = pending.split('\n');
    pending = parts.pop();
    for (const text of parts) {
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        continue;
      }
      lines.push(line);
      for (const w of [...waiters]) if (w.pred(line)) w.resolve(line);
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  const startedAt = performance.now();
  const exited = new Promise((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal, atMs: performance.now() - startedAt })),
  );
  const waitFor = (pred, timeoutMs) =>
    new Promise((resolve, reject) => {
      const found = lines.find(pred);
      if (found) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`server: no matching log line in ${timeoutMs} ms\n${stderr}`)), timeoutMs);
      waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      exited.then(({ code }) => (clearTimeout(timer), reject(new Error(`server exited (${code}) while starting\n${stderr}`))));
    });
  const listening = await waitFor((l) => l.msg === 'listening', readyTimeoutMs);
  await waitFor((l) => l.msg === 'ready', readyTimeoutMs);
  const base = `http://127.0.0.1:${listening.port}`;

  return {
    base,
    port: listening.port,
    pid: proc.pid,
    lines,
    stderr: () => stderr,
    exited,
    alive: () => proc.exitCode === null && proc.signalCode === null,
    /** Sends `signal`; resolves with { code, signal, ms } once the process exited. */
    async signal(signal = 'SIGTERM') {
      const t0 = performance.now();
      proc.kill(signal);
      const result = await exited;
      return { ...result, ms: performance.now() - t0 };
    },
    /** SIGKILL, for cleanup after a failure. */
    kill: () => proc.exitCode === null && proc.kill('SIGKILL'),
    metrics: () => readMetrics(base),
    rssBytes: () => rssBytes(proc.pid),
  };
}

/** GET a path; resolves with status and text. */
export function get(base, path) {
  return new Promise((resolve, reject) => {
    const req = http.get(`${base}${path}`, { agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode, text }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error(`GET ${path} timed out`)));
  });
}

/** Every sample of /metrics as `series -> value` (series as exposed, labels included). */
export async function readMetrics(base) {
  const { text } = await get(base, '/metrics');
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return out;
}

/** Resident set size of a process, in bytes (Linux: /proc; elsewhere: ps). */
export function rssBytes(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = /VmRSS:\s+(\d+) kB/.exec(status);
    if (kb) return Number(kb[1]) * 1024;
  } catch {
    // not Linux
  }
  return Number(execFileSync('ps', ['-o', 'rss=', '-p', String(pid)], { encoding: 'utf8' }).trim()) * 1024;
}
