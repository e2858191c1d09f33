// Unit tests of the benchmark's pure parts: statistics, prompts, plan, report and chart.
// The benchmark itself is never run here (CI runs `mlx-native bench --quick` as a smoke test).
import { describe, expect, it } from 'vitest';
import { renderChart, niceScale, xml } from '../src/bench/chart.js';
import { mlxDirName, type BenchResults, type RunRecord } from '../src/bench/index.js';
import { buildJobs, estimateSeconds, FULL, QUICK, rotate } from '../src/bench/plan.js';
import { PromptFactory, seededRandom } from '../src/bench/prompts.js';
import { formatTable, renderText, summarizeResults, withRatio } from '../src/bench/report.js';
import {
  aggregateFigures, decodeRate, interTokenGaps, median, percentile, prefillRate, ratio, streamFigures, summarize,
} from '../src/bench/stats.js';

describe('stats', () => {
  it('percentile interpolates linearly between ranks (numpy default)', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([4, 1, 3, 2], 0)).toBe(1);
    expect(percentile([4, 1, 3, 2], 100)).toBe(4);
    expect(percentile([10, 20], 99)).toBeCloseTo(19.9);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBeNaN();
    expect(median([3, 1, 2])).toBe(2);
  });

  it('decode rate is (N−1)/(t_N − t_1), ignoring the prefill before the first token', () => {
    expect(decodeRate([1000, 1100, 1200, 1300, 1400])).toBeCloseTo(10); // 4 tokens in 0.4 s
    expect(decodeRate([5000, 5250])).toBeCloseTo(4);
    expect(decodeRate([100])).toBeUndefined();
    expect(decodeRate([100, 100])).toBeUndefined();
  });

  it('prefill rate, gaps, ratio and summaries', () => {
    expect(prefillRate(128, 1000)).toBe(128);
    expect(prefillRate(128, 0)).toBeUndefined();
    expect(interTokenGaps([0, 10, 30])).toEqual([10, 20]);
    expect(ratio(3, 2)).toBe(1.5);
    expect(ratio(3, 0)).toBeUndefined();
    expect(ratio(undefined, 2)).toBeUndefined();
    expect(summarize([3, undefined, 1, 2])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(summarize([undefined])).toBeUndefined();
  });

  it('stream figures take TTFT from the stream start', () => {
    const f = streamFigures({ promptTokens: 10, startMs: 100, tokenMs: [600, 700, 800] });
    expect(f.ttftMs).toBe(500);
    expect(f.prefillTokPerSec).toBe(20);
    expect(f.decodeTokPerSec).toBeCloseTo(10);
    expect(f.completionTokens).toBe(3);
    expect(f.itlP50Ms).toBe(100);
  });

  it('aggregates streams over the span from the first first token to the last token', () => {
    const a = aggregateFigures(
      [
        { promptTokens: 4, startMs: 0, tokenMs: [100, 200, 300] },
        { promptTokens: 4, startMs: 0, tokenMs: [150, 250, 350] },
        { promptTokens: 4, tokenMs: [], error: 'boom' },
      ],
      400,
    );
    expect(a.streams).toBe(3);
    expect(a.completionTokens).toBe(6);
    expect(a.outputTokPerSec).toBe(15);
    expect(a.decodeTokPerSec).toBeCloseTo((4 * 1000) / 250);
    expect(a.ttftP50Ms).toBe(125);
  });
});

