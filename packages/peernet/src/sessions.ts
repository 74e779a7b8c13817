import {
  ConnectionClosedError,
  DIAGNOSTICS_CHANNELS,
  PeerId,
  UntrustedPeerError,
  publishDiagnostic,
  type Clock,
  type PeerIdLike,
  type PeerNetError,
} from '@peernet/interface';
import type { Connection } from '@peernet/connection';

// How long an existing session may take to answer before a duplicate replaces it.
const DUPLICATE_PROBE_MS = 2_000;
// How long a retired duplicate stays open for calls already on their way.
const RETIRE_LINGER_MS = 1_000;

/** Why one session of a peer took another's place, as published on `sessionReplaced`. */
export type ReplacementReason =
  /** We dialled the peer again while a session we had dialled was up. */
  | 'redialled'
  /** The peer dialled us again; the older session stands by until a ping shows whether it is alive. */
  | 'peer-redialled'
  /** Both sides dialled at once; the newer carries calls until a ping decides which one both keep. */
  | 'simultaneous-dial'
  /** Both sessions answered: the one initiated by the smaller id is kept on both sides. */
  | 'tie-break'
  /** The live session closed and the one standing by took over: the peer never went offline. */
  | 'standby-promoted'
  /** A session on a better-ranked transport (the LAN) took the place of one on a fallback (the DHT). */
  | 'better-transport';

/** Options of `SessionTable`. */
export interface SessionTableOptions {
  /** This node's id: half of the tie-break between two live sessions. */
  localId: PeerId;
  /** Time source of the retire timers. */
  clock: Clock;
  /** The longest a call may take; a retired session stays open this long (plus a moment) at most. */
  callTimeoutMs: number;
  /** False when a newly authenticated peer may not have a session (unpaired, or the node is stopping). */
  admits(peer: PeerId): boolean;
  /** A peer that had no session has one now. */
  onOnline(peer: PeerId): void;
  /** A peer's last session closed (the reason is undefined for a local close). */
  onOffline(peer: PeerId, reason: PeerNetError | undefined): void;
  /**
   * Rank of a session's path, lower is better (default: all equal). Of two
   * sessions with one peer on different ranks, the better one stays; both
   * sides see the same transport under a session, so both keep the same one.
   */
  rank?(connection: Connection): number;
}

/**
 * The node's sessions: at most one live session per peer, plus every
 * connection held, handshaking or not. It is the one owner of whether a
 * peer is online: the node's `isConnected`, its events and the registry's
 * dialling all read it, because only the owner of the `Connection` objects
 * sees a session open, close or give way to a duplicate as it happens.
 */
export class SessionTable {
  readonly #options: SessionTableOptions;
  // The live session of each peer, by text id.
  readonly #live = new Map<string, Connection>();
  // The older session of a duplicate pair while a ping decides which one stays.
  readonly #standby = new Map<string, Connection>();
  readonly #all = new Set<Connection>();

  /** Creates an empty table. */
  constructor(options: SessionTableOptions) {
    this.#options = options;
  }

  /** The live session of `id`, if any. */
  get(id: PeerIdLike): Connection | undefined {
    return this.#live.get(PeerId.from(id).toString());
  }

  /** True if `id` has a live session. */
  has(id: PeerIdLike): boolean {
    return this.#live.has(PeerId.from(id).toString());
  }

