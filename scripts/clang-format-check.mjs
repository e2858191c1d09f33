#!/usr/bin/env node
// Checks native sources against .clang-format (`--fix` rewrites them).
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const fix = process.argv.includes('--fix');
const files = [];
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (/\.(cpp|h)$/.test(e.name)) files.push(p);
  }
};
walk('native');
const bin = process.env.CLANG_FORMAT ?? 'clang-format';
if (spawnSync(bin, ['--version']).status !== 0) {
  if (process.env.CI) {
    console.error('clang-format is missing (apt-get install clang-format)');
    process.exit(1);
  }
  console.warn('clang-format not found; skipping the C++ format check (apt-get install clang-format)');
  process.exit(0);
}
const args = fix ? ['-i', ...files] : ['--dry-run', '--Werror', ...files];
const r = spawnSync(bin, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
