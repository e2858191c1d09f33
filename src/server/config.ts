/**
 * Configuration of `mlx-native serve`: one table of flags, each also readable from an
 * environment variable, parsed into a validated {@link ServeConfig}.
 * Precedence: command-line flag, then environment variable, then default.
 */
import { totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { MlxNativeError } from '../errors.js';
import { TOOL_CALL_FORMAT_ALIASES } from '../engine/tool-formats.js';
import { COMPUTE_DTYPES } from '../engine/model.js';
import type { ComputeDtype, ReasoningMode, ToolCallFormat } from '../engine/types.js';
import {
  checkUniqueNames,
  defaultModelName,
  modelConfig,
  parseModelArg,
  parseSize,
  readModelsFile,
  type ModelConfig,
} from './models-config.js';

export { defaultModelName } from './models-config.js';

/** The memory budget when none is set: this share of the machine's memory on the CPU backend. */
export const DEFAULT_MEMORY_SHARE = 0.75;

/**
 * The default memory budget from the device: on Metal the working set the system recommends
 * for the GPU (the limit MLX itself uses), on a CUDA GPU 90% of its memory, on the CPU 75% of
 * the machine's memory.
 *
 * @example
 * defaultMemoryBudget(await new Runtime().deviceInfo());
 */
export function defaultMemoryBudget(
  device: { device: 'cpu' | 'gpu'; memoryBytes: number; recommendedWorkingSetBytes: number },
  machineBytes = totalmem(),
): number {
  if (device.recommendedWorkingSetBytes > 0) return device.recommendedWorkingSetBytes;
  if (device.device === 'gpu' && device.memoryBytes > 0) return Math.round(device.memoryBytes * 0.9);
  return Math.round(machineBytes * DEFAULT_MEMORY_SHARE);
}


/** Everything the server needs to start. Times are in milliseconds. */
export interface ServeConfig {
  /** Every model served, the default (for requests without `model`) first. */
  models: ModelConfig[];
  /** Bytes all loaded models together may take (weights plus KV budgets); undefined: from the device ({@link defaultMemoryBudget}). */
  memoryBudgetBytes?: number;
  /** Default idle time after which an unpinned model is unloaded; 0 never unloads. */
  idleTtlMs: number;
  host: string;
  port: number;
  apiKey?: string;
  /** Allowed CORS origins; empty means CORS is off; `['*']` allows any origin. */
  cors: string[];
  /** Requests in flight (generating or queued in the engine) before new ones get 429. */
  maxQueue: number;
  /** max_tokens when a request does not say. */
  maxTokensDefault: number;
  /** The default model's id (what requests without `model` get). */
  servedModelName: string;
  acceptAnyModel: boolean;
  /** Sequences the engine decodes together (passed to loadModel); undefined = engine default. */
  maxBatch?: number;
  /** Prompt tokens per prefill step (passed to loadModel); a cancel waits for the current step. */
  prefillChunk?: number;
  /** Compute dtype (passed to loadModel); undefined = the backend's default. */
  dtype?: ComputeDtype;
  shutdownTimeoutMs: number;
  /** Time a client has to send a whole request (headers and body). */
  requestTimeoutMs: number;
  /** Time a client has to send the request headers. */
  headersTimeoutMs: number;
  bodyLimitBytes: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Leave the web playground at `/` out. */
  noUi: boolean;
  /** How the model writes tool calls; undefined = inferred from its chat template. */
  toolCallFormat?: ToolCallFormat;
  /** How thinking is read from replies (mlx-server's meaning). */
  reasoning: ReasoningMode;
}

interface FlagSpec {
  key: keyof ServeConfig | 'model' | 'modelsFile' | 'maxSlots' | 'help';
  flag: string;
  env?: string;
  type: 'string' | 'boolean';
  multiple?: boolean;
  arg?: string;
  default?: string;
  help: string;
}

/** The flag table: the single source for parsing, environment variables and `--help`. */
export const FLAGS: readonly FlagSpec[] = [
  { key: 'model', flag: 'model', env: 'MLX_NATIVE_MODEL', type: 'string', multiple: true, arg: '[NAME=]PATH', help: 'model file (.gguf) or MLX model directory; repeat for several (NAME: its id)' },
  { key: 'modelsFile', flag: 'models-file', env: 'MLX_NATIVE_MODELS_FILE', type: 'string', arg: 'FILE', help: 'YAML or JSON file of models with per-model options (see README)' },
  { key: 'memoryBudgetBytes', flag: 'memory-budget', env: 'MLX_NATIVE_MEMORY_BUDGET', type: 'string', arg: 'SIZE', help: "memory all loaded models may use, e.g. 24GiB or 80% of the machine's (default: Metal's recommended working set, 90% of a CUDA GPU's memory, or 75% of the machine's memory)" },
  { key: 'idleTtlMs', flag: 'idle-ttl', env: 'MLX_NATIVE_IDLE_TTL', type: 'string', arg: 'SECONDS', default: '0', help: 'unload an unpinned model after this long without requests; 0 never' },
  { key: 'host', flag: 'host', env: 'MLX_NATIVE_HOST', type: 'string', arg: 'ADDR', default: '127.0.0.1', help: 'address to bind; use 0.0.0.0 to listen on every interface' },
  { key: 'port', flag: 'port', env: 'MLX_NATIVE_PORT', type: 'string', arg: 'N', default: '8080', help: 'TCP port; 0 picks a free one (the "listening" log line tells which)' },
  { key: 'apiKey', flag: 'api-key', env: 'MLX_NATIVE_API_KEY', type: 'string', arg: 'KEY', help: 'require "Authorization: Bearer KEY" on API routes (/health and /metrics stay open)' },
  { key: 'cors', flag: 'cors', env: 'MLX_NATIVE_CORS', type: 'string', arg: 'ORIGINS', help: 'comma-separated origins allowed by CORS, or *; off by default' },
  { key: 'maxQueue', flag: 'max-queue', env: 'MLX_NATIVE_MAX_QUEUE', type: 'string', arg: 'N', default: '32', help: 'requests generating or waiting before new ones get 429' },
  { key: 'maxTokensDefault', flag: 'max-tokens-default', env: 'MLX_NATIVE_MAX_TOKENS_DEFAULT', type: 'string', arg: 'N', default: '512', help: 'max_tokens when a request does not set it' },
  { key: 'servedModelName', flag: 'served-model-name', env: 'MLX_NATIVE_SERVED_MODEL_NAME', type: 'string', arg: 'NAME', help: 'model id for clients (default: file or directory name without extension)' },
  { key: 'acceptAnyModel', flag: 'accept-any-model', env: 'MLX_NATIVE_ACCEPT_ANY_MODEL', type: 'boolean', help: 'answer requests for any model name instead of 404' },
  { key: 'maxBatch', flag: 'max-batch', env: 'MLX_NATIVE_MAX_BATCH', type: 'string', arg: 'N', help: 'sequences the engine decodes together (default 16)' },
  { key: 'maxSlots', flag: 'max-slots', env: 'MLX_NATIVE_MAX_SLOTS', type: 'string', arg: 'N', help: 'the same as --max-batch' },
  { key: 'prefillChunk', flag: 'prefill-chunk', env: 'MLX_NATIVE_PREFILL_CHUNK', type: 'string', arg: 'N', help: 'prompt tokens per prefill step; smaller makes cancelling during a long prefill quicker (default: 32 on CPU, 512 on GPUs)' },
  { key: 'dtype', flag: 'dtype', env: 'MLX_NATIVE_DTYPE', type: 'string', arg: 'TYPE', help: 'compute dtype: float32, float16 or bfloat16 (default: float32 on CPU, float16 on GPUs)' },
  { key: 'shutdownTimeoutMs', flag: 'shutdown-timeout', env: 'MLX_NATIVE_SHUTDOWN_TIMEOUT', type: 'string', arg: 'SECONDS', default: '5', help: 'on SIGTERM/SIGINT, time in-flight requests get to finish before they are aborted; the process exits at most 4.5 s later' },
  { key: 'requestTimeoutMs', flag: 'request-timeout', env: 'MLX_NATIVE_REQUEST_TIMEOUT', type: 'string', arg: 'SECONDS', default: '30', help: 'time a client has to send its whole request' },
  { key: 'headersTimeoutMs', flag: 'headers-timeout', env: 'MLX_NATIVE_HEADERS_TIMEOUT', type: 'string', arg: 'SECONDS', default: '10', help: 'time a client has to send its request headers' },
  { key: 'bodyLimitBytes', flag: 'body-limit', env: 'MLX_NATIVE_BODY_LIMIT', type: 'string', arg: 'BYTES', default: '4194304', help: 'largest request body accepted (413 above)' },
  { key: 'logLevel', flag: 'log-level', env: 'MLX_NATIVE_LOG_LEVEL', type: 'string', arg: 'LEVEL', default: 'info', help: 'fatal, error, warn, info, debug, trace or silent' },
  { key: 'noUi', flag: 'no-ui', env: 'MLX_NATIVE_NO_UI', type: 'boolean', help: 'do not serve the web playground at /' },
  { key: 'toolCallFormat', flag: 'tool-call-format', env: 'MLX_NATIVE_TOOL_CALL_FORMAT', type: 'string', arg: 'FORMAT', help: `how the model writes tool calls: auto (inferred from the chat template), ${Object.keys(TOOL_CALL_FORMAT_ALIASES).join(', ')}` },
  { key: 'reasoning', flag: 'reasoning', env: 'MLX_NATIVE_REASONING', type: 'string', arg: 'MODE', default: 'auto', help: 'thinking in replies: auto (a <think> block the model opens), prefilled (the template opened it), off (no separation)' },
  { key: 'help', flag: 'help', type: 'boolean', help: 'show this help' },
];

const int = (min: number, max = Number.MAX_SAFE_INTEGER) => z.coerce.number().int().min(min).max(max);
const seconds = z.coerce.number().min(0).max(86_400).transform((s) => Math.round(s * 1000));
const bool = z.union([z.boolean(), z.stringbool()]);

const budget = z
  .string()
  .optional()
  .transform((v, ctx) => {
    if (v === undefined) return undefined;
    const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v);
    try {
      const n = pct ? Math.round((Number(pct[1]) / 100) * totalmem()) : parseSize(v);
      if (!(n > 0) || !Number.isSafeInteger(n)) throw new MlxNativeError('INVALID_ARGUMENT', 'must be more than 0');
      return n;
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
      return z.NEVER;
    }
  });
