/**
 * POST /v1/embeddings: one vector per input (a string, strings, token ids or arrays of token
 * ids), pooled as the model's own config says, unit length, optionally truncated to
 * `dimensions` and normalised again, as floats or base64 (little-endian float32, which the
 * official clients decode).
 */
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { MlxNativeError } from '../../errors.js';
import { forRequest, invalidParam } from '../errors.js';
import { modelFor, parseBody, type RouteContext } from './context.js';

const INT32_MAX = 2 ** 31 - 1;
const tokenIds = z.array(z.int().min(0).max(INT32_MAX)).min(1, 'an input needs at least one token');
/** The most inputs one request may carry (OpenAI's limit). */
const MAX_INPUTS = 2048;

/** Body of POST /v1/embeddings. */
export const EmbeddingRequest = z.object({
  model: z.string().min(1).nullish(),
  input: z.union([
    z.string().min(1, 'the input must not be empty'),
    z.array(z.string().min(1, 'an input must not be empty')).min(1).max(MAX_INPUTS),
    tokenIds,
    z.array(tokenIds).min(1).max(MAX_INPUTS),
  ]),
  encoding_format: z.enum(['float', 'base64']).nullish(),
  dimensions: z.int().min(1).max(INT32_MAX).nullish(),
  user: z.string().nullish(),
});
export type EmbeddingRequest = z.infer<typeof EmbeddingRequest>;

/** A vector as OpenAI's base64: its float32 bytes, little-endian. */
function toBase64(v: Float32Array): string {
  const bytes = Buffer.alloc(v.length * 4);
  for (let i = 0; i < v.length; i++) bytes.writeFloatLE(v[i], i * 4);
  return bytes.toString('base64');
}

/** Registers the route; mounted with and without the /v1 prefix. */
export const embeddingRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    app.post('/embeddings', async (request) => {
      const body = parseBody(EmbeddingRequest, request.body);
      const { model, name } = await modelFor(ctx, body.model);
      if (body.dimensions != null && body.dimensions > model.info.hiddenSize) {
        throw invalidParam('dimensions', `'dimensions' is ${body.dimensions}; this model's embeddings have ${model.info.hiddenSize}`);
      }
      if (!ctx.state.tryAdmit()) {
        throw new MlxNativeError('QUEUE_FULL', 'The server is at its request limit (--max-queue); retry shortly');
      }
      let result;
      try {
        result = await model.embed(body.input, { dimensions: body.dimensions ?? undefined });
      } catch (err) {
        throw forRequest(err, 'input');
      } finally {
        ctx.state.release();
      }
      const base64 = body.encoding_format === 'base64';
      return {
        object: 'list' as const,
        data: result.embeddings.map((v, index) => ({
          object: 'embedding' as const,
          embedding: base64 ? toBase64(v) : Array.from(v),
          index,
        })),
        model: name,
        usage: { prompt_tokens: result.promptTokens, total_tokens: result.promptTokens },
      };
    });
  };
