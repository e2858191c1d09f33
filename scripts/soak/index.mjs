#!/usr/bin/env node
// `npm run soak -- --requests N --concurrency C [--seed S] [--sigterm] [--model PATH] [--json FILE]`
// Drives a real server on 127.0.0.1 with a bounded, seeded mix of valid, invalid, streaming,
// cancelled, over-context, over-queue and slow-client requests, then prints what it found and
// exits 1 if any check failed. Needs `npm run build` (dist/) and the fixture model.
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { soak } from './run.mjs';

const FIXTURE = fileURLToPath(new URL('../../models/SmolLM2-135M-Instruct.Q4_1.gguf', import.meta.url));
const MAX_REQUESTS = 100_000;

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '8' },
    seed: { type: 'string', default: '1' },
    warmup: { type: 'string' },
    'max-queue': { type: 'string' },
    sigterm: { type: 'boolean', default: false },
    model: { type: 'string', default: FIXTURE },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log('usage: npm run soak -- --requests N --concurrency C [--seed S] [--warmup N] [--max-queue Q] [--sigterm] [--model PATH] [--json FILE]');
  process.exit(0);
}
const int = (name, lo, hi) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < lo || n > hi) {
    console.error(`--${name} must be an integer in [${lo}, ${hi}]`);
    process.exit(2);
  }
  return n;
};

const mb = (b) => `${(b / 2 ** 20).toFixed(1)} MiB`;
const report = await soak({
  model: values.model,
  requests: int('requests', 1, MAX_REQUESTS),
  concurrency: int('concurrency', 1, 256),
  seed: int('seed', 0, 2 ** 31),
  warmup: values.warmup === undefined ? undefined : int('warmup', 0, MAX_REQUESTS),
  maxQueue: values['max-queue'] === undefined ? undefined : int('max-queue', 1, 4096),
  sigterm: values.sigterm,
  env: process.env.SOAK_SERVER_ENV ? Object.fromEntries(process.env.SOAK_SERVER_ENV.split(',').map((kv) => kv.split('='))) : undefined,
  log: (line) => console.log(`[soak] ${line}`),
});
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);

console.log(`
requests      ${report.requests} (warm-up ${report.warmup}), concurrency ${report.concurrency}, max-queue ${report.maxQueue}, seed ${report.seed}
outcomes      completed ${report.completed}, cancelled ${report.cancelled}, errored ${report.errored}, rejected ${report.rejected}, refused ${report.refused}, bad ${report.bad}
statuses      ${Object.entries(report.status).map(([s, n]) => `${s}: ${n}`).join(', ')}
kinds         ${Object.entries(report.kinds).map(([k, n]) => `${k}: ${n}`).join(', ')}
latency       completed p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms; first byte p50 ${report.firstByteMs.p50} ms, p99 ${report.firstByteMs.p99} ms
run           ${(report.runMs / 1000).toFixed(1)} s measured, ${(report.totalMs / 1000).toFixed(1)} s in all`);
if (report.server) {
  const s = report.server;
  console.log(`server        admitted ${s.admitted} = completed ${s.completed} + errored ${s.errored} + cancelled ${s.cancelled}; clients saw ${report.admittedByClient} admitted; in flight ${s.inFlight}`);
}
if (report.memory) {
  const { baseline: b, after: a } = report.memory;
  const pct = (x) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
  console.log(`memory        after the run vs. the baseline after warm-up, prefix cache left out (it is bounded, and shown apart):
              RSS ${mb(b.rssBytes - b.prefixCacheBytes)} -> ${mb(a.rssBytes - a.prefixCacheBytes)} (${pct(report.memory.rssBytesGrowth)}), MLX active ${mb(b.mlxActiveBytes - b.prefixCacheBytes)} -> ${mb(a.mlxActiveBytes - a.prefixCacheBytes)} (${pct(report.memory.mlxActiveBytesGrowth)})
              JS heap used ${mb(b.jsHeapUsedBytes)} -> ${mb(a.jsHeapUsedBytes)}; raw RSS ${mb(b.rssBytes)} -> ${mb(a.rssBytes)}, raw MLX active ${mb(b.mlxActiveBytes)} -> ${mb(a.mlxActiveBytes)}, prefix cache ${mb(b.prefixCacheBytes)} -> ${mb(a.prefixCacheBytes)}, MLX buffer cache ${mb(b.mlxCacheBytes)} -> ${mb(a.mlxCacheBytes)}`);
}
if (report.shutdown) console.log(`shutdown      SIGTERM -> exit ${report.shutdown.code} in ${report.shutdown.ms} ms (limit ${report.shutdown.limitMs} ms)`);
console.log(report.failures.length ? `\nFAILED:\n- ${report.failures.join('\n- ')}` : '\nall checks passed');
process.exit(report.failures.length ? 1 : 0);
