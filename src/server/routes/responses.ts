/**
 * POST /v1/responses (OpenAI's Responses API), streaming or not, and GET / DELETE
 * /v1/responses/:id for stored responses. `previous_response_id` continues a stored
 * conversation: its input and output come before this request's input; `instructions` apply
 * to this request only, as OpenAI documents.
 */
import type { FastifyPluginAsync } from 'fastify';
import { MlxNativeError } from '../../errors.js';
import type { ChatMessage, GenerationResult } from '../../engine/types.js';
import { runCompletion, type CompletionPlan } from '../completion.js';
import { invalidParam } from '../errors.js';
import { toGenerateOptions } from '../generate-options.js';
import type { ResponseStore } from '../response-store.js';
import { newResponseMeta, ResponseEvents, responseObject } from '../responses-format.js';
import { inputMessages, rejectUnsupportedResponse, responseFormatOf, ResponsesRequest, toolOptionsOf } from '../responses-schema.js';
import { toRequestParam } from '../chat-options.js';
import { modelFor, parseBody, type RoutedModel, type RouteContext } from './context.js';

/** An engine error about a chat option, named by the Responses API's field. */
function asTextFormatError(err: unknown): unknown {
  if (!(err instanceof MlxNativeError) || !err.param?.startsWith('responseFormat')) return toRequestParam(err);
  const copy = new MlxNativeError(err.code, err.message.replace(/^responseFormat/, 'text.format'), { param: 'text.format', reason: err.reason, cause: err.cause });
  copy.stack = err.stack;
  return copy;
}

function responsesPlan(body: ResponsesRequest, { model, name }: RoutedModel, ctx: RouteContext, store: ResponseStore): CompletionPlan {
  const { contextLength } = model.info;
  if (body.max_output_tokens != null && body.max_output_tokens > contextLength) {
    throw invalidParam(
      'max_output_tokens',
      `'max_output_tokens' is ${body.max_output_tokens}, more than the model's context of ${contextLength} tokens (input included)`,
    );
  }
  const options = toGenerateOptions(
    { max_tokens: body.max_output_tokens, temperature: body.temperature, top_p: body.top_p, top_k: body.top_k, min_p: body.min_p, seed: body.seed },
    { maxTokensDefault: ctx.options.maxTokensDefault, vocabSize: model.info.vocabSize, contextLength },
  );
  let history: ChatMessage[] = [];
  if (body.previous_response_id) {
    const previous = store.get(body.previous_response_id);
    if (!previous) {
      throw invalidParam('previous_response_id', `Previous response with id '${body.previous_response_id}' not found.`, 'previous_response_not_found');
    }
    history = previous.messages;
  }
  const turn = inputMessages(body.input);
  const instructions: ChatMessage[] = body.instructions ? [{ role: 'system', content: body.instructions }] : [];
  const format = responseFormatOf(body);
  const meta = newResponseMeta(name, body, options.temperature ?? 1, options.topP ?? 1);
  const events = new ResponseEvents(meta);
  const remember = <T>(result: GenerationResult, response: T): T => {
    if (body.store !== false) {
      const reply: ChatMessage = { role: 'assistant', content: result.text, ...(result.toolCalls?.length && { tool_calls: result.toolCalls }) };
      store.put(meta.id, { messages: [...history, ...turn, reply], response });
    }
    return response;
  };
  return {
    promptParam: 'input',
    stream: Boolean(body.stream),
    framing: 'typed',
    start: () => {
      try {
        return model.chat([...instructions, ...history, ...turn], {
          ...options,
          ...(format && { responseFormat: format }),
          ...toolOptionsOf(body),
          ...(ctx.options.toolCallFormat && { toolCallFormat: ctx.options.toolCallFormat }),
        });
      } catch (err) {
        throw asTextFormatError(err);
      }
    },
    opening: () => events.opening(),
    chunk: (chunk) => (chunk.text ? events.delta(chunk.text) : undefined),
    closing: (result) => {
      const closing = events.closing(result);
      remember(result, responseObject(meta, result));
      return closing;
    },
    whole: (result) => remember(result, responseObject(meta, result)),
    streamError: (err) => events.error(err),
  };
}

/** Registers the routes; mounted with and without the /v1 prefix, sharing one store. */
export const responseRoutes =
  (ctx: RouteContext, store: ResponseStore): FastifyPluginAsync =>
  async (app) => {
    app.post('/responses', async (request, reply) => {
      const body = parseBody(ResponsesRequest, request.body);
      const unsupported = rejectUnsupportedResponse(body);
      if (unsupported) throw unsupported;
      const routed = await modelFor(ctx, body.model);
      return runCompletion(ctx, request, reply, responsesPlan(body, routed, ctx, store));
    });

    const notFound = (id: string) => new MlxNativeError('NOT_FOUND', `Response with id '${id}' not found.`, { param: 'response_id' });

    app.get<{ Params: { id: string } }>('/responses/:id', async (request) => {
      const stored = store.get(request.params.id);
      if (!stored) throw notFound(request.params.id);
      return stored.response;
    });

    app.delete<{ Params: { id: string } }>('/responses/:id', async (request) => {
      if (!store.delete(request.params.id)) throw notFound(request.params.id);
      return { id: request.params.id, object: 'response.deleted' as const, deleted: true };
    });
  };
