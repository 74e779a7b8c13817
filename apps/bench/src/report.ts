import { KINDS, PEERNET_KINDS, type Kind, type PeerNetKind } from './material.js';

/** The figures of the table, in order. */
export const FIGURES = [
  'handshakes_per_s',
  'handshakes_per_s_8',
  'rtt_p50_us',
  'rtt_p99_us',
  'rtt_p50_under_load_us',
  'msgs_per_s',
  'bulk_mb_per_s',
  'stream_mb_per_s',
  'idle_kib_per_conn',
] as const;
export type FigureName = (typeof FIGURES)[number];

/**
 * The DHT figures (kind `dht`): PeerNet over HyperDHT against PeerNet over
 * TCP, between the same two network namespaces of one run; and a plain
 * HyperDHT stream (no PeerNet) over the same DHT, the baseline that splits
 * the DHT stream's cost (measured over the DHT only, as path `dht`).
 */
export const DHT_FIGURES = ['dht_first_call_ms', 'dht_stream_mb_per_s', 'dht_raw_stream_mb_per_s'] as const;
export type DhtFigureName = (typeof DHT_FIGURES)[number];
/** The two paths of the DHT figures: the session over the DHT, and over TCP (the baseline). */
export type DhtPath = 'dht' | 'tcp';
export const DHT_PATHS: readonly DhtPath[] = ['dht', 'tcp'];
/** Raw samples of the DHT figures: one value per repetition, by figure and path. */
export type DhtSamples = Partial<Record<DhtFigureName, Partial<Record<DhtPath, number[]>>>>;
/** A stream of the DHT figures: PeerNet's over the DHT or over TCP, or the plain HyperDHT one (`raw`). */
export type DhtStreamRun = DhtPath | 'raw';
export const DHT_STREAM_RUNS: readonly DhtStreamRun[] = ['dht', 'raw', 'tcp'];
/** One side's CPU time (user, system; the whole process) over one measured stream of `bytes`, and the stream's wall time on that side. */
export interface StreamCpuSample {
  user_s: number;
  system_s: number;
  seconds: number;
  bytes: number;
}
/** CPU samples of the DHT figures' streams, one per repetition, by stream and side (sender: the dialler; receiver: the sink). */
export type DhtCpuSamples = Partial<Record<DhtStreamRun, { sender: StreamCpuSample[]; receiver: StreamCpuSample[] }>>;
/** Medians of one side's CPU over a stream: ms per MB (10^6 bytes), user+system and system alone, and CPU seconds per wall second. */
export interface SideCpu {
  ms_per_mb: number;
  system_ms_per_mb: number;
  busy: number;
}
/** The first call's parts (ms), one value per repetition, by path: PeerNet.start, then the session, then the call. */
export type DhtPhaseSamples = Partial<Record<DhtPath, { start_ms: number[]; session_ms: number[]; call_ms: number[] }>>;

/** The DHT figures as the report holds them, or why they were not measured. */
export interface DhtReport {
  skipped?: string;
  /** Medians by figure and path. */
  figures?: Partial<Record<DhtFigureName, Partial<Record<DhtPath, number>>>>;
  ranges?: Partial<Record<DhtFigureName, Partial<Record<DhtPath, Range>>>>;
  /** The DHT's median over TCP's, by figure (above 1: the DHT takes longer, or moves more). */
  ratios?: Partial<Record<DhtFigureName, number>>;
  /**
   * The DHT stream's cost split at the plain HyperDHT stream (ratios of the
   * medians, so their product is dht_stream_mb_per_s's DHT ÷ TCP):
   * PeerNet over the DHT ÷ raw HyperDHT (PeerNet's own layer on this path:
   * its Noise on top of HyperDHT's, framing, flow control) and raw HyperDHT
   * ÷ PeerNet over TCP (HyperDHT's carrying against PeerNet's whole stack on TCP).
   */
  stream_split?: { peernet_dht_over_raw_dht?: number; raw_dht_over_peernet_tcp?: number };
  /** Each side's CPU over the streams (medians), by stream: what each side spends per MB, and whether it is CPU-bound (busy near 1). */
  stream_cpu?: Partial<Record<DhtStreamRun, { sender?: SideCpu; receiver?: SideCpu }>>;
  /** Medians of the first call's parts, by path. */
  phases_ms?: Partial<Record<DhtPath, { start_ms: number; session_ms: number; call_ms: number }>>;
}

