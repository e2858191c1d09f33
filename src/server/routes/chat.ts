/** POST /v1/chat/completions. */
import type { FastifyPluginAsync } from 'fastify';
import type { ChatMessage } from '../../engine/types.js';
import { runCompletion, type CompletionPlan } from '../completion.js';
import { toGenerateOptions } from '../generate-options.js';
import { chatChunk, chatCompletion, chatUsageChunk, newMeta } from '../openai-format.js';
import { ChatCompletionRequest, rejectUnsupported } from '../schemas.js';
import { modelFor, parseBody, type RoutedModel, type RouteContext } from './context.js';

/** OpenAI message content (a string or text parts) as the engine's plain string. */
function toChatMessages(messages: ChatCompletionRequest['messages']): ChatMessage[] {
  return messages.map((m) => ({
    role: m.role,
    content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text ?? '').join('\n'),
  }));
}

function chatPlan(body: ChatCompletionRequest, { model, name }: RoutedModel, ctx: RouteContext): CompletionPlan {
  const options = toGenerateOptions(body, {
    maxTokensDefault: ctx.options.maxTokensDefault,
    vocabSize: model.info.vocabSize,
    contextLength: model.info.contextLength,
  });
  const messages = toChatMessages(body.messages);
  const meta = newMeta('chat', name);
  const wantLogprobs = Boolean(body.logprobs);
  const includeUsage = Boolean(body.stream_options?.include_usage);
  return {
    promptParam: 'messages',
    stream: Boolean(body.stream),
    start: () => model.chat(messages, options),
    // OpenAI opens every chat stream with the role and empty content.
    opening: () => [chatChunk(meta, { role: 'assistant', content: '' }, { wantLogprobs, includeUsage })],
    chunk: (chunk) =>
      chunk.text || (wantLogprobs && chunk.logprobs?.length)
        ? chatChunk(meta, { content: chunk.text }, { logprobs: chunk.logprobs, wantLogprobs, includeUsage })
        : undefined,
    closing: (result) => [
      chatChunk(meta, {}, { finish: result.finishReason, wantLogprobs: false, includeUsage }),
      ...(includeUsage ? [chatUsageChunk(meta, result.usage)] : []),
    ],
    whole: (result) => chatCompletion(meta, result, wantLogprobs),
  };
}

/** Registers the route; mounted with and without the /v1 prefix. */
export const chatRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    app.post('/chat/completions', async (request, reply) => {
      const body = parseBody(ChatCompletionRequest, request.body);
      const unsupported = rejectUnsupported(body);
      if (unsupported) throw unsupported;
      const routed = await modelFor(ctx, body.model);
      return runCompletion(ctx, request, reply, chatPlan(body, routed, ctx));
    });
  };
