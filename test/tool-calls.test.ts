// Reading replies: tool calls in every format and thinking blocks, from scripted model outputs,
// whole and streamed in pieces (every split gives the same content, reasoning and calls).
import { describe, expect, it } from 'vitest';
import { ChatOutput, type ChatOutputOptions } from '../src/engine/chat-output.js';
import { thinkMarkers } from '../src/engine/reasoning.js';
import { inferToolCallFormat, parseToolCalls } from '../src/engine/tool-formats.js';
import { toolPrompt } from '../src/engine/tool-prompt.js';
import type { ToolCallFormat } from '../src/engine/types.js';

const SPECIALS = ['<|im_end|>', '[TOOL_CALLS]', '[ARGS]', '<|channel|>', '<|message|>', '<|call|>', '<|constrain|>', '<|start|>'];

interface Read {
  content: string;
  reasoning: string;
  calls: { name: string; arguments: string }[];
}

/** Feeds `text` to a ChatOutput in pieces cut at `cuts`, and joins what comes out. */
function read(text: string, o: Omit<ChatOutputOptions, 'specials'>, cuts: number[] = []): Read {
  const out = new ChatOutput({ ...o, specials: SPECIALS });
  const acc: Read = { content: '', reasoning: '', calls: [] };
  const take = (p: ReturnType<ChatOutput['push']>) => {
    acc.content += p.content;
    acc.reasoning += p.reasoning;
    acc.calls.push(...p.calls);
  };
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    take(out.push(text.slice(at, cut)));
    at = cut;
  }
  take(out.flush());
  return acc;
}

/** The same text read whole, one character at a time, and at every single cut: all agree. */
function readEveryWay(text: string, o: Omit<ChatOutputOptions, 'specials'>): Read {
  const whole = read(text, o);
  expect(read(text, o, Array.from({ length: text.length }, (_, i) => i))).toEqual(whole);
  for (let cut = 1; cut < text.length; cut++) expect(read(text, o, [cut]), `cut at ${cut}`).toEqual(whole);
  return whole;
}

