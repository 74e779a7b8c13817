import type { PeerId } from './peer-id.js';
import type { TransportAddress } from './transport.js';

/** A peer seen by a discovery mechanism. Unauthenticated until a handshake proves it. */
export interface DiscoveredPeer {
  readonly id: PeerId;
  readonly addresses: readonly TransportAddress[];
  /**
   * Who reported it: the network address the report came from (e.g.
   * `'192.168.1.7'`), when the mechanism knows one. A newer report from the
   * same discovery and `from` replaces the earlier one's addresses, so one
   * sender cannot grow a peer's address list.
   */
  readonly from?: string;
}

/** Events a `Discovery` emits. */
export interface DiscoveryEvents {
  /** A peer announced itself (or announced new addresses). */
  peer: (peer: DiscoveredPeer) => void;
  /** A peer said goodbye or its announcement expired. */
  'peer:lost': (id: PeerId) => void;
}

/**
 * A way to learn peers' addresses (mDNS, UDP broadcast, a static list, ...).
 * Discovery only suggests addresses; trust is decided by the handshake.
 * Implementations must pass the discovery suite of `@peernet/compliance`.
 */
export interface Discovery {
  /** Short name, e.g. `'mdns'`. */
  readonly name: string;
  /** Starts listening (and announcing, once `announce` was called). */
  start(): Promise<void>;
  /** Stops, sends goodbyes where the mechanism has them, releases every resource. Idempotent. */
  stop(): Promise<void>;
  /** Sets what to announce: the port our transport listens on. */
  announce(options: { port: number }): Promise<void>;
  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): unknown;
  off<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): unknown;
}
