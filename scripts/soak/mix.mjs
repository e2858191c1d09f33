// The soak's request mix: what each kind of request sends, and what counts as a well-formed
// answer to it. Every judgement is one of: completed, cancelled (by the client, on purpose),
// errored (an admitted request the server ended with an error), rejected (a documented 4xx or a
// 503 while shutting down), refused (no connection after shutdown), or bad (anything else).
import { schemaErrors } from '../../test/schemas/openai/validate.mjs';

const PROMPTS = [
  'What is the capital of France?',
  'Name three colors.',
  'Write a haiku about the sea.',
  'Count from one to five.',
  'Give me a synonym for happy.',
  'What is two plus two?',
  'Tell me a short joke.',
  'Say hello in Spanish.',
];

/** Kinds and their weights in the mix (a burst counts as one draw and several requests). */
export const WEIGHTS = {
  chat: 18,
  completion: 9,
  chatStream: 14,
  completionStream: 7,
  invalid: 16,
  cancel: 10,
  overContext: 6,
  slowBody: 6,
  slowReader: 6,
  stall: 1,
  burst: 2,
  long: 0,
};

/** Bad requests, each with the status and `param` it must get. */
const INVALID = [
  [{ messages: 'hi' }, 400, 'messages'],
  [{ messages: [{ role: 'user', content: 'x' }], temperature: 'hot' }, 400, 'temperature'],
  [{ messages: [{ role: 'user', content: 'x' }], max_tokens: 1e12 }, 400, 'max_tokens'],
  [{ messages: [{ role: 'user', content: 'x' }], n: 3 }, 400, 'n'],
  [{ messages: [{ role: 'user', content: 'x' }], tools: [{ type: 'function', function: { name: 'f g' } }] }, 400, 'tools[0].function.name'],
  [{ messages: [{ role: 'user', content: 'x' }], response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { $ref: '#/nope' } } } }, 400, 'response_format'],
  [{ messages: [{ role: 'function', content: 'x' }] }, 400, 'messages[0].role'],
  [{ messages: [{ role: 'user', content: 'x' }], top_k: 1e12 }, 400, 'top_k'],
  [{ messages: [{ role: 'user', content: 'x' }], logit_bias: { 99999999: 1 } }, 400, 'logit_bias.99999999'],
  [{ messages: [{ role: 'user', content: 'x' }], model: 'gpt-4o' }, 404, 'model'],
  [{ prompt: [] }, 400, 'prompt', '/v1/completions'],
  [{ prompt: 'x', echo: true }, 400, 'echo', '/v1/completions'],
  [{ prompt: 'x', max_tokens: -1 }, 400, 'max_tokens', '/v1/completions'],
  [{ raw: '{"messages": [{"role": "user",' }, 400, null],
  [{ raw: 'prompt=hi', contentType: 'application/x-www-form-urlencoded' }, 415, null, '/v1/completions'],
];

/** A small seeded PRNG (mulberry32), so a soak can be replayed. */
export function rng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), pick: (xs) => xs[Math.floor(next() * xs.length)] };
}

/** Draws a kind by weight. */
export function drawKind(r, weights) {
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  let x = r.next() * total;
  for (const [kind, w] of Object.entries(weights)) if ((x -= w) < 0) return kind;
  return 'chat';
}

function sampling(r) {
  const greedy = r.next() < 0.5;
  return greedy ? { temperature: 0 } : { temperature: 0.8, seed: r.int(0, 1e6) };
}

function validBody(r, chat, stream, maxTokens) {
  const body = { max_tokens: maxTokens, ...sampling(r) };
  if (chat) body.messages = [{ role: 'user', content: r.pick(PROMPTS) }];
  else body.prompt = r.next() < 0.8 ? r.pick(PROMPTS) : [1, 504, 3458, 282, 4649, 314];
  if (stream) {
    body.stream = true;
    if (r.next() < 0.5) body.stream_options = { include_usage: true };
  }
  if (r.next() < 0.2) {
    if (chat) Object.assign(body, { logprobs: true, top_logprobs: 2 });
    else body.logprobs = 2;
  }
  if (r.next() < 0.1) body.stop = ['.'];
  return body;
}