  /** Every peer's live session. */
  live(): Connection[] {
    return [...this.#live.values()];
  }

  /** Every connection held, authenticated or not. */
  all(): Connection[] {
    return [...this.#all];
  }

  /** Holds a new connection (before its handshake) so it is closed with the node and its end is noticed. */
  track(connection: Connection): void {
    this.#all.add(connection);
    void connection.closed.then((reason) => this.#onClosed(connection, reason));
  }

  /** Drops every live session at once (a local address went away) and resolves once they are closed. */
  async dropLive(reason: PeerNetError): Promise<void> {
    await Promise.all(
      this.live().map((connection) => {
        connection.destroy(reason);
        return connection.closed;
      }),
    );
  }

  /** Closes every open connection with `peer` (it was unpaired) and resolves when they are closed. */
  async closePeer(peer: PeerId, reason: PeerNetError): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const connection of this.#all) {
      if (connection.isOpen && connection.peer.equals(peer)) closing.push(connection.close(reason));
    }
    await Promise.all(closing);
  }

  /**
   * Makes an authenticated connection the peer's session. With two sessions
   * for one peer (both dialled at once) both nodes keep the one initiated by
   * the smaller id, so they agree without talking; a newer session from the
   * same initiator replaces the older (the old one is likely dead).
   */
  register(connection: Connection): void {
    const peer = connection.peer;
    const key = peer.toString();
    if (!this.#options.admits(peer)) {
      void connection.close(new UntrustedPeerError(`peer ${key} is not paired`));
      return;
    }
    const existing = this.#live.get(key);
    if (existing === connection) return;
    if (existing) {
      this.#resolveDuplicate(peer, existing, connection);
      return;
    }
    this.#live.set(key, connection);
    this.#options.onOnline(peer);
  }

  /**
   * Two sessions with one peer. If we dialled both, we gave up the old one:
   * the new one wins. If the peer dialled both, either its old session is
   * dead (a ping on it fails: the new one wins) or both are alive because it
   * dialled two of our addresses at once, and it keeps one and retires the
   * other: both stay until it does, so whichever it keeps survives here too.
   * Otherwise either both sides dialled at once (both sessions alive: keep
   * the one initiated by the smaller id, which the peer computes identically)
   * or the old session is dead and the peer re-dialled (a ping on it fails:
   * the new one wins). Until the ping answers, new calls use the newer
   * session and the older one stands by; the loser is retired only after the
   * calls already on it are answered.
   */
  #resolveDuplicate(peer: PeerId, existing: Connection, incoming: Connection): void {
    const key = peer.toString();
    const rankOf = this.#options.rank;
    if (rankOf !== undefined && rankOf(existing) !== rankOf(incoming)) {
      const moving = rankOf(incoming) < rankOf(existing);
      if (moving) this.#replace(key, incoming, 'better-transport');
      this.retire(moving ? existing : incoming);
      return;
    }
    if (existing.initiator && incoming.initiator) {
      this.#replace(key, incoming, 'redialled');
      this.retire(existing);
      return;
    }
    this.#replace(key, incoming, existing.initiator === incoming.initiator ? 'peer-redialled' : 'simultaneous-dial');
    // At most one session stands by: a peer that keeps opening sessions which
    // all answer pings must not make the node hold every one of them.
    const previous = this.#standby.get(key);
    if (previous !== undefined && previous !== existing) {
      this.#standby.delete(key);
      this.retire(previous);
    }
    this.#standby.set(key, existing);
    const dead = (): void => {
      if (this.#standby.get(key) === existing) this.#standby.delete(key);
      existing.destroy(new ConnectionClosedError('replaced by a newer session; this one stopped answering'));
    };
    if (existing.initiator === incoming.initiator) {
      existing.ping({ timeout: DUPLICATE_PROBE_MS }).then(() => undefined, dead);
      return;
    }
    const initiatorOf = (c: Connection): PeerId => (c.initiator ? this.#options.localId : peer);
    existing.ping({ timeout: DUPLICATE_PROBE_MS }).then(() => {
      if (this.#standby.get(key) !== existing) return; // one of them closed meanwhile
      this.#standby.delete(key);
      if (!incoming.isOpen) return;
      const keepExisting = initiatorOf(existing).compare(initiatorOf(incoming)) < 0;
      if (keepExisting) this.#replace(key, existing, 'tie-break');
      this.retire(keepExisting ? incoming : existing);
    }, dead);
  }

  /** Puts `next` in the place of the peer's live session and says so on the diagnostics channel. */
  #replace(key: string, next: Connection, reason: ReplacementReason): void {
    const previous = this.#live.get(key);
    this.#live.set(key, next);
    if (previous !== undefined && previous !== next) {
      publishDiagnostic(DIAGNOSTICS_CHANNELS.sessionReplaced, { peer: key, reason });
    }
  }

  /**
   * Closes a session that lost to another of the same peer once the calls
   * and byte streams already on it are done (new ones go to the winner).
   * Calls get the call timeout at most; a stream runs to its end, however
   * long (a file transfer must not die because the peer appeared on a
   * better path), and the session closes when the last one ends.
   */
  retire(connection: Connection): void {
    const { clock, callTimeoutMs } = this.#options;
    const close = (): void => void connection.close();
    let deadline: unknown;
    const atDeadline = (): void => {
      // Calls have had their time; streams have not: look again a call timeout later.
      deadline = connection.openStreams > 0 ? clock.setTimeout(atDeadline, callTimeoutMs + RETIRE_LINGER_MS) : close();
    };
    deadline = clock.setTimeout(atDeadline, callTimeoutMs + RETIRE_LINGER_MS);
    // Linger a moment first: a call the peer sent before it switched may still be on the wire.
    const linger = clock.setTimeout(() => void connection.drained().then(close), RETIRE_LINGER_MS);
    void connection.closed.then(() => {
      clock.clearTimeout(deadline);
      clock.clearTimeout(linger);
    });
  }

  #onClosed(connection: Connection, reason: PeerNetError | undefined): void {
    this.#all.delete(connection);
    let peer: PeerId;
    try {
      peer = connection.peer;
    } catch {
      return; // never authenticated: nothing was online
    }
    const key = peer.toString();
    if (this.#standby.get(key) === connection) this.#standby.delete(key);
    if (this.#live.get(key) !== connection) return;
    const standby = this.#standby.get(key);
    if (standby?.isOpen) {
      // The other session of a duplicate pair is alive: the peer never went offline.
      this.#standby.delete(key);
      this.#replace(key, standby, 'standby-promoted');
      return;
    }
    this.#live.delete(key);
    this.#options.onOffline(peer, reason);
  }
}
