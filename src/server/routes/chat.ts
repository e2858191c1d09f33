/** POST /v1/chat/completions. */
import type { FastifyPluginAsync } from 'fastify';
import { toChatMessages, toChatOptions, toRequestParam } from '../chat-options.js';
import { runCompletion, type CompletionPlan } from '../completion.js';
import { toGenerateOptions } from '../generate-options.js';
import { chatChunk, chatCompletion, chatUsageChunk, newMeta, type ChatDelta } from '../openai-format.js';
import { ChatCompletionRequest, rejectUnsupported } from '../schemas.js';
import { modelFor, parseBody, type RoutedModel, type RouteContext } from './context.js';

function chatPlan(body: ChatCompletionRequest, { model, name }: RoutedModel, ctx: RouteContext): CompletionPlan {
  const base = toGenerateOptions(body, {
    maxTokensDefault: ctx.options.maxTokensDefault,
    vocabSize: model.info.vocabSize,
    contextLength: model.info.contextLength,
  });
  const options = toChatOptions(body, base, ctx.options);
  const messages = toChatMessages(body.messages);
  const meta = newMeta('chat', name);
  const wantLogprobs = Boolean(body.logprobs);
  const includeUsage = Boolean(body.stream_options?.include_usage);
  return {
    promptParam: 'messages',
    stream: Boolean(body.stream),
    start: () => {
      try {
        return model.chat(messages, options);
      } catch (err) {
        throw toRequestParam(err);
      }
    },
    // OpenAI opens every chat stream with the role and empty content.
    opening: () => [chatChunk(meta, { role: 'assistant', content: '' }, { wantLogprobs, includeUsage })],
    chunk: (chunk) => {
      const delta: ChatDelta = {};
      if (chunk.reasoning) delta.reasoning_content = chunk.reasoning;
      if (chunk.text) delta.content = chunk.text;
      if (chunk.toolCalls?.length) delta.tool_calls = chunk.toolCalls;
      const some = Object.keys(delta).length > 0 || (wantLogprobs && chunk.logprobs?.length);
      return some ? chatChunk(meta, delta, { logprobs: chunk.logprobs, wantLogprobs, includeUsage }) : undefined;
    },
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