describe('prompts', () => {
  // A toy tokenizer: every " word" in its table is one token, anything else two.
  const table = new Map<string, number>();
  const tok = {
    encode(text: string): number[] {
      return (text.match(/ [a-z]+/g) ?? []).flatMap((w) => {
        if (w.length > 7) return [1, 2]; // long words "split": the factory must drop them
        if (!table.has(w)) table.set(w, table.size + 10);
        return [table.get(w)!];
      });
    },
  };

  it('makes prompts of exact length with distinct first tokens', () => {
    const f = new PromptFactory(tok, 1);
    const a = f.make(128), b = f.make(128), c = f.make(1);
    expect(a.ids).toHaveLength(128);
    expect(tok.encode(a.text)).toEqual(a.ids);
    expect(c.ids).toHaveLength(1);
    expect(new Set([a.ids[0], b.ids[0], c.ids[0]]).size).toBe(3);
    expect(a.ids).not.toContain(1);
  });

  it('is deterministic for a seed', () => {
    expect(new PromptFactory(tok, 7).make(20).ids).toEqual(new PromptFactory(tok, 7).make(20).ids);
    const r = seededRandom(3);
    expect(r()).toBeGreaterThanOrEqual(0);
    expect(r()).toBeLessThan(1);
  });
});

describe('plan', () => {
  it('rotates and alternates systems', () => {
    expect(rotate([1, 2, 3], 1)).toEqual([2, 3, 1]);
    expect(rotate([1, 2, 3], -1)).toEqual([3, 1, 2]);
    const jobs = buildJobs(FULL, ['mlx-native', 'mlx-lm', 'mlx-native-http', 'mlx-lm-server']);
    expect(jobs.filter((j) => j.phase === 'warmup').every((j) => j.required)).toBe(true);
    const prefill = jobs.filter((j) => j.phase === 'prefill');
    expect(prefill.map((j) => [j.system, j.promptTokens])).toEqual([
      ['mlx-native', 512], ['mlx-lm', 512], ['mlx-lm', 2048], ['mlx-native', 2048],
    ]);
    const conc = jobs.filter((j) => j.phase === 'concurrency');
    expect(conc.map((j) => j.streams)).toEqual([16, 16, 1, 1, 4, 4, 8, 8]);
    expect(jobs.filter((j) => j.phase === 'ttft')).toHaveLength(FULL.ttft.reps * 4);
  });

  it('leaves out pairs and servers that are not available', () => {
    const jobs = buildJobs(QUICK, ['mlx-native']);
    expect(jobs.some((j) => j.phase === 'ttft' || j.phase === 'concurrency')).toBe(false);
    expect(jobs.filter((j) => j.phase === 'decode')).toHaveLength(1);
  });

  it('names the cached MLX directory after the model, without the quantization tag', () => {
    expect(mlxDirName('models/SmolLM2-135M-Instruct.Q4_1.gguf')).toBe('SmolLM2-135M-Instruct-mlx-f32');
    expect(mlxDirName('/m/llama-3.2-1b-instruct-q8_0.gguf')).toBe('llama-3.2-1b-instruct-mlx-f32');
    expect(mlxDirName('model.gguf')).toBe('model-mlx-f32');
  });

  it('estimates job time from the rates', () => {
    const s = estimateSeconds({ phase: 'decode', system: 'mlx-lm', promptTokens: 100, maxTokens: 11, streams: 2, round: 1 }, { prefill: 10, decode: 5 });
    expect(s).toBeCloseTo(20 + 4 + 0.3);
  });
});

