/**
 * The doctor's checks of this machine and this install: Node, platform, the native addon,
 * libmlx, the device, the math libraries MLX runs on, cache directories and the port.
 */
import { accessSync, constants, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir, totalmem } from 'node:os';
import { dirname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAddon, loadedAddonFile } from '../native.js';
import { Runtime, type DeviceInfo } from '../runtime.js';
import { bytes, ok, problem, warn, type CheckResult } from './types.js';

/** The package root (dist/doctor/ or src/doctor/ is two levels below). */
export const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function packageJson(): { engines?: { node?: string }; binary?: { napi_versions?: number[] } } {
  return JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8'));
}

/** [major, minor, patch] of "v20.17.0" or ">=20.17". */
function version(v: string): number[] {
  return (v.match(/\d+(\.\d+){0,2}/)?.[0] ?? '0').split('.').map(Number).concat(0, 0).slice(0, 3);
}

function atLeast(have: number[], need: number[]): boolean {
  for (let i = 0; i < 3; i++) if (have[i] !== need[i]) return have[i] > need[i];
  return true;
}

export function checkNode(): CheckResult {
  const pkg = packageJson();
  const need = pkg.engines?.node ?? '>=20.17';
  const napiNeed = Math.min(...(pkg.binary?.napi_versions ?? [8]));
  const napi = Number(process.versions.napi ?? 0);
  const detail = `${process.version}, N-API ${napi}`;
  const data = { version: process.version, napi, required: need, napiRequired: napiNeed };
  if (!atLeast(version(process.version), version(need)) || napi < napiNeed) {
    return problem('node', 'Node.js', `${detail} (needs ${need}, N-API ${napiNeed})`, 'Install Node.js 20.17 or newer (nodejs.org, or `nvm install 22`).', data);
  }
  return ok('node', 'Node.js', detail, data);
}

/** The backend MLX has for this platform, or undefined when it has none. */
function expectedBackends(): string[] | undefined {
  if (process.platform === 'darwin') return process.arch === 'arm64' ? ['metal'] : undefined;
  if (process.platform === 'linux' && ['x64', 'arm64'].includes(process.arch)) return ['cpu', 'cuda'];
  return undefined;
}

export function checkPlatform(): CheckResult {
  const platform = `${process.platform}-${process.arch}`;
  const backends = expectedBackends();
  if (!backends) {
    const fix =
      process.platform === 'darwin'
        ? 'MLX runs on Apple Silicon (arm64) Macs only; an Intel Mac cannot run it (not under Rosetta either).'
        : 'MLX releases are for macOS on Apple Silicon and Linux (x64, arm64); use one of those.';
    return problem('platform', 'platform', `${platform}: no MLX release for it`, fix, { platform });
  }
  return ok('platform', 'platform', `${platform} (MLX backends here: ${backends.join(', ')})`, { platform, backends });
}

/** Where the addon came from: a local source build, the prebuilt binary, or MLX_NATIVE_BINARY. */
function addonKind(file: string): string {
  if (process.env.MLX_NATIVE_BINARY && file === process.env.MLX_NATIVE_BINARY) return 'MLX_NATIVE_BINARY';
  if (file.includes(`${sep}prebuilds${sep}`)) return 'prebuilt';
  return 'built from source';
}

export function checkAddon(): CheckResult {
  try {
    const addon = loadAddon();
    const file = loadedAddonFile() ?? '(unknown)';
    return ok('addon', 'native addon', `${file} (${addonKind(file)})`, { file, kind: addonKind(file), abi: addon.abi });
  } catch (err) {
    const [first, ...rest] = (err as Error).message.split('\n');
    return problem('addon', 'native addon', first, rest.join('\n') || 'Reinstall: `npm rebuild mlx-native`.');
  }
}

/** Shared libraries this process has loaded (Node's diagnostic report lists them on every OS). */
function sharedObjects(): string[] {
  const report = process.report?.getReport() as unknown as { sharedObjects?: string[] } | undefined;
  return (report?.sharedObjects ?? []).map((p) => normalize(p));
}

/** The version scripts/mlx-version.mjs pins, when the package has it. */
function pinnedMlxVersion(): string | undefined {
  try {
    return /MLX_VERSION\s*=\s*'([^']+)'/.exec(readFileSync(join(PACKAGE_ROOT, 'scripts', 'mlx-version.mjs'), 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

export function checkLibmlx(device: DeviceInfo): CheckResult {
  const lib = sharedObjects().find((p) => /[/\\]libmlx\.(so|dylib)(\.|$)/.test(p));
  const pinned = pinnedMlxVersion();
  const data = { path: lib, version: device.mlxVersion, pinned };
  const where = lib ?? 'linked into the addon';
  if (pinned && device.mlxVersion !== pinned && !device.mlxVersion.startsWith(`${pinned}.`)) {
    return warn('libmlx', 'libmlx', `${where}, MLX ${device.mlxVersion} (this package pins ${pinned})`,
      'A different MLX than the one tested: unset MLX_DIR and rebuild (`npm rebuild mlx-native`) to use the pinned wheel.', data);
  }
  return ok('libmlx', 'libmlx', `${where}, MLX ${device.mlxVersion}`, data);
}

