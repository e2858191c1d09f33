// Structured output, tool calls and reasoning through a real `mlx-native serve` process and the
// official openai client: chat.completions.parse with a zod schema, forced tool calls streamed
// and whole, tool turns in the history, reasoning_content, and the two mlx-server flags. Every
// response and chunk is checked against OpenAI's schemas.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { zodResponseFormat } from 'openai/helpers/zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { FIXTURE } from './helpers/fixture.js';
import { assertSchema } from './helpers/server-schemas.js';
import { parseSse, request, startServer, type ServerProcess } from './helpers/server.js';

const MODEL = 'SmolLM2-135M-Instruct.Q4_1';
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

let server: ServerProcess;
let client: OpenAI;

beforeAll(async () => {
  server = await startServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'not-needed', maxRetries: 0 });
});
afterAll(async () => {
  expect(await server?.stop()).toBe(0);
});

const tools: OpenAI.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'add',
      description: 'Adds two integers',
      parameters: {
        type: 'object',
        properties: { a: { type: 'integer', minimum: -99, maximum: 99 }, b: { type: 'integer', minimum: -99, maximum: 99 } },
        required: ['a', 'b'],
        additionalProperties: false,
      },
    },
  },
];
const messages: OpenAI.ChatCompletionMessageParam[] = [{ role: 'user', content: 'What is 2 plus 3?' }];

// Requests decode dozens of tokens on a CPU shared with other work.
const SLOW = { timeout: 600_000 };

/** The chunks of a raw streamed request, each checked against OpenAI's chunk schema. */
async function streamChunks(body: Record<string, unknown>): Promise<OpenAI.ChatCompletionChunk[]> {
  const res = await request(server.url, 'POST', '/v1/chat/completions', { body: { model: MODEL, ...body, stream: true } });
  expect(res.status).toBe(200);
  const events = parseSse(res.text);
  expect(events.at(-1)!.data).toBe('[DONE]');
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as OpenAI.ChatCompletionChunk);
  for (const c of chunks) assertSchema('CreateChatCompletionStreamResponse', c);
  return chunks;
}

describe('response_format', () => {
  it('works with the openai client’s chat.completions.parse and a zod schema', SLOW, async () => {
    const Person = z.object({ name: z.string().max(12), age: z.number().int().min(0).max(120), likes_tea: z.boolean() });
    for (const seed of [1, 2]) {
      const completion = await client.chat.completions.parse({
        model: MODEL,
        messages: [{ role: 'user', content: 'Describe a person.' }],
        response_format: zodResponseFormat(Person, 'person'),
        temperature: 1,
        seed,
        max_tokens: 60,
      });
      assertSchema('CreateChatCompletionResponse', completion);
      const parsed = completion.choices[0].message.parsed;
      expect(Person.safeParse(parsed).success, completion.choices[0].message.content!).toBe(true);
    }
  });

  it('streams JSON that validates once joined', SLOW, async () => {
    const schema = { type: 'object', properties: { color: { enum: ['red', 'green', 'blue'] } }, required: ['color'], additionalProperties: false };
    const chunks = await streamChunks({
      messages: [{ role: 'user', content: 'Pick a color.' }],
      response_format: { type: 'json_schema', json_schema: { name: 'color', schema, strict: true } },
      max_tokens: 30,
    });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(['red', 'green', 'blue']).toContain(JSON.parse(text).color);
  });

  it('answers 400 naming response_format for a schema the grammar engine cannot compile', SLOW, async () => {
    const res = await request(server.url, 'POST', '/v1/chat/completions', {
      body: { messages, response_format: { type: 'json_schema', json_schema: { name: 'x', schema: { type: 'object', properties: { a: { $ref: '#/nope' } } } } } },
    });
    expect(res.status).toBe(400);
    assertSchema('ErrorResponse', res.json());
    expect((res.json() as { error: { param: string; message: string } }).error).toMatchObject({ param: 'response_format' });
  });
});

