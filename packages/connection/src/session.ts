import {
  AbortedError, ConnectionClosedError, DIAGNOSTICS_CHANNELS, HandshakeFailedError, InvalidArgumentError, OptionsReader,
  RefusedByPeerError, TimeoutError, hasDiagnosticsSubscribers, publishDiagnostic, withoutStack,
  type Clock, type DuplexStream, type HandlerLookup, type PeerId, type PeerNetError, type StreamHandlerLookup,
} from '@peernet/interface';
import { DEFAULT_MAX_DECODED_BYTES, DEFAULT_MAX_MESSAGE_BYTES } from '@peernet/frame';
import { defaultCrypto, type CipherState } from '@peernet/noise';
import { Calls } from './calls.js';
import type { Connection } from './connection.js';
import { asHandshakeError } from './errors.js';
import { HandshakeDriver } from './handshake.js';
import { Inbox } from './inbox.js';
import { PAIRING_MAX_MESSAGE_BYTES, clockOf, type ConnectionOptions } from './options.js';
import { Outbox } from './outbox.js';
import { Server } from './serving.js';
import { DEFAULT_STREAM_WINDOW_BYTES, MAX_STREAM_WINDOW_BYTES, Streams } from './streams.js';

type Phase = 'handshake' | 'confirming' | 'open' | 'closed';

// How long a graceful close waits for the peer to close its side.
const CLOSE_GRACE_MS = 2_000;

/**
 * What the parts of one connection share (the stream, the phase, the peer,
 * the cipher states), and the session's life: the handshake deadline,
 * opening, failing and closing. A `Connection` owns one and is its public face.
 */
export class Session {
  phase: Phase = 'handshake';
  /** The authenticated peer, once the handshake has checked it. */
  peer: PeerId | undefined;
  /** The identity the remote proved in the handshake, before it was checked against the dialled id and trust. */
  provenPeer: PeerId | undefined;
  /** A session between paired peers, or a pairing session (docs/pairing.md), decided in the handshake. */
  purpose: 'session' | 'pairing' = 'session';
  /** The Noise handshake hash, once the handshake has split: what pairing binds its proofs to. */
  handshakeHash: Uint8Array | undefined;
  /** The peer we dialled, if we did. */
  readonly expectedPeer: PeerId | undefined;
  /** The cipher states, once the handshake has split. */
  send: CipherState | undefined;
  receive: CipherState | undefined;
  /** Reads handshake messages until the handshake splits. */
  handshake: HandshakeDriver | undefined;
  closeReason: PeerNetError | undefined;
  readonly stream: DuplexStream;
  readonly clock: Clock;
  readonly initiator: boolean;
  readonly outbox: Outbox;
  readonly inbox: Inbox;
  readonly server: Server;
  readonly calls: Calls;
  readonly streams: Streams;
  readonly ready: Promise<Connection>;
  readonly closed: Promise<PeerNetError | undefined>;
  readonly #owner: Connection;
  #readyResolve!: (connection: Connection) => void;
  #readyReject!: (error: Error) => void;
  #closedResolve!: (reason: PeerNetError | undefined) => void;
  #handshakeTimer: unknown;
  #drainWaiters: Array<() => void> = [];

