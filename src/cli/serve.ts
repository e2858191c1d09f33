/**
 * `mlx-native serve` (also `mlx-native --model …` without the subcommand): listens first (so
 * /health answers 503 while models load), loads the models marked for start (every `--model`;
 * pinned or `preload` ones of a models file), serves every configured model (others load on
 * first request), and on SIGTERM/SIGINT drains: new requests get 503, in-flight ones get
 * --shutdown-timeout to finish, the rest are aborted (finish_reason 'abort'), then the models
 * are freed and the process exits 0.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app.js';
import { ConfigError, defaultMemoryBudget, parseServeArgs, serveHelp, type ServeConfig } from '../server/config.js';
import type { ModelPool } from '../server/model-pool.js';
import type { ModelConfig } from '../server/models-config.js';

// A second signal this soon after the first is the same Ctrl-C delivered twice (terminal to
// the process group, plus npm or scripts/start.mjs forwarding it), not a request to hurry.
const DUPLICATE_SIGNAL_MS = 1000;
// Grace for aborted requests to write their last chunk, then for sockets to close, then for
// the models to be freed: with the default --shutdown-timeout of 5 s the process is gone within
// 9.5 s of the signal, inside the 10 s a supervisor waits before SIGKILL.
const FLUSH_MS = 2500;
const CLOSE_MS = 1000;
const TEARDOWN_MS = 1000;

/**
 * Runs the server until a signal stops it. Returns the exit code.
 *
 * @example
 * process.exitCode = await run(['--model', 'models/SmolLM2-135M-Instruct.Q4_1.gguf', '--port', '0']);
 */
