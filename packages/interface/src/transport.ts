import type { DuplexStream } from './stream.js';

/** Where a transport can reach a peer. Never an identity: peers are named by `PeerId`. */
export interface TransportAddress {
  /** IPv4/IPv6 literal or host name, as the transport understands it. */
  readonly host: string;
  /** Port number (1-65535; 0 only when listening means "any free port"). */
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
  /** Short name, e.g. `'tcp'`. */
  readonly name: string;
  /** Opens a stream to `address`. Rejects with a `PeerNetError` on failure. */
  dial(address: TransportAddress, options?: DialOptions): Promise<DuplexStream>;
  /** Starts accepting inbound streams. */
  listen(options: ListenOptions): Promise<Listener>;
}
