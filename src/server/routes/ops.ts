/** Operational routes for supervisors and scrapers: GET /health and GET /metrics (never behind the API key). */
import type { FastifyPluginAsync } from 'fastify';
import type { RouteContext } from './context.js';

/** Registers /health and /metrics. */
export const opsRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    // 200 only when requests can be served: load balancers and readiness probes key off it.
    app.get('/health', async (_request, reply) => {
      const { state } = ctx;
      reply.code(state.phase === 'ready' ? 200 : 503);
      return {
        status: state.phase === 'ready' ? 'ok' : 'unavailable',
        state: state.phase === 'draining' ? 'shutting_down' : state.phase,
        model: ctx.options.servedModelName,
        ...(state.failure && { error: state.failure }),
        ...(state.model && { contextLength: state.model.info.contextLength }),
        requestsInFlight: state.admitted,
      };
    });

    app.get('/metrics', async (_request, reply) => {
      reply.type(ctx.metrics.contentType);
      return ctx.metrics.render();
    });
  };