const pathOf = (chat) => (chat ? '/v1/chat/completions' : '/v1/completions');

/**
 * The requests of one draw of `kind`: [{ kind, spec, expect }], `spec` for http.mjs's exchange
 * (or `stall: true`), `expect` for {@link judge}.
 */
export function build(kind, r, ctx) {
  const chat = r.next() < 0.6;
  switch (kind) {
    case 'chat':
    case 'completion': {
      const isChat = kind === 'chat';
      return [{ kind, spec: { path: pathOf(isChat), body: validBody(r, isChat, false, r.int(1, 8)) }, expect: { chat: isChat } }];
    }
    case 'chatStream':
    case 'completionStream': {
      const isChat = kind === 'chatStream';
      return [{ kind, spec: { path: pathOf(isChat), body: validBody(r, isChat, true, r.int(1, 8)) }, expect: { chat: isChat, stream: true } }];
    }
    case 'invalid': {
      const [body, status, param, path] = r.pick(INVALID);
      const spec = body.raw
        ? { raw: Buffer.from(body.raw), headers: { 'content-type': body.contentType ?? 'application/json' } }
        : { body };
      return [{ kind, spec: { path: path ?? '/v1/chat/completions', ...spec }, expect: { status, param } }];
    }
    case 'cancel': {
      const body = { ...validBody(r, chat, true, 32), ignore_eos: true };
      return [{ kind, spec: { path: pathOf(chat), body, cancelAfterEvents: r.int(1, 3) }, expect: { chat, stream: true } }];
    }
    case 'overContext': {
      // Token ids past the context, or a max_tokens the context cannot hold: 400s naming the field.
      if (r.next() < 0.5) {
        const prompt = new Array(ctx.contextLength + 8).fill(1);
        return [{ kind, spec: { path: '/v1/completions', body: { prompt, max_tokens: 4 } }, expect: { status: 400, param: 'prompt', code: 'context_length_exceeded' } }];
      }
      const body = { messages: [{ role: 'user', content: 'x' }], max_tokens: ctx.contextLength + 1 };
      return [{ kind, spec: { path: '/v1/chat/completions', body }, expect: { status: 400, param: 'max_tokens' } }];
    }
    case 'slowBody':
      return [{ kind, spec: { path: pathOf(chat), body: validBody(r, chat, false, r.int(1, 8)), bodyPieces: { count: 3, delayMs: 150 } }, expect: { chat } }];
    case 'slowReader':
      return [{ kind, spec: { path: pathOf(chat), body: { ...validBody(r, chat, true, 12), ignore_eos: true }, readDelayMs: 50 }, expect: { chat, stream: true } }];
    case 'stall':
      return [{ kind, spec: { path: '/v1/completions', stall: true }, expect: { status: 408 } }];
    case 'burst': {
      const n = ctx.maxQueue + 2;
      return Array.from({ length: n }, () => ({ kind, spec: { path: '/v1/completions', body: validBody(r, false, false, r.int(1, 4)) }, expect: { chat: false } }));
    }
    case 'long': {
      const body = { ...validBody(r, chat, true, ctx.longTokens ?? 256), ignore_eos: true };
      return [{ kind, spec: { path: pathOf(chat), body }, expect: { chat, stream: true } }];
    }
    default:
      throw new Error(`unknown kind ${kind}`);
  }
}

function errorBodyProblem(text) {
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return `error body is not JSON: ${text.slice(0, 200)}`;
  }
  return schemaErrors('ErrorResponse', body) ? `error body does not match ErrorResponse: ${text.slice(0, 200)}` : undefined;
}

/**
 * Schema errors of a completion object. finish_reason 'abort' (a request the shutdown cut short)
 * is this server's documented extension of OpenAI's list; the rest of such an object must match.
 */
function completionErrors(name, obj, phase) {
  const choice = obj?.choices?.[0];
  if (phase === 'shutdown' && choice?.finish_reason === 'abort') {
    obj = { ...obj, choices: [{ ...choice, finish_reason: 'stop' }, ...obj.choices.slice(1)] };
  }
  return schemaErrors(name, obj);
}

