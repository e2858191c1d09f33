// The Responses API end to end: a real `mlx-native serve` process with the fixture model,
// driven by the official openai client (`responses.create`, streaming and not); every
// response and stream event is checked against OpenAI's published schemas.
import { Ajv } from 'ajv';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assertSchema } from './helpers/server-schemas.js';
import { parseSse, request, startServer, type ServerProcess } from './helpers/server.js';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1';

let server: ServerProcess;
let client: OpenAI;

beforeAll(async () => {
  server = await startServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

const EVENT_ORDER = [
  'response.created',
  'response.in_progress',
  'response.output_item.added',
  'response.content_part.added',
  'response.output_text.delta',
  'response.output_text.done',
  'response.content_part.done',
  'response.output_item.done',
];

describe('POST /v1/responses', () => {
  let first: OpenAI.Responses.Response;

  it('answers a string input in the Response shape, with usage and output_text', async () => {
    first = await client.responses.create({ model: MODEL, input: 'Name a color.', max_output_tokens: 40, temperature: 0 });
    assertSchema('Response', first);
    expect(first.object).toBe('response');
    expect(first.model).toBe(MODEL);
    expect(first.id).toMatch(/^resp_/);
    expect(['completed', 'incomplete']).toContain(first.status);
    const message = first.output[0] as OpenAI.Responses.ResponseOutputMessage;
    expect(message.type).toBe('message');
    expect(message.role).toBe('assistant');
    const text = (message.content[0] as OpenAI.Responses.ResponseOutputText).text;
    expect(text.length).toBeGreaterThan(0);
    // The client's own convenience field joins the output text.
    expect(first.output_text).toBe(text);
    const usage = first.usage!;
    expect(usage.input_tokens).toBeGreaterThan(5);
    expect(usage.output_tokens).toBeGreaterThan(0);
    expect(usage.output_tokens).toBeLessThanOrEqual(40);
    expect(usage.total_tokens).toBe(usage.input_tokens + usage.output_tokens);
  });

  it('says incomplete with reason max_output_tokens when the limit cut it', async () => {
    const r = await client.responses.create({ model: MODEL, input: 'Count from 1 to 50.', max_output_tokens: 3, temperature: 0 });
    assertSchema('Response', r);
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect(r.usage!.output_tokens).toBe(3);
  });

  it('takes message items and instructions; instructions change the prompt', async () => {
    const items: OpenAI.Responses.ResponseInput = [
      { role: 'user', content: [{ type: 'input_text', text: 'Name a color.' }] },
    ];
    const plain = await client.responses.create({ model: MODEL, input: items, max_output_tokens: 4, temperature: 0 });
    const instructed = await client.responses.create({
      model: MODEL,
      input: items,
      instructions: 'You are a pirate. Answer in pirate speak, always.',
      max_output_tokens: 4,
      temperature: 0,
    });
    assertSchema('Response', instructed);
    expect(instructed.instructions).toBe('You are a pirate. Answer in pirate speak, always.');
    // The prompts are exactly the chat template over [system: instructions, user] and [user].
    const count = async (messages: unknown[]) =>
      ((await request(server.url, 'POST', '/tokenize', { body: { messages } })).json() as { tokens: number[] }).tokens.length;
    const user = { role: 'user', content: 'Name a color.' };
    expect(plain.usage!.input_tokens).toBe(await count([user]));
    expect(instructed.usage!.input_tokens).toBe(await count([{ role: 'system', content: instructed.instructions }, user]));
    expect(instructed.usage!.input_tokens).not.toBe(plain.usage!.input_tokens);
  });

  it('continues a stored conversation with previous_response_id and serves GET /v1/responses/:id', async () => {
    const next = await client.responses.create({
      model: MODEL,
      input: 'And another one?',
      previous_response_id: first.id,
      max_output_tokens: 4,
      temperature: 0,
    });
    assertSchema('Response', next);
    expect(next.previous_response_id).toBe(first.id);
    // The earlier turn (its input and output) comes before this input.
    const messages = [
      { role: 'user', content: 'Name a color.' },
      { role: 'assistant', content: first.output_text },
      { role: 'user', content: 'And another one?' },
    ];
    const tokens = (await request(server.url, 'POST', '/tokenize', { body: { messages } })).json() as { tokens: number[] };
    expect(next.usage!.input_tokens).toBe(tokens.tokens.length);
    const fetched = await client.responses.retrieve(first.id);
    assertSchema('Response', fetched);
    expect(fetched.id).toBe(first.id);
    expect(fetched.output_text).toBe(first.output_text);
  });

  it('does not keep a response sent with store: false', async () => {
    const r = await client.responses.create({ model: MODEL, input: 'Hi', store: false, max_output_tokens: 2, temperature: 0 });
    const res = await request(server.url, 'GET', `/v1/responses/${r.id}`);
    expect(res.status).toBe(404);
    assertSchema('ErrorResponse', res.json());
  });

  it('streams the documented event sequence, numbered, each matching the schema, with the same text', async () => {
    const stream = await client.responses.create({
      model: MODEL,
      input: 'Name a color.',
      max_output_tokens: 40,
      temperature: 0,
      stream: true,
    });
    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    for await (const event of stream) {
      assertSchema('ResponseStreamEvent', event);
      events.push(event);
    }
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const types = [...new Set(events.map((e) => e.type))];
    expect(types.slice(0, EVENT_ORDER.length)).toEqual(EVENT_ORDER);
    expect(['response.completed', 'response.incomplete']).toContain(types.at(-1));
    const deltas = events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta);
    const last = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    // Greedy decoding: the stream says what the non-streaming request said.
    expect(deltas.join('')).toBe(first.output_text);
    expect(last.response.output_text ?? (last.response.output[0] as OpenAI.Responses.ResponseOutputMessage).content.map((c) => (c as OpenAI.Responses.ResponseOutputText).text).join('')).toBe(first.output_text);
    const done = events.find((e) => e.type === 'response.output_text.done') as OpenAI.Responses.ResponseTextDoneEvent;
    expect(done.text).toBe(first.output_text);
  });

  it('answers JSON that validates against a text.format schema, whole and streamed', async () => {
    const schema = {
      type: 'object',
      properties: { color: { type: 'string', maxLength: 16 }, count: { type: 'integer', minimum: 0, maximum: 99 } },
      required: ['color', 'count'],
      additionalProperties: false,
    };
    const validate = new Ajv({ strict: false }).compile(schema);
    const format = { type: 'json_schema' as const, name: 'pick', schema, strict: true };
    const whole = await client.responses.create({ model: MODEL, input: 'Pick a color and a number.', text: { format }, max_output_tokens: 60, temperature: 1 });
    assertSchema('Response', whole);
    expect(whole.text?.format).toMatchObject({ type: 'json_schema', name: 'pick' });
    expect(validate(JSON.parse(whole.output_text))).toBe(true);

    let streamed = '';
    for await (const event of await client.responses.create({ model: MODEL, input: 'Pick again.', text: { format }, max_output_tokens: 60, stream: true })) {
      assertSchema('ResponseStreamEvent', event);
      if (event.type === 'response.output_text.delta') streamed += event.delta;
    }
    expect(validate(JSON.parse(streamed))).toBe(true);
  });

  it('makes a forced function call whose arguments validate, whole and streamed, and takes its output back', async () => {
    const parameters = {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 20 }, days: { type: 'integer', minimum: 1, maximum: 14 } },
      required: ['city', 'days'],
      additionalProperties: false,
    };
    const validate = new Ajv({ strict: false }).compile(parameters);
    const tools = [{ type: 'function' as const, name: 'get_weather', description: 'Weather forecast for a city', parameters, strict: true }];
    const whole = await client.responses.create({ model: MODEL, input: 'Weather in Paris?', tools, tool_choice: 'required', max_output_tokens: 80 });
    assertSchema('Response', whole);
    const calls = whole.output.filter((o): o is OpenAI.Responses.ResponseFunctionToolCall => o.type === 'function_call');
    expect(calls.length).toBeGreaterThan(0);
    expect(calls[0].name).toBe('get_weather');
    expect(validate(JSON.parse(calls[0].arguments))).toBe(true);
    expect(whole.tools).toHaveLength(1);

    const events: OpenAI.Responses.ResponseStreamEvent[] = [];
    const stream = await client.responses.create({
      model: MODEL,
      input: 'Weather in Rome?',
      tools,
      tool_choice: { type: 'function', name: 'get_weather' },
      max_output_tokens: 80,
      stream: true,
    });
    for await (const event of stream) {
      assertSchema('ResponseStreamEvent', event);
      events.push(event);
    }
    const done = events.find((e) => e.type === 'response.function_call_arguments.done') as OpenAI.Responses.ResponseFunctionCallArgumentsDoneEvent;
    expect(validate(JSON.parse(done.arguments))).toBe(true);
    const deltas = events.filter((e) => e.type === 'response.function_call_arguments.delta').map((e) => (e as { delta: string }).delta);
    expect(deltas.join('')).toBe(done.arguments);
    const completed = events.at(-1) as OpenAI.Responses.ResponseCompletedEvent;
    expect(completed.response.output.find((o) => o.type === 'function_call')).toMatchObject({ arguments: done.arguments, name: 'get_weather' });

    // The call and its output go back as input items; the model answers in text.
    const call = calls[0];
    const answer = await client.responses.create({
      model: MODEL,
      input: [
        { role: 'user', content: 'Weather in Paris?' },
        { type: 'function_call', call_id: call.call_id, name: call.name, arguments: call.arguments },
        { type: 'function_call_output', call_id: call.call_id, output: '{"forecast":"sunny, 24 C"}' },
      ],
      tools,
      tool_choice: 'none',
      max_output_tokens: 30,
      temperature: 0,
    });
    assertSchema('Response', answer);
    expect(answer.output.some((o) => o.type === 'function_call')).toBe(false);
    expect(answer.output_text.length).toBeGreaterThan(0);
  });

  it('streams with event: lines and no [DONE], as OpenAI does', async () => {
    const res = await request(server.url, 'POST', '/v1/responses', {
      body: { input: 'Hi', max_output_tokens: 2, temperature: 0, stream: true },
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = parseSse(res.text);
    for (const ev of events) expect(ev.event).toBe((JSON.parse(ev.data) as { type: string }).type);
    expect(res.text).not.toContain('[DONE]');
  });
});

describe('bad input gets a 400 in OpenAI shape, naming the field', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['missing input', { max_output_tokens: 2 }, 'input'],
    ['empty item list', { input: [] }, 'input'],
    ['image part', { input: [{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }] }, 'input[0].content[0].type'],
    ['item reference', { input: [{ type: 'item_reference', id: 'x' }] }, 'input[0].type'],
    ['function call output without its call id', { input: [{ type: 'function_call_output', output: 'x' }] }, 'input[0].call_id'],
    ['a tool that is not a function', { input: 'Hi', tools: [{ type: 'web_search' }] }, 'tools[0].type'],
    ['tool_choice naming no tool', { input: 'Hi', tools: [{ type: 'function', name: 'f' }], tool_choice: { type: 'function', name: 'g' } }, 'tool_choice'],
    ['a schema the grammar engine cannot compile', { input: 'Hi', text: { format: { type: 'json_schema', name: 'x', schema: { $ref: '#/nope' } } } }, 'text.format'],
    ['an unknown text format', { input: 'Hi', text: { format: { type: 'xml' } } }, 'text.format.type'],
    ['temperature out of range', { input: 'Hi', temperature: 3 }, 'temperature'],
    ['max_output_tokens over the context', { input: 'Hi', max_output_tokens: 10_000_000 }, 'max_output_tokens'],
    ['unknown previous response', { input: 'Hi', previous_response_id: 'resp_nope' }, 'previous_response_id'],
  ];
  for (const [name, body, param] of cases) {
    it(name, async () => {
      const res = await request(server.url, 'POST', '/v1/responses', { body });
      expect(res.status).toBe(400);
      assertSchema('ErrorResponse', res.json());
      expect((res.json() as { error: { param: string } }).error.param).toBe(param);
    });
  }

  it('the openai client raises BadRequestError', async () => {
    await expect(
      client.responses.create({ model: MODEL, input: 'Hi', temperature: 3 }),
    ).rejects.toBeInstanceOf(OpenAI.BadRequestError);
  });
});
