/**
 * Tools and tool turns in the prompt. A template that renders tools itself gets them as `tools`
 * and the history in Hugging Face's shape (arguments as objects). A template that knows nothing
 * of tools (SmolLM2's, for one) gets a system message that lists them and says how to call them
 * in the model's format, and the tool turns of the history written out as text.
 */
import type { ChatMessage, Tool, ToolCallFormat } from './types.js';

/** Whether a template renders the `tools` variable and tool turns on its own. */
export function templateHandlesTools(templateSource: string): boolean {
  return /\btools\b/.test(templateSource);
}

function parsedArguments(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

const FORMAT_INSTRUCTIONS: Record<ToolCallFormat, string> = {
  hermes:
    'To call a function, answer with a JSON object holding its name and arguments between <tool_call> and </tool_call>:\n' +
    '<tool_call>\n{"name": "function_name", "arguments": {"argument": "value"}}\n</tool_call>',
  llama3: 'To call a function, answer with only a JSON object: {"name": "function_name", "parameters": {"argument": "value"}}',
  mistral: 'To call a function, answer with [TOOL_CALLS] followed by a JSON list: [TOOL_CALLS][{"name": "function_name", "arguments": {"argument": "value"}}]',
  gemma: 'To call a function, answer with a tool_code block:\n```tool_code\n{"name": "function_name", "parameters": {"argument": "value"}}\n```',
  harmony: 'To call a function, write to=functions.function_name followed by its arguments as JSON.',
};

/** The calls of an assistant turn as the format writes them. */
function writeCalls(format: ToolCallFormat, message: ChatMessage): string {
  const calls = (message.tool_calls ?? []).map((c) => ({ name: c.function.name, arguments: parsedArguments(c.function.arguments) }));
  switch (format) {
    case 'llama3':
      return calls.map((c) => JSON.stringify({ name: c.name, parameters: c.arguments })).join('; ');
    case 'mistral':
      return `[TOOL_CALLS]${JSON.stringify(calls)}`;
    case 'gemma':
      return calls.map((c) => '```tool_code\n' + JSON.stringify({ name: c.name, parameters: c.arguments }) + '\n```').join('\n');
    default:
      return calls.map((c) => `<tool_call>\n${JSON.stringify(c)}\n</tool_call>`).join('\n');
  }
}

/**
 * The messages and template variables for a chat with `tools` (none when the request has none,
 * or its tool_choice is 'none').
 */
export function toolPrompt(
  messages: ChatMessage[],
  tools: Tool[] | undefined,
  format: ToolCallFormat,
  templateSource: string,
): { messages: ChatMessage[]; variables: Record<string, unknown> } {
  if (templateHandlesTools(templateSource)) {
    const shaped = messages.map((m) =>
      m.tool_calls
        ? {
            ...m,
            tool_calls: m.tool_calls.map((c) => ({ ...c, function: { ...c.function, arguments: parsedArguments(c.function.arguments) } })),
          }
        : m,
    ) as unknown as ChatMessage[];
    return { messages: shaped, variables: tools?.length ? { tools } : {} };
  }
  const out: ChatMessage[] = messages.map((m) => {
    if (m.role === 'tool') {
      return { role: 'user', content: `<tool_response>\n${m.content}\n</tool_response>` };
    }
    if (m.role === 'assistant' && m.tool_calls?.length) {
      return { role: 'assistant', content: [m.content, writeCalls(format, m)].filter(Boolean).join('\n') };
    }
    return { role: m.role, content: m.content };
  });
  if (tools?.length) {
    const listing = tools.map((t) => JSON.stringify(t)).join('\n');
    const text =
      `You can call these functions:\n<tools>\n${listing}\n</tools>\n` + FORMAT_INSTRUCTIONS[format];
    if (out[0]?.role === 'system') out[0] = { ...out[0], content: `${out[0].content}\n\n${text}` };
    else out.unshift({ role: 'system', content: text });
  }
  return { messages: out, variables: {} };
}