export async function run(argv: string[]): Promise<number> {
  let config: ServeConfig;
  try {
    const parsed = parseServeArgs(argv, process.env);
    if (parsed.help) {
      console.log(serveHelp());
      return 0;
    }
    config = parsed.config;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    console.error(`mlx-native serve: ${err.message}\n\nRun \`mlx-native serve --help\` for the options.`);
    return 2;
  }

  // Imported here so `serve --help` and flag errors never load the native addon.
  const { createEngine } = await import('../engine/engine.js');
  const { ModelPool } = await import('../server/model-pool.js');
  const { Runtime } = await import('../runtime.js');
  let budgetBytes = config.memoryBudgetBytes;
  if (budgetBytes === undefined) {
    const runtime = new Runtime();
    budgetBytes = defaultMemoryBudget(await runtime.deviceInfo());
    runtime.dispose();
  }
  const engine = createEngine();
  const pool = new ModelPool(config.models, { loader: engine, budgetBytes });
  const app = await buildApp({
    pool,
    options: config,
    logger: { level: config.logLevel, redact: ['req.headers.authorization', 'headers.authorization'] },
  });
  const log = app.log;
  logPoolEvents(pool, log);
  log.info({ config: { ...config, apiKey: config.apiKey ? '[set]' : undefined, models: config.models.map(describeConfig) } }, 'starting');

  try {
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    log.fatal({ err }, `cannot listen on ${config.host}:${config.port}`);
    return 1;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;
  // Tests and scripts read this line to learn the port when --port 0.
  log.info({ address: address.address, port: address.port, url }, 'listening');

  const signals = watchSignals(log);
  // A signal during loading: refuse work at once; the drain runs when loading ends.
  void signals.first.then(() => {
    app.serverState.startDraining();
    // Whatever happens, the process ends within the bound a supervisor was promised.
    setTimeout(() => {
      // Every request answered: only freeing memory is left, which the exit does as well.
      const pending = app.serverState.admitted;
      log.error({ boundMs: exitBoundMs(config), pending }, 'shutdown took longer than its bound: exiting now');
      process.exit(pending === 0 ? 0 : 1);
    }, exitBoundMs(config)).unref();
  });

  const loadStarted = performance.now();
  await pool.inspect();
  for (const m of config.models.filter((c) => c.preload)) {
    // A signal while loading: skip the rest and go straight to the drain.
    if (app.serverState.phase === 'draining') break;
    try {
      await pool.load(m.name);
    } catch (err) {
      // One model: the server has nothing to serve. Several: the others serve; this one
      // answers 503 with its error until it loads.
      if (config.models.length === 1) {
        log.fatal({ err }, `failed to load model ${m.path}`);
        signals.dispose();
        await pool.close();
        await app.close();
        return 1;
      }
      log.error({ err, model: m.name }, `model ${m.name} did not load at start`);
    }
  }
  app.serverState.setReady();
  const main = app.serverState.model;
  log.info(
    {
      model: config.servedModelName,
      path: main?.info.path,
      contextLength: main?.info.contextLength,
      models: pool.list().map((m) => ({ id: m.name, state: m.state })),
      memoryBudgetBytes: pool.budgetBytes,
      loadMs: Math.round(performance.now() - loadStarted),
      ...(!config.noUi && { playground: `${url}/` }),
    },
    'ready',
  );

  const signal = await signals.first;
  await drain(app, config, signals.forced, signal);
  await pool.close().catch((err: unknown) => log.error({ err }, 'unloading the models failed'));
  await engine.dispose();
  signals.dispose();
  log.info('stopped');
  // Safety net for a supervisor: should anything still hold the event loop, exit anyway.
  setTimeout(() => process.exit(0), FLUSH_MS).unref();
  return 0;
}

/** The longest a shutdown may take: the grace for in-flight requests plus flushing and closing. */
function exitBoundMs(config: ServeConfig): number {
  return config.shutdownTimeoutMs + FLUSH_MS + CLOSE_MS + TEARDOWN_MS;
}

function describeConfig(m: ModelConfig) {
  const { chatTemplate, ...rest } = m;
  return { ...rest, chatTemplate: chatTemplate === undefined ? undefined : '[set]' };
}

/** One log line per load, failed load and unload, with the model's id. */
function logPoolEvents(pool: ModelPool, log: FastifyInstance['log']): void {
  pool.on({
    loaded: (model, ms) => log.info({ model, loadMs: Math.round(ms) }, 'model loaded'),
    loadFailed: (model, err) => log.error({ model, err: { code: err.code, message: err.message } }, 'model failed to load'),
    unloaded: (model, reason, aborted) => log.info({ model, reason, aborted }, 'model unloaded'),
    warning: (model, message) => log.warn({ model }, message),
  });
}

/** Stops taking work, waits for in-flight requests, aborts what is left, closes the listener. */
async function drain(app: FastifyInstance, config: ServeConfig, forced: Promise<void>, signal: string): Promise<void> {
  const { serverState: state, log } = app;
  state.startDraining();
  log.info({ signal, inFlight: state.admitted, timeoutMs: config.shutdownTimeoutMs }, 'shutting down: draining requests');
  const idle = await Promise.race([state.waitIdle(config.shutdownTimeoutMs), forced.then(() => false)]);
  if (!idle) {
    const aborted = state.abortAll('shutdown');
    log.warn({ aborted }, 'shutdown timeout: aborting the remaining requests');
    await state.waitIdle(FLUSH_MS);
  }
  // Close the listener and idle keep-alive sockets; a client that stopped reading is cut off.
  const closing = app.close();
  const timer = setTimeout(() => app.server.closeAllConnections(), CLOSE_MS);
  await closing;
  clearTimeout(timer);
}

/** SIGTERM/SIGINT: the first starts the drain; a later one skips the rest of the grace period. */
function watchSignals(log: FastifyInstance['log']) {
  let firstAt: number | undefined;
  let onFirst!: (signal: string) => void;
  let onForce!: () => void;
  const first = new Promise<string>((resolve) => (onFirst = resolve));
  const forced = new Promise<void>((resolve) => (onForce = resolve));
  const handler = (signal: NodeJS.Signals) => {
    if (firstAt === undefined) {
      firstAt = performance.now();
      onFirst(signal);
    } else if (performance.now() - firstAt > DUPLICATE_SIGNAL_MS) {
      log.warn({ signal }, 'second signal: aborting in-flight requests now');
      onForce();
    }
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
  return {
    first,
    forced,
    dispose() {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}
