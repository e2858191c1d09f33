/**
 * `mlx-native rpc`: JSON-RPC 2.0 over stdin/stdout, one message per line, for supervisors that
 * spawn the engine as a child process. stdout carries protocol lines only; logs are JSON lines
 * on stderr. SIGTERM, SIGINT, stdin EOF, a closed stdout and the `shutdown` method all abort
 * in-flight generations (final results with finish_reason "abort"), free the models and exit 0.
 */
import { LEVELS, createLogger, type Level } from '../rpc/logger.js';
import { parse } from './common.js';

const help = `Usage: mlx-native rpc [--model PATH [--id ID]] [--log-level LEVEL] [--max-line-bytes N]

JSON-RPC 2.0 over stdin/stdout, one message per line (see the README for the methods).

  --model PATH          load this model at start (as load_model would)
  --id ID               its id (default: the file or directory name without .gguf)
  --log-level LEVEL     ${LEVELS.join(', ')} (default info; logs are JSON lines on stderr)
  --max-line-bytes N    longer request lines are skipped with -32600 (default 16777216)`;

// Time the final lines get to reach the consumer before the process exits anyway.
const FLUSH_MS = 5000;

export async function run(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    model: { type: 'string' },
    id: { type: 'string' },
    'log-level': { type: 'string' },
    'max-line-bytes': { type: 'string' },
    help: { type: 'boolean' },
  });
  if (values.help) return console.log(help), 0;
  const level = (values['log-level'] ?? process.env.MLX_NATIVE_LOG_LEVEL ?? 'info') as Level;
  const maxLineBytes = Number(values['max-line-bytes'] ?? 16 * 1024 * 1024);
  if (!LEVELS.includes(level) || !Number.isInteger(maxLineBytes) || maxLineBytes < 1 || (values.id && !values.model)) {
    console.error(help);
    return 2;
  }

  // From here on, stdout is the protocol's: anything else that writes to it lands on stderr.
  const { takeStdout, LineWriter } = await import('../rpc/output.js');
  const stdout = takeStdout();
  console.log = console.info = console.debug = console.error;
  const log = createLogger(level);
  const { RpcServer } = await import('../rpc/server.js');
  const writer = new LineWriter(stdout, {
    onClose: (err) => {
      log.warn('stdout closed: stopping', { err });
      void server.stop('stdout closed');
    },
    onBackpressure: (e) =>
      log.debug(e.blocked ? 'stdout backpressure: streams wait for the consumer' : 'stdout drained: streams resume', {
        buffered_bytes: e.bufferedBytes,
        blocked_ms: e.blockedMs,
      }),
  });
  const server = new RpcServer({ writer, log, maxLineBytes, flushTimeoutMs: FLUSH_MS });

  const onSignal = (signal: NodeJS.Signals) => void server.stop(signal);
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  log.info('rpc ready', { pid: process.pid });

  if (values.model) {
    try {
      await server.models.load({ model: values.model, id: values.id });
    } catch (err) {
      log.fatal('failed to load the --model', { model: values.model, err });
      await server.stop('--model failed to load');
      return 1;
    }
  }

  await server.run(process.stdin);
  await server.flush();
  process.off('SIGTERM', onSignal);
  process.off('SIGINT', onSignal);
  // Safety net for a supervisor: should anything still hold the event loop, exit anyway.
  setTimeout(() => process.exit(0), FLUSH_MS).unref();
  return 0;
}
