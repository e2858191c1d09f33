/**
 * A small OpenAI streaming client for both servers: POST /v1/completions with `stream: true`,
 * timing every SSE chunk that carries text. node:http directly (no fetch, no SDK) keeps the
 * client's own overhead in the tens of microseconds, which matters when the HTTP hop's cost to
 * TTFT is the figure being measured.
 */
import http from 'node:http';
import type { StreamTiming } from '../stats.js';
import { MlxNativeError } from '../../errors.js';

/** One streamed completion: chunk times (ms after `t0`) plus what the server reported. */
export interface CompletionTiming extends StreamTiming {
  /** completion_tokens from the usage chunk, when the server sends one. */
  usageCompletionTokens?: number;
  usagePromptTokens?: number;
}

/** Request fields the bench sends; `ignore_eos` is a common extension a server may ignore. */
export interface CompletionBody {
  prompt: string;
  max_tokens: number;
  model?: string;
}

/**
 * Streams one completion and times its chunks. `t0` is the caller's reference time
 * (performance.now()), so the streams of one batch share a clock.
 */
export function streamCompletion(
  baseUrl: string,
  body: CompletionBody,
  promptTokens: number,
  t0: number,
  agent: http.Agent,
): Promise<CompletionTiming> {
  const payload = JSON.stringify({
    ...body,
    stream: true,
    stream_options: { include_usage: true },
    temperature: 0,
    ignore_eos: true,
  });
  const url = new URL('/v1/completions', baseUrl);
  return new Promise((resolve, reject) => {
    const timing: CompletionTiming = { promptTokens, tokenMs: [], startMs: performance.now() - t0 };
    const req = http.request(
      url,
      {
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (res) => {
        res.setEncoding('utf8');
        if (res.statusCode !== 200) {
          let text = '';
          res.on('data', (d: string) => (text += d));
          res.on('end', () => reject(new MlxNativeError('INTERNAL', `HTTP ${res.statusCode} from ${url}: ${text.slice(0, 300)}`)));
          return;
        }
        let buffer = '';
        res.on('data', (d: string) => {
          const now = performance.now() - t0;
          buffer += d;
          let nl: number;
          while ((nl = buffer.indexOf('\n')) >= 0) {
            const line = buffer.slice(0, nl).trim();
            buffer = buffer.slice(nl + 1);
            if (line.startsWith('data:')) onData(line.slice(5).trim(), now, timing);
          }
        });
        res.on('end', () => resolve(timing));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function onData(data: string, now: number, timing: CompletionTiming): void {
  if (data === '[DONE]' || data === '') return;
  let chunk: {
    choices?: { text?: string; finish_reason?: string | null }[];
    usage?: { completion_tokens?: number; prompt_tokens?: number } | null;
  };
  try {
    chunk = JSON.parse(data);
  } catch {
    return;
  }
  const choice = chunk.choices?.[0];
  // One chunk per token while text flows; a token that ends mid-character comes with the next.
  if (choice?.text) timing.tokenMs.push(now);
  if (choice?.finish_reason) timing.finishReason = choice.finish_reason;
  if (chunk.usage) {
    timing.usageCompletionTokens = chunk.usage.completion_tokens;
    timing.usagePromptTokens = chunk.usage.prompt_tokens;
  }
}

/** Polls `GET path` until it answers 200, or rejects after `timeoutMs` or when `alive()` is false. */
export async function waitHealthy(baseUrl: string, path: string, timeoutMs: number, alive: () => boolean): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (!alive()) throw new MlxNativeError('INTERNAL', 'the server exited before it was ready');
    const ok = await new Promise<boolean>((resolve) => {
      const req = http.get(new URL(path, baseUrl), (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on('error', () => resolve(false));
      req.setTimeout(2000, () => (req.destroy(), resolve(false)));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new MlxNativeError('INTERNAL', `${baseUrl}${path} not healthy within ${timeoutMs} ms`);
}

/** GETs a text resource (e.g. /metrics); undefined on any failure. */
export function getText(url: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve(res.statusCode === 200 ? text : undefined));
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(5000, () => (req.destroy(), resolve(undefined)));
  });
}
