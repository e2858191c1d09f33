// The soak driver: a real server, a warm-up, a measured run of a seeded request mix at a fixed
// concurrency, then the checks: nothing lost, every answer well-formed, no undocumented 5xx,
// the process alive, memory back to its baseline. With `sigterm`, the server is sent SIGTERM
// partway through the run and must end every admitted request and exit 0 in time.
import { exchange, stall } from './http.mjs';
import { build, drawKind, judge, rng, WEIGHTS } from './mix.mjs';
import { get, startServer } from './server.mjs';

// glibc raises its mmap threshold as large blocks are freed, after which freed KV buffers stay
// in the heap and RSS shows the allocator's high-water mark instead of live memory. A fixed
// threshold returns them, so a leak is what RSS growth means. (Other platforms ignore it.)
const SERVER_ENV = { MALLOC_MMAP_THRESHOLD_: '131072' };

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** p-quantile of `xs` (nearest rank). */
export function quantile(xs, p) {
  if (xs.length === 0) return 0;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))];
}

/** Runs `items` with `concurrency` workers; `onResult(item, res)` sees each answer. */
async function drive(server, items, concurrency, ctx, onResult) {
  let next = 0;
  const worker = async () => {
    while (next < items.length && !ctx.stopped) {
      const item = items[next++];
      ctx.onStart?.(next);
      const phase = ctx.signalled ? 'shutdown' : 'run';
      const res = item.spec.stall
        ? await stall(server.base, item.spec.path, ctx.requestTimeoutMs + 5000)
        : await exchange(server.base, { ...item.spec, timeoutMs: ctx.perRequestTimeoutMs });
      // A request sent before SIGTERM may still be answered by the shutdown.
      onResult(item, res, ctx.signalled ? 'shutdown' : phase);
      // A client told to retry later backs off (less than Retry-After, to keep the pressure on).
      if (res.status === 429) await sleep(200);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Memory figures of the server process once it is idle. */
async function memorySample(server) {
  // (Idle first: nothing in flight, no sequence in the engine.)
  for (let i = 0; i < 100; i++) {
    const m = await server.metrics();
    if ((m.mlx_native_requests_in_flight ?? 0) === 0 && (m.mlx_native_active_sequences ?? 0) === 0) break;
    await sleep(100);
  }
  await sleep(500);
  const m = await server.metrics();
  return {
    rssBytes: server.rssBytes(),
    mlxActiveBytes: m.mlx_native_mlx_active_memory_bytes,
    mlxCacheBytes: m.mlx_native_mlx_cache_memory_bytes,
    prefixCacheBytes: m.mlx_native_prefix_cache_bytes,
    jsHeapUsedBytes: m.nodejs_heap_size_used_bytes,
    jsHeapTotalBytes: m.nodejs_heap_size_total_bytes,
  };
}

/** Plans `n` requests (bursts expand to several) from the seed. */
export function plan(n, seed, weights, ctx) {
  const r = rng(seed);
  const items = [];
  while (items.length < n) items.push(...build(drawKind(r, weights), r, ctx));
  return items.slice(0, n);
}

/**
 * Runs a soak and returns its report; `report.failures` lists every failed check.
 * @param {{ model: string, requests: number, concurrency: number, seed?: number, warmup?: number,
 *   maxQueue?: number, sigterm?: boolean, sigtermAt?: number, shutdownTimeoutS?: number,
 *   memoryTolerance?: number, log?: (line: string) => void }} o
 */
export async function soak(o) {
  const log = o.log ?? (() => undefined);
  const seed = o.seed ?? 1;
  // As many slots as clients: 429s come from the bursts, which send more than that at once.
  const maxQueue = o.maxQueue ?? o.concurrency;
  const shutdownTimeoutS = o.shutdownTimeoutS ?? 5;
  const requestTimeoutS = 2;
  const server = await startServer({
    model: o.model,
    args: ['--max-queue', String(maxQueue), '--request-timeout', String(requestTimeoutS), '--shutdown-timeout', String(shutdownTimeoutS)],
    env: { ...SERVER_ENV, ...o.env },
  });
  const failures = [];
  const t0 = performance.now();
  try {
    const health = JSON.parse((await get(server.base, '/health')).text);
    const ctx = { contextLength: health.contextLength, maxQueue, requestTimeoutMs: requestTimeoutS * 1000, perRequestTimeoutMs: 120_000 };
    const warmupCount = Math.min(o.warmup ?? Math.max(100, Math.round(o.requests * 0.1)), o.requests);
    // With SIGTERM, long streams are in flight when it comes, so the shutdown has to end them.
    const all = [
      ...plan(warmupCount, seed, WEIGHTS, ctx),
      ...plan(o.requests - warmupCount, seed + 2, o.sigterm ? { ...WEIGHTS, long: 12 } : WEIGHTS, { ...ctx, longTokens: 128 }),
    ];
    const results = [];
    const record = (item, res, phase) => {
      const verdict = judge(item, res, phase);
      results.push({ kind: item.kind, status: res.status, ms: res.ms, ttfbMs: res.ttfbMs, phase, ...verdict });
      if (verdict.outcome === 'bad' && failures.length < 20) failures.push(`${item.kind} ${JSON.stringify(item.spec.body ?? item.spec.path).slice(0, 160)}: ${verdict.problem}`);
    };

    log(`warm-up: ${warmupCount} requests, then ${o.concurrency} long streams at once`);
    await drive(server, all.slice(0, warmupCount), o.concurrency, ctx, record);
    // Reach the memory high-water mark of a full batch once, so the baseline is the server's
    // steady state rather than its state before it ever held `concurrency` sequences.
    const r = rng(seed + 1);
    const saturate = Array.from({ length: o.concurrency }, () => build('long', r, { ...ctx, longTokens: 32 })[0]);
    await drive(server, saturate, o.concurrency, ctx, record);
    // The first constrained request of a model builds its grammar vocabulary once (kept for the
    // model's life); make it part of the baseline, not of the measured growth.
    const grammarOnce = {
      kind: 'chat',
      spec: { path: '/v1/chat/completions', body: { messages: [{ role: 'user', content: 'Say hi' }], response_format: { type: 'json_object' }, max_tokens: 4 } },
      expect: { chat: true },
    };
    await drive(server, [grammarOnce], 1, ctx, record);
    const baseline = await memorySample(server);
    const measured = all.slice(warmupCount);
    log(`run: ${measured.length} requests at concurrency ${o.concurrency} (max-queue ${maxQueue})`);
    const runStarted = performance.now();
    let shutdown;
    if (o.sigterm) {
      const at = Math.floor(measured.length * (o.sigtermAt ?? 0.5));
      ctx.onStart = (i) => {
        if (i < at || ctx.signalled) return;
        ctx.signalled = true;
        log(`SIGTERM after ${i} requests started`);
        shutdown = server.signal('SIGTERM').then((r) => {
          ctx.stopped = true;
          return r;
        });
      };
    }
    await drive(server, measured, o.concurrency, ctx, record);
    const runMs = performance.now() - runStarted;

    const report = { seed, requests: results.length, concurrency: o.concurrency, maxQueue, runMs: Math.round(runMs), warmup: warmupCount };
    const count = (pred) => results.filter(pred).length;
    for (const outcome of ['completed', 'cancelled', 'errored', 'rejected', 'refused', 'bad']) report[outcome] = count((r) => r.outcome === outcome);
    report.status = {};
    for (const r of results) report.status[r.status] = (report.status[r.status] ?? 0) + 1;
    report.kinds = {};
    for (const r of results) report.kinds[r.kind] = (report.kinds[r.kind] ?? 0) + 1;
    const done = results.filter((r) => r.outcome === 'completed' && r.phase === 'run');
    report.latencyMs = { p50: Math.round(quantile(done.map((r) => r.ms), 0.5)), p99: Math.round(quantile(done.map((r) => r.ms), 0.99)) };
    const firstByte = done.filter((r) => r.ttfbMs !== undefined).map((r) => r.ttfbMs);
    report.firstByteMs = { p50: Math.round(quantile(firstByte, 0.5)), p99: Math.round(quantile(firstByte, 0.99)) };
    report.rejectedLatencyMs = { p50: Math.round(quantile(results.filter((r) => r.outcome === 'rejected').map((r) => r.ms), 0.5)) };
    const admittedByClient = count((r) => r.status === 200);
    report.admittedByClient = admittedByClient;
    if (report.bad > 0) failures.push(`${report.bad} answers were not well-formed or not what the request had to get`);
    const undocumented5xx = results.filter((r) => r.status >= 500 && !(r.status === 503 && r.phase === 'shutdown')).length;
    if (undocumented5xx) failures.push(`${undocumented5xx} undocumented 5xx answers`);

    if (o.sigterm) {
      const exit = await shutdown;
      report.shutdown = { code: exit.code, signal: exit.signal, ms: Math.round(exit.ms), limitMs: shutdownTimeoutS * 1000 + 6000 };
      if (exit.code !== 0) failures.push(`the server exited with ${exit.code ?? exit.signal} after SIGTERM, not 0`);
      if (exit.ms > report.shutdown.limitMs) failures.push(`the server took ${Math.round(exit.ms)} ms to exit (limit ${report.shutdown.limitMs})`);
    } else {
      if (!server.alive()) failures.push('the server process died');
      const after = await memorySample(server);
      const m = await server.metrics();
      const admitted = m.mlx_native_requests_admitted_total ?? 0;
      const settled = ['completed', 'errored', 'cancelled'].map((k) => m[`mlx_native_requests_settled_total{outcome="${k}"}`] ?? 0);
      report.server = { admitted, completed: settled[0], errored: settled[1], cancelled: settled[2], inFlight: m.mlx_native_requests_in_flight };
      if (admitted !== settled[0] + settled[1] + settled[2]) failures.push(`server: admitted ${admitted} != completed + errored + cancelled ${settled.join(' + ')}`);
      if (admitted !== admittedByClient) failures.push(`server admitted ${admitted}, clients saw ${admittedByClient} answers with status 200`);
      if (m.mlx_native_requests_in_flight !== 0) failures.push(`${m.mlx_native_requests_in_flight} requests still in flight after the run`);
      report.memory = { baseline, after };
      const tolerance = o.memoryTolerance ?? 0.05;
      // The prefix cache keeps finished sequences' KV up to its budget (512 MiB by default) by
      // design; it is reported on its own and left out of the comparison.
      for (const key of ['rssBytes', 'mlxActiveBytes']) {
        const growth = (after[key] - after.prefixCacheBytes - (baseline[key] - baseline.prefixCacheBytes)) / (baseline[key] - baseline.prefixCacheBytes);
        report.memory[`${key}Growth`] = Math.round(growth * 10000) / 10000;
        if (growth > tolerance) failures.push(`${key} grew ${(growth * 100).toFixed(1)}% over the baseline (limit ${tolerance * 100}%)`);
      }
    }
    // Every admitted request has exactly one log line, and it says how the request ended.
    const logged = server.lines.filter((l) => l.msg === 'request' && l.promptTokens !== undefined);
    report.loggedAdmitted = logged.length;
    const unexplained = logged.filter((l) => !l.finishReason && !l.errorCode).length;
    if (unexplained) failures.push(`${unexplained} admitted requests were logged without a finish reason or an error`);
    if (logged.length !== admittedByClient) failures.push(`the server logged ${logged.length} admitted requests, clients saw ${admittedByClient}`);
    report.totalMs = Math.round(performance.now() - t0);
    report.failures = failures;
    return report;
  } finally {
    server.kill();
  }
}
