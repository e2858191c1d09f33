// Anthropic's Messages API end to end: a real `mlx-native serve` process (with an API key) and
// the official @anthropic-ai/sdk client, unchanged. Messages, stream events, errors and token
// counts are checked against Anthropic's documented shapes (test/schemas/anthropic).
import Anthropic from '@anthropic-ai/sdk';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertAnthropic, CountTokensResponse, ErrorResponse, Message, StreamEvent } from './schemas/anthropic/schemas.js';
import { parseSse, request, startServer, type ServerProcess } from './helpers/server.js';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1';
const KEY = 'sk-messages-test';

let server: ServerProcess;
let client: Anthropic;

beforeAll(async () => {
  server = await startServer(['--api-key', KEY]);
  client = new Anthropic({ baseURL: server.url, apiKey: KEY, maxRetries: 0 });
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

const messages: Anthropic.MessageParam[] = [{ role: 'user', content: [{ type: 'text', text: 'Name a color.' }] }];
const auth = { 'x-api-key': KEY };

describe('POST /v1/messages', () => {
  let first: Anthropic.Message;

  it('answers in the Message shape with the x-api-key the client sends', async () => {
    first = await client.messages.create({ model: MODEL, max_tokens: 40, temperature: 0, system: 'You are terse.', messages });
    assertAnthropic(Message, first);
    expect(first.model).toBe(MODEL);
    expect(first.id).toMatch(/^msg_/);
    const block = first.content[0] as Anthropic.TextBlock;
    expect(block.type).toBe('text');
    expect(block.text.length).toBeGreaterThan(0);
    expect(['end_turn', 'max_tokens']).toContain(first.stop_reason);
    expect(first.usage.output_tokens).toBeGreaterThan(0);
    expect(first.usage.output_tokens).toBeLessThanOrEqual(40);
    // input + cache reads = the whole prompt, which count_tokens reports.
    const counted = await client.messages.countTokens({ model: MODEL, system: 'You are terse.', messages });
    assertAnthropic(CountTokensResponse, counted);
    expect(first.usage.input_tokens + (first.usage.cache_read_input_tokens ?? 0)).toBe(counted.input_tokens);
  });

  it('stops at max_tokens and says so', async () => {
    const m = await client.messages.create({ model: MODEL, max_tokens: 3, temperature: 0, messages: [{ role: 'user', content: 'Count from 1 to 50.' }] });
    assertAnthropic(Message, m);
    expect(m.stop_reason).toBe('max_tokens');
    expect(m.usage.output_tokens).toBe(3);
  });

  it('stops at a stop sequence, names it, and leaves it out of the text', async () => {
    const full = (first.content[0] as Anthropic.TextBlock).text;
    const stop = full.slice(Math.floor(full.length / 2)).trim().slice(0, 3);
    const m = await client.messages.create({ model: MODEL, max_tokens: 40, temperature: 0, system: 'You are terse.', messages, stop_sequences: [stop] });
    assertAnthropic(Message, m);
    expect(m.stop_reason).toBe('stop_sequence');
    expect(m.stop_sequence).toBe(stop);
    const text = (m.content[0] as Anthropic.TextBlock).text;
    expect(text).toBe(full.slice(0, full.indexOf(stop)));
  });

  it('streams the documented events with the same text (SDK stream helper and raw events)', async () => {
    const stream = client.messages.stream({ model: MODEL, max_tokens: 40, temperature: 0, system: 'You are terse.', messages });
    const types: string[] = [];
    stream.on('streamEvent', (event) => {
      assertAnthropic(StreamEvent, event);
      types.push(event.type);
    });
    // Assembled by the SDK from the events (which were checked above), with fields of its own.
    const final = await stream.finalMessage();
    expect((final.content[0] as Anthropic.TextBlock).text).toBe((first.content[0] as Anthropic.TextBlock).text);
    expect(final.stop_reason).toBe(first.stop_reason);
    const distinct = types.filter((t, i) => t !== types[i - 1]);
    // The SDK drops pings; the raw stream below has one.
    expect(distinct).toEqual(['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);

    const res = await request(server.url, 'POST', '/v1/messages', {
      headers: auth,
      body: { model: MODEL, max_tokens: 2, temperature: 0, stream: true, messages },
    });
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const raw = parseSse(res.text);
    for (const ev of raw) {
      const data = assertAnthropic(StreamEvent, JSON.parse(ev.data));
      expect(ev.event).toBe(data.type);
    }
    expect(raw.slice(0, 3).map((e) => e.event)).toEqual(['message_start', 'content_block_start', 'ping']);
    expect(raw.slice(-3).map((e) => e.event)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
  });

  it('accepts the bearer key too, and sampling parameters', async () => {
    const res = await request(server.url, 'POST', '/v1/messages', {
      headers: { authorization: `Bearer ${KEY}` },
      body: { model: MODEL, max_tokens: 3, temperature: 0.7, top_p: 0.9, top_k: 20, messages },
    });
    expect(res.status).toBe(200);
    assertAnthropic(Message, res.json());
  });
});

describe('errors in Anthropic shape', () => {
  it('a missing or wrong key is a 401 authentication_error (SDK: AuthenticationError)', async () => {
    const bad = new Anthropic({ baseURL: server.url, apiKey: 'wrong', maxRetries: 0 });
    await expect(bad.messages.create({ model: MODEL, max_tokens: 2, messages })).rejects.toBeInstanceOf(Anthropic.AuthenticationError);
    const res = await request(server.url, 'POST', '/v1/messages', { body: { max_tokens: 2, messages } });
    expect(res.status).toBe(401);
    expect(assertAnthropic(ErrorResponse, res.json()).error.type).toBe('authentication_error');
  });

  it('makes a forced tool call whose input validates, streamed as the whole message says, and takes the result back', async () => {
    const input_schema = {
      type: 'object' as const,
      properties: { city: { type: 'string', maxLength: 20 }, days: { type: 'integer', minimum: 1, maximum: 14 } },
      required: ['city', 'days'],
      additionalProperties: false,
    };
    const validate = new Ajv({ strict: false }).compile(input_schema);
    const tools: Anthropic.Tool[] = [{ name: 'get_weather', description: 'Weather forecast for a city', input_schema }];
    const ask: Anthropic.MessageParam[] = [{ role: 'user', content: 'Weather in Paris?' }];
    const whole = await client.messages.create({ model: MODEL, max_tokens: 80, messages: ask, tools, tool_choice: { type: 'any' } });
    assertAnthropic(Message, whole);
    expect(whole.stop_reason).toBe('tool_use');
    const use = whole.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!;
    expect(use.name).toBe('get_weather');
    expect(validate(use.input)).toBe(true);

    const raw = await request(server.url, 'POST', '/v1/messages', {
      headers: auth,
      body: { model: MODEL, max_tokens: 80, messages: ask, tools, tool_choice: { type: 'tool', name: 'get_weather' }, stream: true },
    });
    const events = parseSse(raw.text).map((e) => assertAnthropic(StreamEvent, JSON.parse(e.data)));
    const json = events.filter((e) => e.type === 'content_block_delta' && e.delta.type === 'input_json_delta').map((e) => (e as { delta: { partial_json: string } }).delta.partial_json);
    expect(validate(JSON.parse(json.join('')))).toBe(true);
    expect(events.find((e) => e.type === 'message_delta')).toMatchObject({ delta: { stop_reason: 'tool_use' } });

    // The SDK's stream helper builds the same message shape from the events.
    const final = await client.messages.stream({ model: MODEL, max_tokens: 80, messages: ask, tools, tool_choice: { type: 'any' } }).finalMessage();
    expect(validate(final.content.find((b): b is Anthropic.ToolUseBlock => b.type === 'tool_use')!.input)).toBe(true);

    // The call and its result go back; with tool_choice none the model answers in text.
    const answer = await client.messages.create({
      model: MODEL,
      max_tokens: 30,
      temperature: 0,
      tools,
      tool_choice: { type: 'none' },
      messages: [
        ...ask,
        { role: 'assistant', content: [use] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '{"forecast":"sunny, 24 C"}' }] },
      ],
    });
    assertAnthropic(Message, answer);
    expect(answer.stop_reason).not.toBe('tool_use');
    expect(answer.content.some((b) => b.type === 'text')).toBe(true);
    const counted = await client.messages.countTokens({ model: MODEL, messages: [...ask, { role: 'assistant', content: [use] }], tools });
    expect(counted.input_tokens).toBeGreaterThan(5);
  });

  it('puts the thinking in a thinking block, whole and streamed, closed at budget_tokens', async () => {
    // --reasoning prefilled: the reply starts inside the thinking block (the fixture model does
    // not think on its own), so the budget closes it and the rest is the answer.
    const thinking = await startServer(['--api-key', KEY, '--reasoning', 'prefilled']);
    try {
      const c = new Anthropic({ baseURL: thinking.url, apiKey: KEY, maxRetries: 0 });
      const body = { model: MODEL, max_tokens: 16, temperature: 0, messages, thinking: { type: 'enabled' as const, budget_tokens: 5 } };
      const whole = await c.messages.create(body);
      assertAnthropic(Message, whole);
      expect(whole.content[0].type).toBe('thinking');
      const thought = (whole.content[0] as Anthropic.ThinkingBlock).thinking;
      expect(thought.length).toBeGreaterThan(0);
      expect(thought).not.toContain('</think>');

      const raw = await request(thinking.url, 'POST', '/v1/messages', { headers: auth, body: { ...body, stream: true } });
      const events = parseSse(raw.text).map((e) => assertAnthropic(StreamEvent, JSON.parse(e.data)));
      expect(events.find((e) => e.type === 'content_block_start')).toMatchObject({ index: 0, content_block: { type: 'thinking' } });
      const streamed = events
        .filter((e) => e.type === 'content_block_delta' && e.delta.type === 'thinking_delta')
        .map((e) => (e as { delta: { thinking: string } }).delta.thinking)
        .join('');
      expect(streamed).toBe(thought);
    } finally {
      expect(await thinking.stop()).toBe(0);
    }
  });

  const cases: [string, unknown, string][] = [
    ['missing max_tokens', { messages }, 'max_tokens'],
    ['empty messages', { max_tokens: 2, messages: [] }, 'messages'],
    ['a system role message', { max_tokens: 2, messages: [{ role: 'system', content: 'x' }] }, 'messages[0].role'],
    ['an image block', { max_tokens: 2, messages: [{ role: 'user', content: [{ type: 'image', source: {} }] }] }, 'messages[0].content[0].type'],
    ['a server tool', { max_tokens: 2, messages, tools: [{ type: 'web_search_20250305', name: 'web_search' }] }, 'tools[0]'],
    ['tool_choice naming no tool', { max_tokens: 2, messages, tools: [{ name: 't', input_schema: { type: 'object' } }], tool_choice: { type: 'tool', name: 'u' } }, 'tool_choice'],
    ['a thinking budget of 0', { max_tokens: 2, messages, thinking: { type: 'enabled', budget_tokens: 0 } }, 'thinking.budget_tokens'],
    ['a tool_result without its tool_use_id', { max_tokens: 2, messages: [{ role: 'user', content: [{ type: 'tool_result', content: 'x' }] }] }, 'tool_use_id'],
    ['temperature above 1', { max_tokens: 2, messages, temperature: 1.5 }, 'temperature'],
    ['max_tokens over the context', { max_tokens: 10_000_000, messages }, 'max_tokens'],
  ];
  for (const [name, body, field] of cases) {
    it(`${name}: 400 invalid_request_error naming '${field}'`, async () => {
      const res = await request(server.url, 'POST', '/v1/messages', { headers: auth, body });
      expect(res.status).toBe(400);
      const err = assertAnthropic(ErrorResponse, res.json());
      expect(err.error.type).toBe('invalid_request_error');
      expect(err.error.message).toContain(field);
    });
  }

  it('malformed JSON and an unknown model answer in Anthropic shape (SDK: BadRequestError, NotFoundError)', async () => {
    const res = await request(server.url, 'POST', '/v1/messages', { headers: auth, rawBody: '{"max_tokens":' });
    expect(res.status).toBe(400);
    assertAnthropic(ErrorResponse, res.json());
    await expect(client.messages.create({ model: 'nope', max_tokens: 2, messages })).rejects.toBeInstanceOf(Anthropic.NotFoundError);
    await expect(client.messages.create({ model: MODEL, max_tokens: 0, messages })).rejects.toBeInstanceOf(Anthropic.BadRequestError);
  });

  it('count_tokens validates its body the same way', async () => {
    const res = await request(server.url, 'POST', '/v1/messages/count_tokens', { headers: auth, body: { messages: [] } });
    expect(res.status).toBe(400);
    assertAnthropic(ErrorResponse, res.json());
  });
});
