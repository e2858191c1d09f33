/**
 * POST /v1/messages (Anthropic's Messages API), streaming or not, and
 * POST /v1/messages/count_tokens. Errors on these routes answer in Anthropic's shape,
 * `{"type": "error", "error": {"type", "message"}}`, mid-stream ones as an `error` event.
 */
import type { FastifyPluginAsync } from 'fastify';
import { MessageEvents, messageObject, newMessageMeta } from '../anthropic-format.js';
import { CountTokensRequest, MessagesRequest, toChatMessages, toolOptionsOf, unsupportedField } from '../anthropic-schema.js';
import { toRequestParam } from '../chat-options.js';
import { runCompletion, type CompletionPlan } from '../completion.js';
import { errorHandler } from '../error-handler.js';
import { anthropicError, forRequest, invalidParam } from '../errors.js';
import { toGenerateOptions } from '../generate-options.js';
import type { ServedGeneration } from '../state.js';
import { modelFor, parseBody, type RoutedModel, type RouteContext } from './context.js';

function messagesPlan(body: MessagesRequest, { model, name }: RoutedModel, ctx: RouteContext): CompletionPlan {
  const options = toGenerateOptions(
    { max_tokens: body.max_tokens, temperature: body.temperature, top_p: body.top_p, top_k: body.top_k, stop: body.stop_sequences },
    { maxTokensDefault: ctx.options.maxTokensDefault, vocabSize: model.info.vocabSize, contextLength: model.info.contextLength },
  );
  const messages = toChatMessages(body);
  const meta = newMessageMeta(name);
  const chatOptions = toolOptionsOf(body);
  // The server's --reasoning applies as on chat completions (auto: the template decides).
  const mode = ctx.options.reasoning && ctx.options.reasoning !== 'auto' ? ctx.options.reasoning : undefined;
  if (mode) chatOptions.reasoning = { ...chatOptions.reasoning, mode };
  const events = new MessageEvents(meta, { eagerText: !chatOptions.tools && !chatOptions.reasoning });
  let generation: ServedGeneration | undefined;
  return {
    promptParam: 'messages',
    stream: Boolean(body.stream),
    framing: 'typed',
    start: () => {
      try {
        generation = model.chat(messages, {
          ...options,
          ...chatOptions,
          ...(ctx.options.toolCallFormat && { toolCallFormat: ctx.options.toolCallFormat }),
        });
        return generation;
      } catch (err) {
        throw toRequestParam(err);
      }
    },
    opening: () => events.opening(generation?.promptTokens ?? 0),
    chunk: (chunk) => {
      const out = events.chunk(chunk);
      return out.length ? out : undefined;
    },
    closing: (result) => events.closing(result),
    whole: (result) => messageObject(meta, result),
    streamError: (err) => anthropicError(err),
  };
}

function checkSupported(body: CountTokensRequest): void {
  const unsupported = unsupportedField(body);
  if (unsupported) throw invalidParam(unsupported.param, unsupported.message, 'unsupported_parameter');
}

/** Registers the routes; mounted with and without the /v1 prefix. */
export const messageRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    app.setErrorHandler(errorHandler('anthropic'));

    app.post('/messages', async (request, reply) => {
      const body = parseBody(MessagesRequest, request.body);
      checkSupported(body);
      const routed = await modelFor(ctx, body.model);
      return runCompletion(ctx, request, reply, messagesPlan(body, routed, ctx));
    });

    app.post('/messages/count_tokens', async (request) => {
      const body = parseBody(CountTokensRequest, request.body);
      checkSupported(body);
      const { model } = await modelFor(ctx, body.model);
      try {
        return { input_tokens: model.chatPromptTokens(toChatMessages(body)).length };
      } catch (err) {
        throw forRequest(err, 'messages');
      }
    });
  };
