/** Logs for `mlx-native rpc`: JSON lines on stderr (`{"time","level","msg",...}`), never stdout. */

export const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type Level = (typeof LEVELS)[number];

export interface Logger {
  trace(msg: string, fields?: Record<string, unknown>): void;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  fatal(msg: string, fields?: Record<string, unknown>): void;
}

function serialize(value: unknown): unknown {
  if (value instanceof Error) {
    const e = value as Error & { code?: unknown };
    return { type: e.name, message: e.message, code: e.code, stack: e.stack };
  }
  return value;
}

/**
 * @example
 * const log = createLogger('info');
 * log.info('ready', { models: 1 }); // {"time":"…","level":"info","msg":"ready","models":1}
 */
export function createLogger(level: Level, write: (line: string) => void = (l) => process.stderr.write(l)): Logger {
  const min = LEVELS.indexOf(level);
  const at = (lvl: Exclude<Level, 'silent'>) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (LEVELS.indexOf(lvl) < min) return;
    const out: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, pid: process.pid, msg };
    for (const [k, v] of Object.entries(fields)) out[k] = serialize(v);
    write(`${JSON.stringify(out)}\n`);
  };
  return { trace: at('trace'), debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), fatal: at('fatal') };
}
