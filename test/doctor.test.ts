// `mlx-native doctor` as a real child process: every check on this install, and problems that
// make it exit 1 with a fix.
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { MLX_VERSION } from '../scripts/mlx-version.mjs';
import { FIXTURE } from './helpers/fixture.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

interface Check {
  id: string;
  title: string;
  status: 'ok' | 'warn' | 'problem';
  detail: string;
  fix?: string;
  data?: Record<string, unknown>;
}

function doctor(args: string[], env: NodeJS.ProcessEnv = {}, cli = 'dist/cli.js'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'doctor', ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function listen(port = 0): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port }, () => resolve(server));
  });
}

const held: Server[] = [];
afterAll(() => {
  for (const s of held) s.close();
});

describe('mlx-native doctor', () => {
  it('checks everything on this install and reports it as JSON, exit code 0', async () => {
    const probe = await listen();
    const port = (probe.address() as { port: number }).port;
    await new Promise((r) => probe.close(r));

    const { code, stdout, stderr } = await doctor(['--json', '--model', FIXTURE, '--port', String(port)]);
    expect(stderr).toBe('');
    const report = JSON.parse(stdout) as { ok: boolean; checks: Check[] };
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    expect(Object.keys(byId)).toEqual(['node', 'platform', 'addon', 'libmlx', 'device', 'libraries', 'cache-dirs', 'generation', 'port']);
    for (const c of report.checks) expect(c, `${c.id}: ${c.detail}`).toMatchObject({ status: 'ok' });
    expect(report.ok).toBe(true);
    expect(code).toBe(0);

    expect(byId.node.data).toMatchObject({ version: process.version, napi: Number(process.versions.napi) });
    expect(existsSync(byId.addon.data!.file as string)).toBe(true);
    expect(byId.addon.data!.kind).toMatch(/^(built from source|prebuilt|MLX_NATIVE_BINARY)$/);
    // libmlx is the file this process really loaded, at the version the package pins.
    expect(existsSync(byId.libmlx.data!.path as string)).toBe(true);
    expect(byId.libmlx.data!.version).toBe(MLX_VERSION);
    expect(byId.device.data!.memoryBytes as number).toBeGreaterThan(2 ** 20);
    if (byId.device.data!.backend === 'cpu') {
      for (const kind of ['blas', 'lapack']) {
        const libs = byId.libraries.data![kind] as string[];
        expect(libs.length, kind).toBeGreaterThan(0);
        for (const lib of libs) expect(existsSync(lib), lib).toBe(true);
      }
    }
    const gen = byId.generation.data!;
    expect(gen.model).toBe(FIXTURE);
    expect(gen.completionTokens as number).toBeGreaterThan(0);
    expect(gen.decodeTokensPerSecond as number).toBeGreaterThan(0);
    expect(byId.generation.detail).toMatch(/\d+ tokens at \d+(\.\d)? tok\/s/);
    expect(byId.port.data).toMatchObject({ host: '127.0.0.1', port });
  });

  it('exits 1 and says how to fix a busy port and a missing model', async () => {
    const busy = await listen();
    held.push(busy);
    const port = (busy.address() as { port: number }).port;
    const { code, stdout } = await doctor(['--model', '/nonexistent/model.gguf', '--port', String(port)]);
    expect(code).toBe(1);
    expect(stdout).toMatch(new RegExp(`✗ port ${port} +127\\.0\\.0\\.1:${port} is in use by another process`));
    expect(stdout).toMatch(/fix: Stop that process .*--port/);
    expect(stdout).toMatch(/✗ generation +cannot load \/nonexistent\/model\.gguf/);
    expect(stdout).toMatch(/fix: Check the path/);
    expect(stdout).toMatch(/✓ native addon/);
    expect(stdout.trim().split('\n').at(-1)).toBe('2 problems, 0 warnings.');
  });

  it('says the addon does not load, and how to fix it, when the package has no binary', async () => {
    // A copy of the package without build/ or prebuilds/; node_modules still resolve from the repository.
    const pkg = join(ROOT, 'test-results', 'doctor-no-addon');
    rmSync(pkg, { recursive: true, force: true });
    mkdirSync(join(pkg, 'scripts'), { recursive: true });
    cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    cpSync(join(ROOT, 'scripts', 'mlx-version.mjs'), join(pkg, 'scripts', 'mlx-version.mjs'));
    const { code, stdout } = await doctor(['--json', '--port', '0'], { MLX_NATIVE_BINARY: '' }, join(pkg, 'dist', 'cli.js'));
    const report = JSON.parse(stdout) as { ok: boolean; checks: Check[] };
    const byId = Object.fromEntries(report.checks.map((c) => [c.id, c]));
    expect(code).toBe(1);
    expect(report.ok).toBe(false);
    expect(byId.node.status).toBe('ok');
    expect(byId.addon).toMatchObject({ status: 'problem', detail: expect.stringMatching(/could not load its native addon/) });
    expect(byId.addon.fix).toMatch(/npm rebuild mlx-native/);
    expect(byId.addon.fix).toContain(join(pkg, 'build', 'Release', 'mlx_native.node'));
    for (const id of ['libmlx', 'device', 'libraries', 'generation']) expect(byId[id], id).toMatchObject({ status: 'problem', fix: 'Fix the addon first.' });
    rmSync(pkg, { recursive: true, force: true });
  });

  it('refuses a bad flag with exit code 2', async () => {
    const bad = await doctor(['--port', 'eighty']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--port must be a whole number/);
    const unknown = await doctor(['--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/bogus/);
  });
});