/** Raw samples: one value per repetition (in repetition order), by figure and kind. */
export type Samples = Partial<Record<FigureName, Partial<Record<Kind, number[]>>>>;

/** A baseline kind: what PeerNet is held against. */
export type Baseline = 'tls' | 'tcp';

/**
 * A target is a ratio of a PeerNet kind's median to a baseline in the same
 * run: either a baseline kind's median of the same figure, or (`vs: 'own'`)
 * the same kind's `figure`, taken repetition by repetition (the load the
 * machine had in that repetition falls on both).
 */
export interface Target {
  vs: Baseline | 'own';
  /** With `vs: 'own'`: the figure of the same kind and repetition the ratio is taken to. */
  figure?: FigureName;
  /** With `vs: 'own'`: what the table calls that baseline. */
  label?: string;
  atLeast?: number;
  atMost?: number;
  /** Further baselines whose ratio is printed beside the target's, without a target. */
  also?: Baseline[];
}

export const TARGETS: Record<FigureName, Target> = {
  handshakes_per_s: { vs: 'tls', atLeast: 3 },
  handshakes_per_s_8: { vs: 'tls', atLeast: 3 },
  rtt_p50_us: { vs: 'tcp', atMost: 1.2 },
  rtt_p99_us: { vs: 'tcp', atMost: 1.5 },
  rtt_p50_under_load_us: { vs: 'own', figure: 'rtt_p50_us', label: 'idle p50', atMost: 3 },
  msgs_per_s: { vs: 'tls', atLeast: 0.5 },
  bulk_mb_per_s: { vs: 'tls', atLeast: 0.9 },
  stream_mb_per_s: { vs: 'tls', atLeast: 0.9, also: ['tcp'] },
  idle_kib_per_conn: { vs: 'tls', atMost: 0.5 },
};

const LABELS: Record<FigureName, string> = {
  handshakes_per_s: 'handshakes/s, 1 dialer',
  handshakes_per_s_8: 'handshakes/s, 8 dialers',
  rtt_p50_us: '64 B round trip p50 (µs)',
  rtt_p99_us: '64 B round trip p99 (µs)',
  rtt_p50_under_load_us: '64 B round trip p50, stream saturated (µs)',
  msgs_per_s: 'one-way 64 B msgs/s',
  bulk_mb_per_s: 'bulk 64 KiB MB/s',
  stream_mb_per_s: 'one stream MB/s',
  idle_kib_per_conn: 'idle conn, client+server RSS (KiB)',
};

const DHT_LABELS: Record<DhtFigureName, string> = {
  dht_first_call_ms: 'first answered call, from PeerNet.start (ms)',
  dht_stream_mb_per_s: 'one stream MB/s',
  dht_raw_stream_mb_per_s: 'one plain HyperDHT stream MB/s (no PeerNet)',
};

const KIND_LABELS: Record<Kind, string> = {
  peernet: 'PeerNet',
  'peernet-sodium': 'PeerNet (sodium)',
  tls: 'node:tls mTLS',
  tcp: 'raw TCP',
};

