/**
 * Builds the OpenAI-compatible fastify app without listening, so tests can use `app.inject`
 * or a real socket and the CLI decides where to bind.
 */
import { createServer } from 'node:http';
import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import { registerAuth } from './auth.js';
import { MlxNativeError } from '../errors.js';
import { errorHandler } from './error-handler.js';
import { clientErrorResponse, toHttpError } from './errors.js';
import { registerJsonBody } from './json-body.js';
import { Metrics } from './metrics.js';
import { registerRequestLog } from './request-log.js';
import { chatRoutes } from './routes/chat.js';
import { completionRoutes } from './routes/completions.js';
import { embeddingRoutes } from './routes/embeddings.js';
import { messageRoutes } from './routes/messages.js';
import { responseRoutes } from './routes/responses.js';
import { tokenizeRoutes } from './routes/tokenize.js';
import { ResponseStore } from './response-store.js';
import type { RouteContext, RouteOptions } from './routes/context.js';
import { modelRoutes } from './routes/models.js';
import { opsRoutes } from './routes/ops.js';
import { registerModelMetrics, poolProbe } from './model-metrics.js';
import type { ModelPool } from './model-pool.js';
import { adminRoutes } from './routes/admin.js';
import { ServerState } from './state.js';
import { registerUi } from './ui.js';

/** Server options; {@link ServeConfig} from config.ts has all of them. */
export interface AppOptions extends RouteOptions {
  apiKey?: string;
  /** CORS origins; empty turns CORS off. */
  cors: string[];
  maxQueue: number;
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  /** Leave the playground at `/` out. */
  noUi?: boolean;
}

/** Input of {@link buildApp}: the models to serve (/health says 503 until `serverState.setReady()`). */
export interface BuildAppInput {
  pool: ModelPool;
  options: AppOptions;
  /** fastify's logger option: false (default), or pino options. */
  logger?: FastifyServerOptions['logger'];
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Lifecycle and admission state, for the CLI's shutdown sequence. */
    serverState: ServerState;
    metrics: Metrics;
  }
}

/**
 * Builds the app: routes under `/v1` and without it, the playground at `/`, auth, CORS, body
 * parsing, metrics and request logs. API routes answer 503 until `app.serverState.setReady()`.
 *
 * @example
 * const app = await buildApp({ pool: new ModelPool(config.models, { loader: createEngine(), budgetBytes }), options: config });
 * await app.listen({ host: '127.0.0.1', port: 8080 });
 * await app.serverState.pool.load(app.serverState.pool.defaultName);
 * app.serverState.setReady();
 */
export async function buildApp(input: BuildAppInput): Promise<FastifyInstance> {
  const { options } = input;
  const app = Fastify({
    logger: input.logger ?? false,
    // request-log.ts writes one line per request instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.bodyLimitBytes,
    routerOptions: { ignoreTrailingSlash: true },
    clientErrorHandler: (err, socket) => {
      // A reset connection has no one to answer.
      if ((err as { code?: string }).code === 'ECONNRESET' || !socket.writable) socket.destroy();
      else socket.end(clientErrorResponse(err as { code?: string }));
    },
    // Own server so slow clients are cut off: requestTimeout bounds receiving a whole request,
    // checked every second instead of Node's default 30 s.
    serverFactory: (handler) =>
      createServer(
        {
          requestTimeout: options.requestTimeoutMs,
          headersTimeout: options.headersTimeoutMs,
          connectionsCheckingInterval: 1000,
          keepAliveTimeout: 5000,
        },
        handler,
      ),
  });

  const { pool } = input;
  const state = new ServerState({ maxQueue: options.maxQueue, pool });
  const metrics = new Metrics(() => poolProbe(pool));
  registerModelMetrics(metrics.registry, pool);
  app.decorate('serverState', state);
  app.decorate('metrics', metrics);

  // CORS first, so its headers are on every answer, 401s included.
  if (options.cors.length > 0) {
    await app.register(cors, {
      origin: options.cors.includes('*') ? '*' : options.cors,
      methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
      allowedHeaders: ['Authorization', 'Content-Type', 'x-api-key', 'anthropic-version', 'anthropic-beta'],
      maxAge: 600,
    });
  }
  registerRequestLog(app, metrics);
  if (options.apiKey) registerAuth(app, options.apiKey);
  app.addHook('onRequest', async (_request, reply) => {
    // Tell keep-alive clients to reconnect elsewhere while we drain.
    if (state.phase === 'draining') reply.header('connection', 'close');
  });
  registerJsonBody(app);

  app.setErrorHandler(errorHandler('openai'));
  app.setNotFoundHandler((request, reply) => {
    const err = new MlxNativeError('NOT_FOUND', `Unknown route: ${request.method} ${request.url.split('?')[0]}`);
    reply.code(404).send(toHttpError(err).body);
  });

  const ctx: RouteContext = { state, metrics, options, startedAt: Math.floor(Date.now() / 1000) };
  const responses = new ResponseStore();
  for (const prefix of ['/v1', '']) {
    await app.register(chatRoutes(ctx), { prefix });
    await app.register(completionRoutes(ctx), { prefix });
    await app.register(responseRoutes(ctx, responses), { prefix });
    await app.register(messageRoutes(ctx), { prefix });
    await app.register(embeddingRoutes(ctx), { prefix });
    await app.register(tokenizeRoutes(ctx), { prefix });
    await app.register(modelRoutes(ctx), { prefix });
    await app.register(adminRoutes(ctx), { prefix });
  }
  await app.register(opsRoutes(ctx));
  if (!options.noUi) await registerUi(app);
  return app;
}
