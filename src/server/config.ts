/**
 * Configuration of `mlx-native serve`: one table of flags, each also readable from an
 * environment variable, parsed into a validated {@link ServeConfig}.
 * Precedence: command-line flag, then environment variable, then default.
 */
import { basename, extname } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { MlxNativeError } from '../errors.js';
import { TOOL_CALL_FORMAT_ALIASES } from '../engine/tool-formats.js';
import type { ReasoningMode, ToolCallFormat } from '../engine/types.js';

/** Everything the server needs to start. Times are in milliseconds. */
export interface ServeConfig {
  model: string;
  host: string;
  port: number;
  apiKey?: string;
  /** Allowed CORS origins; empty means CORS is off; `['*']` allows any origin. */
  cors: string[];
  /** Requests in flight (generating or queued in the engine) before new ones get 429. */
  maxQueue: number;
  /** max_tokens when a request does not say. */
  maxTokensDefault: number;
  /** The model id clients send and /v1/models lists. */
  servedModelName: string;
  acceptAnyModel: boolean;
  /** Sequences the engine decodes together (passed to loadModel); undefined = engine default. */
  maxBatch?: number;
  /** Prompt tokens per prefill step (passed to loadModel); a cancel waits for the current step. */
  prefillChunk?: number;
  shutdownTimeoutMs: number;
  /** Time a client has to send a whole request (headers and body). */
  requestTimeoutMs: number;
  /** Time a client has to send the request headers. */
  headersTimeoutMs: number;
  bodyLimitBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** How the model writes tool calls; undefined = inferred from its chat template. */
  toolCallFormat?: ToolCallFormat;
  /** How thinking is read from replies (mlx-server's meaning). */
  reasoning: ReasoningMode;
}

interface FlagSpec {
  key: keyof ServeConfig | 'help';
  flag: string;
  env?: string;
  type: 'string' | 'boolean';
  arg?: string;
  default?: string;
  help: string;
}

/** The flag table: the single source for parsing, environment variables and `--help`. */
export const FLAGS: readonly FlagSpec[] = [
  { key: 'model', flag: 'model', env: 'MLX_NATIVE_MODEL', type: 'string', arg: 'PATH', help: 'model file (.gguf) or MLX model directory (required)' },
  { key: 'host', flag: 'host', env: 'MLX_NATIVE_HOST', type: 'string', arg: 'ADDR', default: '127.0.0.1', help: 'address to bind; use 0.0.0.0 to listen on every interface' },
  { key: 'port', flag: 'port', env: 'MLX_NATIVE_PORT', type: 'string', arg: 'N', default: '8080', help: 'TCP port; 0 picks a free one (the "listening" log line tells which)' },
  { key: 'apiKey', flag: 'api-key', env: 'MLX_NATIVE_API_KEY', type: 'string', arg: 'KEY', help: 'require "Authorization: Bearer KEY" on API routes (/health and /metrics stay open)' },
  { key: 'cors', flag: 'cors', env: 'MLX_NATIVE_CORS', type: 'string', arg: 'ORIGINS', help: 'comma-separated origins allowed by CORS, or *; off by default' },
  { key: 'maxQueue', flag: 'max-queue', env: 'MLX_NATIVE_MAX_QUEUE', type: 'string', arg: 'N', default: '32', help: 'requests generating or waiting before new ones get 429' },
  { key: 'maxTokensDefault', flag: 'max-tokens-default', env: 'MLX_NATIVE_MAX_TOKENS_DEFAULT', type: 'string', arg: 'N', default: '512', help: 'max_tokens when a request does not set it' },
  { key: 'servedModelName', flag: 'served-model-name', env: 'MLX_NATIVE_SERVED_MODEL_NAME', type: 'string', arg: 'NAME', help: 'model id for clients (default: file or directory name without extension)' },
  { key: 'acceptAnyModel', flag: 'accept-any-model', env: 'MLX_NATIVE_ACCEPT_ANY_MODEL', type: 'boolean', help: 'answer requests for any model name instead of 404' },
  { key: 'maxBatch', flag: 'max-batch', env: 'MLX_NATIVE_MAX_BATCH', type: 'string', arg: 'N', help: 'sequences the engine decodes together (default 16)' },
  { key: 'prefillChunk', flag: 'prefill-chunk', env: 'MLX_NATIVE_PREFILL_CHUNK', type: 'string', arg: 'N', help: 'prompt tokens per prefill step; smaller makes cancelling during a long prefill quicker (default: 32 on CPU, 512 on GPUs)' },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout', env: 'MLX_NATIVE_SHUTDOWN_TIMEOUT', type: 'string', arg: 'SECONDS', default: '30', help: 'on SIGTERM/SIGINT, time in-flight requests get to finish before they are aborted' },
  { key: 'requestTimeoutMs', flag: 'request-timeout', env: 'MLX_NATIVE_REQUEST_TIMEOUT', type: 'string', arg: 'SECONDS', default: '30', help: 'time a client has to send its whole request' },
  { key: 'headersTimeoutMs', flag: 'headers-timeout', env: 'MLX_NATIVE_HEADERS_TIMEOUT', type: 'string', arg: 'SECONDS', default: '10', help: 'time a client has to send its request headers' },
  { key: 'bodyLimitBytes', flag: 'body-limit', env: 'MLX_NATIVE_BODY_LIMIT', type: 'string', arg: 'BYTES', default: '4194304', help: 'largest request body accepted (413 above)' },
  { key: 'logLevel', flag: 'log-level', env: 'MLX_NATIVE_LOG_LEVEL', type: 'string', arg: 'LEVEL', default: 'info', help: 'fatal, error, warn, info, debug, trace or silent' },
  { key: 'toolCallFormat', flag: 'tool-call-format', env: 'MLX_NATIVE_TOOL_CALL_FORMAT', type: 'string', arg: 'FORMAT', help: `how the model writes tool calls: auto (inferred from the chat template), ${Object.keys(TOOL_CALL_FORMAT_ALIASES).join(', ')}` },
  { key: 'reasoning', flag: 'reasoning', env: 'MLX_NATIVE_REASONING', type: 'string', arg: 'MODE', default: 'auto', help: 'thinking in replies: auto (a <think> block the model opens), prefilled (the template opened it), off (no separation)' },
  { key: 'help', flag: 'help', type: 'boolean', help: 'show this help' },
];

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const seconds = z.coerce.number().min(0).max(86_400).transform((s) => Math.round(s * 1000));
const bool = z.union([z.boolean(), z.stringbool()]);

