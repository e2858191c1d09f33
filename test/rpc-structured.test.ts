// `mlx-native rpc` for agents: chat with tools (forced calls grammar-constrained, results fed
// back), response_format JSON schema on generate and chat, and reasoning kept apart, whole and
// streamed as `token` notifications, on a real child process with the fixture model.
import Ajv from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readGgufMetadata } from '../src/engine/gguf.js';
import { Tokenizer } from '../src/engine/tokenizer.js';
import { FIXTURE } from './helpers/fixture.js';
import { response, spawnRpc, token, type Message, type RpcProcess } from './helpers/rpc.js';

let rpc: RpcProcess;

beforeAll(async () => {
  rpc = spawnRpc(['--model', FIXTURE]);
  expect((await rpc.request('initialize')).result).toMatchObject({ protocol_version: '1' });
});

afterAll(async () => {
  expect(await rpc?.close()).toBe(0);
});

const parameters = {
  type: 'object',
  properties: { city: { type: 'string', maxLength: 20 }, days: { type: 'integer', minimum: 1, maximum: 14 } },
  required: ['city', 'days'],
  additionalProperties: false,
};
const tools = [{ type: 'function', function: { name: 'get_weather', description: 'Weather forecast for a city', parameters } }];
const ask = [{ role: 'user', content: 'What is the weather in Paris for the next 3 days?' }];

/** Sends a streaming request and returns its result and its `token` notifications. */
async function streamed(method: string, id: string, params: Record<string, unknown>): Promise<{ result: Message['result']; tokens: Message[] }> {
  rpc.send({ jsonrpc: '2.0', id, method, params: { ...params, stream: true, request_id: id } });
  const answer = await rpc.next(response(id));
  expect(answer.error, JSON.stringify(answer.error)).toBeUndefined();
  return { result: answer.result, tokens: rpc.messages.filter(token(id)) };
}

