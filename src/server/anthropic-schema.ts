/**
 * Bodies of POST /v1/messages and /v1/messages/count_tokens (Anthropic's Messages API), and
 * their messages as chat messages. Text content blocks only; tool use, tool results, images,
 * documents and extended thinking are refused by name with a 400 until the server supports them.
 */
import { z } from 'zod';
import type { ChatMessage } from '../engine/types.js';

const INT32_MAX = 2 ** 31 - 1;

const TextBlock = z
  .object({ type: z.string(), text: z.string().optional() })
  .loose()
  .superRefine((block, ctx) => {
    if (block.type !== 'text') {
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: `content block type '${block.type}' is not supported: this server takes text blocks only`,
      });
    } else if (block.text === undefined) {
      ctx.addIssue({ code: 'custom', path: ['text'], message: 'a text block needs a string `text`' });
    }
  });

const Message = z.object({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(TextBlock).min(1, 'at least one content block is required')]),
});

const System = z.union([z.string(), z.array(TextBlock)]);

/** Fields both routes read. */
const conversation = {
  model: z.string().min(1).nullish(),
  messages: z.array(Message).min(1, 'at least one message is required'),
  system: System.nullish(),
  // Read only to refuse them.
  tools: z.array(z.unknown()).nullish(),
  tool_choice: z.unknown().optional(),
  thinking: z.object({ type: z.string() }).loose().nullish(),
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

/** The field of a body this server parses but cannot honour, with why, or undefined. */
export function unsupportedField(body: CountTokensRequest): { param: string; message: string } | undefined {
  if (body.tools && body.tools.length > 0) return { param: 'tools', message: "'tools' is not supported by this server yet" };
  const choice = body.tool_choice as { type?: unknown } | null | undefined;
  if (choice != null && choice.type !== 'none' && choice.type !== 'auto') {
    return { param: 'tool_choice', message: "'tool_choice' is not supported by this server yet" };
  }
  if (body.thinking && body.thinking.type !== 'disabled') {
    return { param: 'thinking', message: "extended thinking is not supported by this server yet" };
  }
  return undefined;
}

const text = (content: string | { text?: string }[]) =>
  typeof content === 'string' ? content : content.map((b) => b.text ?? '').join('\n');

/** The system prompt and messages as chat messages for the model's template. */
export function toChatMessages(body: CountTokensRequest): ChatMessage[] {
  const system = body.system == null ? '' : text(body.system);
  return [
    ...(system ? [{ role: 'system' as const, content: system }] : []),
    ...body.messages.map((m) => ({ role: m.role, content: text(m.content) })),
  ];
}
