/**
 * How each model family writes tool calls: inferring the format from a chat template, reading
 * calls out of the generated text, and the grammar that makes a model write a valid call.
 *
 * - hermes (Qwen, Hermes, SmolLM3, most ChatML models): `<tool_call>{"name", "arguments"}</tool_call>`
 * - llama3: a bare JSON object `{"name", "parameters"}`, optionally after `<|python_tag|>`
 * - mistral: `[TOOL_CALLS][{"name", "arguments"}, …]`, or (newer templates) `[TOOL_CALLS]name[ARGS]{…}`
 * - gemma: a fenced block, ```` ```tool_code ```` … ```` ``` ````, holding `name(key=value, …)` or JSON
 * - harmony (gpt-oss): `<|channel|>commentary to=functions.name … <|message|>{…}<|call|>`
 */
import type { Tool, ToolCallFormat } from './types.js';

export const TOOL_CALL_FORMATS: readonly ToolCallFormat[] = ['hermes', 'llama3', 'mistral', 'gemma', 'harmony'];

/** mlx-server's names for the formats, as `--tool-call-format` accepts them. */
export const TOOL_CALL_FORMAT_ALIASES: Record<string, ToolCallFormat> = {
  hermes: 'hermes',
  qwen: 'hermes',
  json: 'llama3',
  llama3: 'llama3',
  mistral: 'mistral',
  gemma: 'gemma',
  harmony: 'harmony',
  'gpt-oss': 'harmony',
};

/** The format a chat template writes, hermes when it shows no other. */
export function inferToolCallFormat(templateSource: string): ToolCallFormat {
  if (templateSource.includes('[TOOL_CALLS]')) return 'mistral';
  if (templateSource.includes('<|channel|>')) return 'harmony';
  if (templateSource.includes('<tool_call>')) return 'hermes';
  if (templateSource.includes('tool_code') || templateSource.includes('<start_of_turn>')) return 'gemma';
  if (templateSource.includes('<|python_tag|>') || templateSource.includes('"parameters"')) return 'llama3';
  return 'hermes';
}

/** The texts that open a tool call in each format (the first one ends the plain answer). */
export function callMarkers(format: ToolCallFormat): string[] {
  switch (format) {
    case 'hermes':
      return ['<tool_call>'];
    case 'llama3':
      return ['<|python_tag|>'];
    case 'mistral':
      return ['[TOOL_CALLS]'];
    case 'gemma':
      return ['```tool_code'];
    case 'harmony':
      return ['<|channel|>commentary to=', ' to=functions.'];
  }
}

export interface ParsedCall {
  name: string;
  /** The arguments object as JSON text. */
  arguments: string;
}

type Json = Record<string, unknown>;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function asCall(v: unknown): ParsedCall | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
  const o = v as Json;
  const fn = o.function && typeof o.function === 'object' ? (o.function as Json) : o;
  if (typeof fn.name !== 'string' || !fn.name) return undefined;
  let args = fn.arguments ?? fn.parameters ?? {};
  if (typeof args === 'string') args = parseJson(args) ?? args;
  if (!args || typeof args !== 'object' || Array.isArray(args)) return undefined;
  return { name: fn.name, arguments: JSON.stringify(args) };
}

function callsOf(v: unknown): ParsedCall[] | undefined {
  const list = Array.isArray(v) ? v : [v];
  const calls = list.map(asCall);
  return calls.length > 0 && calls.every((c) => c !== undefined) ? (calls as ParsedCall[]) : undefined;
}

/** JSON values one after another (`{…}; {…}` or `{…}\n{…}`). */
function jsonSequence(text: string): unknown[] | undefined {
  const whole = parseJson(text.trim());
  if (whole !== undefined) return [whole];
  const parts = text.split(/(?<=\})\s*[;,\n]\s*(?=\{)/);
  const values = parts.map((p) => parseJson(p.trim()));
  return values.every((v) => v !== undefined) ? values : undefined;
}

/** A Python literal (as gemma writes arguments) as a JSON value, or undefined. */
function pythonValue(text: string): unknown {
  const t = text.trim();
  const json = parseJson(
    t
      .replace(/\bTrue\b/g, 'true')
      .replace(/\bFalse\b/g, 'false')
      .replace(/\bNone\b/g, 'null'),
  );
  if (json !== undefined) return json;
  const single = /^'((?:[^'\\]|\\.)*)'$/s.exec(t);
  return single ? single[1].replace(/\\'/g, "'").replace(/"/g, '"') : undefined;
}

/** `name(key=value, …)` as a call. */
function pythonCall(text: string): ParsedCall | undefined {
  const m = /^\s*(?:print\()?\s*([A-Za-z_][\w.]*)\((.*)\)\s*\)?\s*$/s.exec(text);
  if (!m) return undefined;
  const args: Json = {};
  // Split on commas at depth 0 outside strings.
  let depth = 0;
  let quote = '';
  let start = 0;
  const pieces: string[] = [];
  const body = m[2];
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if ('([{'.includes(c)) depth++;
    else if (')]}'.includes(c)) depth--;
    else if (c === ',' && depth === 0) {
      pieces.push(body.slice(start, i));
      start = i + 1;
    }
  }
  if (body.trim()) pieces.push(body.slice(start));
  for (const piece of pieces) {
    const eq = piece.indexOf('=');
    if (eq < 0) return undefined;
    const value = pythonValue(piece.slice(eq + 1));
    if (value === undefined) return undefined;
    args[piece.slice(0, eq).trim()] = value;
  }
  return { name: m[1], arguments: JSON.stringify(args) };
}

