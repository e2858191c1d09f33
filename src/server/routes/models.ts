/**
 * GET /v1/models and GET /v1/models/{id}: every configured model, OpenAI's model objects with
 * what a fleet needs besides: state (`loaded`, `loading`, `unloaded`, `failed`), format,
 * context length, aliases and what it supports.
 */
import type { FastifyPluginAsync } from 'fastify';
import { MlxNativeError } from '../../errors.js';
import type { ModelStatus } from '../model-pool.js';
import type { RouteContext } from './context.js';

/** What a model supports through this server's API. */
export interface ModelCapabilities {
  tools: boolean;
  reasoning: boolean;
  vision: boolean;
}

/**
 * The capabilities /v1/models reports. Every served chat model takes tool definitions (a template
 * that knows nothing of tools gets them in a system message, and `required` / named calls are
 * grammar-constrained) and reasoning controls (thinking blocks split out and budgeted); none takes
 * images.
 */
export function modelCapabilities(_status: ModelStatus): ModelCapabilities {
  return { tools: true, reasoning: true, vision: false };
}

/** One model as /v1/models lists it. */
export function describeModel(status: ModelStatus, created: number) {
  return {
    id: status.name,
    object: 'model' as const,
    created,
    owned_by: 'mlx-native',
    state: status.state,
    format: status.format ?? null,
    context_length: status.contextLength ?? null,
    aliases: status.aliases,
    pinned: status.pinned,
    capabilities: modelCapabilities(status),
    ...(status.error && { error: status.error }),
  };
}

/** The model a path's `{id}` names (ids may contain `/`, as `org/name` does). */
export function modelFromPath(ctx: RouteContext, id: string): ModelStatus {
  const name = ctx.state.pool.resolveName(id);
  if (name === undefined) {
    throw new MlxNativeError('MODEL_NOT_FOUND', `The model '${id}' does not exist`, { param: 'model' });
  }
  return ctx.state.pool.status(name);
}

/** Registers the routes; mounted with and without the /v1 prefix. */
export const modelRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    app.get('/models', async () => ({
      object: 'list' as const,
      data: ctx.state.pool.list().map((m) => describeModel(m, ctx.startedAt)),
    }));

    app.get<{ Params: { '*': string } }>('/models/*', async (request) => describeModel(modelFromPath(ctx, request.params['*']), ctx.startedAt));
  };
