import {
  type Clock,
  MAX_TIMER_MS,
  OptionsReader,
  PeerId,
  type PeerIdLike,
  type ReadInterfaces,
  readSystemInterfaces,
  systemClock,
} from '@peernet/interface';
import { DEFAULT_MAX_PEERS } from './cache.js';
import { invalidRestrictionEntry } from './interfaces.js';
import { defaultHostLabel, isHostLabel } from './names.js';
import { DEFAULT_QUERY_BACKOFF, type QueryBackoff } from './schedule.js';

/** The `queryBackoff` option: delays between browse queries, in ms. */
export interface QueryBackoffOption extends Partial<QueryBackoff> {
  /** @deprecated The old name of `initialMs`, read only when that is absent. */
  initial?: number;
  /** @deprecated The old name of `maxMs`, read only when that is absent. */
  max?: number;
}

/**
 * Timer functions.
 * @deprecated Give a whole `Clock` (from `@peernet/interface`) as the `clock` option instead.
 */
export type Timers = Pick<Clock, 'setTimeout' | 'clearTimeout'>;

/** Options of `mdnsDiscovery`. */
export interface MdnsDiscoveryOptions {
  /** Our identity; only its `id` is used (mDNS records are not signed). Give this or `id`. */
  identity?: { readonly id: PeerId };
  /** Our peer id, when no `identity` is at hand. */
  id?: PeerIdLike;
  /**
   * Interfaces to send and listen on: IPv4 addresses (`'127.0.0.1'`) or
   * interface names (`'eth0'`). Default: every non-internal IPv4 interface.
   * An entry that matches nothing makes `start()` fail.
   */
  interfaces?: readonly string[];
  /** Host label for our SRV target and A record (`<label>.local`). Default `pn-<first 16 characters of the id>`. */
  hostname?: string;
  /** TTL of our records in seconds, as DNS counts them (2-4500). Default 120. */
  ttl?: number;
  /** Delays between browse queries in ms. Default `{ initialMs: 1000, maxMs: 60000 }`. */
  queryBackoff?: QueryBackoffOption;
  /** Most peers tracked per interface (default 1000). */
  maxPeers?: number;
  /** Replaces `os.networkInterfaces` (tests). */
  networkInterfaces?: ReadInterfaces;
  /** Monotonic time and timers: TTLs, schedules and rate limits (default `systemClock`). */
  clock?: Clock;
  /** @deprecated Use `clock`. Read only when `clock` is absent: the clock's `now`. */
  now?: () => number;
  /** @deprecated Use `clock`. Read only when `clock` is absent: the clock's timers. */
  timers?: Timers;
}

/** Options after validation, defaults filled in. */
export interface ResolvedOptions {
  readonly id: PeerId;
  readonly restriction: readonly string[] | undefined;
  readonly host: string;
  readonly ttl: number;
  readonly backoff: QueryBackoff;
  readonly maxPeers: number;
  readonly networkInterfaces: ReadInterfaces;
  readonly clock: Clock;
}

const DEFAULT_TTL = 120;
// Peers refresh a record at 80 % of its TTL, and a responder repeats a record at most once a second
// (RFC 6762 §5.2, §6): below 2 s a live record could expire before anyone may answer.
const MIN_OWN_TTL = 2;
const MAX_OWN_TTL = 4500;

/** Validates `mdnsDiscovery` options; throws `InvalidArgumentError` naming the option. */
export function resolveOptions(options: MdnsDiscoveryOptions): ResolvedOptions {
  const reader = new OptionsReader('mdnsDiscovery', options);
  const id = idOf(reader);

  let restriction: string[] | undefined;
  const interfaces = reader.raw('interfaces');
  if (interfaces !== undefined) {
    if (!Array.isArray(interfaces)) throw reader.error('interfaces', 'must be an array of strings');
    restriction = (interfaces as readonly unknown[]).map((entry, index) => {
      const problem = invalidRestrictionEntry(entry);
      if (problem !== undefined) throw reader.error(`interfaces[${index}]`, `(${String(entry)}) ${problem}`);
      return entry as string;
    });
  }

  let label = defaultHostLabel(id);
  const hostname = reader.raw('hostname');
  if (hostname !== undefined) {
    if (typeof hostname !== 'string') throw reader.error('hostname', 'must be a string');
    label = hostname.toLowerCase().replace(/\.local\.?$/, '');
    if (!isHostLabel(label)) {
      throw reader.error(
        'hostname',
        `must be one DNS label (letters, digits, inner hyphens, at most 63), got ${JSON.stringify(hostname)}`,
      );
    }
  }

  const backoffOption = reader.raw('queryBackoff') ?? {};
  if (typeof backoffOption !== 'object' || backoffOption === null) {
    throw reader.error('queryBackoff', 'must be an object');
  }
  // Read under the dotted names, so a message says which field of queryBackoff is wrong.
  const b = backoffOption as QueryBackoffOption;
  const backoff = new OptionsReader('mdnsDiscovery', {
    'queryBackoff.initialMs': b.initialMs ?? b.initial,
    'queryBackoff.maxMs': b.maxMs ?? b.max,
  });
  const initialMs = backoff.integer('queryBackoff.initialMs', {
    default: DEFAULT_QUERY_BACKOFF.initialMs,
    min: 1,
    max: MAX_TIMER_MS,
  });
  const maxMs = backoff.integer('queryBackoff.maxMs', {
    default: Math.max(initialMs, DEFAULT_QUERY_BACKOFF.maxMs),
    min: initialMs,
    max: MAX_TIMER_MS,
  });

  return {
    id,
    restriction,
    host: `${label}.local`,
    ttl: reader.integer('ttl', { default: DEFAULT_TTL, min: MIN_OWN_TTL, max: MAX_OWN_TTL }),
    backoff: { initialMs, maxMs },
    maxPeers: reader.integer('maxPeers', { default: DEFAULT_MAX_PEERS, min: 1, max: 1_000_000 }),
    networkInterfaces: reader.function<ReadInterfaces, ReadInterfaces>('networkInterfaces', readSystemInterfaces),
    clock: clockOf(reader),
  };
}

function idOf(reader: OptionsReader): PeerId {
  const identity = reader.raw('identity') as { id?: PeerIdLike } | undefined;
  const given = reader.raw('id') as PeerIdLike | undefined;
  if (identity !== undefined) {
    if (typeof identity !== 'object' || identity === null) throw reader.error('identity', 'must be an object with an id');
    const id = PeerId.from(identity.id as PeerIdLike);
    if (given !== undefined && !id.equals(given)) throw reader.error('id', 'differs from identity.id');
    return id;
  }
  if (given !== undefined) return PeerId.from(given);
  throw reader.error('identity', 'or id is required');
}

/** `clock`, or the clock the deprecated `now` and `timers` stand for, filled in from `systemClock`. */
function clockOf(reader: OptionsReader): Clock {
  const clock = reader.object<Clock, undefined>('clock', ['now', 'setTimeout', 'clearTimeout'], undefined);
  const now = reader.function<() => number, undefined>('now', undefined);
  const timers = reader.object<Timers, undefined>('timers', ['setTimeout', 'clearTimeout'], undefined);
  if (clock !== undefined) return clock;
  if (now === undefined && timers === undefined) return systemClock;
  const base = timers ?? systemClock;
  return {
    now: now ?? systemClock.now,
    // Called as methods: a timer source such as FakeClock keeps its state in private fields.
    setTimeout: (callback, ms) => base.setTimeout(callback, ms),
    clearTimeout: (handle) => base.clearTimeout(handle),
  };
}