export function checkDevice(device: DeviceInfo): CheckResult {
  const memory = device.memoryBytes > 0 ? device.memoryBytes : totalmem();
  const label = { metal: 'Metal GPU', cuda: 'CUDA GPU', cpu: 'CPU', gpu: 'GPU' }[device.backend];
  const detail = `${label}: ${device.deviceName || device.device}, ${bytes(memory)}${device.memoryBytes > 0 ? '' : ' system memory'}`;
  const data = { backend: device.backend, device: device.device, name: device.deviceName, memoryBytes: memory };
  if (process.platform === 'darwin' && device.backend !== 'metal') {
    return warn('device', 'device', `${detail}: Metal is not in use`, 'Install the package on the Mac itself so it fetches the Metal build of MLX (`npm rebuild mlx-native`).', data);
  }
  if (/^cuda/i.test(process.env.MLX_BACKEND ?? '') && device.backend !== 'cuda') {
    return warn('device', 'device', `${detail}: MLX_BACKEND asks for CUDA, but the addon runs on the ${device.backend}`,
      'Rebuild with the CUDA wheel: `MLX_BACKEND=cuda13 npm rebuild mlx-native` (needs an NVIDIA driver).', data);
  }
  return ok('device', 'device', detail, data);
}

const LIBRARIES: Record<string, RegExp> = {
  blas: /(libblas|libopenblas|libmkl_rt|libcblas|Accelerate\.framework)/i,
  lapack: /(liblapack|libopenblas|libmkl_rt|Accelerate\.framework)/i,
  cuda: /(libcudart|libcublas|libcublasLt|libcudnn|libnccl|libnvrtc|libcuda\.)/i,
  metal: /Metal\.framework/,
};

export function checkLibraries(device: DeviceInfo): CheckResult {
  const loaded = sharedObjects();
  const found = (kind: string) => loaded.filter((p) => LIBRARIES[kind].test(p));
  if (device.backend === 'cuda') {
    const cuda = found('cuda');
    if (cuda.length === 0) return problem('libraries', 'CUDA libraries', 'none loaded', 'Install the NVIDIA driver and the CUDA runtime MLX was built for.');
    return ok('libraries', 'CUDA libraries', cuda.join(', '), { cuda });
  }
  const blas = found('blas');
  const lapack = found('lapack');
  const metal = device.backend === 'metal' ? found('metal') : [];
  const data = { blas, lapack, ...(device.backend === 'metal' && { metal }) };
  const missing = [blas.length === 0 && 'BLAS', lapack.length === 0 && 'LAPACK'].filter(Boolean);
  if (missing.length > 0) {
    return problem('libraries', 'BLAS/LAPACK', `${missing.join(' and ')} not loaded`,
      'Debian/Ubuntu: `sudo apt-get install libblas3 liblapack3 liblapacke`; then `npm rebuild mlx-native`.', data);
  }
  const names = [...new Set([...blas, ...lapack, ...metal])];
  return ok('libraries', device.backend === 'metal' ? 'BLAS/LAPACK, Metal' : 'BLAS/LAPACK', names.join(', '), data);
}

/** Whether `dir` (or the nearest existing folder above it, which would hold it) takes a new file. */
function writable(dir: string): { ok: boolean; at: string } {
  let at = dir;
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at);
  try {
    accessSync(at, constants.W_OK);
    if (at === dir) rmSync(mkdtempSync(join(dir, '.mlx-native-doctor-')), { recursive: true });
    return { ok: true, at };
  } catch {
    return { ok: false, at };
  }
}

export function checkCacheDirs(): CheckResult {
  const dirs: [string, string][] = [
    ['temporary files (downloads, builds, benchmarks)', tmpdir()],
    ['models (the default model is fetched here)', join(PACKAGE_ROOT, 'models')],
    ['user cache (pip downloads of MLX)', process.env.XDG_CACHE_HOME || join(homedir(), process.platform === 'darwin' ? 'Library/Caches' : '.cache')],
  ];
  const results = dirs.map(([role, dir]) => ({ role, dir, ...writable(dir) }));
  const bad = results.filter((r) => !r.ok);
  const data = { dirs: results.map(({ role, dir, ok }) => ({ role, dir, writable: ok })) };
  if (bad.length > 0) {
    return problem('cache-dirs', 'cache directories', `not writable: ${bad.map((b) => b.at).join(', ')}`,
      `Make them writable by this user (\`chmod u+w\`), or set TMPDIR / XDG_CACHE_HOME to a folder that is.`, data);
  }
  return ok('cache-dirs', 'cache directories', results.map((r) => r.dir).join(', '), data);
}

/** Whether the server could listen on host:port now. */
export function checkPort(host: string, port: number): Promise<CheckResult> {
  const title = `port ${port}`;
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      const data = { host, port, code: err.code };
      if (err.code === 'EADDRINUSE') {
        resolve(problem('port', title, `${host}:${port} is in use by another process`,
          `Stop that process (\`lsof -i :${port}\` or \`ss -ltnp\` shows which), or serve elsewhere: \`mlx-native serve --port ${port + 1}\`.`, data));
      } else if (err.code === 'EACCES') {
        resolve(problem('port', title, `not allowed to listen on ${host}:${port}`, 'Ports below 1024 need privileges: pick a port above 1023 with --port.', data));
      } else {
        resolve(problem('port', title, `cannot listen on ${host}:${port}: ${err.message}`, 'Check --host (an address of this machine, or 0.0.0.0) and --port.', data));
      }
    });
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => resolve(ok('port', title, `${host}:${port} is free`, { host, port })));
    });
  });
}

/** Reads the device on an engine thread; undefined if MLX cannot start. */
export async function readDevice(): Promise<{ device?: DeviceInfo; error?: string }> {
  const runtime = new Runtime();
  try {
    return { device: await runtime.deviceInfo() };
  } catch (err) {
    return { error: (err as Error).message };
  } finally {
    runtime.dispose();
  }
}