const WEATHER = { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' };
const TIME = { name: 'get_time', arguments: '{"zone":"CET"}' };

describe('tool calls, format by format', () => {
  const cases: [string, ToolCallFormat, string, string, Read['calls']][] = [
    ['hermes, one call', 'hermes', '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call><|im_end|>', '', [WEATHER]],
    [
      'hermes, text then two calls',
      'hermes',
      'Let me check.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>\n<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>',
      'Let me check.\n',
      [WEATHER, TIME],
    ],
    ['llama3, bare JSON with parameters', 'llama3', '{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}', '', [WEATHER]],
    [
      'llama3, python_tag and two calls',
      'llama3',
      '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris", "unit": "celsius"}}; {"name": "get_time", "parameters": {"zone": "CET"}}',
      '',
      [WEATHER, TIME],
    ],
    [
      'mistral, first generation (a JSON list)',
      'mistral',
      '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}, {"name": "get_time", "arguments": {"zone": "CET"}}]',
      '',
      [WEATHER, TIME],
    ],
    [
      'mistral, second generation (name[ARGS]json)',
      'mistral',
      '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris", "unit": "celsius"}[TOOL_CALLS]get_time[ARGS]{"zone": "CET"}',
      '',
      [WEATHER, TIME],
    ],
    ['gemma, python call in tool_code', 'gemma', '```tool_code\nget_weather(city="Paris", unit=\'celsius\')\n```', '', [WEATHER]],
    ['gemma, JSON in tool_code', 'gemma', 'Sure.\n```tool_code\n{"name": "get_time", "parameters": {"zone": "CET"}}\n```', 'Sure.\n', [TIME]],
    [
      'harmony (gpt-oss) commentary channel',
      'harmony',
      '<|channel|>commentary to=functions.get_weather <|constrain|>json<|message|>{"city": "Paris", "unit": "celsius"}<|call|>',
      '',
      [WEATHER],
    ],
  ];
  it.each(cases)('%s', (_name, format, text, content, calls) => {
    const got = readEveryWay(text, { toolFormat: format });
    expect(got.calls).toEqual(calls);
    expect(got.content).toBe(content);
    for (const c of got.calls) expect(typeof JSON.parse(c.arguments)).toBe('object');
  });

  it('leaves an answer without calls as content, in every format', () => {
    for (const format of ['hermes', 'llama3', 'mistral', 'gemma', 'harmony'] as const) {
      const got = readEveryWay('The weather is sunny {maybe}.<|im_end|>', { toolFormat: format });
      expect(got).toEqual({ content: 'The weather is sunny {maybe}.', reasoning: '', calls: [] });
    }
  });

  it('gives back a call that does not parse as content, not as a call', () => {
    const text = '<tool_call>\n{"name": "get_weather", "arguments": {"city": </tool_call>';
    expect(readEveryWay(text, { toolFormat: 'hermes' })).toEqual({ content: text, reasoning: '', calls: [] });
    expect(parseToolCalls('llama3', '{"answer": 42}')).toBeUndefined();
  });

  it('infers the format from the chat template', () => {
    expect(inferToolCallFormat('{{ "<tool_call>" }}')).toBe('hermes');
    expect(inferToolCallFormat('{{ "[TOOL_CALLS]" }}')).toBe('mistral');
    expect(inferToolCallFormat('<|python_tag|>{{ tool_call.parameters }}')).toBe('llama3');
    expect(inferToolCallFormat('<start_of_turn>model')).toBe('gemma');
    expect(inferToolCallFormat('<|channel|>analysis')).toBe('harmony');
    expect(inferToolCallFormat("{{ '<|im_start|>' }}")).toBe('hermes');
  });
});

describe('thinking kept apart from the answer', () => {
  const think = thinkMarkers('{{ "<think>" }}');
  const magistral = thinkMarkers('{{ "[THINK]" }}');

  it('splits a <think> block the model opens (auto)', () => {
    const got = readEveryWay('<think>\nThe user wants 2+2.\n</think>\n\nIt is 4.<|im_end|>', { reasoning: { mode: 'auto', markers: think } });
    expect(got).toEqual({ content: 'It is 4.', reasoning: '\nThe user wants 2+2.\n', calls: [] });
  });

  it('reads the whole reply as the answer when no block opens it (auto)', () => {
    expect(readEveryWay('It is <b>4</b>.', { reasoning: { mode: 'auto', markers: think } })).toEqual({ content: 'It is <b>4</b>.', reasoning: '', calls: [] });
  });

  it('starts inside the block when the template opened it (prefilled)', () => {
    const got = readEveryWay('Adding.</think>It is 4.', { reasoning: { mode: 'prefilled', markers: think } });
    expect(got).toEqual({ content: 'It is 4.', reasoning: 'Adding.', calls: [] });
  });

  it('keeps an unfinished block as reasoning', () => {
    expect(readEveryWay('Still thinking about </thi', { reasoning: { mode: 'prefilled', markers: think } })).toEqual({
      content: '',
      reasoning: 'Still thinking about </thi',
      calls: [],
    });
  });

  it('passes the markers through when reasoning is off', () => {
    const text = '<think>hm</think>4';
    expect(readEveryWay(text, { reasoning: { mode: 'off', markers: think } })).toEqual({ content: text, reasoning: '', calls: [] });
  });

  it("reads Magistral's [THINK] blocks", () => {
    expect(readEveryWay('[THINK]Two and two.[/THINK]4', { reasoning: { mode: 'auto', markers: magistral } })).toEqual({
      content: '4',
      reasoning: 'Two and two.',
      calls: [],
    });
  });

  it('reads gpt-oss (harmony) analysis and final channels', () => {
    const markers = thinkMarkers('{{ "<|channel|>" }}');
    const text = '<|channel|>analysis<|message|>Two and two.<|end|><|start|>assistant<|channel|>final<|message|>It is 4.';
    expect(readEveryWay(text, { reasoning: { mode: 'auto', markers }, toolFormat: 'harmony' })).toEqual({ content: 'It is 4.', reasoning: 'Two and two.', calls: [] });
  });

  it('reads thinking, then a tool call', () => {
    const got = readEveryWay('<think>I need the weather.</think>\n<tool_call>\n{"name": "get_time", "arguments": {"zone": "CET"}}\n</tool_call>', {
      reasoning: { mode: 'auto', markers: think },
      toolFormat: 'hermes',
    });
    expect(got).toEqual({ content: '', reasoning: 'I need the weather.', calls: [TIME] });
  });
});

describe('tools in the prompt', () => {
  const tools = [{ type: 'function' as const, function: { name: 'get_time', parameters: { type: 'object' } } }];
  const history = [
    { role: 'user' as const, content: 'Time?' },
    { role: 'assistant' as const, content: '', tool_calls: [{ id: 'call_1', type: 'function' as const, function: { name: 'get_time', arguments: '{"zone":"CET"}' } }] },
    { role: 'tool' as const, content: '12:00', tool_call_id: 'call_1' },
  ];

  it('lists the tools in a system message and writes tool turns as text for a template without tools', () => {
    const { messages, variables } = toolPrompt(history, tools, 'hermes', '{{ messages }}');
    expect(variables).toEqual({});
    expect(messages[0].role).toBe('system');
    expect(messages[0].content).toContain('"name":"get_time"');
    expect(messages[2]).toEqual({ role: 'assistant', content: '<tool_call>\n{"name":"get_time","arguments":{"zone":"CET"}}\n</tool_call>' });
    expect(messages[3]).toEqual({ role: 'user', content: '<tool_response>\n12:00\n</tool_response>' });
  });

  it('hands tools and object arguments to a template that renders them', () => {
    const { messages, variables } = toolPrompt(history, tools, 'hermes', '{% for tool in tools %}{% endfor %}');
    expect(variables).toEqual({ tools });
    expect((messages[1].tool_calls![0].function as unknown as { arguments: unknown }).arguments).toEqual({ zone: 'CET' });
  });
});
