#!/usr/bin/env node
// Fetches the nlohmann/json headers (the engine parses config.json with them) from their PyPI
// repackaging with pip, into deps/nlohmann_json/include. Build-time only: header-only, nothing
// is linked or shipped. A system install is used instead when NLOHMANN_JSON_DIR points at a
// folder holding nlohmann/json.hpp.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const JSON_VERSION = '3.12.0';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'deps', 'nlohmann_json');

/** The include directory that holds nlohmann/json.hpp. */
export function setupJson({ quiet = false } = {}) {
  const own = process.env.NLOHMANN_JSON_DIR;
  if (own) {
    if (!existsSync(join(own, 'nlohmann', 'json.hpp'))) {
      throw new Error(`NLOHMANN_JSON_DIR=${own} has no nlohmann/json.hpp`);
    }
    return own;
  }
  const include = join(target, 'include');
  const stamp = join(target, `.stamp-${JSON_VERSION}`);
  if (existsSync(stamp) && existsSync(join(include, 'nlohmann', 'json.hpp'))) return include;
  const py = [process.env.PYTHON, 'python3', 'python'].filter(Boolean).find(
    (p) => spawnSync(p, ['-m', 'pip', '--version'], { stdio: 'ignore' }).status === 0,
  );
  if (!py) throw new Error('pip is needed to download the nlohmann-json headers (or set NLOHMANN_JSON_DIR)');
  const dl = mkdtempSync(join(tmpdir(), 'nlohmann-json-'));
  try {
    if (!quiet) console.log(`[mlx-native] downloading nlohmann-json==${JSON_VERSION} headers with pip`);
    execFileSync(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-q', '-d', dl, `nlohmann-json==${JSON_VERSION}`], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    const wheel = readdirSync(dl).find((f) => f.endsWith('.whl'));
    if (!wheel) throw new Error('pip downloaded no nlohmann-json wheel');
    const unpacked = join(dl, 'x');
    execFileSync(py, ['-m', 'zipfile', '-e', join(dl, wheel), unpacked]);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target, { recursive: true });
    execFileSync(py, ['-c', 'import shutil,sys; shutil.copytree(sys.argv[1], sys.argv[2])', join(unpacked, 'nlohmann_json', 'include'), include]);
    writeFileSync(stamp, '');
  } finally {
    rmSync(dl, { recursive: true, force: true });
  }
  return include;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(setupJson());