describe('report', () => {
  it('aligns tables and prints ratios', () => {
    const t = formatTable(['system', 'decode'], [['a', '1.0'], ['longer', '10.25']]);
    expect(t.split('\n')).toEqual(['system  decode', '------  ------', 'a          1.0', 'longer   10.25']);
    expect(withRatio(13.1, 10)).toBe('13.1 (1.31×)');
    expect(withRatio(13.1, undefined)).toBe('13.1');
    expect(withRatio(undefined, 10)).toBe('–');
  });

  function record(system: RunRecord['system'], phase: RunRecord['phase'], tokenMs: number[][], promptTokens = 128): RunRecord {
    const raw = tokenMs.map((t) => ({ promptTokens, startMs: 0, tokenMs: t }));
    const figures = raw.length === 1 ? streamFigures(raw[0]) : aggregateFigures(raw, Math.max(...tokenMs.flat()));
    return { phase, system, promptTokens, maxTokens: tokenMs[0].length, streams: raw.length, round: 1, atSec: 0, load1: 0.5, wallMs: 1000, raw, figures };
  }
  const steps = (first: number, gap: number, n: number) => Array.from({ length: n }, (_, i) => first + i * gap);

  const results: BenchResults = {
    schema: 1, mode: 'quick', startedAt: '2025-01-01T00:00:00Z', totalSec: 60, loadAverageEnd: [0, 0, 0], plan: QUICK,
    environment: {
      platform: 'linux', release: '6', arch: 'x64', cpuModel: 'Test CPU', cpuCount: 2, totalMemoryBytes: 2 ** 34,
      loadAverage: [0, 0, 0], node: 'v20', packageVersion: '0.1.0', hostname: 'h',
    },
    model: { path: 'm.gguf', primary: 'models/m-mlx-f32', note: 'test' },
    bandwidth: { bytesPerSec: 10e9, singleThreadBytesPerSec: 5e9, threads: 2, bufferBytes: 1, method: 'test' },
    systems: [
      { id: 'mlx-native', label: 'mlx-native', status: 'ok', info: { weightBytes: 1e8, versions: {} }, memory: { mlxPeakBytes: 2 ** 27 } },
      { id: 'mlx-lm', label: 'mlx-lm', status: 'ok', info: { weightBytes: 1e8, versions: { mlx: '0.32.4' } } },
      { id: 'mlx-native-http', label: 'mlx-native serve', status: 'ok', info: { versions: {} } },
      { id: 'mlx-lm-server', label: 'mlx_lm.server', status: 'failed', reason: 'no venv' },
    ],
    runs: [
      record('mlx-native', 'decode', [steps(1000, 50, 11)]), // 20 tok/s, prefill 128 tok/s
      record('mlx-lm', 'decode', [steps(2000, 100, 11)]), // 10 tok/s, prefill 64 tok/s
      record('mlx-native', 'ttft', [[100]], 2),
      record('mlx-native-http', 'ttft', [[100.5]], 2),
      record('mlx-native-http', 'concurrency', [steps(100, 100, 5)], 4),
      record('mlx-native-http', 'concurrency', [steps(100, 100, 5), steps(150, 100, 5), steps(200, 100, 5), steps(250, 100, 5)], 4),
    ],
    skipped: [],
    profile: [{ context: 128, batch: 1, buildMs: 2, evalMs: 100, pipelinedStepMs: 101 }],
  };

  it('summarizes, checks the targets and renders text', () => {
    const sum = summarizeResults(results);
    const native = sum.systems.find((s) => s.id === 'mlx-native')!;
    expect(native.decode?.median).toBeCloseTo(20);
    expect(native.prefill[128].median).toBeCloseTo(128);
    expect(native.bandwidthFraction).toBeCloseTo(20 / 100);
    const t = (name: string) => sum.targets.find((x) => x.name.startsWith(name))!;
    expect(t('single-stream decode').measured).toBeCloseTo(2);
    expect(t('single-stream decode').pass).toBe(true);
    expect(t('prefill@128').measured).toBeCloseTo(2);
    expect(t('HTTP adds').measured).toBeCloseTo(0.5);
    expect(t('HTTP adds').pass).toBe(true);
    expect(t('aggregate at 16 streams ≥ 2×').pass).toBeUndefined(); // no mlx_lm.server figures
    expect(t('aggregate at 16 streams ≥ 6×').name).toContain('at 4 streams');
    const text = renderText(results, sum);
    expect(text).toContain('20.0 (2.00×)');
    expect(text).toContain('mlx_lm.server: failed — no venv');
    expect(text).toContain('[PASS ] single-stream decode');
  });

  it('draws an SVG chart with a bar per measured value', () => {
    const svg = renderChart(results, summarizeResults(results));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect((svg.match(/<rect [^>]*><title>/g) ?? []).length).toBeGreaterThanOrEqual(4);
    expect(xml('a<b & "c"')).toBe('a&lt;b &amp; &quot;c&quot;');
    expect(niceScale(37)).toEqual({ top: 40, step: 10 });
    expect(niceScale(0.7).top).toBeCloseTo(0.8);
  });
});
