import type { PeerId, PeerNetError, TransportAddress } from '@peernet/interface';
import type { PeerRecord } from '@peernet/registry';
import type { TrustEntry } from '@peernet/trust';
import type { RefusedPeer } from './refusals.js';

/** Options of `connect`. */
export interface ConnectOptions extends TransportAddress {
  /** Aborts the dial and handshake. */
  signal?: AbortSignal;
}

/** A row of `listPeers()`. */
export interface PeerInfo {
  readonly id: PeerId;
  readonly label: string | undefined;
  readonly addedAt: number;
  readonly status: 'online' | 'connecting' | 'offline';
  /** Addresses known for the peer, most recently seen first. */
  readonly addresses: readonly TransportAddress[];
  /** When a discovery last reported the peer (ms since epoch). */
  readonly lastSeen: number | undefined;
  /** The `name` of the transport its live session runs on (`'tcp'`, `'dht'`), when online. */
  readonly transport: string | undefined;
}

/** The events of a node. */
export interface PeerNetEvents {
  /** A paired peer's session is authenticated and usable. */
  'peer:online': [peer: PeerId];
  /** A peer's session ended (the reason is undefined for a local close). */
  'peer:offline': [peer: PeerId, reason: PeerNetError | undefined];
  /** A discovery reported a peer, paired or not, or new addresses for it. */
  'peer:discovered': [peer: { id: PeerId; addresses: readonly TransportAddress[]; trusted: boolean; source: string }];
  /**
   * A stranger (an id this node has not paired) completed a handshake with
   * it and was turned away; at most once per id a minute.
   */
  'peer:refused': [info: RefusedPeer];
}

/** A listener of one event. */
export type Listener_<E extends keyof PeerNetEvents> = (...args: PeerNetEvents[E]) => void;
/** One listener per event, as the node's emitter types them. */
export type PeerNetListeners = { [E in keyof PeerNetEvents]: Listener_<E> };

/** A row of `listPeers()` from the trust entry, the registry's record and the live session's transport. */
export function peerInfo(entry: TrustEntry, record: PeerRecord | undefined, transport: string | undefined): PeerInfo {
  return {
    id: entry.id,
    label: entry.label,
    addedAt: entry.addedAt,
    // The registry's status reads the session table, so it is the same answer as isConnected.
    status: record?.status ?? 'offline',
    addresses: (record?.addresses ?? []).map(({ transport: tag, host, port }) => (tag === undefined ? { host, port } : { transport: tag, host, port })),
    lastSeen: record?.lastSeen,
    transport,
  };
}