describe('rpc chat with tools', () => {
  const validate = new Ajv({ strict: false }).compile(parameters);

  it('tool_choice required gives a call whose arguments validate; streamed pieces add up to it', async () => {
    const whole = await rpc.request('chat', { messages: ask, tools, tool_choice: 'required', max_tokens: 80 });
    expect(whole.error).toBeUndefined();
    expect(whole.result).toMatchObject({ finish_reason: 'tool_calls' });
    const [call] = whole.result!.tool_calls;
    expect(call).toMatchObject({ type: 'function', function: { name: 'get_weather' } });
    expect(call.id).toMatch(/\S/);
    expect(validate(JSON.parse(call.function.arguments))).toBe(true);

    // camelCase and a named function work the same; deltas follow OpenAI's delta.tool_calls.
    const { result, tokens } = await streamed('chat', 'tools-stream', {
      messages: ask,
      tools,
      toolChoice: { type: 'function', function: { name: 'get_weather' } },
      maxTokens: 80,
    });
    const deltas = tokens.flatMap((t) => t.params!.tool_calls ?? []);
    expect(deltas.length).toBeGreaterThan(0);
    expect(deltas[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather' } });
    const args = deltas.filter((d) => d.index === 0).map((d) => d.function.arguments).join('');
    expect(args).toBe(result!.tool_calls[0].function.arguments);
    expect(validate(JSON.parse(args))).toBe(true);
  });

  it('tool_call_format forces another format than the template suggests (Llama 3 JSON here)', async () => {
    const r = await rpc.request('chat', { messages: ask, tools, tool_choice: 'required', tool_call_format: 'llama3', max_tokens: 80 });
    expect(r.error).toBeUndefined();
    expect(r.result).toMatchObject({ finish_reason: 'tool_calls' });
    expect(r.result!.text).toBe('');
    expect(validate(JSON.parse(r.result!.tool_calls[0].function.arguments))).toBe(true);
    // What the model wrote: Llama 3's {"name", "parameters"} object, not Hermes' <tool_call> tags.
    const raw = Tokenizer.fromGguf(await readGgufMetadata(FIXTURE)).decode(r.result!.tokens);
    expect(raw).toContain('"parameters"');
    expect(raw).not.toContain('<tool_call>');
  });

  it('takes the call and its result back in the history, and answers in text with tool_choice none', async () => {
    const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","days":3}' } };
    const r = await rpc.request('chat', {
      messages: [...ask, { role: 'assistant', content: null, tool_calls: [call] }, { role: 'tool', tool_call_id: 'call_1', name: 'get_weather', content: 'Sunny, 24 C.' }],
      tools,
      tool_choice: 'none',
      max_tokens: 12,
      temperature: 0,
    });
    expect(r.error).toBeUndefined();
    expect(r.result!.tool_calls).toBeUndefined();
    expect(['stop', 'length']).toContain(r.result!.finish_reason);
    expect(r.result!.text.length).toBeGreaterThan(0);
    // The history (the call and its result) was rendered into the prompt.
    const bare = await rpc.request('chat', { messages: ask, max_tokens: 1 });
    expect(r.result!.prompt_tokens).toBeGreaterThan(bare.result!.prompt_tokens + 10);
  });
});

describe('rpc response_format', () => {
  const schema = {
    type: 'object',
    properties: { name: { type: 'string', minLength: 1, maxLength: 12 }, age: { type: 'integer', minimum: 0, maximum: 120 } },
    required: ['name', 'age'],
    additionalProperties: false,
  };
  const validate = new Ajv({ strict: false }).compile(schema);
  const format = { type: 'json_schema', json_schema: { name: 'person', schema, strict: true } };

  it('generate and chat give JSON that validates against the schema, sampled at temperature 1', async () => {
    for (let i = 0; i < 4; i++) {
      const g = await rpc.request('generate', { prompt: 'A person:', response_format: format, max_tokens: 60, temperature: 1, seed: i });
      expect(validate(JSON.parse(g.result!.text)), g.result!.text).toBe(true);
    }
    const { result, tokens } = await streamed('chat', 'json-stream', { messages: [{ role: 'user', content: 'Invent a person.' }], responseFormat: format, max_tokens: 60, temperature: 1 });
    expect(tokens.map((t) => t.params!.text).join('')).toBe(result!.text);
    expect(validate(JSON.parse(result!.text))).toBe(true);
    const obj = await rpc.request('generate', { prompt: 'JSON:', response_format: { type: 'json_object' }, max_tokens: 40, temperature: 0 });
    expect(obj.result!.text.trimStart().startsWith('{')).toBe(true);
  });
});

describe('rpc reasoning', () => {
  it('keeps the thinking apart, closed at the budget, whole and streamed', async () => {
    // prefilled: the reply starts inside the thinking block (the fixture does not think on its
    // own), so the budget closes it and the rest is the answer.
    const params = { messages: ask, max_tokens: 16, temperature: 0, reasoning: { mode: 'prefilled', budget: 5 } };
    const whole = await rpc.request('chat', params);
    expect(whole.error).toBeUndefined();
    expect(whole.result!.reasoning.length).toBeGreaterThan(0);
    expect(whole.result!.reasoning).not.toContain('</think>');
    const { result, tokens } = await streamed('chat', 'think-stream', params);
    expect(tokens.map((t) => t.params!.reasoning ?? '').join('')).toBe(result!.reasoning);
    expect(tokens.map((t) => t.params!.text).join('')).toBe(result!.text);
    expect(result!.reasoning).toBe(whole.result!.reasoning);
  });
});

describe('rpc bad structured params', () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ['a tool name with spaces', { messages: ask, tools: [{ type: 'function', function: { name: 'get weather' } }] }, 'tools.0.function.name'],
    ['an unknown tool_choice', { messages: ask, tools, tool_choice: 'sometimes' }, 'tool_choice'],
    ['json_schema without its schema', { messages: ask, response_format: { type: 'json_schema', json_schema: { name: 'x' } } }, 'response_format.json_schema.schema'],
    ['an unknown tool_call_format', { messages: ask, tools, tool_call_format: 'xml' }, 'tool_call_format'],
    ['an unknown reasoning field', { messages: ask, reasoning: { depth: 3 } }, 'reasoning.depth'],
    ['a tool role without content', { messages: [{ role: 'tool', tool_call_id: 'a' }] }, 'messages.0.content'],
  ];
  for (const [name, params, field] of cases) {
    it(`${name}: -32602 naming ${field}`, async () => {
      const r = await rpc.request('chat', { max_tokens: 2, ...params });
      expect(r.error).toMatchObject({ code: -32602, data: { field } });
    });
  }

  it('a named tool_choice that is not among the tools is refused before any work, and the process keeps answering', async () => {
    const r = await rpc.request('chat', { messages: ask, tools, tool_choice: { type: 'function', function: { name: 'nope' } }, max_tokens: 2 });
    expect(r.error).toMatchObject({ code: -32602, data: { code: 'INVALID_ARGUMENT', field: 'tool_choice' } });
    expect((await rpc.request('health')).result).toMatchObject({ status: 'ok' });
  });
});
