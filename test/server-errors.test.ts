// What the server answers to bad input, missing keys, unknown routes and models, oversized
// bodies, overload and slow clients: OpenAI's error shape with the right status, never a crash.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertSchema } from './helpers/server-schemas.js';
import { eventually, openStream, request, startServer, type RawResponse, type ServerProcess } from './helpers/server.js';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1';
const KEY = 'sk-test-0123456789abcdef';
const AUTH = { authorization: `Bearer ${KEY}` };

let server: ServerProcess;

beforeAll(async () => {
  server = await startServer([
    '--max-queue', '1',
    '--cors', 'http://allowed.example',
    '--body-limit', '65536',
    '--request-timeout', '2',
    '--headers-timeout', '1',
  ], { env: { MLX_NATIVE_API_KEY: KEY } });
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

const post = (path: string, body: unknown, headers: Record<string, string> = AUTH) =>
  request(server.url, 'POST', path, { body, headers });

/** Checks status, OpenAI error shape, and returns the error object. */
function expectError(res: RawResponse, status: number) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = res.json() as { error: { message: string; type: string; param: string | null; code: string | null } };
  assertSchema('ErrorResponse', body);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body.error;
}

const chat = (extra: Record<string, unknown>) => ({
  model: MODEL,
  messages: [{ role: 'user', content: 'Hi' }],
  max_tokens: 1,
  ...extra,
});

describe('authentication', () => {
  it('rejects API routes without the key or with a wrong one', async () => {
    for (const path of ['/v1/models', '/models']) {
      const res = await request(server.url, 'GET', path);
      expect(expectError(res, 401).code).toBe('invalid_api_key');
      expect(res.headers['www-authenticate']).toBe('Bearer');
    }
    const wrong = await post('/v1/chat/completions', chat({}), { authorization: 'Bearer sk-wrong' });
    expect(expectError(wrong, 401).type).toBe('authentication_error');
    const ok = await request(server.url, 'GET', '/v1/models', { headers: AUTH });
    expect(ok.status).toBe(200);
  });

  it('leaves /health and /metrics open', async () => {
    expect((await request(server.url, 'GET', '/health')).status).toBe(200);
    expect((await request(server.url, 'GET', '/metrics')).status).toBe(200);
  });
});

describe('unknown routes and models', () => {
  it('answers 404 in OpenAI shape for an unknown route or method', async () => {
    expect(expectError(await request(server.url, 'GET', '/v1/nothing', { headers: AUTH }), 404).code).toBe('not_found');
    expectError(await request(server.url, 'GET', '/v1/chat/completions', { headers: AUTH }), 404);
  });

  it('answers 404 naming the model param for a model it does not serve', async () => {
    const err = expectError(await post('/v1/chat/completions', chat({ model: 'gpt-4o' })), 404);
    expect(err).toMatchObject({ param: 'model', code: 'model_not_found' });
    expectError(await request(server.url, 'GET', '/v1/models/gpt-4o', { headers: AUTH }), 404);
  });
});

describe('validation', () => {
  const cases: [string, string, unknown, string | null][] = [
    ['messages missing', '/v1/chat/completions', { model: MODEL }, 'messages'],
    ['messages not an array', '/v1/chat/completions', { messages: 'hi' }, 'messages'],
    ['empty messages', '/v1/chat/completions', { messages: [] }, 'messages'],
    ['unknown role', '/v1/chat/completions', { messages: [{ role: 'function', content: 'x' }] }, 'messages[0].role'],
    ['image content part', '/v1/chat/completions', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0].type'],
    ['temperature of the wrong type', '/v1/chat/completions', chat({ temperature: 'hot' }), 'temperature'],
    ['temperature out of range', '/v1/chat/completions', chat({ temperature: 3 }), 'temperature'],
    ['negative max_tokens', '/v1/chat/completions', chat({ max_tokens: -1 }), 'max_tokens'],
    ['fractional max_tokens', '/v1/completions', { prompt: 'x', max_tokens: 1.5 }, 'max_tokens'],
    ['n > 1', '/v1/chat/completions', chat({ n: 2 }), 'n'],
    ['a tool name with spaces', '/v1/chat/completions', chat({ tools: [{ type: 'function', function: { name: 'f g' } }] }), 'tools[0].function.name'],
    ['tool_choice naming a function not in tools', '/v1/chat/completions', chat({ tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: { type: 'function', function: { name: 'g' } } }), 'tool_choice'],
    ['tool_choice required without tools', '/v1/chat/completions', chat({ tool_choice: 'required' }), 'tool_choice'],
    ['an unknown response_format type', '/v1/chat/completions', chat({ response_format: { type: 'xml' } }), 'response_format.type'],
    ['a schema the grammar engine cannot compile', '/v1/chat/completions', chat({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { $ref: '#/definitions/missing' } } } } } }), 'response_format'],
    ['functions (the legacy form)', '/v1/chat/completions', chat({ functions: [{ name: 'f' }] }), 'functions'],
    ['top_logprobs without logprobs', '/v1/chat/completions', chat({ top_logprobs: 2 }), 'top_logprobs'],
    ['logit_bias key not a token id', '/v1/chat/completions', chat({ logit_bias: { abc: 1 } }), 'logit_bias.abc'],
    ['logit_bias token outside the vocabulary', '/v1/chat/completions', chat({ logit_bias: { '99999999': 1 } }), 'logit_bias.99999999'],
    ['stop of the wrong type', '/v1/chat/completions', chat({ stop: 5 }), 'stop'],
    ['prompt missing', '/v1/completions', { max_tokens: 1 }, 'prompt'],
    ['a batch of two prompts', '/v1/completions', { prompt: ['a', 'b'] }, 'prompt'],
    ['token id outside the vocabulary', '/v1/completions', { prompt: [1, 99999999] }, 'prompt'],
    ['echo', '/v1/completions', { prompt: 'x', echo: true }, 'echo'],
    ['a JSON array body', '/v1/completions', [], null],
    ['a JSON null body', '/v1/completions', null, null],
  ];
  it.each(cases)('answers 400 for %s, naming the field', async (_name, path, body, param) => {
    const err = expectError(await post(path, body), 400);
    expect(err.type).toBe('invalid_request_error');
    expect(err.param).toBe(param);
  });

  it('answers 400 for malformed JSON, invalid UTF-8 and an empty body', async () => {
    const raw = (rawBody: string | Buffer) =>
      request(server.url, 'POST', '/v1/chat/completions', { rawBody, headers: { ...AUTH, 'content-type': 'application/json' } });
    expect(expectError(await raw('{"messages": [{"role": "user",'), 400).code).toBe('invalid_json');
    const bad = Buffer.concat([Buffer.from('{"messages":[{"role":"user","content":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
    expect(expectError(await raw(bad), 400).code).toBe('invalid_encoding');
    expectError(await raw(''), 400);
  });

  it('answers 415 for a body that is not JSON', async () => {
    const res = await request(server.url, 'POST', '/v1/completions', {
      rawBody: 'prompt=hi',
      headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    });
    expectError(res, 415);
  });

  it('answers 413 for a body over --body-limit', async () => {
    const res = await post('/v1/completions', { prompt: 'x'.repeat(100_000) });
    expect(expectError(res, 413).code).toBe('request_too_large');
  });
});

describe('context length', () => {
  // "hi" repeated is one token per word: well past the 8192-token context.
  const longText = 'hi '.repeat(9000);

  it('answers 400 context_length_exceeded for a chat prompt over the context', async () => {
    const err = expectError(await post('/v1/chat/completions', chat({ messages: [{ role: 'user', content: longText }] })), 400);
    expect(err).toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
  });

  it('answers the same before any SSE byte when streaming', async () => {
    const res = await post('/v1/chat/completions', chat({ messages: [{ role: 'user', content: longText }], stream: true }));
    expect(expectError(res, 400).code).toBe('context_length_exceeded');
    expect(res.text).not.toContain('data:');
  });

  it('counts token-id prompts too', async () => {
    const err = expectError(await post('/v1/completions', { prompt: new Array(9000).fill(1), stream: true }), 400);
    expect(err).toMatchObject({ code: 'context_length_exceeded', param: 'prompt' });
  });
});

describe('limits', () => {
  it('answers 429 with Retry-After when --max-queue requests are in flight', async () => {
    const busy = openStream(server.url, '/v1/completions', { prompt: 'Count: 1, 2, 3,', max_tokens: 200, stream: true }, AUTH);
    await busy.waitForEvents(1);
    const res = await post('/v1/completions', { prompt: 'x', max_tokens: 1 });
    expect(expectError(res, 429).code).toBe('queue_full');
    expect(res.headers['retry-after']).toBe('1');
    busy.disconnect();
    const inFlight = async () => ((await request(server.url, 'GET', '/health')).json() as { requestsInFlight: number }).requestsInFlight;
    expect(await eventually(async () => (await inFlight()) === 0)).toBe(true);
  });

  it('cuts off a client that does not finish its request, without it holding a slot', async () => {
    const socket = net.connect(server.port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.setEncoding('utf8').on('data', (d: string) => (answer += d));
    const closed = new Promise<number>((resolve) => {
      const t0 = Date.now();
      socket.on('close', () => resolve(Date.now() - t0));
      socket.on('error', () => undefined);
    });
    socket.write(
      `POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
        'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":',
    );
    // --max-queue is 1, and still a normal request goes through meanwhile.
    const ok = await post('/v1/completions', { prompt: 'Hi', max_tokens: 1 });
    expect(ok.status).toBe(200);
    // --request-timeout 2: Node checks once a second.
    const ms = await closed;
    expect(ms).toBeLessThan(6000);
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    assertSchema('ErrorResponse', JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)));
  });
});

describe('CORS', () => {
  it('answers preflights for allowed origins only', async () => {
    const preflight = (origin: string) =>
      request(server.url, 'OPTIONS', '/v1/chat/completions', {
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
      });
    const allowed = await preflight('http://allowed.example');
    expect(allowed.status).toBe(204);
    expect(allowed.headers['access-control-allow-origin']).toBe('http://allowed.example');
    const other = await preflight('http://evil.example');
    expect(other.headers['access-control-allow-origin']).toBeUndefined();
    const res = await request(server.url, 'GET', '/v1/models', { headers: { ...AUTH, origin: 'http://allowed.example' } });
    expect(res.headers['access-control-allow-origin']).toBe('http://allowed.example');
  });
});

describe('logs', () => {
  it('never contain the API key', () => {
    expect(server.output()).not.toContain(KEY);
    expect(server.logs().some((l) => l.msg === 'request' && l.status === 401)).toBe(true);
  });
});