function streamProblem(res, expect, phase) {
  const name = expect.chat ? 'CreateChatCompletionStreamResponse' : 'CreateCompletionStreamChunk';
  const events = res.events;
  for (const ev of events) {
    if (ev.event === 'error') return { outcome: 'errored', problem: errorBodyProblem(ev.data) };
    if (ev.data === '[DONE]') continue;
    let chunk;
    try {
      chunk = JSON.parse(ev.data);
    } catch {
      return { outcome: 'bad', problem: `chunk is not JSON: ${ev.data.slice(0, 200)}` };
    }
    const errors = completionErrors(name, chunk, phase);
    if (errors) return { outcome: 'bad', problem: `chunk does not match ${name}: ${errors.slice(0, 300)}` };
  }
  if (res.cancelled) return { outcome: 'cancelled' };
  if (events.at(-1)?.data !== '[DONE]') return { outcome: 'bad', problem: 'stream ended without [DONE] or an error event' };
  const finish = events.map((e) => (e.data === '[DONE]' ? undefined : JSON.parse(e.data).choices?.[0]?.finish_reason)).find(Boolean);
  const allowed = phase === 'shutdown' ? ['stop', 'length', 'abort'] : ['stop', 'length'];
  if (!allowed.includes(finish)) return { outcome: 'bad', problem: `finish_reason ${finish}` };
  return { outcome: 'completed', finish };
}

/**
 * Classifies one answer. `phase` is 'run' or 'shutdown' (after SIGTERM was sent: 503s,
 * refused connections and finish_reason 'abort' become legitimate).
 */
export function judge(item, res, phase) {
  const { expect } = item;
  if (res.error) {
    if (phase === 'shutdown' && !res.status && ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'closed without an answer'].includes(res.error)) {
      return { outcome: 'refused' };
    }
    return { outcome: 'bad', problem: `${res.status ? `after status ${res.status}: ` : ''}${res.error}` };
  }
  if (expect.status) {
    if (res.status !== expect.status && !(res.status === 429 && expect.status === 400 && expect.code)) {
      if (phase === 'shutdown' && res.status === 503) return { outcome: 'rejected', status: 503 };
      return { outcome: 'bad', problem: `status ${res.status}, expected ${expect.status}: ${res.text.slice(0, 200)}` };
    }
    const problem = errorBodyProblem(res.text);
    if (problem) return { outcome: 'bad', problem };
    const error = JSON.parse(res.text).error;
    if (res.status === expect.status && expect.param !== undefined && error.param !== expect.param) {
      return { outcome: 'bad', problem: `param ${error.param}, expected ${expect.param}` };
    }
    if (res.status === expect.status && expect.code && error.code !== expect.code) return { outcome: 'bad', problem: `code ${error.code}` };
    return { outcome: 'rejected', status: res.status };
  }
  if (res.status === 429 || (res.status === 503 && phase === 'shutdown')) {
    const problem = errorBodyProblem(res.text);
    if (res.status === 429 && res.headers['retry-after'] !== '1') return { outcome: 'bad', problem: '429 without Retry-After' };
    return problem ? { outcome: 'bad', problem } : { outcome: 'rejected', status: res.status };
  }
  if (res.status !== 200) return { outcome: 'bad', problem: `status ${res.status}: ${res.text.slice(0, 300)}` };
  if (expect.stream) return streamProblem(res, expect, phase);
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    return { outcome: 'bad', problem: `body is not JSON: ${res.text.slice(0, 200)}` };
  }
  const name = expect.chat ? 'CreateChatCompletionResponse' : 'CreateCompletionResponse';
  const errors = completionErrors(name, body, phase);
  if (errors) return { outcome: 'bad', problem: `does not match ${name}: ${errors.slice(0, 300)}` };
  const finish = body.choices[0].finish_reason;
  const allowed = phase === 'shutdown' ? ['stop', 'length', 'abort'] : ['stop', 'length'];
  if (!allowed.includes(finish)) return { outcome: 'bad', problem: `finish_reason ${finish}` };
  return { outcome: 'completed', finish };
}