  constructor(owner: Connection, options: ConnectionOptions) {
    this.#owner = owner;
    this.stream = options.stream;
    this.initiator = options.initiator;
    this.expectedPeer = options.expectedPeer;
    const reader = new OptionsReader('Connection', options);
    this.clock = clockOf(reader);
    const callTimeoutMs = reader.number('callTimeoutMs', { default: 5_000, above: 0 });
    const maxMessageBytes = reader.number('maxMessageBytes', { default: DEFAULT_MAX_MESSAGE_BYTES, above: 0 });
    const maxDecodedBytes = reader.integer('maxDecodedBytes', { default: DEFAULT_MAX_DECODED_BYTES, min: 1 });
    const maxConcurrentHandlers = reader.number('maxConcurrentHandlers', { default: 256, above: 0 });
    const maxQueuedBytes = reader.number('maxQueuedBytes', { default: 64 * 1024 * 1024, above: 0 });
    const handshakeTimeoutMs = reader.number('handshakeTimeoutMs', { default: 10_000, above: 0 });
    this.outbox = new Outbox(this, maxMessageBytes, maxQueuedBytes);
    this.inbox = new Inbox(this, maxMessageBytes, maxDecodedBytes);
    this.server = new Server(this, options.handlers, maxConcurrentHandlers, maxDecodedBytes, options.onHandlerError);
    this.calls = new Calls(this, callTimeoutMs);
    const window = reader.integer('streamWindowBytes', { default: DEFAULT_STREAM_WINDOW_BYTES, min: 1, max: MAX_STREAM_WINDOW_BYTES });
    const maxStreams = reader.integer('maxStreams', { default: 1024, min: 1 });
    const maxPendingStreams = reader.integer('maxPendingStreams', { default: 64, min: 1 });
    const streamHandlers = reader.object<StreamHandlerLookup, undefined>('streamHandlers', ['get'], undefined);
    this.streams = new Streams(this, streamHandlers, { window, maxStreams, maxPendingStreams }, callTimeoutMs);
    if (this.initiator && !options.expectedPeer) {
      throw new InvalidArgumentError('an initiator must name the peer it dialled (expectedPeer)');
    }
    this.ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    // The owner may never await `ready` if it closes first; that is not an unhandled rejection.
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.#closedResolve = resolve));

    this.stream.on('data', this.inbox.onData);
    this.stream.on('end', this.#onEnd);
    this.stream.on('close', this.#onStreamClose);
    this.stream.on('error', this.#onError);
    this.stream.on('drain', this.outbox.onDrain);

    const signal = options.signal;
    if (signal?.aborted) {
      this.fail(new AbortedError('handshake aborted'));
      return;
    }
    if (signal) {
      const onAbort = (): void => this.fail(new AbortedError('handshake aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      void this.ready.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined);
    }
    this.#handshakeTimer = this.clock.setTimeout(() => {
      this.#handshakeTimer = undefined;
      this.fail(new TimeoutError(`handshake did not complete within ${handshakeTimeoutMs} ms`));
    }, handshakeTimeoutMs);

    try {
      this.handshake = new HandshakeDriver(this, options, options.crypto ?? defaultCrypto);
      if (this.initiator) this.outbox.writeRaw([this.handshake.firstMessage()]);
    } catch (error) {
      this.fail(asHandshakeError(error));
    }
  }

  /** Makes this a pairing session: `handlers` only, no streams, small envelopes. */
  restrictToPairing(handlers: HandlerLookup | undefined): void {
    this.server.useHandlers(handlers);
    this.streams.useHandlers(undefined);
    this.inbox.limit(PAIRING_MAX_MESSAGE_BYTES);
  }

  /** The handshake is over and the peer accepted: the connection is usable. */
  open(): void {
    this.phase = 'open';
    this.#clearHandshakeTimer();
    this.#readyResolve(this.#owner);
  }

  /** True once closed (a method: a check after code that may close must not be narrowed away). */
  isClosed(): boolean {
    return this.phase === 'closed';
  }

  /** The error a call or send made after the close fails with; undefined while not closed. */
  closedError(): PeerNetError | undefined {
    if (this.phase !== 'closed') return undefined;
    const reason = this.closeReason;
    return new ConnectionClosedError(reason ? `connection closed: ${reason.message}` : 'connection closed');
  }

  /** `Connection.drained`: resolves once no call is outstanding either way, or the session closes. */
  drained(): Promise<void> {
    if (this.phase === 'closed' || !this.#busy()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Resolves the `drained()` promises if nothing is outstanding any more. */
  checkDrained(): void {
    if (this.#drainWaiters.length === 0 || this.#busy()) return;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }

  /** True while a call is outstanding in either direction. */
  #busy(): boolean {
    return this.calls.busy() || this.server.busy() || this.streams.busy();
  }

  readonly #onEnd = (): void => {
    this.fail(withoutStack(() => new ConnectionClosedError('the peer closed the connection')), true);
  };

  readonly #onStreamClose = (): void => {
    this.fail(withoutStack(() => new ConnectionClosedError('the stream closed')));
  };

  readonly #onError = (error: Error): void => {
    this.fail(new ConnectionClosedError(`stream error: ${error.message}`, { cause: error }));
  };

  /** Publishes that reading from the peer stopped or restarted, and why. */
  backpressure(state: 'paused' | 'resumed', cause: 'handlers-busy' | 'peer-not-reading', queuedBytes: number): void {
    if (!hasDiagnosticsSubscribers(DIAGNOSTICS_CHANNELS.backpressure)) return;
    publishDiagnostic(DIAGNOSTICS_CHANNELS.backpressure, { peer: String(this.peer), state, cause, queuedBytes });
  }

  /** Closes at once because something went wrong (`ended`: the peer ended the stream); `reason` becomes the close reason. */
  fail(reason: PeerNetError, ended = false): void {
    if (this.phase === 'closed') return;
    if (reason.code === 'connection_closed' && this.phase !== 'open') {
      // Only a clean end right after message 3, nothing received since message 2, is a refusal (protocol.md 3.3).
      if (ended && this.phase === 'confirming' && this.inbox.frames.idle) reason = new RefusedByPeerError();
      else reason = new HandshakeFailedError('the peer closed the connection during the handshake', { cause: reason });
    }
    this.shutdown(reason, true);
  }

  /**
   * Closes: everything outstanding fails or is aborted, the stream listeners
   * go, and the stream is destroyed, or ended with a short grace period.
   */
  shutdown(reason: PeerNetError | undefined, destroy: boolean): void {
    const wasOpen = this.phase === 'open';
    this.phase = 'closed';
    this.closeReason = reason;
    this.#clearHandshakeTimer();
    this.handshake = undefined;
    // Errors capture a stack trace, which costs more than the rest of a close: make them only when someone is told.
    if (!wasOpen) {
      const refusal = reason ?? new ConnectionClosedError('connection closed before the handshake completed');
      if (hasDiagnosticsSubscribers(DIAGNOSTICS_CHANNELS.handshakeRefused)) {
        const peer = this.provenPeer ?? this.expectedPeer;
        publishDiagnostic(DIAGNOSTICS_CHANNELS.handshakeRefused, {
          ...(peer === undefined ? {} : { peer: peer.toString() }),
          initiator: this.initiator,
          code: refusal.code,
          reason: refusal.message,
        });
      }
      this.#readyReject(refusal);
    }
    let closedError: ConnectionClosedError | undefined;
    const closed = (): ConnectionClosedError =>
      (closedError ??= new ConnectionClosedError(
        reason ? `connection closed: ${reason.message}` : 'connection closed',
        reason ? { cause: reason } : undefined,
      ));
    this.calls.failCalls(closed);
    this.server.abortAll(closed);
    this.streams.closeAll(closed);
    this.outbox.close(closed);
    this.calls.failPings(closed);
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
    this.inbox.close();
    const stream = this.stream;
    stream.off('data', this.inbox.onData);
    stream.off('drain', this.outbox.onDrain);
    stream.off('end', this.#onEnd);
    const done = (): void => {
      stream.off('close', this.#onStreamClose);
      stream.off('close', done);
      this.#closedResolve(reason);
    };
    // Keep an error listener: a late socket error must not crash the process.
    stream.on('error', noop);
    stream.off('error', this.#onError);
    if (stream.destroyed) {
      done();
      return;
    }
    stream.on('close', done);
    if (destroy) {
      stream.destroy();
      return;
    }
    // Graceful: let written bytes reach the peer, but do not wait on it for long.
    stream.end();
    const grace = this.clock.setTimeout(() => stream.destroy(), CLOSE_GRACE_MS);
    void this.closed.then(() => this.clock.clearTimeout(grace));
  }

  #clearHandshakeTimer(): void {
    if (this.#handshakeTimer !== undefined) {
      this.clock.clearTimeout(this.#handshakeTimer);
      this.#handshakeTimer = undefined;
    }
  }
}

function noop(): void {}
