import type { Duplex } from 'node:stream';
import {
  HandshakeFailedError, type CallOptions, type OpenStreamOptions, type PeerId, type PeerNetError, type WireValue,
} from '@peernet/interface';
import type { ConnectionOptions } from './options.js';
import { Session } from './session.js';

/**
 * One authenticated, encrypted session with one peer over one byte stream.
 * Created by `openConnection`; usable once its promise resolves.
 */
export class Connection {
  // The session does the work (handshake, read and write paths, serving, calls); this is its public face.
  readonly #session: Session;
  /** Resolves with this connection once the handshake is complete and the peer accepted it. */
  readonly ready: Promise<Connection>;
  /** Resolves once the connection is closed, with the reason (undefined for a local `close()`). */
  readonly closed: Promise<PeerNetError | undefined>;

  constructor(options: ConnectionOptions) {
    this.#session = new Session(this, options);
    this.ready = this.#session.ready;
    this.closed = this.#session.closed;
  }

  /** The authenticated remote peer (throws before the handshake has authenticated it). */
  get peer(): PeerId {
    const peer = this.#session.peer;
    if (!peer) throw new HandshakeFailedError('the peer is not authenticated yet');
    return peer;
  }

  /** The id the remote proved in the handshake, even if it was then refused (a stranger's id: the one to pair). */
  get provenPeer(): PeerId | undefined {
    return this.#session.provenPeer;
  }

  /**
   * `'pairing'` for a pairing session (only the pairing handlers, no streams;
   * docs/pairing.md), or a handshake that asked for one and was refused; else `'session'`.
   */
  get purpose(): 'session' | 'pairing' {
    return this.#session.purpose;
  }

  /** The Noise handshake hash, unique to this session and equal on both sides (throws before the handshake has split). */
  get handshakeHash(): Uint8Array {
    const hash = this.#session.handshakeHash;
    if (!hash) throw new HandshakeFailedError('the handshake is not complete yet');
    return hash.slice();
  }

  /** True once authenticated and until closed. */
  get isOpen(): boolean {
    return this.#session.phase === 'open';
  }

  /** Why the connection closed, once it has (undefined while open or after a local close). */
  get closeReason(): PeerNetError | undefined {
    return this.#session.closeReason;
  }

  /** True if we dialled. */
  get initiator(): boolean {
    return this.#session.initiator;
  }

  /** Calls the peer's handler `name`; resolves with its result or rejects with a typed error (`bad_request` naming the place for arguments that cannot be encoded). */
  call(name: string, args: WireValue = null, options: CallOptions = {}): Promise<WireValue> {
    return this.#session.calls.call(name, args, options);
  }

  /** Sends to the peer's handler `name` without a reply; resolves once handed to the stream. */
  send(name: string, args: WireValue = null): Promise<void> {
    return this.#session.outbox.send(name, args);
  }

  /**
   * Opens a byte stream to the peer's stream handler `name`: resolves with a
   * Node `Duplex` once the peer accepted it; fails with `no_such_handle`,
   * `forbidden`, `too_many_streams`, `timeout` or `aborted`.
   */
  openStream(name: string, options: OpenStreamOptions = {}): Promise<Duplex> {
    return this.#session.streams.open(name, options);
  }

  /** Sends a ping and resolves with the round-trip time in milliseconds once the pong arrives. */
  ping(options: { timeoutMs?: number; /** @deprecated use `timeoutMs` */ timeout?: number; signal?: AbortSignal } = {}): Promise<number> {
    return this.#session.calls.ping(options);
  }

  /**
   * Closes the connection: what was already handed over is flushed, the
   * stream is ended, outstanding calls fail with `connection_closed`.
   * Idempotent; resolves once the stream is closed.
   */
  close(reason?: PeerNetError): Promise<void> {
    const session = this.#session;
    if (session.phase !== 'closed') {
      session.outbox.flushForClose();
      session.shutdown(reason, false);
    }
    return this.closed.then(() => undefined);
  }

  /**
   * Resolves once no call is outstanding in either direction on this
   * connection (at once if none is), or once it closes. Used to retire a
   * duplicate session without failing the calls already on it.
   */
  drained(): Promise<void> {
    return this.#session.drained();
  }

  /** Byte streams open on this session, both directions (opening and accepting ones included). */
  get openStreams(): number {
    return this.#session.streams.count();
  }

  /** Closes at once, without flushing: for peers we give up on (eviction, protocol abuse). */
  destroy(reason?: PeerNetError): void {
    const session = this.#session;
    if (session.phase !== 'closed') session.shutdown(reason, true);
  }
}

/** Runs the handshake over `stream` and resolves with the open connection, or rejects with a typed error. */
export function openConnection(options: ConnectionOptions): Promise<Connection> {
  try {
    return new Connection(options).ready;
  } catch (error) {
    options.stream.destroy();
    return Promise.reject(error);
  }
}
