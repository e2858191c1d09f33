#!/usr/bin/env node
// `npm run prebuild`: builds the addon with prebuildify into prebuilds/<platform>-<arch>/ (CUDA:
// prebuilds/<platform>-<arch>-cuda13/, MLX_BACKEND as for the install), next
// to the MLX libraries it needs (libmlx, the wheel's bundled BLAS/LAPACK, mlx.metallib on macOS),
// so an installed package loads with no compiler and no MLX on the machine.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { prebuildDirName, setupMlx } from './setup-mlx.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const prebuildify = require('prebuildify');

const { mlxDir, backend } = setupMlx({ quiet: true });
// prebuildify writes prebuilds/<platform>-<arch>/; a CUDA build is moved to its own folder after,
// with the CPU one kept aside meanwhile.
const platformDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
const outDir = join(root, 'prebuilds', prebuildDirName(backend));
const aside = outDir !== platformDir && existsSync(platformDir) ? join(root, 'prebuilds', `.aside-${process.pid}`) : '';
if (aside) renameSync(platformDir, aside);
const stage = mkdtempSync(join(tmpdir(), 'mlx-native-prebuild-')); // `cmake-js rebuild` empties build/
// Flat layout: the addon's RPATH is $ORIGIN, and as a DT_RPATH it also serves libmlx's own needs.
const libDir = join(mlxDir, 'lib');
for (const f of readdirSync(libDir)) {
  if (/\.(so|dylib|metallib)$/.test(f) || f.endsWith('.metallib')) cpSync(join(libDir, f), join(stage, f));
}
const bundled = readdirSync(dirname(mlxDir)).filter((d) => d.endsWith('.libs'));
for (const d of bundled) for (const f of readdirSync(join(dirname(mlxDir), d))) cpSync(join(dirname(mlxDir), d, f), join(stage, f));

rmSync(outDir, { recursive: true, force: true });
prebuildify(
  {
    cwd: root,
    napi: true,
    targets: [process.versions.node],
    artifacts: stage,
    // prebuildify drives node-gyp; our build is cmake-js, so it runs this wrapper instead.
    nodeGyp: join(root, 'scripts', 'prebuild-build.mjs'),
    shell: false,
  },
  (err) => {
    if (outDir !== platformDir && existsSync(platformDir)) renameSync(platformDir, outDir);
    if (aside) renameSync(aside, platformDir);
    if (err) {
      console.error(`[mlx-native] prebuild failed: ${err.message}`);
      process.exit(1);
    }
    // Rebuild build/Release for development (the prebuilt one looks for libmlx only beside itself).
    spawnSync(process.execPath, [join(root, 'scripts', 'install.mjs'), '--force'], { stdio: 'inherit', cwd: root });
    console.log(`[mlx-native] prebuilt: ${outDir}\n  ${existsSync(outDir) ? readdirSync(outDir).join('\n  ') : '(missing)'}`);
  },
);
