import { KINDS, type Kind } from './material.js';
import { DHT_FIGURES, FIGURES, type DhtFigureName, type FigureName } from './report.js';

/**
 * The kind name that `--kinds` takes for the DHT figures: PeerNet over
 * HyperDHT held against PeerNet over TCP between two network namespaces.
 */
export const DHT_KIND = 'dht';
/** What `--kinds` accepts: the loopback kinds and `dht`. */
export const KIND_CHOICES: readonly (Kind | typeof DHT_KIND)[] = [...KINDS, DHT_KIND];

/** What the command line asked for. */
export interface BenchOptions {
  argv: string[];
  help: boolean;
  quick: boolean;
  silent: boolean;
  reps: number;
  /** Figures asked for with --only, loopback and DHT ones alike (empty: all). */
  only: (FigureName | DhtFigureName)[];
  /** The loopback kinds to measure (empty when --kinds names only dht). */
  kinds: Kind[];
  /** Whether the DHT figures run (the kind `dht`: asked for, or no --kinds). */
  dht: boolean;
  json: string | undefined;
  handshakeMs: number;
  rttCount: number;
  rttWarmup: number;
  streamMs: number;
  /** Bytes through the one stream of stream_mb_per_s (and through each baseline socket, and each DHT figures' stream). */
  streamBytes: number;
  /** The receive window of every PeerNet stream (PeerNet.start's streamWindowBytes); PeerNet's default when undefined. */
  streamWindow: number | undefined;
  /** Round trips measured (after the warm-up) while a stream saturates the session. */
  loadRttCount: number;
  idle: number;
  primitives: boolean;
  scale: boolean;
  scaleConnections: number;
  profileDir: string | undefined;
}

export const USAGE = `pnpm bench [-- options]

  --json FILE          also write the figures as JSON
  --quick              short runs, 1 repetition (checks the harness, not the speed)
  --reps N             repetitions of every figure (default 3; quick: 1)
  --only A,B           only these figures: ${[...FIGURES, ...DHT_FIGURES].join(', ')}
  --kinds A,B          only these of ${KIND_CHOICES.join(', ')} (peernet-sodium: PeerNet with
                       @peernet/crypto-sodium on both sides; skipped with a message when absent.
                       dht: the DHT figures, PeerNet over HyperDHT against PeerNet over TCP
                       between two network namespaces of a lab the bench makes, and a plain
                       HyperDHT stream (no PeerNet) between the same two (needs root;
                       skipped with the reason otherwise). --kinds dht alone runs only those,
                       without the loopback figures and the crypto primitives)
  --stream-bytes N     bytes through one stream for stream_mb_per_s (and the DHT stream
                       figures), e.g. 1G, 256M, 4194304 (default 1G; quick: 8M)
  --stream-window N    PeerNet's per-stream receive window (streamWindowBytes), e.g. 4M
                       (default: PeerNet's own, 256 KiB; at most 16M)
  --idle N             idle connections for idle_kib_per_conn (default 1000; quick: 50)
  --scale [N]          also open N (default 10000) idle connections per kind, with checkpoints
  --no-primitives      skip the crypto provider figures
  --profile DIR        write a V8 CPU profile of every worker process to DIR; for dht,
                       of both sides of each DHT figures' stream (its time only)
  --silent             no progress lines on stderr`;

/** Parses the arguments after \`--\` (a lone \`--\`, as some pnpm versions pass it, is ignored). */
export function parseOptions(argv: string[]): BenchOptions {
  const args = argv.filter((a) => a !== '--');
  const has = (name: string): boolean => args.includes(name);
  const value = (name: string): string | undefined => {
    const i = args.indexOf(name);
    if (i < 0) return undefined;
    const v = args[i + 1];
    if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
    return v;
  };
  const count = (name: string, fallback: number): number => {
    const v = value(name);
    if (v === undefined) return fallback;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got ${v}`);
    return n;
  };
  const known = new Set(['--json', '--quick', '--reps', '--only', '--kinds', '--idle', '--stream-bytes', '--stream-window', '--scale', '--no-primitives', '--profile', '--silent', '--help', '-h']);
  args.forEach((a, i) => {
    const previous = args[i - 1];
    const isValue = previous !== undefined && ['--json', '--reps', '--only', '--kinds', '--idle', '--stream-bytes', '--stream-window', '--profile', '--scale'].includes(previous);
    if (!known.has(a) && !isValue) throw new Error(`unknown option ${a}\n\n${USAGE}`);
  });
  const quick = has('--quick');
  const list = <T extends string>(name: string, all: readonly T[]): T[] => {
    const v = value(name);
    if (v === undefined) return [];
    const items = v.split(',') as T[];
    for (const item of items) if (!all.includes(item)) throw new Error(`${name}: unknown ${item} (one of ${all.join(', ')})`);
    return items;
  };
  const scaleIndex = args.indexOf('--scale');
  const scaleValue = scaleIndex >= 0 ? args[scaleIndex + 1] : undefined;
  const scaleConnections = scaleValue !== undefined && /^\d+$/.test(scaleValue) ? Number(scaleValue) : 10_000;
  const kinds = list('--kinds', KIND_CHOICES);
  const loopbackKinds = kinds.filter((k): k is Kind => k !== DHT_KIND);
  return {
    argv: args,
    help: has('--help') || has('-h'),
    quick,
    silent: has('--silent'),
    reps: count('--reps', quick ? 1 : 3),
    only: list('--only', [...FIGURES, ...DHT_FIGURES]),
    kinds: kinds.length > 0 ? loopbackKinds : [...KINDS],
    dht: kinds.length === 0 || kinds.includes(DHT_KIND),
    json: value('--json'),
    handshakeMs: quick ? 300 : 3000,
    rttCount: quick ? 300 : 10_000,
    rttWarmup: quick ? 50 : 1000,
    streamMs: quick ? 300 : 3000,
    streamBytes: byteCount('--stream-bytes', value('--stream-bytes'), quick ? 8 * 2 ** 20 : 2 ** 30),
    loadRttCount: quick ? 100 : 2000,
    streamWindow: value('--stream-window') === undefined ? undefined : byteCount('--stream-window', value('--stream-window'), 0),
    idle: count('--idle', quick ? 50 : 1000),
    primitives: !has('--no-primitives'),
    scale: scaleIndex >= 0,
    scaleConnections,
    profileDir: value('--profile'),
  };
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/** A byte count: digits with an optional binary unit (K, M, G; "KiB", "MiB", "GiB" too). */
export function byteCount(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const match = /^(\d+)\s*([KMG]?)(?:i?B)?$/i.exec(text.trim());
  const n = match ? Number(match[1]) * (UNITS[(match[2] as string).toUpperCase()] as number) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive byte count such as 1G, 256M or 4194304, got ${text}`);
  return n;
}
