/** Helpers shared by the CLI commands: model loading with a progress bar, option parsing. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadModel, type LoadOptions, type Model } from '../engine/model.js';
import type { ComputeDtype } from '../engine/types.js';
import { MlxNativeError } from '../errors.js';

/** A one-line progress bar on a TTY (stderr); silent otherwise. */
export function progressBar(label: string): (fraction: number) => void {
  if (!process.stderr.isTTY) return () => {};
  let last = -1;
  return (f) => {
    const pct = Math.floor(f * 100);
    if (pct === last) return;
    last = pct;
    const width = 30, filled = Math.round((pct / 100) * width);
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${pct}%`);
    if (pct >= 100) process.stderr.write('\n');
  };
}

export async function loadWithProgress(path: string, options: LoadOptions = {}): Promise<Model> {
  return loadModel(path, { onProgress: progressBar(`loading ${path}`), ...options });
}

/** The model flag common to generate and chat besides --model. */
export const loadOptions = { dtype: { type: 'string' } } as const;

/** LoadOptions from those flags (loadModel refuses an unknown dtype, naming the choices). */
export function loadOptionsFrom(v: { dtype?: string }): LoadOptions {
  return { dtype: v.dtype as ComputeDtype | undefined };
}

/** util.parseArgs with strict checking and a readable error. */
export function parse<T extends NonNullable<ParseArgsConfig['options']>>(
  argv: string[],
  options: T,
  allowPositionals = false,
): { values: { [K in keyof T]?: T[K] extends { type: 'boolean' } ? boolean : string }; positionals: string[] } {
  const r = parseArgs({ args: argv, options, allowPositionals, strict: true });
  return r as never;
}

export function num(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new MlxNativeError('INVALID_ARGUMENT', `--${name} must be a number`, { param: name });
  return n;
}

/** Sampling flags common to generate and chat. */
export const samplingOptions = {
  'max-tokens': { type: 'string' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  'top-k': { type: 'string' },
  'min-p': { type: 'string' },
  'repetition-penalty': { type: 'string' },
  seed: { type: 'string' },
} as const;

export function samplingFrom(v: Record<string, string | boolean | undefined>) {
  const s = (k: string) => v[k] as string | undefined;
  return {
    maxTokens: num(s('max-tokens'), 'max-tokens') ?? 256,
    temperature: num(s('temperature'), 'temperature'),
    topP: num(s('top-p'), 'top-p'),
    topK: num(s('top-k'), 'top-k'),
    minP: num(s('min-p'), 'min-p'),
    repetitionPenalty: num(s('repetition-penalty'), 'repetition-penalty'),
    seed: num(s('seed'), 'seed'),
  };
}

export function timingLine(r: { usage: { promptTokens: number; completionTokens: number }; timings: { timeToFirstTokenMs: number; prefillTokensPerSecond: number; decodeTokensPerSecond: number } }, finish: string): string {
  const t = r.timings;
  return `[${r.usage.promptTokens} prompt, ${r.usage.completionTokens} generated, ${finish}] ` +
    `TTFT ${t.timeToFirstTokenMs.toFixed(0)} ms, prefill ${t.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${t.decodeTokensPerSecond.toFixed(1)} tok/s`;
}
