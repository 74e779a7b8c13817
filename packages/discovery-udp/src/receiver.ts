import type { PeerId } from '@peernet/interface';
import { type Announcement, type DropReason, decodeAnnouncement } from './packet.js';
import { RelayGuard } from './relay-guard.js';
import { ReplayTable } from './replay-table.js';
import { TokenBucket } from './token-bucket.js';
import { type BudgetLimit, VerifyBudget } from './verify-budget.js';

/** Counters of everything received, by outcome. */
export interface ReceiveCounters {
  /** Datagrams looked at; each also lands in exactly one of the outcome counters below. */
  received: number;
  /** Passed every check, signature included. */
  accepted: number;
  /** Source address outside the subnets of the interfaces in use. */
  foreignSource: number;
  /** Not exactly 112 bytes. */
  malformed: number;
  /** Not starting with "PNET". */
  badMagic: number;
  /** Version other than 2. */
  badVersion: number;
  /** A flag bit other than goodbye set. */
  badFlags: number;
  /** Announced port 0. */
  badPort: number;
  /** Timestamp outside the time window. */
  stale: number;
  /** Our own key. */
  own: number;
  /** Timestamp not later than the last one accepted from the key. */
  replayed: number;
  /** The exact bytes of a packet dropped unverified earlier, now from another source (see `RelayGuard`). */
  relayed: number;
  /** No verification token left in the key's budget. */
  rateLimited: number;
  /** Signature did not verify. */
  badSignature: number;
  /** Signature checks performed (not an outcome: `accepted + badSignature`). */
  verified: number;
  /** Of `verified`, those paid from a wanted key's home reserve (not an outcome). */
  verifiedAtHome: number;
}

/** Why the receiver dropped a datagram: a decoder reason, or a source outside the interfaces in use. */
export type ReceiveDropReason = DropReason | 'foreignSource' | 'relayed';

/**
 * The limit that turned a packet away: the shared bucket of keys nobody
 * wants, one of a wanted key's budgets, or the relay guard.
 */
export type ReceiveLimit = 'udp-verify-unknown' | `udp-verify-${BudgetLimit}` | 'udp-relay-guard';

/** Outcome of `AnnouncementReceiver.receive`. */
export type ReceiveResult = { ok: true; announcement: Announcement } | { ok: false; reason: ReceiveDropReason };

/** Options of `AnnouncementReceiver`. */
export interface ReceiverOptions {
  ownId: PeerId;
  windowMs: number;
  /** Signature checks per second for keys that are not wanted. */
  verifyPerSecond: number;
  /** Signature checks per second for all wanted keys together, home reserves aside. */
  wantedVerifyPerSecond: number;
  /** Signature checks per second for one wanted key. Default `wantedVerifyPerSecond / 10`. */
  keyVerifyPerSecond?: number | undefined;
  /** Signature checks per second reserved for a wanted key at its home address. Default `min(2, keyVerifyPerSecond)`. */
  homeVerifyPerSecond?: number | undefined;
  isWanted?: ((id: PeerId) => boolean) | undefined;
  replayCapacity: number;
  /** Whether a datagram from this IPv4 source may be looked at. Default: any. */
  isAllowedSource?: (host: string) => boolean;
}

/** Creates a zeroed set of counters. */
export function zeroCounters(): ReceiveCounters {
  return {
    received: 0,
    accepted: 0,
    foreignSource: 0,
    malformed: 0,
    badMagic: 0,
    badVersion: 0,
    badFlags: 0,
    badPort: 0,
    stale: 0,
    own: 0,
    replayed: 0,
    relayed: 0,
    rateLimited: 0,
    badSignature: 0,
    verified: 0,
    verifiedAtHome: 0,
  };
}

/**
 * The receive policy without I/O: source filter, decoder, replay table, relay
 * guard and the verification budgets, with a counter for every outcome. The
 * clock is passed to each call.
 *
 * Wanted keys never share a budget with strangers, nor with each other: each
 * has its own (see `VerifyBudget`), because a wanted key is public (it is
 * broadcast) and anyone can put it on forged packets. Strangers share one
 * bucket: they are listed, never dialled, so starving them costs nothing.
 *
 * A packet dropped for lack of budget is remembered with its source (see
 * `RelayGuard`), so that whoever captured it cannot later have it verified
 * from their own address.
 *
 * Two clocks come in with each packet: unix time for what is compared with
 * the timestamps senders sign (the window, the replay and relay records),
 * and a monotonic one for the budgets, so a wall-clock step neither refills
 * nor freezes them.
 */
