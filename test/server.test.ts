// The OpenAI-compatible server end to end: a real `mlx-native serve` process with the fixture
// model, driven by the official openai client; every response and stream chunk is checked
// against OpenAI's published schemas.
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertSchema } from './helpers/server-schemas.js';
import { metricValue, parseSse, request, startServer, type ServerProcess } from './helpers/server.js';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1';
const COUNTING = '1, 2, 3, 4,';

let server: ServerProcess;
let client: OpenAI;

beforeAll(async () => {
  server = await startServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

const chatMessages: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: [{ type: 'text', text: 'Name a color.' }] },
];

describe('models and health', () => {
  it('lists the served model, with and without /v1', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id)).toEqual([MODEL]);
    for (const path of ['/v1/models', '/models']) {
      const res = await request(server.url, 'GET', path);
      expect(res.status).toBe(200);
      assertSchema('ListModelsResponse', res.json());
    }
    const one = await request(server.url, 'GET', `/v1/models/${MODEL}`);
    assertSchema('Model', one.json());
  });

  it('reports ready on /health with the model name', async () => {
    const res = await request(server.url, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ status: 'ok', state: 'ready', model: MODEL });
  });
});

describe('chat completions', () => {
  let whole: OpenAI.ChatCompletion;

  it('answers a non-streaming request in OpenAI shape with real usage', async () => {
    whole = await client.chat.completions.create({ model: MODEL, messages: chatMessages, max_tokens: 6, temperature: 0 });
    assertSchema('CreateChatCompletionResponse', whole);
    expect(whole.object).toBe('chat.completion');
    expect(whole.model).toBe(MODEL);
    const choice = whole.choices[0];
    expect(choice.message.role).toBe('assistant');
    expect(choice.message.content!.length).toBeGreaterThan(0);
    expect(['stop', 'length']).toContain(choice.finish_reason);
    const usage = whole.usage!;
    expect(usage.prompt_tokens).toBeGreaterThan(10);
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.completion_tokens).toBeLessThanOrEqual(6);
    expect(usage.total_tokens).toBe(usage.prompt_tokens + usage.completion_tokens);
  });

  it('streams the same text chunk by chunk, with a final usage chunk and a prefix-cache hit', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: chatMessages,
      max_tokens: 6,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) {
      assertSchema('CreateChatCompletionStreamResponse', chunk);
      chunks.push(chunk);
    }
    expect(chunks[0].choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(new Set(chunks.map((c) => c.id)).size).toBe(1);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe(whole.choices[0].message.content);
    const finish = chunks.at(-2)!;
    expect(finish.choices[0].finish_reason).toBe(whole.choices[0].finish_reason);
    const last = chunks.at(-1)!;
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({
      prompt_tokens: whole.usage!.prompt_tokens,
      completion_tokens: whole.usage!.completion_tokens,
    });
    // Same prompt again: the engine reuses its KV and says so.
    expect(last.usage!.prompt_tokens_details!.cached_tokens).toBeGreaterThan(0);
    for (const c of chunks.slice(0, -1)) expect(c.usage).toBeNull();
  });

  it('ends the raw SSE stream with data: [DONE]', async () => {
    const res = await request(server.url, 'POST', '/chat/completions', {
      body: { model: MODEL, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2, stream: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(res.text);
    expect(events.at(-1)!.data).toBe('[DONE]');
    for (const ev of events.slice(0, -1)) assertSchema('CreateChatCompletionStreamResponse', JSON.parse(ev.data));
  });

  it('returns logprobs with top alternatives, one entry per generated token', async () => {
    const res = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say yes.' }],
      max_tokens: 3,
      temperature: 0,
      logprobs: true,
      top_logprobs: 2,
    });
    assertSchema('CreateChatCompletionResponse', res);
    const content = res.choices[0].logprobs!.content!;
    expect(content).toHaveLength(res.usage!.completion_tokens);
    for (const lp of content) {
      expect(lp.logprob).toBeLessThanOrEqual(0);
      expect(lp.top_logprobs).toHaveLength(2);
      expect(lp.bytes).toEqual([...Buffer.from(lp.token, 'utf8')]);
    }
  });

  it('accepts every documented sampling parameter, and a seed makes sampling repeatable', async () => {
    const params = {
      model: MODEL,
      messages: [{ role: 'user' as const, content: 'Write a word.' }],
      max_completion_tokens: 4,
      temperature: 0.8,
      top_p: 0.9,
      top_k: 40,
      min_p: 0.05,
      frequency_penalty: 0.2,
      presence_penalty: 0.1,
      repetition_penalty: 1.1,
      seed: 1234,
      stop: ['\n\n'],
      logit_bias: { '17': -100 },
      n: 1,
      user: 'test-user',
    };
    const a = await client.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming);
    const b = await client.chat.completions.create(params as OpenAI.ChatCompletionCreateParamsNonStreaming);
    assertSchema('CreateChatCompletionResponse', a);
    expect(a.usage!.completion_tokens).toBeLessThanOrEqual(4);
    expect(b.choices[0].message.content).toBe(a.choices[0].message.content);
  });
});

