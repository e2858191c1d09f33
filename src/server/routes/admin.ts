/**
 * Admin routes, behind the API key like the rest of the API: `POST /v1/models/{id}/load` loads
 * a model now (retrying one whose load failed; unloading idle ones when the memory budget needs
 * room) and `POST /v1/models/{id}/unload` frees it, ending its running generations with
 * finish_reason "abort". Other models' streams carry on untouched.
 */
import type { FastifyPluginAsync } from 'fastify';
import { MlxNativeError } from '../../errors.js';
import { notReadyError, type RouteContext } from './context.js';
import { describeModel, modelFromPath } from './models.js';

/** Registers the routes; mounted with and without the /v1 prefix. */
export const adminRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    app.post<{ Params: { '*': string } }>('/models/*', async (request) => {
      const match = /^(.+)\/(load|unload)$/.exec(request.params['*']);
      if (!match) {
        throw new MlxNativeError('NOT_FOUND', `Unknown route: POST ${request.url.split('?')[0]}; use /v1/models/{id}/load or /unload`);
      }
      const [, id, action] = match;
      const { name } = modelFromPath(ctx, id);
      const notReady = notReadyError(ctx.state);
      if (notReady && ctx.state.phase === 'draining') throw notReady;
      if (action === 'load') {
        const loaded = await ctx.state.pool.load(name);
        request.log.info({ model: name }, 'model loaded by admin request');
        return describeModel(loaded, ctx.startedAt);
      }
      const { unloaded, aborted } = await ctx.state.pool.unload(name, 'admin');
      request.log.info({ model: name, unloaded, aborted }, 'model unloaded by admin request');
      return { ...describeModel(ctx.state.pool.status(name), ctx.startedAt), unloaded, aborted_requests: aborted };
    });
  };
