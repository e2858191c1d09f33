// The NVIDIA libraries MLX's CUDA wheel links (cuBLAS, cuDNN, NVRTC, NCCL, cuFFT, cuSOLVER, the
// CUDA runtime), put where libmlx looks for them without LD_LIBRARY_PATH: its RPATH names
// $ORIGIN/../../nvidia/<package>/lib, i.e. deps/nvidia/ for deps/mlx/lib/libmlx.so.
//
// In order: deps/nvidia already complete; a Python environment's site-packages/nvidia that has
// them all (linked, nothing copied; MLX_NATIVE_PYTHON picks the Python); else the wheels the
// MLX wheel requires, downloaded with pip and unpacked into deps/. What is still missing then
// (libcuda.so.1 comes with the NVIDIA driver, never from pip) ends the install with the exact
// package to install.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function fail(msg) {
  console.error(`\n[mlx-native] ${msg}\n`);
  process.exit(1);
}

/** The `Requires-Dist` lines of the unpacked MLX wheel's METADATA (the NVIDIA wheels it needs). */
export function wheelRequirements(depsDir) {
  const info = readdirSync(depsDir).find((d) => d.startsWith('mlx') && d.endsWith('.dist-info'));
  if (!info) return [];
  const meta = readFileSync(join(depsDir, info, 'METADATA'), 'utf8');
  return [...meta.matchAll(/^Requires-Dist: (nvidia-[^\s;]+)/gm)].map((m) => m[1]);
}

/** Libraries `ldd` cannot find for libmlx.so, by name. */
export function missingLibraries(libmlx) {
  const ldd = spawnSync('ldd', [libmlx], { encoding: 'utf8' });
  return (ldd.stdout ?? '')
    .split('\n')
    .filter((l) => l.includes('not found'))
    .map((l) => l.trim().split(' ')[0]);
}

function pythonNvidiaDir(py) {
  const r = spawnSync(py, ['-c', 'import nvidia, os; print(list(nvidia.__path__)[0])'], { encoding: 'utf8' });
  const dir = r.status === 0 ? r.stdout.trim() : '';
  return dir && existsSync(dir) ? dir : '';
}

/**
 * CMake definitions a build against the CUDA wheel needs: MLX's CMake config looks for cuDNN's
 * headers and the CUDA toolkit; executables link with libmlx's CUDA libraries unresolved (the
 * driver's libcuda may be absent where the build runs; they resolve at load).
 */
export function cudaCmakeDefines(depsDir) {
  const defs = ['--CDCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined'];
  const cudnn = join(depsDir, 'nvidia', 'cudnn');
  if (existsSync(join(cudnn, 'include', 'cudnn.h'))) {
    defs.push(`--CDCUDNN_INCLUDE_PATH=${join(cudnn, 'include')}`, `--CDCUDNN_LIBRARY_PATH=${join(cudnn, 'lib')}`);
  }
  if (spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).status !== 0) {
    const roots = existsSync('/usr/local') ? readdirSync('/usr/local').filter((d) => /^cuda(-[\d.]+)?$/.test(d)) : [];
    const root = roots.sort().reverse().find((d) => existsSync(join('/usr/local', d, 'bin', 'nvcc')));
    if (!root) fail('building against MLX\'s CUDA wheel needs the CUDA toolkit (nvcc): install cuda-toolkit-13 (or 12 for cuda12).');
    defs.push(`--CDCUDAToolkit_ROOT=${join('/usr/local', root)}`);
  }
  return defs;
}

/**
 * Makes every library libmlx.so (in deps/mlx/lib) needs resolvable through its RPATH.
 * `py` is a Python with pip (setup-mlx.mjs found it).
 */
export function setupCudaLibraries(depsDir, py) {
  const libmlx = join(depsDir, 'mlx', 'lib', 'libmlx.so');
  const nvidia = join(depsDir, 'nvidia');
  const cudaOnly = (libs) => libs.filter((l) => !l.startsWith('libcuda.so'));
  if (cudaOnly(missingLibraries(libmlx)).length > 0 && !existsSync(nvidia)) {
    const found = pythonNvidiaDir(process.env.MLX_NATIVE_PYTHON ?? py);
    if (found) {
      symlinkSync(found, nvidia);
      if (cudaOnly(missingLibraries(libmlx)).length === 0) {
        console.log(`[mlx-native] CUDA libraries: ${found} (linked as deps/nvidia)`);
      } else {
        rmSync(nvidia);
      }
    }
  }
  const requirements = wheelRequirements(depsDir);
  if (cudaOnly(missingLibraries(libmlx)).length > 0 && requirements.length > 0) {
    console.log(`[mlx-native] downloading the NVIDIA libraries MLX needs with pip: ${requirements.join(' ')}`);
    const dl = mkdtempSync(join(tmpdir(), 'mlx-cuda-libs-'));
    try {
      const r = spawnSync(py, ['-m', 'pip', 'download', '--no-deps', '--only-binary=:all:', '-d', dl, ...requirements], {
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      if (r.status === 0) {
        if (existsSync(nvidia)) rmSync(nvidia, { recursive: true, force: true });
        for (const wheel of readdirSync(dl).filter((f) => f.endsWith('.whl'))) {
          spawnSync(py, ['-m', 'zipfile', '-e', join(dl, wheel), depsDir], { stdio: 'inherit' });
        }
      }
    } finally {
      rmSync(dl, { recursive: true, force: true });
    }
  }
  const missing = missingLibraries(libmlx);
  if (missing.length === 0) return;
  const driver = missing.filter((l) => l.startsWith('libcuda.so'));
  const rest = cudaOnly(missing);
  fail(
    `libmlx (CUDA) cannot find: ${missing.join(', ')}.\n` +
      (driver.length ? '  libcuda.so.1 is the NVIDIA driver: install the driver for your GPU (nvidia-smi must work).\n' : '') +
      (rest.length
        ? `  The others are NVIDIA's pip packages: ${py} -m pip install ${requirements.map((r) => `'${r}'`).join(' ')}\n` +
          '  then run the install again (it links that environment\'s site-packages/nvidia into deps/).'
        : ''),
  );
}
