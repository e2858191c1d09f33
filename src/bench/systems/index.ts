/** Builds the runner of each system from the run's model paths and tool locations. */
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../env.js';
import { EngineBinaryRunner } from './engine-binary.js';
import { InProcessRunner } from './inprocess.js';
import { MlxLmRunner } from './mlx-lm.js';
import { ServerRunner } from './servers.js';
import type { SystemId, SystemRunner } from './types.js';

/** Where everything is; undefined entries make the systems that need them unavailable. */
export interface SystemPaths {
  /** The model every comparable system runs (the MLX float32 directory when there is one). */
  primary: string;
  /** The MLX directory for mlx-lm and mlx_lm.server. */
  mlxDir?: string;
  /** The GGUF file, for the extra in-process row. */
  gguf?: string;
  python?: string;
  engineBinary?: string;
  maxBatch?: number;
  verbose?: boolean;
}

/** A runner, or why the system cannot run here. */
export type Candidate = { id: SystemId; runner: SystemRunner } | { id: SystemId; unavailable: string };

/** One candidate per system, in table order. */
export function candidates(p: SystemPaths): Candidate[] {
  const cli = join(PACKAGE_ROOT, 'dist', 'cli.js');
  const out: Candidate[] = [];
  out.push({
    id: 'mlx-native',
    runner: new InProcessRunner({ id: 'mlx-native', label: 'mlx-native', modelPath: p.primary, maxBatch: p.maxBatch, verbose: p.verbose }),
  });
  out.push({
    id: 'mlx-native-http',
    runner: new ServerRunner({
      id: 'mlx-native-http',
      label: 'mlx-native serve',
      command: process.execPath,
      args: [cli, 'serve', '--model', p.primary, '--port', '{port}', '--log-level', 'warn',
        ...(p.maxBatch ? ['--max-batch', String(p.maxBatch)] : [])],
      requires: [cli, join(PACKAGE_ROOT, 'dist', 'cli', 'serve.js')],
      peakMetric: 'mlx_native_mlx_peak_memory_bytes',
      versions: { node: process.version },
      verbose: p.verbose,
    }),
  });
  out.push(
    p.engineBinary
      ? { id: 'engine', runner: new EngineBinaryRunner({ binary: p.engineBinary, modelPath: p.primary, maxBatch: p.maxBatch, verbose: p.verbose }) }
      : { id: 'engine', unavailable: 'build/engine_bench is not built (node scripts/install.mjs --force)' },
  );
  const noPython = !p.python ? 'no project venv (bash scripts/setup-venv.sh)' : undefined;
  const noDir = !p.mlxDir ? 'no MLX directory of the model (mlx-lm cannot read GGUF)' : undefined;
  const why = noPython ?? noDir;
  if (why) {
    out.push({ id: 'mlx-lm', unavailable: why }, { id: 'mlx-lm-server', unavailable: why });
  } else {
    out.push({
      id: 'mlx-lm',
      runner: new MlxLmRunner({ python: p.python!, script: join(PACKAGE_ROOT, 'scripts', 'bench-mlx-lm.py'), modelDir: p.mlxDir!, verbose: p.verbose }),
    });
    out.push({
      id: 'mlx-lm-server',
      runner: new ServerRunner({
        id: 'mlx-lm-server',
        label: 'mlx_lm.server',
        command: p.python!,
        args: ['-m', 'mlx_lm', 'server', '--model', p.mlxDir!, '--host', '127.0.0.1', '--port', '{port}', '--log-level', 'WARNING'],
        requires: [p.python!],
        versions: {},
        verbose: p.verbose,
      }),
    });
  }
  if (p.gguf && p.primary !== p.gguf) {
    out.push({
      id: 'mlx-native-gguf',
      runner: new InProcessRunner({ id: 'mlx-native-gguf', label: 'mlx-native (GGUF)', modelPath: p.gguf, maxBatch: p.maxBatch, verbose: p.verbose }),
    });
  }
  return out;
}
