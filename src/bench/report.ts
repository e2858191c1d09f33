/**
 * Turns a run's raw records into summaries, the targets, a text table, results.json and the
 * SVG chart. Ratios are to mlx-lm (single stream) and to mlx_lm.server (concurrency), the
 * reference systems running on the same MLX build in the same run.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renderChart } from './chart.js';
import type { BenchResults, RunRecord, Summaries, SystemSummary, Target, TtftOverhead } from './results.js';
import { TTFT_PAIRS } from './plan.js';
import { interTokenGaps, percentile, ratio, summarize, type AggregateFigures, type StreamFigures, type Summary } from './stats.js';
import { SYSTEM_IDS, type SystemId } from './systems/types.js';

const single = (r: RunRecord) => r.figures as StreamFigures;

/** Computes every summary and target from the raw runs. */
export function summarizeResults(res: BenchResults): Summaries {
  const ceiling = (bytes?: number) => (bytes ? res.bandwidth.bytesPerSec / bytes : undefined);
  const systems: SystemSummary[] = [];
  for (const sys of [...res.systems].sort((a, b) => SYSTEM_IDS.indexOf(a.id) - SYSTEM_IDS.indexOf(b.id))) {
    const runs = res.runs.filter((r) => r.system === sys.id);
    const singles = runs.filter((r) => r.streams === 1 && (r.phase === 'decode' || r.phase === 'prefill'));
    const prefill: Record<number, Summary> = {};
    for (const len of [...new Set(singles.map((r) => r.promptTokens))].sort((a, b) => a - b)) {
      const s = summarize(singles.filter((r) => r.promptTokens === len).map((r) => single(r).prefillTokPerSec));
      if (s) prefill[len] = s;
    }
    const decodeRuns = runs.filter((r) => r.phase === 'decode');
    const gaps = decodeRuns.flatMap((r) => interTokenGaps(r.raw[0].tokenMs));
    const decode = summarize(decodeRuns.map((r) => single(r).decodeTokPerSec));
    const weightBytes = sys.info?.weightBytes;
    const concurrency: Record<number, AggregateFigures> = {};
    for (const r of runs.filter((x) => x.phase === 'concurrency')) {
      concurrency[r.streams] =
        r.streams === 1 ? aggregateOfOne(r) : (r.figures as AggregateFigures);
    }
    systems.push({
      id: sys.id, label: sys.label, status: sys.status, reason: sys.reason, prefill, decode,
      ttft: summarize(decodeRuns.map((r) => single(r).ttftMs)),
      itlP50Ms: gaps.length ? percentile(gaps, 50) : undefined,
      itlP99Ms: gaps.length ? percentile(gaps, 99) : undefined,
      weightBytes, ceilingTokPerSec: ceiling(weightBytes),
      bandwidthFraction: ratio(decode?.median, ceiling(weightBytes)),
      concurrency, mlxPeakBytes: sys.memory?.mlxPeakBytes, rssPeakBytes: sys.memory?.rssPeakBytes,
    });
  }
  const ttftOverhead = TTFT_PAIRS.map(([inProcess, http]): TtftOverhead => {
    const ttfts = (id: SystemId) => summarize(res.runs.filter((r) => r.phase === 'ttft' && r.system === id).map((r) => single(r).ttftMs));
    const a = ttfts(inProcess), b = ttfts(http);
    return {
      inProcess, http, n: Math.min(a?.n ?? 0, b?.n ?? 0), inProcessMs: a, httpMs: b,
      deltaMinMs: a && b ? b.min - a.min : undefined,
      deltaMedianMs: a && b ? b.median - a.median : undefined,
    };
  });
  return { systems, ttftOverhead, targets: targets(systems, ttftOverhead) };
}

