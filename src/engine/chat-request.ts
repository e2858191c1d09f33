/**
 * What a chat request turns into before it reaches the engine: the prompt (template rendered
 * with tools and thinking switches), the grammar that constrains the reply (a response format,
 * or a forced tool call), the thinking block the engine watches (budget), and how the reply is
 * read back (reasoning, tool calls). Every option is checked here, by name, before any work.
 */
import { MlxNativeError } from '../errors.js';
import type { ChatOutputOptions } from './chat-output.js';
import type { ChatTemplate } from './chat-template.js';
import { promptOpensBlock, reasoningBudget, thinkMarkers } from './reasoning.js';
import type { Tokenizer } from './tokenizer.js';
import { inferToolCallFormat, TOOL_CALL_FORMATS, toolCallGrammar } from './tool-formats.js';
import { toolPrompt } from './tool-prompt.js';
import type { ChatMessage, ChatOptions, GenerateOptions, ResponseFormat, Tool } from './types.js';

/** A grammar to compile: llguidance's constraint kind and its text; `param` names the option. */
export interface GrammarSpec {
  kind: 'json_schema' | 'json_object' | 'lark';
  text: string;
  param: string;
}

export interface ReasoningSpec {
  open: string;
  close: string;
  closeIds: number[];
  inside: boolean;
  budget: number;
}

export interface ChatPlan {
  ids: number[];
  grammar?: GrammarSpec;
  reasoning?: ReasoningSpec;
  output?: ChatOutputOptions;
}

/** JSON written as OpenAI writes it: one line, no whitespace between tokens. */
export const COMPACT = { 'x-guidance': { whitespace_flexible: false } };

const bad = (param: string, message: string) => new MlxNativeError('INVALID_ARGUMENT', message, { param });

/** The grammar a response format asks for, or undefined for plain text. */
export function responseFormatGrammar(format: ResponseFormat | undefined, param = 'responseFormat'): GrammarSpec | undefined {
  if (format === undefined) return undefined;
  if (format === null || typeof format !== 'object') throw bad(param, `${param} must be an object with a type`);
  switch (format.type) {
    case 'text':
      return undefined;
    case 'json_object':
      return { kind: 'json_schema', text: JSON.stringify({ type: 'object', ...COMPACT }), param };
    case 'json_schema':
      if (!format.schema || typeof format.schema !== 'object' || Array.isArray(format.schema)) {
        throw bad(param, `${param}.schema must be a JSON Schema object`);
      }
      return { kind: 'json_schema', text: JSON.stringify({ ...format.schema, ...COMPACT }), param };
    case 'lark':
      if (typeof format.grammar !== 'string' || !format.grammar) throw bad(param, `${param}.grammar must be a Lark grammar`);
      return { kind: 'lark', text: format.grammar, param };
    default:
      throw bad(param, `${param}.type must be text, json_object, json_schema or lark`);
  }
}

function checkTools(tools: unknown): Tool[] | undefined {
  if (tools === undefined) return undefined;
  if (!Array.isArray(tools)) throw bad('tools', 'tools must be an array');
  tools.forEach((t: Tool, i) => {
    if (t?.type !== 'function' || typeof t.function?.name !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(t.function.name)) {
      throw bad(`tools[${i}]`, `tools[${i}] must be {type: 'function', function: {name}} with a name of letters, digits, _ . - (at most 64)`);
    }
    const p = t.function.parameters;
    if (p !== undefined && (p === null || typeof p !== 'object' || Array.isArray(p))) {
      throw bad(`tools[${i}].function.parameters`, 'parameters must be a JSON Schema object');
    }
  });
  return tools as Tool[];
}

/** The tools a call must use under `toolChoice`, or undefined when the model may answer freely. */
function forcedTools(tools: Tool[] | undefined, o: ChatOptions): Tool[] | undefined {
  const choice = o.toolChoice ?? 'auto';
  if (choice === 'auto' || choice === 'none') return undefined;
  if (!tools?.length) throw bad('toolChoice', 'toolChoice requires tools');
  if (choice === 'required') return tools;
  if (typeof choice === 'object' && choice?.type === 'function' && typeof choice.function?.name === 'string') {
    const named = tools.filter((t) => t.function.name === choice.function.name);
    if (!named.length) throw bad('toolChoice', `toolChoice names ${choice.function.name}, which is not in tools`);
    return named;
  }
  throw bad('toolChoice', "toolChoice must be 'auto', 'none', 'required' or {type: 'function', function: {name}}");
}

