/**
 * The comparison chart, written by hand as SVG (no chart library): grouped bar panels for
 * decode, prefill by prompt length, and aggregate throughput by concurrent streams.
 */
import type { BenchResults, Summaries } from './results.js';
import type { SystemId } from './systems/types.js';

/** One colour per system, the same in every panel: blues for mlx-native, reds for mlx-lm. */
export const SYSTEM_COLORS: Record<SystemId, string> = {
  'mlx-native': '#1f5fa8',
  'mlx-native-http': '#6baed6',
  engine: '#08306b',
  'mlx-lm': '#c0392b',
  'mlx-lm-server': '#f1948a',
  'mlx-native-gguf': '#2e8b57',
};

/** One bar series of a panel. */
export interface Series {
  label: string;
  color: string;
  /** Per-value colours (a single series coloured by group). */
  colors?: string[];
  values: (number | undefined)[];
}

/** Escapes text for SVG. */
export function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round axis maximum and step for values up to `max` (1, 2 or 5 times a power of ten). */
export function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.2 };
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * pow).find((s) => s >= raw)!;
  return { top: Math.ceil(max / step) * step, step };
}

const fmt = (v: number) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));

/** Splits a label into lines of at most `width` characters at spaces (long words stay whole). */
export function wrap(label: string, width: number): string[] {
  const lines: string[] = [];
  for (const word of label.split(' ')) {
    const last = lines.length - 1;
    if (last >= 0 && lines[last].length + 1 + word.length <= width) lines[last] += ` ${word}`;
    else lines.push(word);
  }
  return lines;
}

/** A grouped vertical bar chart at (x, y) of size w × h. */
export function barPanel(x: number, y: number, w: number, h: number, title: string, unit: string, groups: string[], series: Series[]): string {
  const out: string[] = [];
  out.push(`<text x="${x}" y="${y + 14}" class="title">${xml(title)}</text>`);
  const plot = { x: x + 48, y: y + 40, w: w - 60, h: h - 80 };
  const values = series.flatMap((s) => s.values).filter((v): v is number => v !== undefined && Number.isFinite(v));
  if (values.length === 0 || groups.length === 0) {
    out.push(`<text x="${plot.x}" y="${plot.y + 20}" class="muted">not measured in this run</text>`);
    return out.join('\n');
  }
  const { top, step } = niceScale(Math.max(...values));
  const yOf = (v: number) => plot.y + plot.h - (v / top) * plot.h;
  for (let t = 0; t <= top + step / 2; t += step) {
    out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${yOf(t).toFixed(1)}" y2="${yOf(t).toFixed(1)}" class="grid"/>`);
    out.push(`<text x="${plot.x - 6}" y="${(yOf(t) + 4).toFixed(1)}" class="tick" text-anchor="end">${fmt(t)}</text>`);
  }
  out.push(`<text x="${x + 4}" y="${plot.y - 10}" class="tick">${xml(unit)}</text>`);
  const groupW = plot.w / groups.length;
  const barW = Math.min(36, (groupW * 0.8) / Math.max(1, series.length));
  groups.forEach((g, gi) => {
    const start = plot.x + gi * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[gi];
      const bx = start + si * barW;
      if (v === undefined || !Number.isFinite(v)) {
        out.push(`<text x="${(bx + barW / 2).toFixed(1)}" y="${plot.y + plot.h - 4}" class="muted" text-anchor="middle">–</text>`);
        return;
      }
      const by = yOf(v);
      out.push(`<rect x="${bx.toFixed(1)}" y="${by.toFixed(1)}" width="${(barW - 2).toFixed(1)}" height="${(plot.y + plot.h - by).toFixed(1)}" fill="${s.colors?.[gi] ?? s.color}"><title>${xml(`${s.label}, ${g}: ${fmt(v)} ${unit}`)}</title></rect>`);
      out.push(`<text x="${(bx + barW / 2 - 1).toFixed(1)}" y="${(by - 3).toFixed(1)}" class="value" text-anchor="middle">${fmt(v)}</text>`);
    });
    const cx = (plot.x + gi * groupW + groupW / 2).toFixed(1);
    const lines = wrap(g, Math.max(6, Math.floor(groupW / 6.5)));
    const spans = lines.map((l, li) => `<tspan x="${cx}" dy="${li === 0 ? 0 : 13}">${xml(l)}</tspan>`).join('');
    out.push(`<text x="${cx}" y="${plot.y + plot.h + 16}" class="tick" text-anchor="middle">${spans}</text>`);
  });
  out.push(`<line x1="${plot.x}" x2="${plot.x + plot.w}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h}" class="axis"/>`);
  return out.join('\n');
}

