#!/usr/bin/env node
// Called by prebuildify in place of `node-gyp rebuild ...` (its arguments are ignored): builds
// the addon from source with cmake-js into build/Release.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const r = spawnSync(process.execPath, [join(root, 'scripts', 'install.mjs'), '--force'], {
  stdio: 'inherit',
  cwd: root,
  env: { ...process.env, MLX_NATIVE_PREBUILD: '1' },
});
process.exit(r.status ?? 1);
