/**
 * One structured log line and one `mlx_native_requests_total` count per request, written when
 * the response is finished or the client went away, whichever comes first. For completion
 * requests the line waits for the generation to settle, so it carries the final token counts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { FinishReason } from '../engine/types.js';
import type { Metrics } from './metrics.js';

/** What a completion request did; filled in by the completion runner. */
export interface RequestOutcome {
  /** performance.now() when the generation was started. */
  submittedAt: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens?: number;
  finishReason?: FinishReason;
  abortReason?: string;
  timeToFirstTokenMs?: number;
  decodeTokensPerSecond?: number;
  errorCode?: string;
  /** Resolves once the generation has settled. */
  settled: Promise<void>;
}

declare module 'fastify' {
  interface FastifyRequest {
    outcome: RequestOutcome | null;
    logged: boolean;
    startedAt: number;
  }
}

// The unprefixed aliases count under their /v1 names so dashboards see one series per endpoint.
const ALIASED = new Set(['/chat/completions', '/completions', '/models', '/models/:model']);

/** A bounded metrics label for a request: its route pattern, never the raw URL. */
export function routeLabel(request: FastifyRequest): string {
  const url = request.routeOptions.url;
  if (!url) return 'unmatched';
  return ALIASED.has(url) ? `/v1${url}` : url;
}

// Status logged for a request whose client left before the response was complete (as nginx does).
const CLIENT_CLOSED = 499;

/** Registers the hooks on an app. */
export function registerRequestLog(app: FastifyInstance, metrics: Metrics): void {
  app.decorateRequest('outcome', null);
  app.decorateRequest('logged', false);
  app.decorateRequest('startedAt', 0);
  app.addHook('onRequest', async (request, reply) => {
    request.startedAt = performance.now();
    // fastify's onRequestAbort misses clients that leave after sending their whole body, so
    // watch the response: 'close' before 'finish' means the client went away.
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) void finish(request, null);
    });
  });

  // `status` is null when the client went away first.
  async function finish(request: FastifyRequest, status: number | null): Promise<void> {
    if (request.logged) return;
    request.logged = true;
    const outcome = request.outcome;
    if (outcome) await outcome.settled;
    if (status === null || outcome?.abortReason === 'client_disconnect') status = CLIENT_CLOSED;
    const route = routeLabel(request);
    const durationMs = performance.now() - request.startedAt;
    metrics.requests.inc({ route, status: String(status) });
    if (outcome) metrics.requestDuration.observe({ route }, durationMs / 1000);
    // Scrapes and health checks would drown the log at info level.
    const quiet = route === '/metrics' || route === '/health';
    request.log[quiet ? 'debug' : 'info'](
      {
        method: request.method,
        route,
        status,
        durationMs: Math.round(durationMs * 10) / 10,
        ...(outcome && {
          promptTokens: outcome.promptTokens,
          completionTokens: outcome.completionTokens,
          cachedTokens: outcome.cachedTokens,
          finishReason: outcome.finishReason,
          abortReason: outcome.abortReason,
          timeToFirstTokenMs: outcome.timeToFirstTokenMs,
          decodeTokensPerSecond: outcome.decodeTokensPerSecond,
          errorCode: outcome.errorCode,
        }),
      },
      'request',
    );
  }

  app.addHook('onResponse', (request, reply) => finish(request, reply.statusCode));
}
