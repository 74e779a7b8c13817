import type { CallOptions, HandlerLookup, PeerId, WireValue } from '@peernet/interface';

/**
 * A pairing session as the two sides use it: a `Connection` of
 * `@peernet/connection` whose `purpose` is `'pairing'` fits.
 */
export interface PairingChannel {
  /** The Noise handshake hash of the session: every proof is bound to it. */
  readonly handshakeHash: Uint8Array;
  /** Resolves once the session is closed. */
  readonly closed: Promise<unknown>;
  /** Calls the peer's handler `name` on this session. */
  call(name: string, args?: WireValue, options?: CallOptions): Promise<WireValue>;
  /** Closes the session (what was handed over is flushed first). */
  close(): Promise<void>;
}

/** What a responder's connection asks of pairing (the `pairing` option of `@peernet/connection`). */
export interface PairingAdmission {
  /** Whether to admit `peer`, which asks for a pairing session. */
  admit(peer: PeerId): boolean;
  /** The handlers that session serves. */
  readonly handlers: HandlerLookup;
}

/** Where pairing reports what went wrong on its own (a DHT announcement that failed). */
export interface PairingLogger {
  /** Something went wrong that the caller did not see fail. */
  warn?(message: string, details?: Record<string, unknown>): void;
}

/** Stores trust in `peer`, as a node's `pair(id, { label })` does. */
export type PairPeer = (peer: PeerId, options: { label?: string }) => Promise<unknown>;