export class AnnouncementReceiver {
  readonly counters: ReceiveCounters = zeroCounters();
  readonly replays: ReplayTable;
  readonly relays: RelayGuard;
  readonly #options: ReceiverOptions;
  readonly #others: TokenBucket;
  readonly #wanted: VerifyBudget;
  #lastLimit: ReceiveLimit | undefined;

  constructor(options: ReceiverOptions) {
    this.#options = options;
    this.replays = new ReplayTable({ capacity: options.replayCapacity, windowMs: options.windowMs });
    this.relays = new RelayGuard({ windowMs: options.windowMs });
    this.#others = new TokenBucket({ ratePerSecond: options.verifyPerSecond });
    this.#wanted = new VerifyBudget({
      totalPerSecond: options.wantedVerifyPerSecond,
      keyPerSecond: options.keyVerifyPerSecond,
      homePerSecond: options.homeVerifyPerSecond,
      maxKeys: options.replayCapacity,
    });
  }

  /**
   * The limit that turned the last datagram away, when it was dropped as
   * `rateLimited` or `relayed`; undefined after any other outcome.
   */
  get lastLimit(): ReceiveLimit | undefined {
    return this.#lastLimit;
  }

  /**
   * Checks one datagram from `source`, received at `now` (unix ms) and
   * `monotonicNow` (ms on a monotonic clock, `now` when left out), and
   * counts the outcome.
   */
  receive(bytes: Uint8Array, source: string, now: number, monotonicNow: number = now): ReceiveResult {
    const counters = this.counters;
    counters.received++;
    this.#lastLimit = undefined;
    if (this.#options.isAllowedSource !== undefined && !this.#options.isAllowedSource(source)) {
      counters.foreignSource++;
      return { ok: false, reason: 'foreignSource' };
    }
    let relayed = false;
    let wantedKey: string | undefined;
    const decoded = decodeAnnouncement(bytes, {
      now,
      windowMs: this.#options.windowMs,
      ownId: this.#options.ownId,
      replays: this.replays,
      mayVerify: (id) => {
        // Checked before any budget is spent: a relay costs no signature check.
        if (this.relays.isRelay(bytes, source, now)) {
          relayed = true;
          this.#lastLimit = 'udp-relay-guard';
          return false;
        }
        let paid: boolean;
        if (this.#isWanted(id)) {
          wantedKey = id.toString();
          const from = this.#wanted.spend(wantedKey, source, monotonicNow);
          if (from === 'home') counters.verifiedAtHome++;
          paid = from === 'home' || from === 'shared';
          if (!paid) this.#lastLimit = `udp-verify-${from as BudgetLimit}`;
        } else {
          paid = this.#others.take(monotonicNow);
          if (!paid) this.#lastLimit = 'udp-verify-unknown';
        }
        if (!paid) {
          // Remembered even unverified: whoever captured it cannot replay it as fresh from elsewhere.
          this.relays.record(bytes, source, timestampOf(bytes), now);
          return false;
        }
        counters.verified++;
        return true;
      },
    });
    const result: ReceiveResult = relayed ? { ok: false, reason: 'relayed' } : decoded;
    if (result.ok) {
      counters.accepted++;
      if (wantedKey !== undefined) this.#wanted.verified(wantedKey, source);
    } else {
      counters[result.reason]++;
    }
    return result;
  }

  /** The home address of a wanted key: the last source whose packet for it verified. */
  homeOf(id: PeerId): string | undefined {
    return this.#wanted.homeOf(id.toString());
  }

  #isWanted(id: PeerId): boolean {
    const isWanted = this.#options.isWanted;
    if (isWanted === undefined) return false;
    try {
      return isWanted(id) === true;
    } catch {
      // A failing predicate must not open the unlimited path.
      return false;
    }
  }
}

/** The announcement's timestamp; only called on packets the decoder found well formed. */
function timestampOf(bytes: Uint8Array): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return view.getUint32(40) * 2 ** 32 + view.getUint32(44);
}
