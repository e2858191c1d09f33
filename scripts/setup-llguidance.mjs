#!/usr/bin/env node
// Builds llguidance (the grammar engine behind response_format and forced tool calls) as a static
// library with cargo, into deps/llguidance/{lib/libllguidance.a, include/llguidance.h}. The crate
// and every dependency are pinned by native/llguidance/Cargo.lock; cargo keeps its downloads in
// CARGO_HOME (~/.cargo by default), so a rebuild needs no network. Build-time only: the addon
// links it statically and needs no Rust at run time. LLGUIDANCE_DIR names a ready folder instead.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const crate = join(root, 'native', 'llguidance');
const target = join(root, 'deps', 'llguidance');

function findCargo() {
  const candidates = [process.env.CARGO, 'cargo', join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'bin', 'cargo')];
  return candidates.filter(Boolean).find((c) => spawnSync(c, ['--version'], { stdio: 'ignore' }).status === 0);
}

/** The folder that holds include/llguidance.h and lib/libllguidance.a. */
export function setupLlguidance({ quiet = false } = {}) {
  const own = process.env.LLGUIDANCE_DIR;
  if (own) {
    if (!existsSync(join(own, 'include', 'llguidance.h')) || !existsSync(join(own, 'lib', 'libllguidance.a'))) {
      throw new Error(`LLGUIDANCE_DIR=${own} has no include/llguidance.h and lib/libllguidance.a`);
    }
    return own;
  }
  const pin = createHash('sha256')
    .update(readFileSync(join(crate, 'Cargo.lock')))
    .update(readFileSync(join(crate, 'Cargo.toml')))
    .digest('hex')
    .slice(0, 16);
  const stamp = join(target, `.stamp-${pin}`);
  const lib = join(target, 'lib', 'libllguidance.a');
  const header = join(target, 'include', 'llguidance.h');
  if (existsSync(stamp) && existsSync(lib) && existsSync(header)) return target;
  const cargo = findCargo();
  if (!cargo) {
    throw new Error(
      'cargo (Rust) is needed to build llguidance from source: https://rustup.rs\n' +
        '  curl --proto =https --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal',
    );
  }
  const manifest = ['--manifest-path', join(crate, 'Cargo.toml')];
  if (!quiet) console.log('[mlx-native] building llguidance with cargo (once; a few minutes)');
  const started = performance.now();
  const r = spawnSync(cargo, ['build', '--release', '--locked', ...manifest, '--target-dir', join(target, 'target')], {
    stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'inherit'],
  });
  if (r.status !== 0) throw new Error('cargo build of llguidance failed (see the output above)');
  const meta = JSON.parse(
    execFileSync(cargo, ['metadata', '--format-version', '1', '--locked', ...manifest], { encoding: 'utf8', maxBuffer: 64 << 20 }),
  );
  const pkg = meta.packages.find((p) => p.name === 'llguidance');
  if (!pkg) throw new Error('cargo metadata does not list llguidance');
  mkdirSync(join(target, 'lib'), { recursive: true });
  mkdirSync(join(target, 'include'), { recursive: true });
  copyFileSync(join(target, 'target', 'release', 'libmlxn_llguidance.a'), lib);
  copyFileSync(join(dirname(pkg.manifest_path), 'llguidance.h'), header);
  writeFileSync(stamp, '');
  if (!quiet) console.log(`[mlx-native] llguidance ${pkg.version} built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return target;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) console.log(setupLlguidance());
