import { KINDS, type Kind } from './material.js';

/** The figures of the table, in order. */
export const FIGURES = [
  'handshakes_per_s',
  'handshakes_per_s_8',
  'rtt_p50_us',
  'rtt_p99_us',
  'msgs_per_s',
  'bulk_mb_per_s',
  'idle_kib_per_conn',
] as const;
export type FigureName = (typeof FIGURES)[number];

/** Raw samples: one value per repetition, by figure and kind. */
export type Samples = Partial<Record<FigureName, Partial<Record<Kind, number[]>>>>;

/** Each target is a ratio of PeerNet's median to a baseline's median, in the same run. */
export interface Target {
  vs: Kind;
  atLeast?: number;
  atMost?: number;
}

export const TARGETS: Record<FigureName, Target> = {
  handshakes_per_s: { vs: 'tls', atLeast: 3 },
  handshakes_per_s_8: { vs: 'tls', atLeast: 3 },
  rtt_p50_us: { vs: 'tcp', atMost: 1.2 },
  rtt_p99_us: { vs: 'tcp', atMost: 1.5 },
  msgs_per_s: { vs: 'tls', atLeast: 0.5 },
  bulk_mb_per_s: { vs: 'tls', atLeast: 0.9 },
  idle_kib_per_conn: { vs: 'tls', atMost: 0.5 },
};

const LABELS: Record<FigureName, string> = {
  handshakes_per_s: 'handshakes/s, 1 dialer',
  handshakes_per_s_8: 'handshakes/s, 8 dialers',
  rtt_p50_us: '64 B round trip p50 (µs)',
  rtt_p99_us: '64 B round trip p99 (µs)',
  msgs_per_s: 'one-way 64 B msgs/s',
  bulk_mb_per_s: 'bulk 64 KiB MB/s',
  idle_kib_per_conn: 'idle conn, client+server RSS (KiB)',
};

export interface Range {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export interface RatioRow {
  ratio: number;
  vs: Kind;
  target: string;
  met: boolean;
}

export interface Summary {
  figures: Partial<Record<FigureName, Partial<Record<Kind, number>>>>;
  ranges: Partial<Record<FigureName, Partial<Record<Kind, Range>>>>;
  ratios: Partial<Record<FigureName, RatioRow>>;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Medians with min–max per figure and kind, and PeerNet's ratio to each figure's baseline. */
export function summarize(samples: Samples): Summary {
  const summary: Summary = { figures: {}, ranges: {}, ratios: {} };
  for (const figure of FIGURES) {
    const byKind = samples[figure];
    if (!byKind) continue;
    const figures: Partial<Record<Kind, number>> = {};
    const ranges: Partial<Record<Kind, Range>> = {};
    for (const kind of KINDS) {
      const values = byKind[kind];
      if (!values || values.length === 0) continue;
      figures[kind] = round(median(values));
      ranges[kind] = { median: round(median(values)), min: round(Math.min(...values)), max: round(Math.max(...values)), samples: values.map(round) };
    }
    summary.figures[figure] = figures;
    summary.ranges[figure] = ranges;
    const target = TARGETS[figure];
    const ours = figures.peernet;
    const theirs = figures[target.vs];
    if (ours !== undefined && theirs !== undefined && theirs > 0) {
      const ratio = ours / theirs;
      summary.ratios[figure] = {
        ratio: Math.round(ratio * 1000) / 1000,
        vs: target.vs,
        target: target.atLeast !== undefined ? `≥ ${target.atLeast}× ${target.vs}` : `≤ ${target.atMost}× ${target.vs}`,
        met: target.atLeast !== undefined ? ratio >= target.atLeast : ratio <= (target.atMost as number),
      };
    }
  }
  return summary;
}

function round(n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n) : Math.round(n * 100) / 100;
}

function num(n: number): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: Math.abs(n) >= 100 ? 0 : 1 });
}

function cell(range: Range | undefined): string {
  if (!range) return '–';
  return range.samples.length > 1 ? `${num(range.median)} (${num(range.min)}–${num(range.max)})` : num(range.median);
}

interface Printable extends Summary {
  machine: Record<string, unknown>;
  command: string;
  date: string;
  params: { reps: number };
  primitives?: unknown;
  scale?: unknown;
}

/** The report as Markdown tables (the same text docs/performance.md holds). */
export function formatTable(report: Printable): string {
  const m = report.machine;
  const lines: string[] = [
    `${report.command} — ${report.date}`,
    `${String(m.cpu)} × ${String(m.cpus)}, ${String(m.memory_gib)} GiB, ${String(m.os)}, Node ${String(m.node)}, OpenSSL ${String(m.openssl)}; load at start ${JSON.stringify(m.load_average_at_start)}`,
    `median of ${report.params.reps} (min–max); client and server in separate processes on 127.0.0.1`,
    '',
    '| figure | PeerNet | node:tls mTLS | raw TCP | PeerNet ratio | target | met |',
    '|---|---:|---:|---:|---:|---|---|',
  ];
  for (const figure of FIGURES) {
    const ranges = report.ranges[figure];
    if (!ranges) continue;
    const r = report.ratios[figure];
    lines.push(
      `| ${LABELS[figure]} | ${cell(ranges.peernet)} | ${cell(ranges.tls)} | ${cell(ranges.tcp)} | ${r ? `${r.ratio.toFixed(2)}× ${r.vs}` : '–'} | ${r?.target ?? TARGETS[figure].vs} | ${r ? (r.met ? 'yes' : 'no') : '–'} |`,
    );
  }
  const primitives = report.primitives as Record<string, Record<string, number>> | undefined;
  if (primitives) {
    const providers = Object.keys(primitives);
    const ops = [...new Set(providers.flatMap((p) => Object.keys(primitives[p] ?? {})))];
    lines.push('', `| crypto primitive (per second) | ${providers.join(' | ')} |`, `|---|${providers.map(() => '---:').join('|')}|`);
    for (const op of ops) lines.push(`| ${op} | ${providers.map((p) => {
      const value = primitives[p]?.[op];
      return value === undefined ? '–' : num(value);
    }).join(' | ')} |`);
  }
  const scale = report.scale as Record<string, Record<string, number>[]> | undefined;
  if (scale) {
    lines.push(
      '',
      '| scale | connections | established after (s) | handshakes/s in the step | round trip p50 / p99 (µs) | client+server RSS per conn (KiB) |',
      '|---|---:|---:|---:|---:|---:|',
    );
    for (const [kind, rows] of Object.entries(scale)) {
      for (const row of rows) {
        lines.push(
          `| ${kind} | ${num(row.connections as number)} | ${num(row.established_s as number)} | ${num(row.step_handshakes_per_s as number)} | ${num(row.rtt_p50_us as number)} / ${num(row.rtt_p99_us as number)} | ${num(row.rss_kib_per_conn as number)} |`,
        );
      }
    }
  }
  return lines.join('\n');
}