export interface Range {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export interface RatioRow {
  ratio: number;
  /** The baseline: a kind, or `own <figure>` for a ratio to the same kind's other figure. */
  vs: string;
  target: string;
  met: boolean;
  /** ratio / the target's bound: how far from the bar (above 1 is more than the bound). */
  of_bound: number;
  /** Ratios to the target's further baselines (`also`), by kind. */
  also?: Partial<Record<Baseline, number>>;
}

export interface Summary {
  figures: Partial<Record<FigureName, Partial<Record<Kind, number>>>>;
  ranges: Partial<Record<FigureName, Partial<Record<Kind, Range>>>>;
  /** PeerNet's (default provider) ratios: the same as `ratios_by_kind.peernet`. */
  ratios: Partial<Record<FigureName, RatioRow>>;
  /**
   * Ratios for each kind that has one: both PeerNet kinds for every figure;
   * the baselines too for `vs: 'own'` figures (their own ratio, no target of theirs).
   */
  ratios_by_kind: Partial<Record<Kind, Partial<Record<FigureName, RatioRow>>>>;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;
const ratio3 = (of: number, to: number): number => round3(of / to);

/** Medians, ranges and DHT ÷ TCP ratios of the DHT figures, and the split of the stream's at the plain HyperDHT one. */
export function summarizeDht(samples: DhtSamples, phases: DhtPhaseSamples = {}, cpu: DhtCpuSamples = {}): DhtReport {
  const report: DhtReport = { figures: {}, ranges: {}, ratios: {}, phases_ms: {} };
  for (const figure of DHT_FIGURES) {
    const byPath = samples[figure];
    if (!byPath) continue;
    const figures: Partial<Record<DhtPath, number>> = {};
    const ranges: Partial<Record<DhtPath, Range>> = {};
    for (const path of DHT_PATHS) {
      const values = byPath[path];
      if (!values || values.length === 0) continue;
      figures[path] = round(median(values));
      ranges[path] = { median: round(median(values)), min: round(Math.min(...values)), max: round(Math.max(...values)), samples: values.map(round) };
    }
    (report.figures as Record<string, unknown>)[figure] = figures;
    (report.ranges as Record<string, unknown>)[figure] = ranges;
    const dht = byPath.dht;
    const tcp = byPath.tcp;
    if (dht && tcp && dht.length > 0 && tcp.length > 0 && median(tcp) > 0) {
      (report.ratios as Record<string, number>)[figure] = ratio3(median(dht), median(tcp));
    }
  }
  const raw = samples.dht_raw_stream_mb_per_s?.dht;
  if (raw && raw.length > 0 && median(raw) > 0) {
    const split: NonNullable<DhtReport['stream_split']> = {};
    const overDht = samples.dht_stream_mb_per_s?.dht;
    const overTcp = samples.dht_stream_mb_per_s?.tcp;
    if (overDht && overDht.length > 0) split.peernet_dht_over_raw_dht = ratio3(median(overDht), median(raw));
    if (overTcp && overTcp.length > 0 && median(overTcp) > 0) split.raw_dht_over_peernet_tcp = ratio3(median(raw), median(overTcp));
    if (Object.keys(split).length > 0) report.stream_split = split;
  }
  const sideCpu = (values: StreamCpuSample[]): SideCpu | undefined =>
    values.length === 0
      ? undefined
      : {
          ms_per_mb: round3(median(values.map((v) => ((v.user_s + v.system_s) * 1000) / (v.bytes / 1e6)))),
          system_ms_per_mb: round3(median(values.map((v) => (v.system_s * 1000) / (v.bytes / 1e6)))),
          busy: round3(median(values.map((v) => (v.user_s + v.system_s) / v.seconds))),
        };
  for (const run of DHT_STREAM_RUNS) {
    const c = cpu[run];
    if (!c) continue;
    const sender = sideCpu(c.sender);
    const receiver = sideCpu(c.receiver);
    if (sender === undefined && receiver === undefined) continue;
    (report.stream_cpu ??= {})[run] = { ...(sender ? { sender } : {}), ...(receiver ? { receiver } : {}) };
  }
  for (const path of DHT_PATHS) {
    const p = phases[path];
    if (!p || p.start_ms.length === 0) continue;
    (report.phases_ms as Record<string, unknown>)[path] = {
      start_ms: round(median(p.start_ms)),
      session_ms: round(median(p.session_ms)),
      call_ms: round(median(p.call_ms)),
    };
  }
  return report;
}

function ratioRow(ratio: number, vs: string, target: Target): RatioRow {
  const bound = (target.atLeast ?? target.atMost) as number;
  return {
    ratio: Math.round(ratio * 1000) / 1000,
    vs,
    target: `${target.atLeast !== undefined ? '≥' : '≤'} ${bound}× ${vs}`,
    met: target.atLeast !== undefined ? ratio >= target.atLeast : ratio <= bound,
    of_bound: Math.round((ratio / bound) * 1000) / 1000,
  };
}

/** The median of per-repetition ratios `of[i] / to[i]` (the ratio of medians if the repetitions do not pair up). */
function pairedRatio(of: number[], to: number[]): number | undefined {
  if (of.length === 0 || to.length === 0) return undefined;
  if (of.length !== to.length) return median(of) / median(to);
  const ratios = of.map((v, i) => v / (to[i] as number)).filter(Number.isFinite);
  return ratios.length > 0 ? median(ratios) : undefined;
}

/** Medians with min–max per figure and kind, and each PeerNet kind's ratio to each figure's baseline. */
export function summarize(samples: Samples): Summary {
  const summary: Summary = { figures: {}, ranges: {}, ratios: {}, ratios_by_kind: {} };
  const setRatio = (kind: Kind, figure: FigureName, row: RatioRow): void => {
    (summary.ratios_by_kind[kind] ??= {})[figure] = row;
    if (kind === 'peernet') summary.ratios[figure] = row;
  };
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
    if (target.vs === 'own') {
      const base = target.figure as FigureName;
      for (const kind of KINDS) {
        const ratio = pairedRatio(byKind[kind] ?? [], samples[base]?.[kind] ?? []);
        if (ratio !== undefined) setRatio(kind, figure, ratioRow(ratio, target.label ?? `own ${base}`, target));
      }
      continue;
    }
    const theirs = figures[target.vs];
    if (theirs === undefined || theirs <= 0) continue;
    for (const kind of PEERNET_KINDS) {
      const ours = figures[kind];
      if (ours === undefined) continue;
      const row = ratioRow(ours / theirs, target.vs, target);
      for (const other of target.also ?? []) {
        const value = figures[other];
        if (value !== undefined && value > 0) (row.also ??= {})[other] = Math.round((ours / value) * 1000) / 1000;
      }
      setRatio(kind, figure, row);
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
  params: { reps: number; stream_bytes?: number; stream_window_bytes?: number | undefined };
  /** Kinds asked for but not measured, with why. */
  skipped?: Partial<Record<Kind, string>>;
  /** The DHT figures, or why they were not measured (absent: not asked for). */
  dht?: DhtReport;
  primitives?: unknown;
  scale?: unknown;
}

function bytes(n: number): string {
  for (const [unit, size] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (n >= size && n % size === 0) return `${n / size} ${unit}`;
  }
  return `${num(n)} B`;
}

function percent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/** "1.05× tls (0.52× tcp)": the target's ratio, then the further baselines'. */
function ratioCell(r: RatioRow | undefined): string {
  if (!r) return '–';
  const also = Object.entries(r.also ?? {}).map(([vs, ratio]) => `${ratio.toFixed(2)}× ${vs}`);
  return `${r.ratio.toFixed(2)}× ${r.vs}${also.length > 0 ? ` (${also.join(', ')})` : ''}`;
}

/** "yes, 12% above" / "no, needs +50%": pass or miss, and how far from the bound PeerNet's figure is. */
function metCell(r: RatioRow | undefined, target: Target): string {
  if (!r) return '–';
  const f = r.of_bound;
  if (target.atLeast !== undefined) return r.met ? `yes, ${percent(f - 1)} above` : `no, needs +${percent(1 / f - 1)}`;
  return r.met ? `yes, ${percent(1 - f)} below` : `no, needs −${percent(1 - 1 / f)}`;
}

/** The loopback figures' table, with the baselines' own ratios under it. */
function loopbackTable(report: Printable, ours: PeerNetKind[], baselines: Baseline[]): string[] {
  const lines: string[] = [
    `median of ${report.params.reps} (min–max); client and server in separate processes on 127.0.0.1${
      report.params.stream_window_bytes ? `; PeerNet stream window ${bytes(report.params.stream_window_bytes)}` : ''
    }`,
    '',
    `| figure | ${[...ours, ...baselines].map((k) => KIND_LABELS[k]).join(' | ')} | target |${ours.map((k) => ` ${KIND_LABELS[k]} ratio | met |`).join('')}`,
    `|---|${[...ours, ...baselines].map(() => '---:').join('|')}|---|${ours.map(() => '---:|---|').join('')}`,
  ];
  for (const figure of FIGURES) {
    const ranges = report.ranges[figure];
    if (!ranges) continue;
    const target = TARGETS[figure];
    const bound = (target.atLeast ?? target.atMost) as number;
    const targetText = `${target.atLeast !== undefined ? '≥' : '≤'} ${bound}× ${target.vs === 'own' ? (target.label ?? `own ${target.figure as string}`) : target.vs}`;
    const label = figure === 'stream_mb_per_s' && report.params.stream_bytes ? `${LABELS[figure]}, ${bytes(report.params.stream_bytes)}` : LABELS[figure];
    const values = [...ours, ...baselines].map((kind) => cell(ranges[kind]));
    const ratios = ours.map((kind) => {
      const r = report.ratios_by_kind[kind]?.[figure];
      return `${ratioCell(r)} | ${metCell(r, target)}`;
    });
    lines.push(`| ${label} | ${values.join(' | ')} | ${targetText} |${ratios.map((r) => ` ${r} |`).join('')}`);
  }
  // The baselines have no multiplexing: their "under load" is a second connection saturated alongside.
  const own = FIGURES.filter((f) => TARGETS[f].vs === 'own');
  for (const figure of own) {
    const rows = baselines.map((kind) => [kind, report.ratios_by_kind[kind]?.[figure]] as const).filter(([, r]) => r);
    if (rows.length === 0) continue;
    lines.push(
      '',
      `${figure} ÷ ${TARGETS[figure].figure as string} of the same repetition, for the baselines (no multiplexing: a second connection saturated alongside): ${rows
        .map(([kind, r]) => `${KIND_LABELS[kind]} ${(r as RatioRow).ratio.toFixed(2)}×`)
        .join(', ')}`,
    );
  }
  return lines;
}

/** The DHT figures' table, or why they were not measured. */
const times = (ratio: number | undefined): string => (ratio === undefined ? '–' : `${ratio.toFixed(2)}×`);

function dhtTable(report: Printable): string[] {
  const dht = report.dht as DhtReport;
  if (dht.skipped !== undefined) return ['', `DHT figures not measured: ${dht.skipped}`];
  const lines = [
    '',
    `DHT figures: PeerNet over HyperDHT (its encrypted UDX stream, PeerNet's session inside) and PeerNet over TCP, between the same two network namespaces of one bridge (a local bootstrap network of 4 HyperDHT nodes in a third; no LAN discovery; a fresh dialling process per run); the plain HyperDHT stream is hyperdht's own createServer/connect between the same two, no PeerNet; median of ${report.params.reps} (min–max)`,
    '',
    '| figure | over the DHT | over TCP | DHT ÷ TCP |',
    '|---|---:|---:|---:|',
  ];
  for (const figure of DHT_FIGURES) {
    const ranges = dht.ranges?.[figure];
    if (!ranges) continue;
    const label = figure !== 'dht_first_call_ms' && report.params.stream_bytes ? `${DHT_LABELS[figure]}, ${bytes(report.params.stream_bytes)}` : DHT_LABELS[figure];
    // The plain HyperDHT stream has no TCP path of its own: its ratio is to PeerNet over TCP.
    const rawOverTcp = dht.stream_split?.raw_dht_over_peernet_tcp;
    const ratio = figure === 'dht_raw_stream_mb_per_s' ? (rawOverTcp === undefined ? '–' : `${rawOverTcp.toFixed(2)}× PeerNet over TCP`) : times(dht.ratios?.[figure]);
    lines.push(`| ${label} | ${cell(ranges.dht)} | ${cell(ranges.tcp)} | ${ratio} |`);
  }
  const split = dht.stream_split;
  if (split?.peernet_dht_over_raw_dht !== undefined || split?.raw_dht_over_peernet_tcp !== undefined) {
    const parts = [
      split.peernet_dht_over_raw_dht === undefined ? undefined : `PeerNet over the DHT ÷ plain HyperDHT ${times(split.peernet_dht_over_raw_dht)} (PeerNet's own layer on this path: its Noise on top of HyperDHT's, framing, flow control)`,
      split.raw_dht_over_peernet_tcp === undefined ? undefined : `plain HyperDHT ÷ PeerNet over TCP ${times(split.raw_dht_over_peernet_tcp)} (HyperDHT's carrying: UDX and its own encryption, against PeerNet's whole stack on TCP)`,
    ].filter((part) => part !== undefined);
    const product = split.peernet_dht_over_raw_dht !== undefined && split.raw_dht_over_peernet_tcp !== undefined ? '; their product is the stream\'s DHT ÷ TCP' : '';
    lines.push('', `Where the DHT stream's cost goes (ratios of the medians): ${parts.join('; ')}${product}.`);
  }
  const cpu = dht.stream_cpu;
  const runs = DHT_STREAM_RUNS.filter((run) => cpu?.[run] !== undefined);
  if (cpu !== undefined && runs.length > 0) {
    const names: Record<DhtStreamRun, string> = { dht: 'PeerNet over the DHT', raw: 'plain HyperDHT', tcp: 'PeerNet over TCP' };
    const row = (label: string, value: (run: DhtStreamRun) => string): string => `| ${label} | ${runs.map(value).join(' | ')} |`;
    const perMb = (side: 'sender' | 'receiver') => (run: DhtStreamRun): string => {
      const c = cpu[run]?.[side];
      return c === undefined ? '–' : `${c.ms_per_mb.toFixed(2)} (system ${c.system_ms_per_mb.toFixed(2)})`;
    };
    const busy = (side: 'sender' | 'receiver') => (run: DhtStreamRun): string => {
      const c = cpu[run]?.[side];
      return c === undefined ? '–' : c.busy.toFixed(2);
    };
    lines.push(
      '',
      "Each side's CPU over one stream (user+system of its whole process, from the first write to the count on the sender, the first byte to the close on the receiver), median: ms per MB, and busy = CPU seconds per second (1 is one core's worth; UDX's native work counts here, though a V8 profile shows it as idle)",
      '',
      `| one stream's CPU | ${runs.map((run) => names[run]).join(' | ')} |`,
      `|---|${runs.map(() => '---:').join('|')}|`,
      row('sender, ms per MB', perMb('sender')),
      row('receiver, ms per MB', perMb('receiver')),
      row('sender busy', busy('sender')),
      row('receiver busy', busy('receiver')),
    );
  }
  const phases = DHT_PATHS.filter((path) => dht.phases_ms?.[path] !== undefined).map((path) => {
    const p = dht.phases_ms?.[path] as { start_ms: number; session_ms: number; call_ms: number };
    return `${path === 'dht' ? 'DHT' : 'TCP'}: PeerNet.start ${num(p.start_ms)} + session ${num(p.session_ms)} + call ${num(p.call_ms)}`;
  });
  if (phases.length > 0) {
    lines.push('', `First call, medians of its parts in ms (start: for the DHT, its node bootstrapped and its key announced; session: waitForPeer over the DHT, connect() over TCP): ${phases.join('; ')}`);
  }
  return lines;
}

/** The report as Markdown tables (the same text docs/performance.md holds). */
export function formatTable(report: Printable): string {
  const m = report.machine;
  // A PeerNet kind gets its columns when it was measured (the native provider may be absent).
  const ours = PEERNET_KINDS.filter((kind) => FIGURES.some((f) => report.ranges[f]?.[kind] !== undefined));
  const baselines: Baseline[] = ['tls', 'tcp'];
  const lines: string[] = [
    `${report.command} — ${report.date}`,
    `${String(m.cpu)} × ${String(m.cpus)}, ${String(m.memory_gib)} GiB, ${String(m.os)}, Node ${String(m.node)}, OpenSSL ${String(m.openssl)}; load at start ${JSON.stringify(m.load_average_at_start)}`,
  ];
  // A run of the DHT figures alone (--kinds dht) has no loopback table.
  if (report.dht === undefined || FIGURES.some((f) => report.ranges[f] !== undefined)) lines.push(...loopbackTable(report, ours, baselines));
  for (const [kind, why] of Object.entries(report.skipped ?? {})) lines.push('', `${KIND_LABELS[kind as Kind]} not measured: ${why}`);
  if (report.dht !== undefined) lines.push(...dhtTable(report));
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
