import {
  type Clock,
  type InterfaceTable,
  MAX_TIMER_MS,
  OptionsReader,
  type PeerId,
  type ReadInterfaces,
  isPeerId,
  readSystemInterfaces,
  systemClock,
} from '@peernet/interface';
import { checkRestriction } from './interfaces.js';
import { readRate as rate } from './rate.js';
import { type AnnouncementSigner, DEFAULT_WINDOW_MS } from './packet.js';
import { DEFAULT_REPLAY_CAPACITY } from './replay-table.js';

/** Default UDP port announcements are sent to and received on. */
export const DEFAULT_PORT = 4040;
/** Default ms between two periodic announcements. */
export const DEFAULT_INTERVAL_MS = 5000;
/** Default signature checks per second for keys that are not wanted. */
export const DEFAULT_VERIFY_PER_SECOND = 50;
/** Default signature checks per second for all wanted keys together (home reserves aside). */
export const DEFAULT_WANTED_VERIFY_PER_SECOND = 100;
/** Default signature checks per second for one wanted key: a tenth of the wanted total. */
export const DEFAULT_KEY_VERIFY_PER_SECOND = DEFAULT_WANTED_VERIFY_PER_SECOND / 10;
/** Default signature checks per second reserved for a wanted key's packets from its home address. */
export const DEFAULT_HOME_VERIFY_PER_SECOND = 2;
/** Default most peers remembered at once. */
export const DEFAULT_MAX_PEERS = 4096;

/** The identity a discovery announces: an `Identity` from `@peernet/identity` is one. */
export interface UdpDiscoveryIdentity extends AnnouncementSigner {
  /** The peer id, equal to `publicKey`. */
  readonly id: PeerId;
}

/** Options of `udpDiscovery()`. */
export interface UdpDiscoveryOptions {
  /** The node's identity: announcements carry its key and are signed with it. */
  identity: UdpDiscoveryIdentity;
  /** UDP port to send to and receive on (every node of a LAN uses the same one). Default 4040. */
  port?: number;
  /**
   * Interfaces to send and listen on: IPv4 addresses (`'127.0.0.1'`) or
   * interface names (`'eth0'`). Default: every non-internal IPv4 interface.
   */
  interfaces?: readonly string[];
  /** Ms between periodic announcements. Default 5000. */
  intervalMs?: number;
  /** A peer not heard from for this long (ms) is reported lost. Default 3 × `intervalMs`. */
  ttlMs?: number;
  /** Largest accepted clock difference (ms) between sender and receiver. Default 30 000. */
  windowMs?: number;
  /** Signature checks per second for keys `isWanted` does not want (`Infinity`: no limit). Default 50. */
  verifyPerSecond?: number;
  /**
   * Signature checks per second for all wanted keys together (`Infinity`: no
   * ceiling), home reserves aside. Default 100.
   */
  wantedVerifyPerSecond?: number;
  /**
   * Signature checks per second for one wanted key, so that forgeries naming
   * one key cannot spend another's budget; one source address gets at most
   * half of it. Keep it below `wantedVerifyPerSecond`, so one key cannot use
   * up the total. Default `wantedVerifyPerSecond / 10` (10).
   */
  keyVerifyPerSecond?: number;
  /**
   * Signature checks per second reserved for a wanted key's packets from its
   * home address (the last source address whose announcement for that key
   * verified), outside the other budgets; burst two seconds' worth. Default
   * `min(2, keyVerifyPerSecond)`.
   */
  homeVerifyPerSecond?: number;
  /** Which peers matter (the node passes "is this peer trusted"); each gets a verification budget of its own. */
  isWanted?: (id: PeerId) => boolean;
  /** Most sender keys the replay table remembers. Default 4096. */
  maxTrackedKeys?: number;
  /** Most peers remembered at once. Default 4096. */
  maxPeers?: number;
  /**
   * Monotonic time and timers: the announcement interval, peer TTLs and the
   * verification budgets. Default `systemClock`.
   */
  clock?: Clock;
  /**
   * Unix time in ms (default `Date.now`): the timestamp signed into each
   * announcement and the ±`windowMs` check of received ones. This one must be
   * the wall clock, since it is compared with other machines' clocks; that is
   * why it is apart from `clock`.
   */
  wallClock?: () => number;
  /**
   * @deprecated Use `wallClock` (and `clock`). Read only when `wallClock` is
   * absent; when `clock` is absent too, it also times TTLs and budgets, as
   * it did before the two were told apart.
   */
  now?: () => number;
  /** Source of the interface table. Default `os.networkInterfaces`. */
  networkInterfaces?: ReadInterfaces;
}

