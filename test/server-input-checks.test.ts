// Inputs that used to get the wrong answer: numbers too large for native code, max_tokens past
// the context, and a chat template that raises. Each is a 400 naming the field, from a real
// server on a model directory whose context is 32 tokens and whose template insists on
// alternating roles, as many published templates do.
import { rm } from 'node:fs/promises';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtureVariant } from './helpers/model-dirs.js';
import { assertSchema } from './helpers/server-schemas.js';
import { request, startServer, type RawResponse, type ServerProcess } from './helpers/server.js';

const CONTEXT = 32;
const ALTERNATING =
  "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

let dir: string;
let server: ServerProcess;
let client: OpenAI;

beforeAll(async () => {
  dir = await fixtureVariant({
    config: (c) => ({ ...c, max_position_embeddings: CONTEXT }),
    tokenizerConfig: (c) => ({ ...c, chat_template: ALTERNATING }),
  });
  server = await startServer(['--served-model-name', 'variant'], { modelArgs: ['--model', dir] });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'none', maxRetries: 0 });
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
  if (dir) await rm(dir, { recursive: true, force: true });
});

function expect400(res: RawResponse, param: string) {
  expect(res.status, res.text).toBe(400);
  const body = res.json() as { error: { param: string | null; code: string | null; message: string } };
  assertSchema('ErrorResponse', body);
  expect(body.error.param, body.error.message).toBe(param);
  return body.error;
}

const user = [{ role: 'user', content: 'Hi' }];

describe('numbers are range-checked before they reach the engine', () => {
  const cases: [string, string, Record<string, unknown>, string][] = [
    ['max_tokens: 1e12', '/v1/chat/completions', { messages: user, max_tokens: 1e12 }, 'max_tokens'],
    ['max_tokens: 2^31', '/v1/completions', { prompt: 'Hi', max_tokens: 2 ** 31 }, 'max_tokens'],
    ['max_tokens above the context', '/v1/completions', { prompt: 'Hi', max_tokens: CONTEXT + 1 }, 'max_tokens'],
    ['max_completion_tokens above the context', '/v1/chat/completions', { messages: user, max_completion_tokens: 1e6 }, 'max_completion_tokens'],
    ['top_k: 1e12', '/v1/completions', { prompt: 'Hi', top_k: 1e12, max_tokens: 1 }, 'top_k'],
    ['a token id of 2^31', '/v1/completions', { prompt: [1, 2 ** 31], max_tokens: 1 }, 'prompt'],
    ['seed beyond 2^53', '/v1/completions', { prompt: 'Hi', seed: 2 ** 60, max_tokens: 1 }, 'seed'],
  ];
  it.each(cases)('%s is a 400 naming the field', async (_name, path, body, param) => {
    const err = expect400(await request(server.url, 'POST', path, { body }), param);
    expect(err.message).not.toMatch(/at least 1/);
  });

  it('max_tokens within the context but past the room left stops at the context (finish_reason "length")', async () => {
    const r = await client.completions.create({ model: 'variant', prompt: 'Count: 1, 2, 3,', max_tokens: CONTEXT, temperature: 0, ignore_eos: true } as never);
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage!.prompt_tokens + r.usage!.completion_tokens).toBe(CONTEXT);
  });
});

describe('a chat template that raises', () => {
  it('is a 400 naming messages, with the template message', async () => {
    const messages = [
      { role: 'user', content: 'Hi' },
      { role: 'user', content: 'Hi again' },
    ];
    for (const stream of [false, true]) {
      const res = await request(server.url, 'POST', '/v1/chat/completions', { body: { messages, max_tokens: 2, stream } });
      const err = expect400(res, 'messages');
      expect(err.code).toBe('chat_template_error');
      expect(err.message).toMatch(/roles must alternate/);
      expect(res.text).not.toContain('data:');
    }
  });

  it('leaves conversations the template accepts alone', async () => {
    const r = await client.chat.completions.create({ model: 'variant', messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 });
    assertSchema('CreateChatCompletionResponse', r);
  });
});