/** How the grammar writes a marker: as its special token when it is one, else as text. */
function markerLiteral(tokenizer: Tokenizer) {
  return (marker: string): string => {
    const ids = tokenizer.encodeWithSpecials(marker);
    if (ids.length === 1 && tokenizer.isSpecial(ids[0])) return `<[${ids[0]}]>`;
    return JSON.stringify(marker);
  };
}

/** The plan for a chat request. Throws INVALID_ARGUMENT (with `param`) or CHAT_TEMPLATE_ERROR. */
export function planChat(tokenizer: Tokenizer, template: ChatTemplate, messages: ChatMessage[], o: ChatOptions): ChatPlan {
  if (!Array.isArray(messages) || messages.length === 0) {
    throw new MlxNativeError('EMPTY_PROMPT', 'messages must be a non-empty array');
  }
  const tools = checkTools(o.tools);
  if (o.toolCallFormat !== undefined && !TOOL_CALL_FORMATS.includes(o.toolCallFormat)) {
    throw bad('toolCallFormat', `toolCallFormat must be one of ${TOOL_CALL_FORMATS.join(', ')}`);
  }
  const format = o.toolCallFormat ?? inferToolCallFormat(template.source);
  const forced = forcedTools(tools, o);
  const useTools = tools?.length && o.toolChoice !== 'none' ? tools : undefined;

  const r = o.reasoning;
  if (r !== undefined && (r === null || typeof r !== 'object')) throw bad('reasoning', 'reasoning must be an object');
  if (r?.mode !== undefined && !['auto', 'prefilled', 'off'].includes(r.mode)) {
    throw bad('reasoning.mode', "reasoning.mode must be 'auto', 'prefilled' or 'off'");
  }
  if (r?.budget !== undefined && !(Number.isInteger(r.budget) && r.budget >= 0 && r.budget < 2 ** 31)) {
    throw bad('reasoning.budget', 'reasoning.budget must be a non-negative integer');
  }
  if (r?.effort !== undefined && !['minimal', 'low', 'medium', 'high'].includes(r.effort)) {
    throw bad('reasoning.effort', "reasoning.effort must be 'minimal', 'low', 'medium' or 'high'");
  }
  const markers = thinkMarkers(template.source);
  const variables: Record<string, unknown> = {};
  if (r?.enableThinking !== undefined) variables.enable_thinking = Boolean(r.enableThinking);
  if (r?.effort !== undefined) variables.reasoning_effort = r.effort;

  const prompt = toolPrompt(messages, useTools, format, template.source);
  const { ids, text } = tokenizer.encodeChat(template, prompt.messages, {
    addGenerationPrompt: true,
    ...prompt.variables,
    ...variables,
  });

  let mode = r?.mode ?? 'auto';
  // Auto: a template that opened the block itself is read as prefilled; one that never speaks of
  // thinking is not watched at all.
  if (mode === 'auto' && promptOpensBlock(text, markers)) mode = 'prefilled';
  else if (mode === 'auto' && r?.mode === undefined && !template.source.includes(markers.open)) mode = 'off';
  if (r?.enableThinking === false && mode === 'prefilled' && r?.mode === undefined) mode = 'off';

  const grammar: GrammarSpec | undefined = forced
    ? {
        kind: 'lark',
        // Several calls only when asked for: small models otherwise repeat a forced call to the end.
        text: toolCallGrammar(format, forced, o.parallelToolCalls === true, markerLiteral(tokenizer)),
        param: 'tools',
      }
    : responseFormatGrammar(o.responseFormat);

  const budget = mode === 'off' ? undefined : reasoningBudget(r);
  let reasoning: ReasoningSpec | undefined;
  if (budget !== undefined || (grammar && mode === 'prefilled')) {
    reasoning = {
      ...markers,
      closeIds: tokenizer.encodeWithSpecials(`${markers.close}\n\n`),
      inside: mode === 'prefilled',
      budget: budget ?? -1,
    };
  }
  const watchTools = useTools !== undefined;
  const output: ChatOutputOptions | undefined =
    watchTools || mode !== 'off'
      ? {
          reasoning: mode !== 'off' ? { mode, markers } : undefined,
          toolFormat: watchTools ? format : undefined,
          specials: tokenizer.specialTokens(),
        }
      : undefined;
  return { ids, grammar, reasoning, output };
}

/** The plan for a plain (non-chat) generation: only a response format can apply. */
export function planGenerate(o: GenerateOptions): { grammar?: GrammarSpec } {
  return { grammar: responseFormatGrammar(o.responseFormat) };
}
