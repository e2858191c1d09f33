/** `mlx-native bench`: mlx-native against mlx-lm and mlx_lm.server, side by side in one run. */
import { parseArgs } from 'node:util';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runConstrainedBench } from '../bench/constrained.js';
import { runBench } from '../bench/index.js';
import { MlxNativeError } from '../errors.js';
import { SYSTEM_IDS, type SystemId } from '../bench/systems/types.js';

const DEFAULT_MODEL = 'models/SmolLM2-135M-Instruct.Q4_1.gguf';

const HELP = `Usage: mlx-native bench [options]

Measures prefill, decode (from per-token timestamps), TTFT, inter-token latency, concurrent
streams and peak memory of: mlx-native in-process, mlx-native serve over HTTP, the C++ engine
alone, mlx-lm in-process and mlx_lm.server, alternating between them, and reports ratios to
mlx-lm. Writes results.json (every raw figure), results.txt and chart.svg.

Options:
  --model PATH       GGUF file or MLX directory (default ${DEFAULT_MODEL})
  --mlx-dir DIR      MLX directory for mlx-lm (default: the GGUF converted to float32 beside it)
  --out DIR          output directory (default bench-results/<timestamp>)
  --quick            CI smoke run: tiny sizes, one round, under 2 minutes
  --systems LIST     comma-separated subset of: ${SYSTEM_IDS.join(', ')}
  --budget SECONDS   time budget (default 840 full, 100 quick); jobs that would pass it are skipped
  --max-batch N      sequences the mlx-native engine decodes together
  --python PATH      Python with mlx-lm (default .venv/bin/python)
  --engine-bin PATH  the engine_bench binary (default build/engine_bench)
  --verbose          show the systems' stderr
  --constrained      only the constrained-decoding comparison: a batch of --max-batch (16)
                     streams with half the rows under a JSON-schema grammar vs none, and the
                     host time per grammar mask (writes constrained.json into --out)
  --help`;

/**
 * Runs the benchmark with command-line flags; returns the exit code (0 once results are
 * written: timings never fail the command, so CI can run --quick as a smoke test).
 */
export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      model: { type: 'string' },
      'mlx-dir': { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      systems: { type: 'string' },
      budget: { type: 'string' },
      'max-batch': { type: 'string' },
      python: { type: 'string' },
      'engine-bin': { type: 'string' },
      verbose: { type: 'boolean' },
      constrained: { type: 'boolean' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let systems: SystemId[] | undefined;
  if (values.systems) {
    systems = values.systems.split(',').map((s) => s.trim()) as SystemId[];
    const bad = systems.filter((s) => !SYSTEM_IDS.includes(s));
    if (bad.length) {
      console.error(`mlx-native bench: unknown system(s) ${bad.join(', ')}; choose from ${SYSTEM_IDS.join(', ')}`);
      return 2;
    }
  }
  const number = (v: string | undefined, name: string) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new MlxNativeError('INVALID_ARGUMENT', `--${name} must be a positive number`, { param: name });
    return n;
  };
  if (values.constrained) {
    const streams = number(values['max-batch'], 'max-batch') ?? 16;
    const result = await runConstrainedBench({
      model: values.model ?? DEFAULT_MODEL,
      streams: Math.max(2, Math.floor(streams)),
      tokens: values.quick ? 16 : 48,
      rounds: values.quick ? 1 : 2,
      log: (m) => process.stderr.write(`${m}\n`),
    });
    const out = values.out ?? 'bench-results';
    await mkdir(out, { recursive: true });
    await writeFile(join(out, 'constrained.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(
      `${result.streams} streams x ${result.tokensPerStream} tokens: none constrained ${result.noneConstrained.toFixed(1)} tok/s, ` +
        `half constrained ${result.halfConstrained.toFixed(1)} tok/s (${result.ratio.toFixed(2)}x); ` +
        `grammar mask ${result.maskMsPerToken.toFixed(3)} ms per token`,
    );
    return 0;
  }
  const { results } = await runBench({
    model: values.model ?? DEFAULT_MODEL,
    mlxDir: values['mlx-dir'],
    out: values.out,
    quick: values.quick,
    systems,
    budgetSec: number(values.budget, 'budget'),
    maxBatch: number(values['max-batch'], 'max-batch'),
    python: values.python,
    engineBinary: values['engine-bin'],
    verbose: values.verbose,
  });
  return results.runs.length > 0 ? 0 : 1;
}
