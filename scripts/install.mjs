#!/usr/bin/env node
// `npm install` hook: use a prebuilt binary when one fits this platform, else build the addon
// from source against MLX's release wheel (scripts/setup-mlx.mjs).
//   --force   rebuild from source even when a prebuilt binary exists
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setupJson } from './setup-json.mjs';
import { cudaCmakeDefines } from './setup-cuda-libs.mjs';
import { setupLlguidance } from './setup-llguidance.mjs';
import { backendPackage, depsDir, prebuildDirName, setupMlx } from './setup-mlx.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force') || process.env.MLX_NATIVE_BUILD_FROM_SOURCE === '1';

function fail(msg) {
  console.error(`\n[mlx-native] ${msg}\n`);
  process.exit(1);
}

function prebuiltLoads() {
  const file = join(root, 'prebuilds', prebuildDirName(backendPackage().backend), 'mlx-native.node');
  if (!existsSync(file)) return false;
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(file)})`], { encoding: 'utf8' });
  if (r.status === 0) {
    console.log(`[mlx-native] using prebuilt binary ${file}`);
    return true;
  }
  console.log(`[mlx-native] prebuilt binary does not load here, building from source:\n${r.stderr}`);
  return false;
}

function requireTool(cmd, args, hint) {
  if (spawnSync(cmd, args, { stdio: 'ignore' }).status !== 0) fail(`${cmd} is required to build the addon.\n${hint}`);
}

if (!force && !process.env.MLX_DIR && prebuiltLoads()) process.exit(0);

requireTool('cmake', ['--version'], '  Debian/Ubuntu: sudo apt-get install cmake\n  macOS: brew install cmake');
requireTool(
  process.env.CXX ?? (process.platform === 'darwin' ? 'clang++' : 'g++'),
  ['--version'],
  '  Debian/Ubuntu: sudo apt-get install g++ (12 or newer, for C++20)\n  macOS: xcode-select --install',
);

const { mlxDir, backend } = setupMlx();
const jsonInclude = setupJson();
let llguidanceDir;
try {
  llguidanceDir = setupLlguidance();
} catch (err) {
  fail(err.message);
}
const cmakeJs = join(dirname(createRequire(import.meta.url).resolve('cmake-js/package.json')), 'bin', 'cmake-js');
// A prebuilt binary looks for libmlx only beside itself; a source build also where MLX is.
// Switching between the two needs a fresh configure.
const mode = process.env.MLX_NATIVE_PREBUILD === '1' ? 'prebuild' : 'source';
const modeFile = join(root, 'build', '.rpath-mode');
const sameMode = existsSync(modeFile) && readFileSync(modeFile, 'utf8') === mode;
const args = [
  cmakeJs,
  sameMode ? 'compile' : 'rebuild',
  '--directory',
  root,
  `--CDMLX_DIR=${join(mlxDir, 'share', 'cmake', 'MLX')}`,
  `--CDNLOHMANN_JSON_INCLUDE_DIR=${jsonInclude}`,
  `--CDLLGUIDANCE_DIR=${llguidanceDir}`,
  `--CDMLX_NATIVE_PREBUILD=${mode === 'prebuild' ? 'ON' : 'OFF'}`,
];
if (backend.startsWith('cuda')) args.push(...cudaCmakeDefines(depsDir));
if (process.env.MLX_NATIVE_DEBUG === '1') args.push('--debug');
console.log('[mlx-native] building the addon with cmake-js');
const r = spawnSync(process.execPath, args, { stdio: 'inherit', cwd: root });
if (r.status === 0) writeFileSync(modeFile, mode);
if (r.status !== 0) fail('the addon build failed (see the compiler output above). CONTRIBUTING.md, "Building", lists fixes.');
