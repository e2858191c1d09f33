// The request half of the fuzz harness: mutated request bodies (JSON-level and byte-level)
// against a real server on 127.0.0.1. Every answer must be a documented status in OpenAI's
// shape (a 200 that is a valid completion, or a 4xx error naming what was wrong), never a 5xx,
// and the server must be alive and healthy afterwards.
import { schemaErrors } from '../../test/schemas/openai/validate.mjs';
import { exchange } from '../soak/http.mjs';
import { rng } from '../soak/mix.mjs';
import { get, startServer } from '../soak/server.mjs';
import { mutateBytes, mutateJson } from './mutate.mjs';

const SEEDS = [
  ['/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 4, temperature: 0 }],
  ['/v1/chat/completions', { messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: [{ type: 'text', text: 'Hi' }] }], max_completion_tokens: 3, stream: true, stream_options: { include_usage: true }, logprobs: true, top_logprobs: 2 }],
  ['/v1/chat/completions', { messages: [{ role: 'user', content: 'Hi' }], max_tokens: 3, stop: ['.', '\n'], seed: 7, top_p: 0.9, top_k: 40, min_p: 0.05, logit_bias: { 42: -100 }, presence_penalty: 0.5, frequency_penalty: 0.5, repetition_penalty: 1.1 }],
  ['/v1/completions', { prompt: 'The capital of France is', max_tokens: 4, logprobs: 2 }],
  ['/v1/completions', { prompt: [1, 504, 3458], max_tokens: 3, stream: true, echo: false, n: 1 }],
];
const DOCUMENTED = new Set([200, 400, 404, 413, 415, 429]);

function check(res, path) {
  if (res.error) return `no answer: ${res.error}`;
  if (!DOCUMENTED.has(res.status)) return `status ${res.status}: ${res.text.slice(0, 300)}`;
  if (res.status !== 200) {
    try {
      return schemaErrors('ErrorResponse', JSON.parse(res.text)) ? `error not in OpenAI shape: ${res.text.slice(0, 200)}` : undefined;
    } catch {
      return `error body not JSON: ${res.text.slice(0, 200)}`;
    }
  }
  const chat = path.includes('chat');
  if (res.events.length) {
    const last = res.events.at(-1);
    if (last.event === 'error') return schemaErrors('ErrorResponse', JSON.parse(last.data)) ? 'bad error event' : undefined;
    if (last.data !== '[DONE]') return 'stream ended without [DONE]';
    for (const ev of res.events.slice(0, -1)) {
      const errors = schemaErrors(chat ? 'CreateChatCompletionStreamResponse' : 'CreateCompletionStreamChunk', JSON.parse(ev.data));
      if (errors) return `bad chunk: ${errors.slice(0, 300)}`;
    }
    return undefined;
  }
  try {
    const errors = schemaErrors(chat ? 'CreateChatCompletionResponse' : 'CreateCompletionResponse', JSON.parse(res.text));
    return errors ? `bad completion: ${errors.slice(0, 300)}` : undefined;
  } catch {
    return `200 body not JSON: ${res.text.slice(0, 200)}`;
  }
}

/**
 * Sends `count` mutated requests, `concurrency` at a time, to a fresh server.
 * @param {{ model: string, count: number, seed: number, concurrency?: number, log?: (s: string) => void }} o
 */
export async function fuzzRequests(o) {
  const log = o.log ?? (() => undefined);
  const r = rng(o.seed);
  // A small default max_tokens: a mutation that drops max_tokens must not make the run slow.
  const server = await startServer({ model: o.model, args: ['--max-tokens-default', '4', '--body-limit', '65536', '--accept-any-model'] });
  const report = { requests: 0, status: {}, findings: [] };
  try {
    const cases = Array.from({ length: o.count }, () => {
      const [path, body] = r.pick(SEEDS);
      if (r.next() < 0.7) {
        let json = body;
        let what = [];
        for (let k = r.int(1, 3); k > 0; k--) {
          const m = mutateJson(r, json);
          json = m.json;
          what.push(m.what);
        }
        return { path, raw: Buffer.from(JSON.stringify(json) ?? 'null'), what: what.join('; ') };
      }
      const m = mutateBytes(r, Buffer.from(JSON.stringify(body)));
      return { path, raw: m.buf, what: m.what };
    });
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const c = cases[next++];
        const res = await exchange(server.base, { path: c.path, raw: c.raw, timeoutMs: 120_000 });
        report.requests++;
        report.status[res.status] = (report.status[res.status] ?? 0) + 1;
        const problem = check(res, c.path);
        if (problem) {
          report.findings.push({ path: c.path, what: c.what, body: c.raw.toString('utf8').slice(0, 500), problem });
          log(`request finding: ${problem} (${c.what})`);
        }
      }
    };
    await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
    const health = await get(server.base, '/health');
    if (!server.alive() || health.status !== 200) report.findings.push({ problem: `server not healthy after the run: ${health.status}` });
    const exit = await server.signal('SIGTERM');
    if (exit.code !== 0) report.findings.push({ problem: `server exited with ${exit.code ?? exit.signal} on SIGTERM` });
  } finally {
    server.kill();
  }
  return report;
}
