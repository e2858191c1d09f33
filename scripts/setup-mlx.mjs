#!/usr/bin/env node
// Fetches MLX's official release wheel for this platform with pip and unpacks it into deps/.
// A wheel is a zip: no Python import is needed, only pip to download it.
//
//   node scripts/setup-mlx.mjs            # backend from the platform (cpu on Linux, metal on macOS arm64)
//   MLX_BACKEND=cuda13 node scripts/setup-mlx.mjs
//
// With MLX_DIR set (a user's own MLX: Homebrew, a source build), nothing is downloaded.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MLX_VERSION } from './mlx-version.mjs';
import { missingLibraries, setupCudaLibraries } from './setup-cuda-libs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const depsDir = join(root, 'deps');

/** The wheel for this platform and MLX_BACKEND: cpu | cuda12 | cuda13 | metal. */
export function backendPackage(env = process.env) {
  const requested = (env.MLX_BACKEND ?? '').toLowerCase();
  if (process.platform === 'darwin') {
    if (process.arch !== 'arm64') fail('MLX supports macOS on Apple Silicon (arm64) only.');
    return { backend: 'metal', pkg: 'mlx-metal' };
  }
  if (process.platform !== 'linux') fail(`MLX has no release for ${process.platform}; set MLX_DIR to your own build.`);
  if (requested === 'cuda' || requested === 'cuda13') return { backend: 'cuda13', pkg: 'mlx-cuda-13' };
  if (requested === 'cuda12') return { backend: 'cuda12', pkg: 'mlx-cuda-12' };
  if (requested && requested !== 'cpu') fail(`Unknown MLX_BACKEND=${requested}; use cpu, cuda12 or cuda13.`);
  return { backend: 'cpu', pkg: 'mlx-cpu' };
}

/** prebuilds/ folder of a backend: CUDA builds beside the CPU one, never over it. */
export function prebuildDirName(backend, platform = process.platform, arch = process.arch) {
  return backend.startsWith('cuda') ? `${platform}-${arch}-${backend}` : `${platform}-${arch}`;
}

function fail(msg) {
  console.error(`\n[mlx-native] ${msg}\n`);
  process.exit(1);
}

function findPython() {
  for (const py of [process.env.PYTHON, 'python3', 'python'].filter(Boolean)) {
    const r = spawnSync(py, ['-m', 'pip', '--version'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  fail(
    'pip is needed to download the MLX wheel (only to download it: nothing is imported).\n' +
      '  Debian/Ubuntu: sudo apt-get install python3-pip\n' +
      '  macOS: python3 ships with the Xcode command line tools (xcode-select --install)\n' +
      '  Or point MLX_DIR at an MLX install that has share/cmake/MLX.',
  );
}

function stampOf(dir) {
  try {
    return readFileSync(join(dir, '.stamp'), 'utf8').trim();
  } catch {
    return '';
  }
}

/** Names system libraries libmlx cannot find, and installs them where apt-get can. */
export function checkSystemLibraries(libDir) {
  if (process.platform !== 'linux') return;
  const lib = join(libDir, 'libmlx.so');
  if (!existsSync(lib)) return;
  const ldd = spawnSync('ldd', [lib], { encoding: 'utf8' });
  const missing = (ldd.stdout ?? '')
    .split('\n')
    .filter((l) => l.includes('not found'))
    .map((l) => l.trim().split(' ')[0]);
  if (missing.length === 0) return;
  const pkgs = 'libblas3 liblapack3 liblapacke libgfortran5';
  const canApt = process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
  if (canApt) {
    console.log(`[mlx-native] libmlx needs ${missing.join(', ')}; installing ${pkgs} with apt-get`);
    const r = spawnSync('sh', ['-c', `apt-get update -qq && apt-get install -y -qq ${pkgs}`], { stdio: 'inherit' });
    if (r.status === 0) return;
  }
  fail(
    `libmlx cannot find: ${missing.join(', ')}.\n` +
      `  Debian/Ubuntu: sudo apt-get install ${pkgs}\n` +
      '  Fedora: sudo dnf install blas lapack',
  );
}

export function setupMlx({ quiet = false } = {}) {
  if (process.env.MLX_DIR) {
    const cfg = join(process.env.MLX_DIR, 'share', 'cmake', 'MLX', 'MLXConfig.cmake');
    const alt = join(process.env.MLX_DIR, 'MLXConfig.cmake');
    if (!existsSync(cfg) && !existsSync(alt)) {
      fail(`MLX_DIR=${process.env.MLX_DIR} has no share/cmake/MLX/MLXConfig.cmake.`);
    }
    if (!quiet) console.log(`[mlx-native] using MLX from MLX_DIR=${process.env.MLX_DIR}`);
    return { mlxDir: process.env.MLX_DIR, backend: 'custom' };
  }
  const { backend, pkg } = backendPackage();
  const want = `${pkg}==${MLX_VERSION}`;
  const mlxRoot = join(depsDir, 'mlx');
  if (stampOf(depsDir) === want && existsSync(join(mlxRoot, 'share', 'cmake', 'MLX'))) {
    if (!quiet) console.log(`[mlx-native] MLX ${MLX_VERSION} (${backend}) already in deps/`);
    if (backend.startsWith('cuda') && missingLibraries(join(mlxRoot, 'lib', 'libmlx.so')).length > 0) {
      setupCudaLibraries(depsDir, findPython());
    }
    return { mlxDir: mlxRoot, backend };
  }
  const py = findPython();
  const dl = mkdtempSync(join(tmpdir(), 'mlx-wheel-'));
  try {
    console.log(`[mlx-native] downloading ${want} with pip`);
    const r = spawnSync(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-d', dl, want], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (r.status !== 0) fail(`pip could not download ${want}; check the network or set MLX_DIR.`);
    const wheel = readdirSync(dl).find((f) => f.endsWith('.whl'));
    if (!wheel) fail(`pip downloaded no wheel for ${want}`);
    rmSync(depsDir, { recursive: true, force: true });
    mkdirSync(depsDir, { recursive: true });
    // Keep the wheel's whole layout: libmlx finds its bundled BLAS/LAPACK in ../../mlx_cpu.libs.
    execFileSync(py, ['-m', 'zipfile', '-e', join(dl, wheel), depsDir]);
    if (!existsSync(join(mlxRoot, 'share', 'cmake', 'MLX'))) fail(`${wheel} has no mlx/share/cmake/MLX`);
    writeFileSync(join(depsDir, '.stamp'), want + '\n');
    console.log(`[mlx-native] MLX ${MLX_VERSION} (${backend}) unpacked into deps/`);
  } finally {
    rmSync(dl, { recursive: true, force: true });
  }
  if (backend.startsWith('cuda')) setupCudaLibraries(depsDir, py);
  else checkSystemLibraries(join(mlxRoot, 'lib'));
  return { mlxDir: mlxRoot, backend };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) setupMlx();