const ConfigSchema = z.object({
  model: z.string({ error: 'a model is required: pass --model PATH or set MLX_NATIVE_MODEL' }).min(1),
  host: z.string().min(1),
  port: int(0, 65_535),
  apiKey: z.string().min(1, 'the API key must not be empty').optional(),
  cors: z
    .string()
    .optional()
    .transform((s) => (s ? s.split(',').map((o) => o.trim()).filter(Boolean) : [])),
  maxQueue: int(1),
  maxTokensDefault: int(1),
  servedModelName: z.string().min(1).optional(),
  acceptAnyModel: bool.default(false),
  maxBatch: int(1).optional(),
  prefillChunk: int(1).optional(),
  shutdownTimeoutMs: seconds,
  requestTimeoutMs: seconds.refine((ms) => ms > 0, 'must be more than 0'),
  headersTimeoutMs: seconds.refine((ms) => ms > 0, 'must be more than 0'),
  bodyLimitBytes: int(1024),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  toolCallFormat: z
    .enum(['auto', ...Object.keys(TOOL_CALL_FORMAT_ALIASES)] as [string, ...string[]])
    .optional()
    .transform((f) => (f === undefined || f === 'auto' ? undefined : TOOL_CALL_FORMAT_ALIASES[f])),
  reasoning: z.enum(['auto', 'prefilled', 'off']),
});

/** The default model id: the file or directory name without its extension. */
export function defaultModelName(modelPath: string): string {
  const base = basename(modelPath.replace(/[/\\]+$/, ''));
  return extname(base) ? base.slice(0, -extname(base).length) : base;
}

/** Thrown for bad flags or values; the CLI prints the message and exits 2. */
/** A bad flag or environment variable (INVALID_ARGUMENT, naming the flag in its message). */
export class ConfigError extends MlxNativeError {
  constructor(message: string) {
    super('INVALID_ARGUMENT', message);
    this.name = 'ConfigError';
  }
}

/** Result of {@link parseServeArgs}: either a config or a request for help. */
export type ParsedServeArgs = { help: true } | { help: false; config: ServeConfig };

/**
 * Parses `serve` arguments and environment variables into a validated config.
 *
 * @example
 * const parsed = parseServeArgs(['--model', 'm.gguf', '--port', '0'], process.env);
 * if (!parsed.help) console.log(parsed.config.port); // 0
 */
export function parseServeArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedServeArgs {
  const options = Object.fromEntries(FLAGS.map((f) => [f.flag, { type: f.type }]));
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }));
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  if (values.help) return { help: true };

  const raw: Record<string, unknown> = {};
  for (const f of FLAGS) {
    if (f.key === 'help') continue;
    const fromEnv = f.env ? env[f.env] : undefined;
    raw[f.key] = values[f.flag] ?? (fromEnv === '' ? undefined : fromEnv) ?? f.default;
  }
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((issue) => {
      const spec = FLAGS.find((f) => f.key === issue.path[0]);
      const name = spec ? `--${spec.flag}${spec.env ? ` (${spec.env})` : ''}` : String(issue.path[0]);
      return `${name}: ${issue.message}`;
    });
    throw new ConfigError(lines.join('\n'));
  }
  const c = parsed.data;
  return {
    help: false,
    config: {
      ...c,
      servedModelName: c.servedModelName ?? defaultModelName(c.model),
      // Node requires headersTimeout <= requestTimeout.
      headersTimeoutMs: Math.min(c.headersTimeoutMs, c.requestTimeoutMs),
    },
  };
}

/** The `serve --help` text, generated from {@link FLAGS}. */
export function serveHelp(): string {
  const rows = FLAGS.map((f) => {
    const left = `  --${f.flag}${f.arg ? ` ${f.arg}` : ''}`;
    const extra = [f.default !== undefined ? `default ${f.default}` : '', f.env ? `env ${f.env}` : '']
      .filter(Boolean)
      .join('; ');
    return `${left.padEnd(34)}${f.help}${extra ? ` (${extra})` : ''}`;
  });
  return `Usage: mlx-native serve --model PATH [options]\n\nOpenAI-compatible HTTP server.\n\nOptions:\n${rows.join('\n')}`;
}
