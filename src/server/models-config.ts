/**
 * The models a server serves: `--model [NAME=]PATH` (repeatable) and the models file (YAML or
 * JSON) with per-model options, validated into {@link ModelConfig}s.
 *
 * A models file:
 *
 * ```yaml
 * memory_budget: 24GiB        # optional; --memory-budget wins
 * idle_ttl: 900               # seconds; default for every model (0: never unload when idle)
 * models:
 *   - name: llama
 *     path: /models/Llama-3.2-3B-Instruct-4bit   # relative paths are relative to this file
 *     aliases: [default, llama3]
 *     pinned: true                               # loaded at start, never unloaded
 *   - name: qwen
 *     path: qwen2.5-7b-instruct-q4_0.gguf
 *     context_length: 8192
 *     max_batch: 8
 *     kv_budget: 2GiB
 *     chat_template_file: qwen.jinja
 *     idle_ttl: 300
 * ```
 */
import { readFileSync } from 'node:fs';
import { dirname, extname, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { COMPUTE_DTYPES } from '../engine/model.js';
import type { ComputeDtype } from '../engine/types.js';
import { MlxNativeError } from '../errors.js';

/** One model the server can serve, and how to load and keep it. */
export interface ModelConfig {
  /** The id clients send in `model`. */
  name: string;
  path: string;
  /** Other names requests may use for it. */
  aliases: string[];
  contextLength?: number;
  maxBatch?: number;
  prefillChunk?: number;
  /** Compute dtype (the backend's default when unset). */
  dtype?: ComputeDtype;
  /** KV cache bytes for running sequences (the engine's default when unset). */
  kvBudgetBytes?: number;
  /** KV cache bytes kept for prefix reuse. */
  prefixCacheBytes?: number;
  /** Jinja chat template used instead of the model's own. */
  chatTemplate?: string;
  /** Loaded at start and never unloaded for room or idleness. */
  pinned: boolean;
  /** Loaded at start (true for pinned models and for a server with one model). */
  preload: boolean;
  /** Unloaded after this long without requests; 0 keeps it loaded. */
  idleTtlMs: number;
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1e3, kb: 1e3, m: 1e6, mb: 1e6, g: 1e9, gb: 1e9, t: 1e12, tb: 1e12 };
const BINARY: Record<string, number> = { kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };

/**
 * Bytes of a size written as a number or `512MiB`, `1.5GB`, `8G` (decimal units; KiB/MiB/GiB/TiB binary).
 *
 * @example
 * parseSize('2GiB'); // 2147483648
 */
export function parseSize(value: string | number): number {
  if (typeof value === 'number') return value;
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(value);
  const factor = m ? (UNITS[m[2].toLowerCase()] ?? BINARY[m[2].toLowerCase()]) : undefined;
  if (!m || factor === undefined) throw new MlxNativeError('INVALID_ARGUMENT', `"${value}" is not a size (a number of bytes, or e.g. 512MiB, 8GB)`);
  return Math.round(Number(m[1]) * factor);
}

/** Sizes as numbers or strings with units. */
export const sizeSchema = z.union([z.number(), z.string()]).transform((v, ctx) => {
  try {
    const n = parseSize(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new MlxNativeError('INVALID_ARGUMENT', `${v} is out of range`);
    return n;
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

const NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/;
const nameSchema = z.string().regex(NAME, 'use letters, digits and . _ : / @ + - (starting with a letter or digit)');
const count = z.number().int().min(1).max(2 ** 31 - 1);
const seconds = z.number().min(0).max(365 * 86_400);

const ModelEntrySchema = z.strictObject({
  name: nameSchema.optional(),
  path: z.string().min(1),
  aliases: z.array(nameSchema).default([]),
  context_length: count.optional(),
  max_batch: count.optional(),
  max_slots: count.optional(),
  prefill_chunk: count.optional(),
  dtype: z.enum(COMPUTE_DTYPES).optional(),
  kv_budget: sizeSchema.optional(),
  prefix_cache: sizeSchema.optional(),
  chat_template: z.string().min(1).optional(),
  chat_template_file: z.string().min(1).optional(),
  pinned: z.boolean().default(false),
  preload: z.boolean().optional(),
  idle_ttl: seconds.optional(),
});
type ModelEntry = z.infer<typeof ModelEntrySchema>;

const ModelsFileSchema = z.strictObject({
  memory_budget: sizeSchema.optional(),
  idle_ttl: seconds.optional(),
  // A list of entries, or a map of name → entry.
  models: z.preprocess(
    (v) =>
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? Object.entries(v).map(([name, e]) => (e !== null && typeof e === 'object' ? { ...e, name } : e))
        : v,
    z.array(ModelEntrySchema),
  ),
});

/** What a models file holds besides the models. */
export interface ModelsFile {
  memoryBudgetBytes?: number;
  models: ModelConfig[];
}

/** A bad models file or `--model` value; the CLI prints it and exits 2. */
function configError(message: string): MlxNativeError {
  return new MlxNativeError('INVALID_ARGUMENT', message);
}

/**
 * Reads and validates a models file (`.yaml`/`.yml`, or `.json`); relative paths are taken
 * from the file's directory.
 */
export function readModelsFile(file: string, defaults: { idleTtlMs: number }): ModelsFile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw configError(`--models-file: cannot read ${file}: ${(err as Error).message}`);
  }
  let raw: unknown;
  try {
    raw = extname(file).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw configError(`--models-file: ${file} does not parse: ${(err as Error).message}`);
  }
  const parsed = ModelsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw configError(`--models-file: ${file}: ${issue.path.join('.') || '(top level)'}: ${issue.message}`);
  }
  const base = dirname(resolve(file));
  const entries: ModelEntry[] = parsed.data.models;
  const idleTtlMs = parsed.data.idle_ttl !== undefined ? parsed.data.idle_ttl * 1000 : defaults.idleTtlMs;
  const models = entries.map((e, i) => {
    if (e.chat_template && e.chat_template_file) {
      throw configError(`--models-file: ${file}: models.${i}: set chat_template or chat_template_file, not both`);
    }
    let chatTemplate = e.chat_template;
    if (e.chat_template_file) {
      try {
        chatTemplate = readFileSync(resolve(base, e.chat_template_file), 'utf8');
      } catch (err) {
        throw configError(`--models-file: ${file}: models.${i}.chat_template_file: ${(err as Error).message}`);
      }
    }
    const path = resolve(base, e.path);
    return modelConfig({
      name: e.name ?? defaultModelName(path),
      path,
      aliases: e.aliases,
      contextLength: e.context_length,
      maxBatch: e.max_batch ?? e.max_slots,
      prefillChunk: e.prefill_chunk,
      dtype: e.dtype,
      kvBudgetBytes: e.kv_budget,
      prefixCacheBytes: e.prefix_cache,
      chatTemplate,
      pinned: e.pinned,
      preload: e.preload,
      idleTtlMs: e.idle_ttl !== undefined ? e.idle_ttl * 1000 : idleTtlMs,
    });
  });
  return { memoryBudgetBytes: parsed.data.memory_budget, models };
}

/** A model config with the defaults filled in. */
export function modelConfig(c: Partial<ModelConfig> & { name: string; path: string }): ModelConfig {
  return { aliases: [], pinned: false, idleTtlMs: 0, ...c, preload: c.preload ?? c.pinned ?? false };
}

/** The default model id: the file or directory name without its extension. */
export function defaultModelName(modelPath: string): string {
  const base = modelPath.replace(/[/\\]+$/, '').split(/[/\\]/).pop()!;
  return extname(base) ? base.slice(0, -extname(base).length) : base;
}

/**
 * `--model` values: `PATH` or `NAME=PATH`. A value whose part before `=` could be a path is a
 * path (so `./a=b.gguf` still works).
 */
export function parseModelArg(value: string): { name?: string; path: string } {
  const eq = value.indexOf('=');
  if (eq > 0) {
    const name = value.slice(0, eq);
    if (NAME.test(name) && !name.includes('/')) return { name, path: value.slice(eq + 1) };
  }
  return { path: value };
}

/** Throws when two models share a name or alias. */
export function checkUniqueNames(models: ModelConfig[]): void {
  const seen = new Map<string, string>();
  for (const m of models) {
    for (const n of [m.name, ...m.aliases]) {
      const other = seen.get(n);
      if (other !== undefined) throw configError(`the model name '${n}' is used twice (by '${other}' and '${m.name}')`);
      seen.set(n, m.name);
    }
  }
}
