/**
 * `mlx-native doctor [--model PATH] [--host ADDR] [--port N] [--json]`: checks the install and
 * says what is wrong and how to fix it. Exit code 1 when any check is a problem.
 */
import { checkGeneration } from '../doctor/generation.js';
import {
  checkAddon,
  checkCacheDirs,
  checkDevice,
  checkLibmlx,
  checkLibraries,
  checkNode,
  checkPlatform,
  checkPort,
  readDevice,
} from '../doctor/system.js';
import { problem, type CheckResult, type DoctorReport } from '../doctor/types.js';
import { parse } from './common.js';

const usage = `Usage: mlx-native doctor [--model PATH] [--host ADDR] [--port N] [--json]

Checks Node, the platform, the native addon and libmlx, the device, BLAS/LAPACK or CUDA,
cache directories, a quick generation (on --model, else the default model when fetched) and
whether the server's port is free. Exit code 1 when something is a problem.

Options:
  --model PATH   model for the generation check (default: MLX_NATIVE_MODEL, then the default model)
  --host ADDR    address the port check binds (default: MLX_NATIVE_HOST, then 127.0.0.1)
  --port N       port the server would use (default: MLX_NATIVE_PORT, then 8080)
  --json         one JSON object instead of text`;

/** Runs every check in order; the ones that need the addon are problems when it cannot load. */
export async function diagnose(opts: { model?: string; host: string; port: number }): Promise<DoctorReport> {
  const checks: CheckResult[] = [checkNode(), checkPlatform()];
  const addon = checkAddon();
  checks.push(addon);
  if (addon.status === 'ok') {
    const { device, error } = await readDevice();
    if (device) {
      checks.push(checkLibmlx(device), checkDevice(device), checkLibraries(device));
      checks.push(checkCacheDirs(), await checkGeneration(opts.model));
    } else {
      checks.push(problem('device', 'device', `MLX could not start: ${error}`, 'Reinstall (`npm rebuild mlx-native`); on Linux check BLAS/LAPACK are installed.'));
      checks.push(checkCacheDirs());
    }
  } else {
    const skipped = 'not checked: the native addon does not load (see above)';
    for (const [id, title] of [['libmlx', 'libmlx'], ['device', 'device'], ['libraries', 'BLAS/LAPACK or CUDA']]) {
      checks.push(problem(id, title, skipped, 'Fix the addon first.'));
    }
    checks.push(checkCacheDirs(), problem('generation', 'generation', skipped, 'Fix the addon first.'));
  }
  checks.push(await checkPort(opts.host, opts.port));
  return { ok: checks.every((c) => c.status !== 'problem'), checks };
}

const MARKS = { ok: ['✓', '32'], warn: ['!', '33'], problem: ['✗', '31'] } as const;

/** The report for people: one line per check, its fix underneath. */
export function formatReport(report: DoctorReport, color: boolean): string {
  const paint = (code: string, s: string) => (color ? `\x1b[${code}m${s}\x1b[0m` : s);
  const width = Math.max(...report.checks.map((c) => c.title.length)) + 2;
  const lines = ['mlx-native doctor', ''];
  for (const c of report.checks) {
    const [mark, code] = MARKS[c.status];
    lines.push(`  ${paint(code, mark)} ${c.title.padEnd(width)}${c.detail}`);
    if (c.fix && c.status !== 'ok') {
      for (const [i, line] of c.fix.split('\n').entries()) lines.push(`  ${' '.repeat(width + 2)}${paint('2', i === 0 ? `fix: ${line}` : `     ${line}`)}`);
    }
  }
  const problems = report.checks.filter((c) => c.status === 'problem').length;
  const warnings = report.checks.filter((c) => c.status === 'warn').length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  lines.push('', problems === 0 ? paint('32', `All good${warnings ? ` (${plural(warnings, 'warning')})` : ''}.`) : paint('31', `${plural(problems, 'problem')}, ${plural(warnings, 'warning')}.`));
  return lines.join('\n');
}

export async function run(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parse(argv, { model: { type: 'string' }, host: { type: 'string' }, port: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } }));
  } catch (err) {
    console.error(`mlx-native doctor: ${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const portText = values.port ?? process.env.MLX_NATIVE_PORT ?? '8080';
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) {
    console.error(`mlx-native doctor: --port must be a whole number from 0 to 65535, not "${portText}"`);
    return 2;
  }
  const host = values.host ?? process.env.MLX_NATIVE_HOST ?? '127.0.0.1';
  const report = await diagnose({ model: values.model, host, port });
  if (values.json) console.log(JSON.stringify(report, null, 2));
  else console.log(formatReport(report, Boolean(process.stdout.isTTY) && !process.env.NO_COLOR));
  return report.ok ? 0 : 1;
}