/**
 * The calls in `section` (the text from the first call marker on, or the whole output for
 * llama3's bare JSON), or undefined when it does not read as calls in `format`.
 */
export function parseToolCalls(format: ToolCallFormat, section: string): ParsedCall[] | undefined {
  switch (format) {
    case 'hermes': {
      const blocks = [...section.matchAll(/<tool_call>\s*([\s\S]*?)\s*(?:<\/tool_call>|$)/g)].map((m) => m[1]);
      const calls = blocks.map((b) => asCall(parseJson(b)));
      return calls.length > 0 && calls.every((c) => c) ? (calls as ParsedCall[]) : undefined;
    }
    case 'llama3': {
      const values = jsonSequence(section.replace(/^\s*<\|python_tag\|>/, ''));
      return values && callsOf(values.flat());
    }
    case 'mistral': {
      const parts = section.split('[TOOL_CALLS]').filter((p) => p.trim());
      const calls: ParsedCall[] = [];
      for (const part of parts) {
        const args = part.indexOf('[ARGS]');
        if (args >= 0) {
          const name = part.slice(0, args).replace(/\[CALL_ID\][\s\S]*$/, '').trim();
          const value = parseJson(part.slice(args + '[ARGS]'.length).trim());
          const call = asCall({ name, arguments: value });
          if (!call) return undefined;
          calls.push(call);
        } else {
          const listed = callsOf(parseJson(part.trim()));
          if (!listed) return undefined;
          calls.push(...listed);
        }
      }
      return calls.length > 0 ? calls : undefined;
    }
    case 'gemma': {
      const blocks = [...section.matchAll(/```tool_code\s*([\s\S]*?)\s*(?:```|$)/g)].map((m) => m[1]);
      const calls: ParsedCall[] = [];
      for (const block of blocks) {
        const json = jsonSequence(block);
        const parsed = json ? callsOf(json.flat()) : undefined;
        if (parsed) {
          calls.push(...parsed);
          continue;
        }
        for (const line of block.split('\n').filter((l) => l.trim())) {
          const call = pythonCall(line);
          if (!call) return undefined;
          calls.push(call);
        }
      }
      return calls.length > 0 ? calls : undefined;
    }
    case 'harmony': {
      const re = /to=functions\.([\w.-]+)[^]*?<\|message\|>([\s\S]*?)(?:<\|call\|>|<\|end\|>|$)/g;
      const calls = [...section.matchAll(re)].map((m) => asCall({ name: m[1], arguments: parseJson(m[2].trim()) }));
      return calls.length > 0 && calls.every((c) => c) ? (calls as ParsedCall[]) : undefined;
    }
  }
}

/** How the grammar writes a marker: a special token by id (`<[id]>`), else its text. */
export type MarkerLiteral = (marker: string) => string;

function callSchema(tool: Tool, argsKey: string): Json {
  return {
    type: 'object',
    properties: { name: { const: tool.function.name }, [argsKey]: tool.function.parameters ?? { type: 'object' } },
    required: ['name', argsKey],
    additionalProperties: false,
  };
}

function oneOf(schemas: Json[]): Json {
  return schemas.length === 1 ? schemas[0] : { anyOf: schemas };
}

/**
 * A Lark grammar (llguidance's dialect) whose every sentence is one call (or, with `parallel`,
 * one or more) to one of `tools` in `format`, with arguments valid under each tool's schema.
 */
export function toolCallGrammar(format: ToolCallFormat, tools: Tool[], parallel: boolean, literal: MarkerLiteral): string {
  const json = (schema: Json) => `%json ${JSON.stringify({ ...schema, 'x-guidance': { whitespace_flexible: false } })}`;
  const many = (call: string, sep: string) => (parallel ? `start: ${call} (${sep} ${call})*` : `start: ${call}`);
  switch (format) {
    case 'hermes':
      return [
        many('call', '"\\n"'),
        `call: ${literal('<tool_call>')} "\\n" body "\\n" ${literal('</tool_call>')}`,
        `body: ${json(oneOf(tools.map((t) => callSchema(t, 'arguments'))))}`,
      ].join('\n');
    case 'llama3':
      return many(`call`, '"; "') + `\ncall: ${json(oneOf(tools.map((t) => callSchema(t, 'parameters'))))}`;
    case 'mistral': {
      const items = oneOf(tools.map((t) => callSchema(t, 'arguments')));
      const list = { type: 'array', items, minItems: 1, ...(parallel ? {} : { maxItems: 1 }) };
      return `start: ${literal('[TOOL_CALLS]')} calls\ncalls: ${json(list)}`;
    }
    case 'gemma':
      return [
        many('call', '"\\n"'),
        'call: "```tool_code\\n" body "\\n```"',
        `body: ${json(oneOf(tools.map((t) => callSchema(t, 'parameters'))))}`,
      ].join('\n');
    case 'harmony': {
      const alts = tools.map(
        (t, i) =>
          `call${i}: "${t.function.name}" " " ${literal('<|constrain|>')} "json" ${literal('<|message|>')} ${json(t.function.parameters ?? { type: 'object' })}`,
      );
      const calls = tools.map((_, i) => `call${i}`).join(' | ');
      return [
        `start: ${literal('<|channel|>')} "commentary to=functions." call ${literal('<|call|>')}`,
        `call: ${calls}`,
        ...alts,
      ].join('\n');
    }
  }
}