const oneOf = <T extends readonly [string, ...string[]]>(values: T) =>
  z.enum(values, { error: (issue) => `"${String(issue.input)}" is not one of ${values.join(', ')}` }).optional();

const ConfigSchema = z.object({
  model: z.array(z.string().min(1, 'the model path must not be empty')).optional(),
  modelsFile: z.string().min(1).optional(),
  memoryBudgetBytes: budget,
  idleTtlMs: seconds,
  maxSlots: int(1).optional(),
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
  dtype: oneOf(COMPUTE_DTYPES),
  shutdownTimeoutMs: seconds,
  requestTimeoutMs: seconds.refine((ms) => ms > 0, 'must be more than 0'),
  headersTimeoutMs: seconds.refine((ms) => ms > 0, 'must be more than 0'),
  bodyLimitBytes: int(1024),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  noUi: bool.default(false),
  toolCallFormat: oneOf(['auto', ...Object.keys(TOOL_CALL_FORMAT_ALIASES)] as [string, ...string[]]).transform((f) =>
    f === undefined || f === 'auto' ? undefined : TOOL_CALL_FORMAT_ALIASES[f],
  ),
  reasoning: oneOf(['auto', 'prefilled', 'off'] as const).transform((r) => r ?? 'auto'),
});

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
  const options = Object.fromEntries(FLAGS.map((f) => [f.flag, { type: f.type, multiple: f.multiple ?? false }]));
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
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
    const envValue = fromEnv === '' || fromEnv === undefined ? undefined : f.multiple ? [fromEnv] : fromEnv;
    raw[f.key] = values[f.flag] ?? envValue ?? f.default;
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
  const { model, modelsFile, maxSlots, ...c } = parsed.data;
  const maxBatch = c.maxBatch ?? maxSlots;
  const models = servedModels(model ?? [], modelsFile, { ...c, maxBatch });
  const memoryBudgetBytes = c.memoryBudgetBytes ?? models.fileBudget;
  return {
    help: false,
    config: {
      ...c,
      maxBatch,
      models: models.list,
      memoryBudgetBytes,
      servedModelName: models.list[0].name,
      // Node requires headersTimeout <= requestTimeout.
      headersTimeoutMs: Math.min(c.headersTimeoutMs, c.requestTimeoutMs),
    },
  };
}