describe('text completions', () => {
  it('completes a prompt, streaming and not, with the same text', async () => {
    const whole = await client.completions.create({ model: MODEL, prompt: COUNTING, max_tokens: 4, temperature: 0 });
    assertSchema('CreateCompletionResponse', whole);
    expect(whole.object).toBe('text_completion');
    expect(whole.choices[0].text).toMatch(/^ 5/);

    const stream = await client.completions.create({
      model: MODEL,
      prompt: COUNTING,
      max_tokens: 4,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Completion[] = [];
    for await (const chunk of stream) {
      assertSchema('CreateCompletionStreamChunk', chunk);
      chunks.push(chunk);
    }
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe(whole.choices[0].text);
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('length');
    expect(chunks.at(-1)!.usage).toMatchObject({ completion_tokens: 4, prompt_tokens: whole.usage!.prompt_tokens });
  });

  it('takes token ids and counts exactly those as prompt tokens', async () => {
    const ids = [28, 216, 34, 28, 216, 35, 28]; // any in-vocabulary ids
    const res = await client.completions.create({ model: MODEL, prompt: ids, max_tokens: 2, temperature: 0 });
    assertSchema('CreateCompletionResponse', res);
    expect(res.usage!.prompt_tokens).toBe(ids.length);
    const batchOfOne = await request(server.url, 'POST', '/v1/completions', {
      body: { model: MODEL, prompt: [ids], max_tokens: 1 },
    });
    expect(batchOfOne.status).toBe(200);
  });

  it('keeps generating past end-of-sequence with the ignore_eos extension', async () => {
    const messages = [{ role: 'user' as const, content: 'What is the capital of France?' }];
    const ends = await request(server.url, 'POST', '/v1/chat/completions', { body: { model: MODEL, messages, max_tokens: 24, temperature: 0 } });
    const endsBody = ends.json() as { choices: { finish_reason: string }[]; usage: { completion_tokens: number } };
    expect(endsBody.choices[0].finish_reason).toBe('stop');
    expect(endsBody.usage.completion_tokens).toBeLessThan(24);
    const res = await request(server.url, 'POST', '/v1/chat/completions', {
      body: { model: MODEL, messages, max_tokens: 24, temperature: 0, ignore_eos: true },
    });
    const body = res.json() as { choices: { finish_reason: string }[]; usage: { completion_tokens: number } };
    expect(body.choices[0].finish_reason).toBe('length');
    expect(body.usage.completion_tokens).toBe(24);
  });

  it('stops at a stop string and strips it', async () => {
    const res = await client.completions.create({ model: MODEL, prompt: COUNTING, max_tokens: 8, temperature: 0, stop: [' 6'] });
    assertSchema('CreateCompletionResponse', res);
    expect(res.choices[0].text).toBe(' 5,');
    expect(res.choices[0].finish_reason).toBe('stop');
  });

  it('returns completions logprobs whose tokens spell the text', async () => {
    const res = await client.completions.create({ model: MODEL, prompt: COUNTING, max_tokens: 3, temperature: 0, logprobs: 2 });
    assertSchema('CreateCompletionResponse', res);
    const lp = res.choices[0].logprobs!;
    expect(lp.tokens!.join('')).toBe(res.choices[0].text);
    expect(lp.token_logprobs).toHaveLength(3);
    expect(lp.text_offset).toEqual([0, lp.tokens![0].length, lp.tokens![0].length + lp.tokens![1].length]);
    for (const top of lp.top_logprobs!) expect(Object.keys(top).length).toBeGreaterThanOrEqual(1);
  });
});

describe('concurrency', () => {
  it('gives concurrent clients the same separate outputs they get alone', async () => {
    const prompts = [COUNTING, 'Monday, Tuesday, Wednesday,', 'a, b, c, d,'];
    const run = (prompt: string) =>
      client.completions.create({ model: MODEL, prompt, max_tokens: 4, temperature: 0 }).then((r) => r.choices[0].text);
    const alone: string[] = [];
    for (const p of prompts) alone.push(await run(p));
    const together = await Promise.all(prompts.map(run));
    expect(together).toEqual(alone);
    expect(new Set(alone).size).toBe(prompts.length);
  });
});

describe('metrics and logs', () => {
  it('exposes request, token, latency, queue, memory and prefix-cache metrics', async () => {
    const res = await request(server.url, 'GET', '/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    const m = res.text;
    expect(metricValue(m, 'mlx_native_requests_total{route="/v1/chat/completions",status="200"}')).toBeGreaterThanOrEqual(5);
    expect(metricValue(m, 'mlx_native_prompt_tokens_total')).toBeGreaterThan(0);
    expect(metricValue(m, 'mlx_native_completion_tokens_total')).toBeGreaterThan(0);
    expect(metricValue(m, 'mlx_native_prefix_cache_hits_total')).toBeGreaterThanOrEqual(1);
    expect(metricValue(m, 'mlx_native_prefix_cache_reused_tokens_total')).toBeGreaterThan(0);
    expect(metricValue(m, 'mlx_native_time_to_first_token_seconds_count')).toBeGreaterThan(0);
    expect(metricValue(m, 'mlx_native_inter_token_latency_seconds_count')).toBeGreaterThan(0);
    expect(metricValue(m, 'mlx_native_mlx_active_memory_bytes')).toBeGreaterThan(0);
    expect(metricValue(m, 'mlx_native_mlx_peak_memory_bytes')).toBeGreaterThan(0);
    for (const name of ['mlx_native_queue_depth', 'mlx_native_active_sequences', 'mlx_native_requests_in_flight']) {
      expect(m).toMatch(new RegExp(`^${name} 0$`, 'm'));
    }
  });

  it('logs one structured line per request with status, tokens and timings', () => {
    const lines = server.logs().filter((l) => l.msg === 'request' && l.route === '/v1/chat/completions');
    expect(lines.length).toBeGreaterThanOrEqual(5);
    expect(lines[0]).toMatchObject({ method: 'POST', status: 200, finishReason: expect.any(String) });
    for (const key of ['promptTokens', 'completionTokens', 'durationMs', 'timeToFirstTokenMs']) {
      expect(typeof lines[0][key]).toBe('number');
    }
  });
});
