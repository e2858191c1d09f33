/**
 * POST /tokenize and /detokenize, in llama.cpp's server shapes:
 * - `/tokenize` `{content}` → `{tokens}`: the text's token ids, without special tokens;
 *   `{messages}` → `{tokens}`: the chat template applied to chat-completions messages
 *   (with its special tokens), the assistant turn opened unless `add_generation_prompt: false`.
 * - `/detokenize` `{tokens}` → `{content}`: the text of token ids, special tokens skipped.
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { forRequest, invalidParam } from '../errors.js';
import { modelFor, parseBody, type RouteContext } from './context.js';

const Message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(z.object({ type: z.literal('text'), text: z.string() }))]),
});

/** Body of POST /tokenize: `content` or `messages`, not both. */
export const TokenizeRequest = z
  .object({
    model: z.string().min(1).nullish(),
    content: z.string().optional(),
    messages: z.array(Message).min(1, 'at least one message is required').optional(),
    add_generation_prompt: z.boolean().nullish(),
  })
  .refine((b) => (b.content === undefined) !== (b.messages === undefined), {
    message: "send either 'content' (text) or 'messages' (chat template applied)",
  });

/** Body of POST /detokenize. */
export const DetokenizeRequest = z.object({
  model: z.string().min(1).nullish(),
  tokens: z.array(z.int().min(0).max(2 ** 31 - 1)),
});

/** Registers the routes; mounted with and without the /v1 prefix. */
export const tokenizeRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    app.post('/tokenize', async (request) => {
      const body = parseBody(TokenizeRequest, request.body);
      const { model } = await modelFor(ctx, body.model);
      if (body.messages) {
        const messages = body.messages.map((m) => ({
          role: m.role,
          content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('\n'),
        }));
        try {
          return { tokens: model.chatPromptTokens(messages, { addGenerationPrompt: body.add_generation_prompt ?? true }) };
        } catch (err) {
          throw forRequest(err, 'messages');
        }
      }
      return { tokens: model.tokenize(body.content!) };
    });

    app.post('/detokenize', async (request) => {
      const body = parseBody(DetokenizeRequest, request.body);
      const { model } = await modelFor(ctx, body.model);
      const bad = body.tokens.find((id) => id >= model.info.vocabSize);
      if (bad !== undefined) throw invalidParam('tokens', `token id ${bad} is outside the vocabulary (size ${model.info.vocabSize})`);
      return { content: model.detokenize(body.tokens) };
    });
  };
