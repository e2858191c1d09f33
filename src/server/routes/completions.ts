/** POST /v1/completions (legacy text completions): a raw prompt, no chat template. */
import type { FastifyPluginAsync } from 'fastify';
import { runCompletion, type CompletionPlan } from '../completion.js';
import { invalidParam } from '../errors.js';
import { toGenerateOptions } from '../generate-options.js';
import { newMeta, textChunk, textCompletion, textUsageChunk } from '../openai-format.js';
import { CompletionRequest, rejectUnsupported } from '../schemas.js';
import { modelFor, parseBody, type RoutedModel, type RouteContext } from './context.js';

function completionPlan(body: CompletionRequest, { model, name }: RoutedModel, ctx: RouteContext): CompletionPlan {
  const options = toGenerateOptions(body, {
    maxTokensDefault: ctx.options.maxTokensDefault,
    vocabSize: model.info.vocabSize,
    contextLength: model.info.contextLength,
  });
  if (typeof body.prompt !== 'string') {
    const bad = body.prompt.find((id) => id >= model.info.vocabSize);
    if (bad !== undefined) throw invalidParam('prompt', `token id ${bad} is outside the vocabulary (size ${model.info.vocabSize})`);
  }
  const meta = newMeta('text', name);
  const wantLogprobs = body.logprobs != null;
  const includeUsage = Boolean(body.stream_options?.include_usage);
  // text_offset continues across chunks.
  let offset = 0;
  return {
    promptParam: 'prompt',
    stream: Boolean(body.stream),
    start: () => model.generate(body.prompt, options),
    opening: () => [],
    chunk: (chunk) => {
      if (!chunk.text && !(wantLogprobs && chunk.logprobs?.length)) return undefined;
      const event = textChunk(meta, chunk.text, { logprobs: chunk.logprobs, offset, wantLogprobs, includeUsage });
      for (const lp of chunk.logprobs ?? []) offset += lp.text.length;
      return event;
    },
    closing: (result) => [
      textChunk(meta, '', { finish: result.finishReason, offset, wantLogprobs: false, includeUsage }),
      ...(includeUsage ? [textUsageChunk(meta, result.usage)] : []),
    ],
    whole: (result) => textCompletion(meta, result, wantLogprobs),
  };
}

/** Registers the route; mounted with and without the /v1 prefix. */
export const completionRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    app.post('/completions', async (request, reply) => {
      const body = parseBody(CompletionRequest, request.body);
      const unsupported = rejectUnsupported(body);
      if (unsupported) throw unsupported;
      const routed = await modelFor(ctx, body.model);
      return runCompletion(ctx, request, reply, completionPlan(body, routed, ctx));
    });
  };
