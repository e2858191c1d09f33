/**
 * `mlx-native serve`: listens first (so /health answers 503 while the model loads), loads the
 * model, serves, and on SIGTERM/SIGINT drains: new requests get 503, in-flight ones get
 * --shutdown-timeout to finish, the rest are aborted (finish_reason 'abort'), then the engine
 * is disposed and the process exits 0.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp } from '../server/app.js';
import { ConfigError, parseServeArgs, serveHelp, type ServeConfig } from '../server/config.js';
import type { ServedModel } from '../server/state.js';

// A second signal this soon after the first is the same Ctrl-C delivered twice (terminal to
// the process group, plus npm or scripts/start.mjs forwarding it), not a request to hurry.
const DUPLICATE_SIGNAL_MS = 1000;
// Grace for aborted requests to write their last chunk, and for sockets to close.
const FLUSH_MS = 5000;

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

  let provideModel!: (model: ServedModel) => void;
  let failModel!: (err: unknown) => void;
  const modelPromise = new Promise<ServedModel>((resolve, reject) => {
    provideModel = resolve;
    failModel = reject;
  });
  modelPromise.catch(() => undefined); // failures are handled below; the app only reads the state

  const app = await buildApp({
    modelPromise,
    options: config,
    logger: { level: config.logLevel, redact: ['req.headers.authorization', 'headers.authorization'] },
  });
  const log = app.log;
  log.info({ config: { ...config, apiKey: config.apiKey ? '[set]' : undefined } }, 'starting');

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
  void signals.first.then(() => app.serverState.startDraining());

  let model: ServedModel;
  const loadStarted = performance.now();
  try {
    // Imported here so `serve --help` and flag errors never load the native addon.
    const { loadModel } = await import('../index.js');
    let nextReport = 0.25;
    model = await loadModel(config.model, {
      maxBatch: config.maxBatch,
      prefillChunk: config.prefillChunk,
      onWarning: (message) => log.warn({ model: config.model }, message),
      onProgress: (fraction) => {
        if (fraction < nextReport) return;
        log.info({ progress: Math.round(fraction * 100) }, 'loading model');
        nextReport = Math.floor(fraction * 4) / 4 + 0.25;
      },
    });
  } catch (err) {
    failModel(err);
    log.fatal({ err }, `failed to load model ${config.model}`);
    signals.dispose();
    await app.close();
    return 1;
  }
  provideModel(model);
  log.info(
    {
      model: config.servedModelName,
      path: model.info.path,
      contextLength: model.info.contextLength,
      loadMs: Math.round(performance.now() - loadStarted),
      ...(!config.noUi && { playground: `${url}/` }),
    },
    'ready',
  );

  const signal = await signals.first;
  await drain(app, config, signals.forced, signal);
  await model.dispose().catch((err: unknown) => log.error({ err }, 'disposing the model failed'));
  signals.dispose();
  log.info('stopped');
  // Safety net for a supervisor: should anything still hold the event loop, exit anyway.
  setTimeout(() => process.exit(0), FLUSH_MS).unref();
  return 0;
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
  const timer = setTimeout(() => app.server.closeAllConnections(), FLUSH_MS);
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
