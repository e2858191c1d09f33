#!/usr/bin/env node
// Proves a packed mlx-native installs and loads from its prebuilt binary: packs the package
// (with prebuilds/), installs the tarball into an empty directory with compilers, cmake and
// pip hidden from PATH, then runs a real MLX computation through the public API.
import { MLX_VERSION } from './mlx-version.mjs';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prebuilt = join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'mlx-native.node');
if (!existsSync(prebuilt)) execFileSync(process.execPath, [join(root, 'scripts', 'prebuild.mjs')], { stdio: 'inherit' });

const work = mkdtempSync(join(tmpdir(), 'mlx-native-pack-'));
try {
  const out = execFileSync('npm', ['pack', '--pack-destination', work, '--silent'], { cwd: root, encoding: 'utf8' });
  const tarball = join(work, out.trim().split('\n').pop());
  console.log(`packed ${tarball}`);

  // A PATH with node and npm but no compiler, cmake, python or pip.
  const bin = join(work, 'bin');
  mkdirSync(bin);
  for (const tool of ['node', 'npm', 'sh', 'env', 'ldd', 'uname', 'cat', 'ls']) {
    const found = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).stdout.trim();
    if (found) symlinkSync(found, join(bin, tool));
  }
  const env = { ...process.env, PATH: bin, MLX_DIR: '', MLX_NATIVE_BINARY: '' };
  delete env.MLX_DIR;
  delete env.MLX_NATIVE_BINARY;
  for (const tool of ['g++', 'c++', 'cmake', 'python3', 'pip']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`], { env }).status === 0) throw new Error(`${tool} is still on PATH`);
  }

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  const install = spawnSync('npm', ['install', '--no-audit', '--no-fund', tarball], { cwd: app, env, stdio: 'inherit' });
  if (install.status !== 0) throw new Error('npm install of the tarball failed');
  const pkgDir = join(app, 'node_modules', 'mlx-native');
  if (existsSync(join(pkgDir, 'build'))) throw new Error('the install built from source instead of using the prebuilt binary');
  console.log(`installed files: ${readdirSync(join(pkgDir, 'prebuilds', `${process.platform}-${process.arch}`)).join(', ')}`);

  const check = `
    import { Runtime } from 'mlx-native';
    const rt = new Runtime();
    // deviceInfo runs on the engine thread and asks libmlx for its version, device and memory.
    const info = await rt.deviceInfo();
    rt.dispose();
    if (info.mlxVersion !== ${JSON.stringify(MLX_VERSION)}) throw new Error('wrong MLX ' + info.mlxVersion);
    if (typeof info.activeMemory !== 'number' || !info.deviceName) throw new Error('no device information');
    console.log('loaded prebuilt addon: MLX ' + info.mlxVersion + ' on ' + info.backend);`;
  const run = spawnSync('node', ['--input-type=module', '-e', check], { cwd: app, env, encoding: 'utf8' });
  process.stdout.write(run.stdout);
  process.stderr.write(run.stderr);
  if (run.status !== 0) throw new Error('the installed package failed to load');
  const ldd = spawnSync('ldd', [join(pkgDir, 'prebuilds', `${process.platform}-${process.arch}`, 'mlx-native.node')], { encoding: 'utf8' });
  const mlxLine = ldd.stdout.split('\n').find((l) => l.includes('libmlx'));
  if (process.platform === 'linux' && !mlxLine?.includes(pkgDir)) throw new Error(`libmlx did not resolve inside the package: ${mlxLine}`);
  console.log(`pack check passed (${mlxLine?.trim() ?? 'libmlx beside the addon'})`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
