/** Operational routes for supervisors and scrapers: GET /health and GET /metrics (never behind the API key). */
import type { FastifyPluginAsync } from 'fastify';
import type { RouteContext } from './context.js';

/** Registers /health and /metrics. */
export const opsRoutes =
  (ctx: RouteContext): FastifyPluginAsync =>
  async (app) => {
    // 200 only when requests can be served (the models loaded at start are in): load
    // balancers and readiness probes key off it. Each model's own state is in `models`.
    app.get('/health', async (_request, reply) => {
      const { state } = ctx;
      const models = state.pool.list();
      const main = models[0];
      reply.code(state.phase === 'ready' ? 200 : 503);
      return {
        status: state.phase === 'ready' ? 'ok' : 'unavailable',
        state: state.phase === 'draining' ? 'shutting_down' : state.phase,
        model: main.name,
        ...(state.failure && { error: state.failure }),
        ...(main.state === 'loaded' && { contextLength: main.contextLength }),
        requestsInFlight: state.admitted,
        models: models.map((m) => ({
          id: m.name,
          state: m.state,
          pinned: m.pinned,
          activeSequences: m.activeSequences,
          queuedRequests: m.queuedRequests,
          ...(m.error && { error: m.error }),
        })),
        memory: { budgetBytes: state.pool.budgetBytes, reservedBytes: state.pool.reservedBytes },
      };
    });

    app.get('/metrics', async (_request, reply) => {
      reply.type(ctx.metrics.contentType);
      return ctx.metrics.render();
    });
  };
