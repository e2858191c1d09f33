// A real `mlx-native rpc` child driven over raw stdin/stdout lines, for the protocol tests.
// Every stdout line must be a JSON-RPC 2.0 message: anything else fails the test that reads it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CLI = `${ROOT}dist/cli.js`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- results are checked field by field
type Json = Record<string, any>;

export type Message = Json & {
  jsonrpc: '2.0';
  id?: string | number | null;
  method?: string;
  params?: Json;
  result?: Json;
  error?: { code: number; message: string; data?: { code?: string; field?: string } };
};

export interface RpcProcess {
  proc: ChildProcess;
  /** Writes a message as one line (objects are JSON-encoded; strings and buffers go as they are). */
  send(message: unknown): void;
  /** Sends a request with a fresh numeric id and resolves with its response. */
  request(method: string, params?: unknown): Promise<Message>;
  /** Resolves with the first message matching `pred` not yet taken by an earlier wait. */
  next(pred: (m: Message) => boolean, timeoutMs?: number): Promise<Message>;
  /** Every message received so far (including those taken by waits). */
  messages: Message[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  close(): Promise<number | null>;
}

let nextId = 1;

/** Spawns `node dist/cli.js rpc ...args`. */
export function spawnRpc(args: string[] = []): RpcProcess {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const proc = spawn(process.execPath, [CLI, 'rpc', ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  proc.stdin!.on('error', () => undefined);
  const messages: Message[] = [];
  const unclaimed: Message[] = [];
  const waiters: { pred: (m: Message) => boolean; resolve: (m: Message) => void }[] = [];
  let stderr = '';
  let pending = '';
  let bad: string | undefined;
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    const lines = pending.split('\n');
    pending = lines.pop()!;
    for (const line of lines) {
      let m: Message;
      try {
        m = JSON.parse(line) as Message;
      } catch {
        bad ??= line;
        continue;
      }
      const all = Array.isArray(m) ? (m as Message[]) : [m];
      if (all.some((x) => x?.jsonrpc !== '2.0')) bad ??= line;
      messages.push(m);
      const w = waiters.find((x) => x.pred(m));
      if (w) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      } else unclaimed.push(m);
    }
  });
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.on('exit', (code, signal) => resolve({ code, signal })),
  );

  const next = (pred: (m: Message) => boolean, timeoutMs = 60_000) => {
    expect(bad, 'a stdout line that is not a JSON-RPC 2.0 message').toBeUndefined();
    const i = unclaimed.findIndex(pred);
    if (i >= 0) return Promise.resolve(unclaimed.splice(i, 1)[0]);
    return new Promise<Message>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message in ${timeoutMs} ms; stderr:\n${stderr}`)), timeoutMs);
      waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  };
  const send = (message: unknown) => {
    if (Buffer.isBuffer(message)) proc.stdin!.write(Buffer.concat([message, Buffer.from('\n')]));
    else proc.stdin!.write(`${typeof message === 'string' ? message : JSON.stringify(message)}\n`);
  };
  return {
    proc,
    send,
    messages,
    next,
    request(method, params) {
      const id = nextId++;
      send(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
      return next((m) => m.id === id);
    },
    stderr: () => stderr,
    exited,
    async close() {
      proc.stdin!.end();
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const { code } = await exited;
      clearTimeout(timer);
      expect(bad, 'a stdout line that is not a JSON-RPC 2.0 message').toBeUndefined();
      return code;
    },
  };
}

/** Matches the response to request `id`. */
export const response = (id: unknown) => (m: Message) => !Array.isArray(m) && m.id === id && !m.method;

/** Matches the `token` notifications of `requestId`. */
export const token = (requestId: unknown) => (m: Message) => m.method === 'token' && m.params?.request_id === requestId;

/** Parsed stderr log lines. */
export function logLines(stderr: string): Record<string, unknown>[] {
  return stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}
