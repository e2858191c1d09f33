// Grammar-constrained decoding on the real fixture model: JSON that validates every time at
// temperature 1, forced tool calls whose arguments validate, thinking budgets that close the
// block, and constrained rows that leave the rest of the batch as it was.
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, MlxNativeError, type Model, type Tool } from '../src/index.js';
import { expectSameDecode, NEAR_TIE_LOGPROBS } from './helpers/batch-invariance.js';
import { FIXTURE } from './helpers/fixture.js';

let model: Model;
beforeAll(async () => {
  model = await loadModel(FIXTURE, { maxBatch: 16 });
});
afterAll(() => model?.dispose());

const ajv = new Ajv({ strict: false });

const PERSON = {
  type: 'object',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 12 },
    age: { type: 'integer', minimum: 0, maximum: 120 },
    pets: { type: 'array', items: { enum: ['cat', 'dog', 'fish'] }, maxItems: 3 },
    verified: { type: 'boolean' },
  },
  required: ['name', 'age', 'pets', 'verified'],
  additionalProperties: false,
};

const TOOLS: Tool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Current weather in a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 20 }, unit: { enum: ['celsius', 'fahrenheit'] } },
        required: ['city', 'unit'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'add',
      parameters: {
        type: 'object',
        properties: { a: { type: 'integer', minimum: -1000, maximum: 1000 }, b: { type: 'integer', minimum: -1000, maximum: 1000 } },
        required: ['a', 'b'],
        additionalProperties: false,
      },
    },
  },
];

const ask = (content: string) => [{ role: 'user' as const, content }];

// Every test here decodes dozens of tokens in batches on a CPU shared with other work.
const SLOW = { timeout: 600_000 };

describe('response formats', () => {
  it('gives JSON that validates against the schema, every sample at temperature 1', SLOW, async () => {
    const validate = ajv.compile(PERSON);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        model.chat(ask('Describe a person.'), { maxTokens: 64, temperature: 1, seed: 100 + i, responseFormat: { type: 'json_schema', schema: PERSON } }).result,
      ),
    );
    for (const r of results) {
      expect(r.finishReason, r.text).toBe('stop');
      const value = JSON.parse(r.text);
      expect(validate(value), `${r.text}: ${ajv.errorsText(validate.errors)}`).toBe(true);
    }
    // Sampling stays sampling: the outputs are not all the same.
    expect(new Set(results.map((r) => r.text)).size).toBeGreaterThan(1);
  });

  it('gives a JSON object for json_object', SLOW, async () => {
    const r = await model.chat(ask('Give me a JSON object with your name.'), { maxTokens: 48, temperature: 0, responseFormat: { type: 'json_object' } }).result;
    if (r.finishReason === 'stop') expect(typeof JSON.parse(r.text)).toBe('object');
    else expect(r.text.startsWith('{')).toBe(true);
  });

  it('refuses a schema the grammar engine cannot compile before any work, naming responseFormat', () => {
    const bad = { type: 'object', properties: { a: { $ref: '#/$defs/missing' } } };
    let err: unknown;
    try {
      model.chat(ask('x'), { responseFormat: { type: 'json_schema', schema: bad } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(MlxNativeError);
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', param: 'responseFormat' });
    expect(model.stats()).toEqual({ activeSequences: 0, queuedRequests: 0 });
  });

  it('constrains plain generate() too', SLOW, async () => {
    const r = await model.generate('The answer is', { maxTokens: 8, responseFormat: { type: 'lark', grammar: 'start: "yes" | "no"' } }).result;
    expect(['yes', 'no']).toContain(r.text);
  });
});

describe('forced tool calls', () => {
  it.each([
    ['required', 'required' as const],
    ['a named function', { type: 'function' as const, function: { name: 'add' } }],
  ])('toolChoice %s gives a call whose arguments validate', SLOW, async (_name, toolChoice) => {
    const results = await Promise.all(
      [1, 2].map((seed) => model.chat(ask('What is 2 plus 3? And the weather in Paris?'), { maxTokens: 80, temperature: 1, seed, tools: TOOLS, toolChoice }).result),
    );
    for (const r of results) {
      expect(r.finishReason).toBe('tool_calls');
      expect(r.toolCalls).toHaveLength(1);
      const call = r.toolCalls![0];
      expect(call.id).toMatch(/^call_/);
      const tool = TOOLS.find((t) => t.function.name === call.function.name)!;
      expect(tool, call.function.name).toBeDefined();
      if (typeof toolChoice === 'object') expect(call.function.name).toBe('add');
      const validate = ajv.compile(tool.function.parameters!);
      expect(validate(JSON.parse(call.function.arguments)), call.function.arguments).toBe(true);
    }
  });

  it('streams the call as deltas that add up to the result', SLOW, async () => {
    const gen = model.chat(ask('Add 2 and 3.'), { maxTokens: 60, temperature: 0, tools: TOOLS, toolChoice: 'required' });
    const args: string[] = [];
    const names: string[] = [];
    for await (const chunk of gen) {
      for (const d of chunk.toolCalls ?? []) {
        if (d.function.name) names[d.index] = d.function.name;
        args[d.index] = (args[d.index] ?? '') + d.function.arguments;
      }
    }
    const r = await gen.result;
    expect(names).toEqual(r.toolCalls!.map((c) => c.function.name));
    expect(args).toEqual(r.toolCalls!.map((c) => c.function.arguments));
  });
});

describe('thinking budget', () => {
  const close = () => model.tokenizer.encodeWithSpecials('</think>\n\n');

  it('closes a prefilled block after the budget and answers after it', SLOW, async () => {
    const r = await model.chat(ask('Why is the sky blue?'), { maxTokens: 20, temperature: 0, reasoning: { mode: 'prefilled', budget: 4 } }).result;
    expect(r.tokens.slice(4, 4 + close().length)).toEqual(close());
    expect(r.reasoning).toBe(model.detokenize(r.tokens.slice(0, 4)));
    expect(r.text).toBe(model.detokenize(r.tokens.slice(4 + close().length)).trimStart());
  });

  it('starts the grammar after the thinking block', SLOW, async () => {
    const r = await model.chat(ask('Describe a person.'), {
      maxTokens: 100,
      temperature: 0,
      reasoning: { mode: 'prefilled', effort: 'minimal' },
      responseFormat: { type: 'json_schema', schema: PERSON },
    }).result;
    expect(r.tokens.slice(0, close().length)).toEqual(close());
    expect(r.reasoning).toBe('');
    expect(ajv.compile(PERSON)(JSON.parse(r.text))).toBe(true);
  });
});

describe('constrained rows in the batch', () => {
  it('a constrained and an unconstrained request batched together each give what they give alone', SLOW, async () => {
    const opts = { maxTokens: 40, temperature: 0, ...NEAR_TIE_LOGPROBS };
    const constrained = () => model.chat(ask('Describe a person.'), { ...opts, responseFormat: { type: 'json_schema', schema: PERSON } });
    const free = () => model.chat(ask('Describe a person.'), opts);
    const aloneC = await constrained().result;
    const aloneF = await free().result;
    await model.clearPrefixCache();
    const [c, f] = await Promise.all([constrained().result, free().result]);
    // Exact on the CPU; on a GPU (float16 there) up to a near tie (helpers/batch-invariance.ts).
    await expectSameDecode(c, aloneC, 2 ** -5, 'constrained');
    await expectSameDecode(f, aloneF, 2 ** -5, 'unconstrained');
    expect(aloneC.tokens).not.toEqual(aloneF.tokens);
    const counters = await model.counters();
    expect(counters.grammarMasks).toBeGreaterThan(0);
  });
});