/**
 * The models of `--model` (preloaded: they are few and named on the command line) and then of
 * the models file (loaded on first request unless pinned or `preload: true`).
 */
function servedModels(
  args: string[],
  file: string | undefined,
  c: { servedModelName?: string; maxBatch?: number; prefillChunk?: number; dtype?: ComputeDtype; idleTtlMs: number },
): { list: ModelConfig[]; fileBudget?: number } {
  if (args.length === 0 && !file) {
    throw new ConfigError('--model (MLX_NATIVE_MODEL): a model is required: pass --model PATH, --model NAME=PATH or --models-file FILE');
  }
  const fromArgs = args.map((value) => {
    const { name, path } = parseModelArg(value);
    if (!path) throw new ConfigError(`--model: "${value}" has no path`);
    return modelConfig({ name: name ?? defaultModelName(path), path, preload: true, idleTtlMs: c.idleTtlMs });
  });
  if (c.servedModelName !== undefined) {
    if (fromArgs.length !== 1) throw new ConfigError('--served-model-name: names the one --model PATH; with several models use --model NAME=PATH');
    fromArgs[0].name = c.servedModelName;
  }
  let fileBudget: number | undefined;
  const fromFile: ModelConfig[] = [];
  if (file) {
    let parsed;
    try {
      parsed = readModelsFile(file, { idleTtlMs: c.idleTtlMs });
    } catch (err) {
      throw new ConfigError((err as Error).message);
    }
    fileBudget = parsed.memoryBudgetBytes;
    fromFile.push(...parsed.models);
  }
  const list = [...fromArgs, ...fromFile].map((m) => ({
    ...m,
    maxBatch: m.maxBatch ?? c.maxBatch,
    prefillChunk: m.prefillChunk ?? c.prefillChunk,
    dtype: m.dtype ?? c.dtype,
  }));
  if (list.length === 0) throw new ConfigError(`--models-file: ${file} lists no models`);
  try {
    checkUniqueNames(list);
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  return { list, fileBudget };
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
  return `Usage: mlx-native serve --model [NAME=]PATH [--model ...] [--models-file FILE] [options]\n       mlx-native --model PATH --host H --port P [options]   (the same, without the subcommand)\n\nOpenAI-compatible HTTP server.\n\nOptions:\n${rows.join('\n')}`;
}