/** The legend: one swatch per series, in rows. */
function legend(x: number, y: number, w: number, items: { label: string; color: string }[]): string {
  const out: string[] = [];
  let cx = x, cy = y;
  for (const it of items) {
    const width = 26 + it.label.length * 7;
    if (cx + width > x + w) {
      cx = x;
      cy += 18;
    }
    out.push(`<rect x="${cx}" y="${cy - 10}" width="12" height="12" fill="${it.color}"/><text x="${cx + 16}" y="${cy}" class="tick">${xml(it.label)}</text>`);
    cx += width;
  }
  return out.join('\n');
}

/** The whole chart for a run. */
export function renderChart(res: BenchResults, sum: Summaries): string {
  const W = 1100, H = 720;
  const ok = sum.systems.filter((s) => s.status === 'ok');
  const color = (id: SystemId) => SYSTEM_COLORS[id];
  const parts: string[] = [];
  parts.push(`<text x="20" y="28" class="heading">${xml(`mlx-native vs mlx-lm — ${res.model.primary.split('/').pop()} — ${res.environment.cpuModel} (${res.mode} run)`)}</text>`);
  const device = res.systems.find((s) => s.info?.device)?.info?.device ?? 'unknown device';
  parts.push(`<text x="20" y="46" class="muted">${xml(`MLX on ${device}; ${res.environment.cpuCount} cores; bandwidth ${(res.bandwidth.bytesPerSec / 1e9).toFixed(1)} GB/s; ${res.startedAt}`)}</text>`);
  parts.push(legend(20, 70, W - 40, ok.map((s) => ({ label: s.label, color: color(s.id) }))));

  // Decode: one group per system keeps every label readable; each bar in its system's colour.
  const decoded = ok.filter((s) => s.decode);
  parts.push(barPanel(20, 95, 520, 300, 'Decode, single stream (median)', 'tok/s', decoded.map((s) => s.label.replace(' (C++, no Node)', '')),
    [{ label: 'decode', color: '#555', colors: decoded.map((s) => color(s.id)), values: decoded.map((s) => s.decode!.median) }]));

  const lengths = [...new Set(ok.flatMap((s) => Object.keys(s.prefill).map(Number)))].sort((a, b) => a - b);
  const prefillers = ok.filter((s) => Object.keys(s.prefill).length > 0);
  parts.push(barPanel(560, 95, 520, 300, 'Prefill by prompt length (median)', 'tok/s', lengths.map((l) => `${l} tokens`),
    prefillers.map((s) => ({ label: s.label, color: color(s.id), values: lengths.map((l) => s.prefill[l]?.median) }))));

  const servers = ok.filter((s) => Object.keys(s.concurrency).length > 0);
  const levels = [...new Set(servers.flatMap((s) => Object.keys(s.concurrency).map(Number)))].sort((a, b) => a - b);
  parts.push(barPanel(20, 410, 520, 300, 'Aggregate decode by concurrent streams (HTTP)', 'tok/s', levels.map((l) => `${l}`),
    servers.map((s) => ({ label: s.label, color: color(s.id), values: levels.map((l) => s.concurrency[l]?.decodeTokPerSec) }))));
  parts.push(barPanel(560, 410, 520, 300, 'TTFT p99 by concurrent streams (HTTP)', 'ms', levels.map((l) => `${l}`),
    servers.map((s) => ({ label: s.label, color: color(s.id), values: levels.map((l) => s.concurrency[l]?.ttftP99Ms) }))));

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif">
<style>
.heading { font-size: 16px; font-weight: bold; fill: #222 }
.title { font-size: 13px; font-weight: bold; fill: #333 }
.tick { font-size: 11px; fill: #444 }
.value { font-size: 10px; fill: #222 }
.muted { font-size: 11px; fill: #888 }
.grid { stroke: #e4e4e4; stroke-width: 1 }
.axis { stroke: #777; stroke-width: 1 }
</style>
<rect width="100%" height="100%" fill="white"/>
${parts.join('\n')}
</svg>
`;
}
