import type { PeerId } from '@peernet/interface';
import { type Announcement, type DropReason, decodeAnnouncement } from './packet.js';
import { ReplayTable } from './replay-table.js';
import { TokenBucket } from './token-bucket.js';

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
  /** No verification token left in the key's budget. */
  rateLimited: number;
  /** Signature did not verify. */
  badSignature: number;
  /** Signature checks performed (not an outcome: `accepted + badSignature`). */
  verified: number;
}

/** Why the receiver dropped a datagram: a decoder reason, or a source outside the interfaces in use. */
export type ReceiveDropReason = DropReason | 'foreignSource';

/** Outcome of `AnnouncementReceiver.receive`. */
export type ReceiveResult = { ok: true; announcement: Announcement } | { ok: false; reason: ReceiveDropReason };

/** Options of `AnnouncementReceiver`. */
export interface ReceiverOptions {
  ownId: PeerId;
  windowMs: number;
  /** Signature checks per second for keys that are not wanted. */
  verifyPerSecond: number;
  /** Signature checks per second for wanted keys. */
  wantedVerifyPerSecond: number;
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
    rateLimited: 0,
    badSignature: 0,
    verified: 0,
  };
}

/**
 * The receive policy without I/O: source filter, decoder, replay table and
 * the two verification budgets (wanted and other keys), with a counter for
 * every outcome. The clock is passed to each call.
 *
 * Wanted keys get a budget of their own so that a flood of strangers cannot
 * starve trusted peers; it is still a budget, because a wanted key is public
 * (it is broadcast) and anyone can put it on forged packets.
 */
export class AnnouncementReceiver {
  readonly counters: ReceiveCounters = zeroCounters();
  readonly replays: ReplayTable;
  readonly #options: ReceiverOptions;
  readonly #others: TokenBucket;
  readonly #wanted: TokenBucket;

  constructor(options: ReceiverOptions) {
    this.#options = options;
    this.replays = new ReplayTable({ capacity: options.replayCapacity, windowMs: options.windowMs });
    this.#others = new TokenBucket({ ratePerSecond: options.verifyPerSecond });
    this.#wanted = new TokenBucket({ ratePerSecond: options.wantedVerifyPerSecond });
  }

  /** Checks one datagram from `source` received at `now`, and counts the outcome. */
  receive(bytes: Uint8Array, source: string, now: number): ReceiveResult {
    const counters = this.counters;
    counters.received++;
    if (this.#options.isAllowedSource !== undefined && !this.#options.isAllowedSource(source)) {
      counters.foreignSource++;
      return { ok: false, reason: 'foreignSource' };
    }
    const result = decodeAnnouncement(bytes, {
      now,
      windowMs: this.#options.windowMs,
      ownId: this.#options.ownId,
      replays: this.replays,
      mayVerify: (id) => {
        const bucket = this.#isWanted(id) ? this.#wanted : this.#others;
        if (!bucket.take(now)) return false;
        counters.verified++;
        return true;
      },
    });
    if (result.ok) counters.accepted++;
    else counters[result.reason]++;
    return result;
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
