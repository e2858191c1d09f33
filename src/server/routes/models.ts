/** GET /v1/models and GET /v1/models/:model: the one model this server serves. */
import type { FastifyPluginAsync } from 'fastify';
import { checkModelName, readyModel, type RouteContext } from './context.js';

/** Registers the routes; mounted with and without the /v1 prefix. */
export const modelRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    const describe = () => ({
      id: ctx.options.servedModelName,
      object: 'model' as const,
      created: ctx.startedAt,
      owned_by: 'mlx-native',
    });

    app.get('/models', async () => {
      readyModel(ctx.state);
      return { object: 'list' as const, data: [describe()] };
    });

    app.get<{ Params: { model: string } }>('/models/:model', async (request) => {
      // Listing reports the real name even under --accept-any-model.
      checkModelName(request.params.model, { ...ctx.options, acceptAnyModel: false });
      readyModel(ctx.state);
      return describe();
    });
  };
