/**
 * Bodies of POST /v1/messages and /v1/messages/count_tokens (Anthropic's Messages API), and
 * their messages as chat messages: text, tool_use, tool_result and thinking blocks, client tools
 * and extended thinking; images, documents and server tools are refused by name with a 400.
 */
import { z } from 'zod';
import type { ChatMessage, ChatOptions } from '../engine/types.js';

const INT32_MAX = 2 ** 31 - 1;

const TextBlock = z
  .object({ type: z.string(), text: z.string().optional() })
  .loose()
  .superRefine((block, ctx) => {
    if (block.type !== 'text') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: `content block type '${block.type}' is not supported here: text blocks only` });
    } else if (block.text === undefined) {
      ctx.addIssue({ code: 'custom', path: ['text'], message: 'a text block needs a string `text`' });
    }
  });

/** A message's block: text, a tool call and its result, or earlier thinking; images and documents are refused. */
const ContentBlock = z
  .object({
    type: z.string(),
    text: z.string().optional(),
    id: z.string().min(1).optional(),
    name: z.string().min(1).optional(),
    input: z.record(z.string(), z.unknown()).optional(),
    tool_use_id: z.string().min(1).optional(),
    content: z.union([z.string(), z.array(TextBlock)]).optional(),
    thinking: z.string().optional(),
  })
  .loose()
  .superRefine((block, ctx) => {
    const need = (...keys: (keyof typeof block)[]) => {
      for (const key of keys) {
        if (block[key] === undefined) ctx.addIssue({ code: 'custom', path: [key], message: `a ${block.type} block needs \`${key}\`` });
      }
    };
    if (block.type === 'text') need('text');
    else if (block.type === 'tool_use') need('id', 'name', 'input');
    else if (block.type === 'tool_result') need('tool_use_id');
    else if (block.type === 'thinking') need('thinking');
    else if (block.type !== 'redacted_thinking') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `content block type '${block.type}' is not supported: this server takes text, tool_use, tool_result and thinking blocks`,
      });
    }
  });

const Message = z.object({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(ContentBlock).min(1, 'at least one content block is required')]),
});

const System = z.union([z.string(), z.array(TextBlock)]);

/** A client tool; server tools (a `type` such as `web_search_20250305`) are refused. */
const Tool = z
  .object({
    type: z.literal('custom', { error: 'only client tools (name, description, input_schema) are supported' }).optional(),
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a tool name is 1 to 64 letters, digits, _ or -'),
    description: z.string().nullish(),
    input_schema: z.record(z.string(), z.unknown()),
  })
  .loose();

const ToolChoice = z.object({
  type: z.enum(['auto', 'any', 'tool', 'none']),
  name: z.string().min(1).optional(),
  disable_parallel_tool_use: z.boolean().optional(),
});

/** Fields both routes read. */
const conversation = {
  model: z.string().min(1).nullish(),
  messages: z.array(Message).min(1, 'at least one message is required'),
  system: System.nullish(),
  tools: z.array(Tool).nullish(),
  tool_choice: ToolChoice.nullish(),
  thinking: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('enabled'), budget_tokens: z.int().min(1).max(INT32_MAX) }),
      z.object({ type: z.literal('disabled') }),
    ])
    .nullish(),
};

/** Body of POST /v1/messages. */
export const MessagesRequest = z.object({
  ...conversation,
  max_tokens: z.int().min(1).max(INT32_MAX),
  stop_sequences: z.array(z.string().min(1)).max(16).nullish(),
  temperature: z.number().min(0).max(1).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  top_k: z.int().min(0).max(INT32_MAX).nullish(),
  stream: z.boolean().nullish(),
  metadata: z.object({ user_id: z.string().nullish() }).loose().nullish(),
  service_tier: z.string().nullish(),
});
export type MessagesRequest = z.infer<typeof MessagesRequest>;

/** Body of POST /v1/messages/count_tokens. */
export const CountTokensRequest = z.object(conversation);
export type CountTokensRequest = z.infer<typeof CountTokensRequest>;

/** The field of a body that contradicts itself, with why, or undefined. */
export function unsupportedField(body: CountTokensRequest): { param: string; message: string } | undefined {
  const choice = body.tool_choice;
  if (choice?.type === 'tool' && !body.tools?.some((t) => t.name === choice.name)) {
    return { param: 'tool_choice', message: `tool_choice names '${choice.name ?? ''}', which is not in tools` };
  }
  if (choice?.type === 'any' && !body.tools?.length) return { param: 'tool_choice', message: "tool_choice 'any' needs tools" };
  return undefined;
}

const text = (content: string | { type?: string; text?: string }[]) =>
  typeof content === 'string' ? content : content.filter((b) => b.type === undefined || b.type === 'text').map((b) => b.text ?? '').join('\n');

/**
 * The system prompt and messages as chat messages for the model's template: `tool_use` blocks
 * become the assistant's `tool_calls`, `tool_result` blocks `tool` messages (before the user's
 * own text), `thinking` blocks the assistant's `reasoning_content`.
 */
export function toChatMessages(body: CountTokensRequest): ChatMessage[] {
  const system = body.system == null ? '' : text(body.system);
  const out: ChatMessage[] = system ? [{ role: 'system', content: system }] : [];
  const names = new Map<string, string>();
  for (const m of body.messages) {
    if (typeof m.content === 'string') {
      out.push({ role: m.role, content: m.content });
      continue;
    }
    const calls = m.content.filter((b) => b.type === 'tool_use');
    for (const b of calls) names.set(b.id!, b.name!);
    for (const b of m.content.filter((c) => c.type === 'tool_result')) {
      const name = names.get(b.tool_use_id!);
      out.push({ role: 'tool', content: b.content === undefined ? '' : text(b.content), tool_call_id: b.tool_use_id!, ...(name ? { name } : {}) });
    }
    const content = text(m.content);
    const thinking = m.content.filter((b) => b.type === 'thinking').map((b) => b.thinking).join('\n');
    if (!content && !calls.length && m.content.every((b) => b.type === 'tool_result')) continue;
    out.push({
      role: m.role,
      content,
      ...(calls.length && {
        tool_calls: calls.map((b) => ({ id: b.id!, type: 'function' as const, function: { name: b.name!, arguments: JSON.stringify(b.input) } })),
      }),
      ...(thinking && m.role === 'assistant' && { reasoning_content: thinking }),
    });
  }
  return out;
}

/** The engine's chat options for `tools`, `tool_choice` and `thinking`. */
export function toolOptionsOf(body: CountTokensRequest): Pick<ChatOptions, 'tools' | 'toolChoice' | 'parallelToolCalls' | 'reasoning'> {
  const choice = body.tool_choice;
  const toolChoice: ChatOptions['toolChoice'] =
    choice?.type === 'any' ? 'required' : choice?.type === 'tool' ? { type: 'function', function: { name: choice.name! } } : choice?.type;
  return {
    ...(body.tools?.length && {
      tools: body.tools.map((t) => ({
        type: 'function' as const,
        function: { name: t.name, ...(t.description != null && { description: t.description }), parameters: t.input_schema },
      })),
      ...(toolChoice && { toolChoice }),
      ...(choice?.disable_parallel_tool_use && { parallelToolCalls: false }),
    }),
    ...(body.thinking && { reasoning: body.thinking.type === 'enabled' ? { budget: body.thinking.budget_tokens, enableThinking: true } : { enableThinking: false } }),
  };
}