/** A one-stream concurrency level, in the aggregate's shape. */
function aggregateOfOne(r: RunRecord): AggregateFigures {
  const f = r.figures as StreamFigures;
  return {
    streams: 1, completionTokens: f.completionTokens, wallMs: r.wallMs,
    outputTokPerSec: r.wallMs > 0 ? (f.completionTokens * 1000) / r.wallMs : 0,
    decodeTokPerSec: f.decodeTokPerSec, ttftP50Ms: f.ttftMs, ttftP99Ms: f.ttftMs, itlP50Ms: f.itlP50Ms, itlP99Ms: f.itlP99Ms,
  };
}

function targets(systems: SystemSummary[], overhead: Summaries['ttftOverhead']): Target[] {
  const get = (id: SystemId) => systems.find((s) => s.id === id);
  const native = get('mlx-native'), ref = get('mlx-lm'), http = get('mlx-native-http'), refServer = get('mlx-lm-server');
  const times = (v?: number) => (v === undefined ? 'not measured' : `${v.toFixed(2)}×`);
  const out: Target[] = [];
  const atLeast = (name: string, v: number | undefined, goal: number) =>
    out.push({ name, measured: v, display: times(v), pass: v === undefined ? undefined : v >= goal });
  atLeast('single-stream decode ≥ 1.25× mlx-lm', ratio(native?.decode?.median, ref?.decode?.median), 1.25);
  const lengths = Object.keys(native?.prefill ?? {}).map(Number).filter((l) => ref?.prefill[l]);
  for (const len of lengths) atLeast(`prefill@${len} ≥ 1.0× mlx-lm`, ratio(native!.prefill[len].median, ref!.prefill[len].median), 1.0);
  if (lengths.length === 0) atLeast('prefill ≥ 1.0× mlx-lm', undefined, 1);
  const hop = overhead.find((o) => o.http === 'mlx-native-http');
  const hopMs = hop?.deltaMinMs;
  out.push({
    name: 'HTTP adds ≤ 1 ms to TTFT over in-process (difference of minimums)',
    measured: hopMs,
    display: hopMs === undefined ? 'not measured' : `${hopMs.toFixed(2)} ms (medians: ${hop!.deltaMedianMs!.toFixed(2)} ms, n=${hop!.n})`,
    pass: hopMs === undefined ? undefined : hopMs <= 1,
  });
  const levels = Object.keys(http?.concurrency ?? {}).map(Number);
  const top = levels.length ? Math.max(...levels) : undefined;
  const at = (s: SystemSummary | undefined, n?: number) => (n === undefined ? undefined : s?.concurrency[n]);
  const suffix = top !== undefined && top !== 16 ? ` (at ${top} streams: 16 not measured)` : '';
  atLeast(`aggregate at 16 streams ≥ 2× mlx_lm.server${suffix}`, ratio(at(http, top)?.decodeTokPerSec, at(refServer, top)?.decodeTokPerSec), 2);
  atLeast(`aggregate at 16 streams ≥ 6× own single stream${suffix}`, ratio(at(http, top)?.decodeTokPerSec, at(http, 1)?.decodeTokPerSec), 6);
  const spread = ratio(at(http, top)?.ttftP99Ms, at(http, 1)?.ttftP50Ms);
  out.push({ name: `TTFT p99 at 16 streams ≤ 3× single-stream${suffix}`, measured: spread, display: times(spread), pass: spread === undefined ? undefined : spread <= 3 });
  return out;
}

/** Aligns rows under headers: the first column left-aligned, the others right-aligned. */
export function formatTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A value with its ratio to a reference, e.g. "10.4 (1.31×)". */
export function withRatio(v: number | undefined, ref: number | undefined, digits = 1): string {
  if (v === undefined) return '–';
  const r = ratio(v, ref);
  return r === undefined ? v.toFixed(digits) : `${v.toFixed(digits)} (${r.toFixed(2)}×)`;
}

const mib = (b?: number) => (b === undefined || !Number.isFinite(b) ? '–' : (b / 2 ** 20).toFixed(0));
const fix = (v: number | undefined, d = 1) => (v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(d));

