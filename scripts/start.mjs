#!/usr/bin/env node
// `npm start`: serve the default model. Fetches the fixture model on first start (pip shows
// its progress bar), then runs `node dist/cli.js serve --model <fixture> ...args` as a child,
// forwarding SIGINT/SIGTERM to it and exiting with its exit code.
//
//   npm start                       # http://127.0.0.1:8080, the fixture model
//   npm start -- --port 9000        # any `serve` flag passes through
//   MLX_NATIVE_MODEL=/path npm start  # a model of your own; nothing is fetched

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureFixtureModel } from './fetch-fixtures.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'dist', 'cli.js');

async function main() {
  if (!existsSync(CLI)) {
    process.stderr.write(`start: ${CLI} is missing. Build first: npm run build\n`);
    return 1;
  }
  const args = process.argv.slice(2);
  const ownModel = process.env.MLX_NATIVE_MODEL || args.some((a) => a === '--model' || a.startsWith('--model='));
  const modelArgs = [];
  if (!ownModel) {
    try {
      modelArgs.push('--model', await ensureFixtureModel({ quiet: false }));
    } catch (err) {
      process.stderr.write(`start: could not fetch the default model: ${err.message ?? err}\n`);
      return 1;
    }
  }

  const child = spawn(process.execPath, [CLI, 'serve', ...modelArgs, ...args], { stdio: 'inherit' });
  // The child drains on the first signal; it ignores the copy that also arrives straight from
  // the terminal (same process group) when Ctrl-C is pressed.
  const forward = (signal) => child.kill(signal);
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, forward);

  return new Promise((resolve) => {
    child.on('error', (err) => {
      process.stderr.write(`start: ${err.message}\n`);
      resolve(1);
    });
    child.on('exit', (code, signal) => {
      // Mirror a signal death the way shells report it (128 + signal number).
      resolve(code ?? 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGKILL: 9 }[signal] ?? 0));
    });
  });
}

main().then((code) => {
  process.exitCode = code;
});
