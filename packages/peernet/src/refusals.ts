import { RefusedByPeerError, type Clock, type PeerId, type PeerNetError } from '@peernet/interface';

/** What `peer:refused` reports about a stranger that was turned away. */
export interface RefusedPeer {
  /** The id it proved in the handshake: the one to pair to let it in. */
  readonly peer: PeerId;
  /** Where it connected from (`host:port`), if the transport says. */
  readonly address: string | undefined;
  /** Why it was refused (`not paired`). */
  readonly reason: string;
}

/** Options of `RefusalNotices`. */
export interface RefusalNoticesOptions {
  clock: Clock;
  /** An id is reported at most once in this long (default 60 s). */
  windowMs?: number;
  /** Ids remembered at most; the one seen least recently is forgotten first (default 1,024). */
  maxIds?: number;
}

/**
 * Decides which refused strangers the node reports with `peer:refused`:
 * each id at most once per window, so a stranger that redials with backoff,
 * or floods, costs the application one event a minute. The table is bounded:
 * past `maxIds` the id seen least recently is forgotten (and may be reported
 * again), so a flood of fresh ids cannot grow it.
 */
export class RefusalNotices {
  readonly #clock: Clock;
  readonly #windowMs: number;
  readonly #maxIds: number;
  // Text id → when it was last reported; the id seen least recently first.
  readonly #reported = new Map<string, number>();

  /** Creates an empty table. */
  constructor(options: RefusalNoticesOptions) {
    this.#clock = options.clock;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#maxIds = options.maxIds ?? 1_024;
  }

  /** True if `id` should be reported now (it then counts as reported). */
  admit(id: string): boolean {
    const now = this.#clock.now();
    const last = this.#reported.get(id);
    this.#reported.delete(id);
    if (last !== undefined && now - last < this.#windowMs) {
      // Still quiet, but seen: it moves to the back, so a flood of other ids does not get it reported again.
      this.#reported.set(id, last);
      return false;
    }
    this.#reported.set(id, now);
    if (this.#reported.size > this.#maxIds) {
      const [oldest] = this.#reported.keys();
      if (oldest !== undefined) this.#reported.delete(oldest);
    }
    return true;
  }

  /** How many ids are remembered. */
  get size(): number {
    return this.#reported.size;
  }
}

/**
 * The node's refusals, both ways: the paired peers whose latest answer to
 * our dial was a refusal (kept until a session with them comes up or they
 * are unpaired, so only paired peers are held), and the strangers it turned
 * away itself, reported through `RefusalNotices`.
 */
export class Refusals {
  readonly #localId: PeerId;
  readonly #notices: RefusalNotices;
  readonly #refusedUs = new Map<string, PeerNetError>();

  /** Creates the record of a node whose id is `localId`. */
  constructor(localId: PeerId, clock: Clock) {
    this.#localId = localId;
    this.#notices = new RefusalNotices({ clock });
  }

  /** Records that `peer` refused a dial of ours (`error` is the dial's). */
  refusedUs(peer: PeerId, error: PeerNetError): void {
    this.#refusedUs.set(peer.toString(), error);
  }

  /** A fresh error for an operation on `peer` if its latest answer was a refusal. */
  refusalOf(peer: PeerId): RefusedByPeerError | undefined {
    const cause = this.#refusedUs.get(peer.toString());
    return cause === undefined ? undefined : this.refusal(peer, cause);
  }

  /** The error of a refusal by `peer`, naming both ids: what the peer's user must pair is ours. */
  refusal(peer: PeerId, cause: PeerNetError): RefusedByPeerError {
    const message = `peer ${peer.toString()} refused the session: it has not paired this node (${this.#localId.toString()})`;
    return new RefusedByPeerError(message, { cause });
  }

  /** Forgets `peer`'s refusal: a session with it came up, or it was unpaired. */
  forget(peer: PeerId): void {
    this.#refusedUs.delete(peer.toString());
  }

  /**
   * The `peer:refused` report of an inbound handshake that failed with
   * `error`, or undefined: when it was not a stranger turned away after
   * proving its id, or when that id was reported within the window.
   */
  strangerTurnedAway(proven: PeerId | undefined, error: PeerNetError, address: string | undefined): RefusedPeer | undefined {
    // On an inbound handshake only the trust check raises untrusted_peer (a refused pairing request too:
    // the node does not report those), and only once the id is proven.
    if (error.code !== 'untrusted_peer' || proven === undefined || !this.#notices.admit(proven.toString())) return undefined;
    return { peer: proven, address, reason: 'not paired' };
  }
}
