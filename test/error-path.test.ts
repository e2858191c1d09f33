// One error path: everything src/ throws is an MlxNativeError with a code, and the server answers
// each code with the status of one table.
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MlxNativeError, type ErrorCode } from '../src/errors.js';
import { ChatTemplate } from '../src/engine/chat-template.js';
import { readGgufMetadata } from '../src/engine/gguf.js';
import { HTTP_BY_CODE, toHttpError } from '../src/server/errors.js';
import { ROOT } from './helpers/models.js';

async function sources(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sources(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/**
 * The JSON-RPC layer's own error classes, the one exception: `RpcFailure` is the rpc server's
 * internal carrier of a JSON-RPC error object (it never leaves the process), and `RpcError` is
 * what the RpcClient rejects with, carrying the child's codes as they came over the wire (engine
 * codes, the rpc layer's and protocol ones) like an API client's error type. Both have a code.
 */
const PROTOCOL_ERRORS = new Set(['src/rpc/protocol.ts: export class RpcFailure extends Error {', 'src/rpc/client-error.ts: export class RpcError extends Error {']);

describe('errors raised in src/', () => {
  it('are MlxNativeErrors: no plain Error, no Error decorated with a code', async () => {
    const offenders: string[] = [];
    for (const file of await sources(join(ROOT, 'src'))) {
      const rel = relative(ROOT, file);
      const text = await readFile(file, 'utf8');
      text.split('\n').forEach((line, i) => {
        if (PROTOCOL_ERRORS.has(`${rel}: ${line.trim()}`)) return;
        if (/new (Type|Range)?Error\(|extends Error\b/.test(line) && rel !== 'src/errors.ts') offenders.push(`${rel}:${i + 1}: ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('a template that raises is a CHAT_TEMPLATE_ERROR', () => {
    const t = new ChatTemplate("{{ raise_exception('roles must alternate') }}");
    let err: unknown;
    try {
      t.render([{ role: 'user', content: 'x' }]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MlxNativeError);
    expect(err).toMatchObject({ code: 'CHAT_TEMPLATE_ERROR' });
    expect((err as Error).message).toMatch(/roles must alternate/);
  });

  it('a GGUF parse failure is an INVALID_MODEL MlxNativeError', async () => {
    const err = await readGgufMetadata(join(ROOT, 'package.json')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MlxNativeError);
    expect(err).toMatchObject({ code: 'INVALID_MODEL' });
  });
});

describe('the status table', () => {
  it('maps every code, client errors to 4xx and engine failures to 5xx', () => {
    const client: ErrorCode[] = ['INVALID_ARGUMENT', 'EMPTY_PROMPT', 'CONTEXT_OVERFLOW', 'CHAT_TEMPLATE_ERROR', 'UNAUTHORIZED', 'NOT_FOUND', 'MODEL_NOT_FOUND', 'QUEUE_FULL'];
    for (const code of client) expect(HTTP_BY_CODE[code].status, code).toBeLessThan(500);
    for (const code of ['MLX_ERROR', 'OUT_OF_MEMORY', 'INTERNAL', 'UNAVAILABLE'] as ErrorCode[]) expect(HTTP_BY_CODE[code].status, code).toBeGreaterThanOrEqual(500);
  });

  it('answers in OpenAI shape, with the reason as the code and the param as given', () => {
    const answer = toHttpError(new MlxNativeError('QUEUE_FULL', 'busy'));
    expect(answer).toEqual({
      status: 429,
      headers: { 'retry-after': '1' },
      body: { error: { message: 'busy', type: 'rate_limit_error', param: null, code: 'queue_full' } },
    });
    const bad = toHttpError(new MlxNativeError('INVALID_ARGUMENT', 'no', { param: 'max_tokens', reason: 'too_big' }));
    expect(bad.body.error).toMatchObject({ param: 'max_tokens', code: 'too_big', type: 'invalid_request_error' });
  });

  it('hides unknown errors behind a generic 500', () => {
    const answer = toHttpError(new Error('secret internals'));
    expect(answer.status).toBe(500);
    expect(answer.body.error.message).not.toContain('secret');
  });
});
