import type { PeerId } from './peer-id.js';
import type { DuplexStream } from './stream.js';

/** Where a transport can reach a peer. Never an identity: peers are named by `PeerId`. */
export interface TransportAddress {
  /**
   * The `name` of the transport that dials it; absent means the node's
   * first transport (TCP by default). Discoveries on a LAN leave it out.
   */
  readonly transport?: string;
  /** IPv4/IPv6 literal or host name, as the transport understands it (a DHT: the peer's id). */
  readonly host: string;
  /** Port number (1-65535; 0 only when listening means "any free port", or for a transport without ports). */
  readonly port: number;
}

/** Options for `Transport.dial`. */
export interface DialOptions {
  /** Aborts the dial; the promise then rejects with an `AbortedError`. */
  signal?: AbortSignal;
}

/** Options for `Transport.listen`. */
export interface ListenOptions {
  /** Address to bind (transport default when omitted). */
  host?: string;
  /** Port to bind; 0 picks a free port. */
  port?: number;
  /** Called for every inbound stream. */
  onStream: (stream: DuplexStream, remote: TransportAddress) => void;
}

/** A bound listener. */
export interface Listener {
  /** The address actually bound (with the real port when 0 was asked). */
  readonly address: TransportAddress;
  /** Stops accepting; resolves once the listening resource is released. Idempotent. */
  close(): Promise<void>;
}

/** A way to open byte streams to other nodes. Implementations must pass `@peernet/compliance`. */
export interface Transport {
  /** Short name, e.g. `'tcp'`; the `transport` tag of the addresses it dials. */
  readonly name: string;
  /** Opens a stream to `address`. Rejects with a `PeerNetError` on failure. */
  dial(address: TransportAddress, options?: DialOptions): Promise<DuplexStream>;
  /** Starts accepting inbound streams. */
  listen(options: ListenOptions): Promise<Listener>;
  /**
   * For a transport that reaches a peer by its id alone (a DHT): the address
   * to dial `peer` at. The node adds it for every paired peer.
   */
  peerAddress?(peer: PeerId): TransportAddress;
  /**
   * True for a transport of last resort (a DHT): its addresses are dialled
   * after every other address of the peer had its turn, and a session on it
   * gives way to one on another transport.
   */
  readonly fallback?: boolean;
  /** How long one of its dials may take to authenticate, when that is longer than the node's default (a DHT's holepunching). */
  readonly dialTimeoutMs?: number;
  /** Releases what the transport holds beyond its listeners and streams (sockets of its own). Idempotent. */
  close?(): Promise<void>;
  /** For a transport with a meeting point (a DHT): pairing by invite code finds the inviter through it. */
  readonly rendezvous?: Rendezvous;
}

/**
 * Announcing a node under a topic, and finding the nodes that announced it:
 * the meeting point of pairing over a DHT. Anyone may announce any topic, so
 * what a lookup finds is only a suggestion; the handshake proves who is who.
 */
export interface Rendezvous {
  /** Announces this node under the 32-byte `topic`, until the returned function is called (it withdraws the announcement). */
  announce(topic: Uint8Array): Promise<() => Promise<void>>;
  /** The ids of nodes that announced `topic`, as found now. */
  lookup(topic: Uint8Array, options?: { signal?: AbortSignal }): Promise<PeerId[]>;
}

/** The part of a node a transport may need: its id, its signing key and its trust decision. */
export interface TransportContext {
  /** The node's id. */
  readonly id: PeerId;
  /**
   * The node's Ed25519 key pair in libsodium's layout (`secretKey` is seed ‖
   * public key): for a transport whose network addresses nodes by key.
   */
  readonly keyPair: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array };
  /**
   * True if `peer` may reach this node: a paired peer, or anyone while the
   * node has an invite open (pairing). A transport may refuse everyone else
   * before any handshake.
   */
  isPaired(peer: PeerId): boolean;
}

/** Makes a transport for a node, once the node knows its identity and trust list. */
export type TransportFactory = (context: TransportContext) => Transport;