/** Options after validation, defaults filled in. */
export interface Settings {
  identity: UdpDiscoveryIdentity;
  port: number;
  restriction: readonly string[] | undefined;
  intervalMs: number;
  ttlMs: number;
  windowMs: number;
  verifyPerSecond: number;
  wantedVerifyPerSecond: number;
  keyVerifyPerSecond: number;
  homeVerifyPerSecond: number;
  isWanted: ((id: PeerId) => boolean) | undefined;
  maxTrackedKeys: number;
  maxPeers: number;
  clock: Clock;
  wallClock: () => number;
  networkInterfaces: () => InterfaceTable;
}

/** Validates `udpDiscovery` options; throws `InvalidArgumentError` naming the option. */
export function settingsOf(options: UdpDiscoveryOptions): Settings {
  const reader = new OptionsReader('udpDiscovery', options);
  const identity = reader.raw('identity') as UdpDiscoveryIdentity | undefined;
  if (
    typeof identity !== 'object' ||
    identity === null ||
    !isPeerId(identity.id) ||
    typeof identity.sign !== 'function' ||
    !(identity.publicKey instanceof Uint8Array) ||
    !identity.id.equals(identity.publicKey)
  ) {
    throw reader.error('identity', 'must be an Identity (id, publicKey and sign())');
  }
  const intervalMs = reader.integer('intervalMs', { default: DEFAULT_INTERVAL_MS, min: 1, max: MAX_TIMER_MS });
  const wantedVerifyPerSecond = rate(reader, 'wantedVerifyPerSecond', DEFAULT_WANTED_VERIFY_PER_SECOND);
  const keyVerifyPerSecond = rate(reader, 'keyVerifyPerSecond', wantedVerifyPerSecond / 10);
  const legacyNow = reader.function<() => number, undefined>('now', undefined);
  return {
    identity,
    port: reader.integer('port', { default: DEFAULT_PORT, min: 1, max: 65535 }),
    restriction: checkRestriction(reader.raw('interfaces')),
    intervalMs,
    ttlMs: reader.integer('ttlMs', { default: 3 * intervalMs, min: 1 }),
    windowMs: reader.integer('windowMs', { default: DEFAULT_WINDOW_MS }),
    verifyPerSecond: rate(reader, 'verifyPerSecond', DEFAULT_VERIFY_PER_SECOND),
    wantedVerifyPerSecond,
    keyVerifyPerSecond,
    homeVerifyPerSecond: rate(
      reader,
      'homeVerifyPerSecond',
      Math.min(DEFAULT_HOME_VERIFY_PER_SECOND, keyVerifyPerSecond),
    ),
    isWanted: reader.function<(id: PeerId) => boolean, undefined>('isWanted', undefined),
    maxTrackedKeys: reader.integer('maxTrackedKeys', { default: DEFAULT_REPLAY_CAPACITY, min: 1, max: 2 ** 24 }),
    maxPeers: reader.integer('maxPeers', { default: DEFAULT_MAX_PEERS, min: 1, max: 2 ** 24 }),
    clock: reader.object<Clock, Clock>('clock', ['now', 'setTimeout', 'clearTimeout'], legacyClock(legacyNow)),
    wallClock: reader.function<() => number, undefined>('wallClock', undefined) ?? legacyNow ?? Date.now,
    networkInterfaces: reader.function<ReadInterfaces, ReadInterfaces>('networkInterfaces', readSystemInterfaces),
  };
}

/** The clock the deprecated `now` option stood for: its readings, with the real timers. */
function legacyClock(now: (() => number) | undefined): Clock {
  if (now === undefined) return systemClock;
  return { now, setTimeout: systemClock.setTimeout, clearTimeout: systemClock.clearTimeout };
}