describe('tool calls', () => {
  it('forces a call with tool_choice required; the stream adds up to the whole answer', SLOW, async () => {
    const body = { messages, tools, tool_choice: 'required', temperature: 0, max_tokens: 60 } as const;
    const whole = await client.chat.completions.create({ model: MODEL, ...body });
    assertSchema('CreateChatCompletionResponse', whole);
    const choice = whole.choices[0];
    expect(choice.finish_reason).toBe('tool_calls');
    expect(choice.message.content).toBeNull();
    const calls = choice.message.tool_calls as OpenAI.ChatCompletionMessageFunctionToolCall[];
    expect(calls).toHaveLength(1);
    expect(calls[0].function.name).toBe('add');
    const args = JSON.parse(calls[0].function.arguments);
    expect(Number.isInteger(args.a) && Number.isInteger(args.b)).toBe(true);

    const chunks = await streamChunks(body);
    const joined: { id?: string; name: string; arguments: string }[] = [];
    for (const c of chunks) {
      for (const d of c.choices[0]?.delta.tool_calls ?? []) {
        joined[d.index] ??= { name: '', arguments: '' };
        if (d.id) joined[d.index].id = d.id;
        joined[d.index].name += d.function?.name ?? '';
        joined[d.index].arguments += d.function?.arguments ?? '';
      }
    }
    expect(joined.map(({ name, arguments: a }) => ({ name, arguments: a }))).toEqual(calls.map((c) => c.function));
    expect(joined[0].id).toMatch(/^call_/);
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
  });

  it('forces the named function', SLOW, async () => {
    const more = [...tools, { type: 'function' as const, function: { name: 'noop', parameters: { type: 'object', properties: {} } } }];
    const whole = await client.chat.completions.create({
      model: MODEL,
      messages,
      tools: more,
      tool_choice: { type: 'function', function: { name: 'noop' } },
      temperature: 0,
      max_tokens: 40,
    });
    const call = whole.choices[0].message.tool_calls![0] as OpenAI.ChatCompletionMessageFunctionToolCall;
    expect(call.function.name).toBe('noop');
  });

  it('takes tool calls and tool results in the history', SLOW, async () => {
    const history: OpenAI.ChatCompletionMessageParam[] = [
      ...messages,
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'add', arguments: '{"a":2,"b":3}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '5' },
    ];
    const whole = await client.chat.completions.create({ model: MODEL, messages: history, tools, temperature: 0, max_tokens: 12 });
    assertSchema('CreateChatCompletionResponse', whole);
    expect(whole.usage!.prompt_tokens).toBeGreaterThan(60);
  });

  it('lets the model answer in text with tool_choice none', SLOW, async () => {
    const whole = await client.chat.completions.create({ model: MODEL, messages, tools, tool_choice: 'none', temperature: 0, max_tokens: 8 });
    expect(whole.choices[0].message.tool_calls).toBeUndefined();
    expect(whole.choices[0].message.content!.length).toBeGreaterThan(0);
  });
});

describe('reasoning', () => {
  let thinking: ServerProcess;
  beforeAll(async () => {
    thinking = await startServer(['--reasoning', 'prefilled']);
  });
  afterAll(async () => {
    expect(await thinking?.stop()).toBe(0);
  });

  it('puts the thinking in reasoning_content, whole and streamed, and closes it at the budget', SLOW, async () => {
    const body = { model: MODEL, messages, temperature: 0, max_tokens: 16, max_reasoning_tokens: 5 };
    const res = await request(thinking.url, 'POST', '/v1/chat/completions', { body });
    expect(res.status).toBe(200);
    const whole = res.json() as { choices: { message: { content: string; reasoning_content?: string } }[] };
    assertSchema('CreateChatCompletionResponse', whole);
    const message = whole.choices[0].message;
    expect(message.reasoning_content!.length).toBeGreaterThan(0);
    expect(message.reasoning_content).not.toContain('</think>');
    expect(message.content).not.toContain('</think>');

    const streamed = await request(thinking.url, 'POST', '/v1/chat/completions', { body: { ...body, stream: true } });
    const deltas = parseSse(streamed.text)
      .slice(0, -1)
      .map((e) => JSON.parse(e.data) as { choices: { delta: { content?: string; reasoning_content?: string } }[] });
    for (const d of deltas) assertSchema('CreateChatCompletionStreamResponse', d);
    expect(deltas.map((d) => d.choices[0]?.delta.reasoning_content ?? '').join('')).toBe(message.reasoning_content);
    expect(deltas.map((d) => d.choices[0]?.delta.content ?? '').join('')).toBe(message.content);
  });
});

describe('mlx-server flags', () => {
  it.each([
    ['--tool-call-format', 'yaml'],
    ['--reasoning', 'sometimes'],
  ])('serve %s %s exits 2 with a message naming the flag', (flag, value) => {
    const r = spawnSync(process.execPath, [CLI, 'serve', '--model', FIXTURE, flag, value], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(flag);
  });
});