/** The human-readable report. */
export function renderText(res: BenchResults, sum: Summaries): string {
  const ref = sum.systems.find((s) => s.id === 'mlx-lm');
  const refServer = sum.systems.find((s) => s.id === 'mlx-lm-server');
  const lengths = [...new Set(sum.systems.flatMap((s) => Object.keys(s.prefill).map(Number)))].sort((a, b) => a - b);
  const ok = sum.systems.filter((s) => s.status === 'ok');
  const out: string[] = [];
  out.push(`mlx-native bench (${res.mode}), ${new Date(res.startedAt).toUTCString()}, ${res.totalSec.toFixed(0)} s`);
  out.push(`model: ${res.model.primary}; ${res.model.note}`);
  const e = res.environment;
  out.push(`machine: ${e.cpuModel}, ${e.cpuCount} cores, ${(e.totalMemoryBytes / 2 ** 30).toFixed(0)} GiB, ${e.platform} ${e.arch}, Node ${e.node}; load average at start ${e.loadAverage.map((l) => l.toFixed(2)).join(' ')}, at end ${res.loadAverageEnd.map((l) => l.toFixed(2)).join(' ')}`);
  const versions = Object.assign({}, ...ok.map((s) => res.systems.find((x) => x.id === s.id)?.info?.versions ?? {}));
  out.push(`versions: mlx-native ${e.packageVersion}${e.gitCommit ? ` (${e.gitCommit.slice(0, 10)}${e.gitDirty ? '+dirty' : ''})` : ''}, ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  const load = Math.max(...res.runs.map((r) => r.load1), 0);
  // A system under test keeps at most every core busy; load beyond that is other work.
  if (load > e.cpuCount + 0.5) {
    out.push(`note: 1-minute load average reached ${load.toFixed(2)} on ${e.cpuCount} cores: other processes competed for the CPU, so compare systems within this run only.`);
  }
  const device = res.systems.find((s) => s.info?.device)?.info?.device;
  if (device) out.push(`MLX backend: ${device}`);
  out.push(`memory bandwidth: ${(res.bandwidth.bytesPerSec / 1e9).toFixed(2)} GB/s, one thread ${(res.bandwidth.singleThreadBytesPerSec / 1e9).toFixed(2)} GB/s (${res.bandwidth.method})`);
  out.push('');
  out.push('Single stream (tok/s; ratios to mlx-lm). Decode = (N−1)/(t_N − t_1) over the decode rounds, median.');
  const headers = ['system', ...lengths.map((l) => `prefill@${l}`), 'decode', 'TTFT ms', 'ITL p50/p99 ms', '% BW ceiling', 'MLX peak MiB', 'RSS peak MiB', 'n'];
  const rows = ok.map((s) => [
    s.label,
    ...lengths.map((l) => withRatio(s.prefill[l]?.median, ref?.prefill[l]?.median)),
    withRatio(s.decode?.median, ref?.decode?.median),
    fix(s.ttft?.median, 0),
    s.itlP50Ms === undefined ? '–' : `${fix(s.itlP50Ms, 0)}/${fix(s.itlP99Ms, 0)}`,
    s.bandwidthFraction === undefined ? '–' : `${(s.bandwidthFraction * 100).toFixed(1)}%`,
    mib(s.mlxPeakBytes),
    mib(s.rssPeakBytes),
    String(s.decode?.n ?? 0),
  ]);
  out.push(formatTable(headers, rows));
  const missing = sum.systems.filter((s) => s.status !== 'ok');
  for (const s of missing) out.push(`  ${s.label}: ${s.status} — ${(s.reason ?? '').split('\n')[0]}`);
  const weights = ok.filter((s) => s.weightBytes).map((s) => `${s.label} ${mib(s.weightBytes)} MiB → ceiling ${fix(s.ceilingTokPerSec, 0)} tok/s`);
  if (weights.length) out.push(`  bandwidth ceiling = bandwidth / weight bytes per token: ${weights.join('; ')}`);

  const servers = ok.filter((s) => Object.keys(s.concurrency).length > 0);
  if (servers.length) {
    const levels = [...new Set(servers.flatMap((s) => Object.keys(s.concurrency).map(Number)))].sort((a, b) => a - b);
    const c = res.plan.concurrency;
    out.push('');
    out.push(`Concurrent streams (distinct prompts of ${c.promptTokens} tokens, ${c.maxTokens} tokens each): aggregate decode tok/s / end-to-end output tok/s (decode ratio to mlx_lm.server); TTFT p50/p99 ms`);
    out.push('  aggregate decode = Σ(N_i − 1) over the span from the first stream\'s first token to the last token; end-to-end = all tokens / wall time.');
    const rowsC = servers.map((s) => [
      s.label,
      ...levels.map((l) => {
        const f = s.concurrency[l];
        if (!f) return '–';
        const r = ratio(f.decodeTokPerSec, refServer?.concurrency[l]?.decodeTokPerSec);
        return `${fix(f.decodeTokPerSec)} / ${fix(f.outputTokPerSec)}${r === undefined ? '' : ` (${r.toFixed(2)}×)`}`;
      }),
      ...levels.map((l) => (s.concurrency[l] ? `${fix(s.concurrency[l].ttftP50Ms, 0)}/${fix(s.concurrency[l].ttftP99Ms, 0)}` : '–')),
    ]);
    out.push(formatTable(['server', ...levels.map((l) => `${l} streams`), ...levels.map((l) => `TTFT@${l}`)], rowsC));
  }
  out.push('');
  out.push(`HTTP hop: TTFT of ${res.plan.ttft.promptTokens}-token prompts, sent alternately; HTTP minus in-process (min / median, ms):`);
  for (const o of sum.ttftOverhead) {
    const a = o.inProcessMs, b = o.httpMs;
    out.push(`  ${o.http} vs ${o.inProcess}: ${a && b ? `${fix(o.deltaMinMs, 2)} / ${fix(o.deltaMedianMs, 2)} (HTTP ${fix(b.min)} / ${fix(b.median)}, in-process ${fix(a.min)} / ${fix(a.median)}, n=${o.n})` : 'not measured'}`);
  }
  if (res.profile.length) {
    out.push('');
    out.push(`Decode step of the engine alone (context ${res.profile[0].context}): graph building vs evaluation`);
    for (const p of res.profile) {
      out.push(`  batch ${p.batch}: build ${p.buildMs.toFixed(2)} ms, eval ${p.evalMs.toFixed(1)} ms, pipelined step ${p.pipelinedStepMs.toFixed(1)} ms (${((p.batch * 1000) / p.pipelinedStepMs).toFixed(1)} tok/s)`);
    }
  }
  out.push('');
  out.push('Targets (reported, not asserted):');
  for (const t of sum.targets) out.push(`  [${t.pass === undefined ? ' n/a ' : t.pass ? 'PASS ' : 'MISS '}] ${t.name}: ${t.display}`);
  if (res.skipped.length) {
    out.push('');
    out.push(`Skipped ${res.skipped.length} job(s):`);
    for (const s of res.skipped) out.push(`  ${s.job.system} ${s.job.phase} #${s.job.round} (prompt ${s.job.promptTokens}, ${s.job.streams} stream(s)): ${s.reason}`);
  }
  return out.join('\n');
}

/** Writes results.json, results.txt and chart.svg, and prints the text report. */
export async function writeReport(res: BenchResults, dir: string, log: (m: string) => void): Promise<void> {
  const summary = summarizeResults(res);
  const text = renderText(res, summary);
  await writeFile(join(dir, 'results.json'), `${JSON.stringify({ ...res, summary }, null, 1)}\n`);
  await writeFile(join(dir, 'results.txt'), `${text}\n`);
  await writeFile(join(dir, 'chart.svg'), renderChart(res, summary));
  process.stdout.write(`\n${text}\n\n`);
  log(`wrote ${join(dir, 'results.json')}, results.txt and chart.svg`);
}
