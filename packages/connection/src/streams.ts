import {
  AbortedError, DIAGNOSTICS_CHANNELS, ForbiddenError, HandlerError, NoSuchHandleError, ProtocolError, StreamResetError,
  TimeoutError, TooManyStreamsError, errorFromWire, errorMessage, hasDiagnosticsSubscribers, publishDiagnostic,
  type ExposedStreamHandler, type OpenStreamOptions, type PeerId, type PeerNetError, type StreamHandlerLookup,
} from '@peernet/interface';
import { EnvelopeType, type Envelope, type StreamEnvelope } from '@peernet/frame';
import { PeerStream } from './peer-stream.js';
import type { Session } from './session.js';

/** Receive window a stream grants when none is configured (256 KiB). */
export const DEFAULT_STREAM_WINDOW_BYTES = 256 * 1024;

/** Largest window or credit a stream may hold (16 MiB); more is a protocol violation. */
export const MAX_STREAM_WINDOW_BYTES = 16 * 1024 * 1024;

// Closed streams remembered so that late frames are told from hostile ones; older ones are forgotten.
const MAX_CLOSED_REMEMBERED = 4096;

/** The stream limits of one connection. */
export interface StreamLimits {
  /** The receive window each stream grants. */
  window: number;
  /** Streams open at once (the peer's and ours together), opens being authorised included. */
  maxStreams: number;
  /** The peer's opens whose `authorize` is still running. */
  maxPendingStreams: number;
}

interface PendingOpen {
  name: string;
  resolve(stream: PeerStream): void;
  reject(error: Error): void;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

// What is known of a closed stream: whether the peer ended or reset it, so later frames can be judged.
interface Closed {
  peerEnded: boolean;
  peerReset: boolean;
}

/**
 * The byte streams of one connection: opening (ours, with a deadline) and
 * accepting (the peer's, through `authorize` and the limits), routing the
 * stream envelopes, and judging every frame against what the stream's state
 * allows: one that no honest peer could send closes the connection.
 * Ids: the dialler's streams are odd, the responder's even, each side
 * counting up, so the two never collide.
 */
export class Streams {
  readonly #session: Session;
  #handlers: StreamHandlerLookup | undefined;
  readonly #limits: StreamLimits;
  readonly #timeoutMs: number;
  readonly #live = new Map<number, PeerStream>();
  readonly #closed = new Map<number, Closed>();
  // Ours, waiting for the peer's accept; the peer's, waiting for `authorize` (true once the peer reset it meanwhile).
  #opening: Map<number, PendingOpen> | undefined;
  #accepting: Map<number, boolean> | undefined;
  #nextId: number;
  #peerHighest = 0;

  constructor(session: Session, handlers: StreamHandlerLookup | undefined, limits: StreamLimits, timeoutMs: number) {
    this.#session = session;
    this.#handlers = handlers;
    this.#limits = limits;
    this.#timeoutMs = timeoutMs;
    this.#nextId = session.initiator ? 1 : 2;
  }

  /** Accepts opens to `handlers` instead from now on (none in a pairing session). */
  useHandlers(handlers: StreamHandlerLookup | undefined): void {
    this.#handlers = handlers;
  }

  /** True while a stream is open or being opened, either way. */
  busy(): boolean {
    return this.count() > 0;
  }

  /** Streams open, opening or being accepted. */
  count(): number {
    return this.#live.size + (this.#opening?.size ?? 0) + (this.#accepting?.size ?? 0);
  }

  /** `Connection.openStream`: sends the open and resolves with the stream once the peer accepts it. */
  open(name: string, options: OpenStreamOptions): Promise<PeerStream> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new AbortedError('stream open aborted before it was sent'));
    const closed = this.#session.closedError();
    if (closed) return Promise.reject(closed);
    const id = this.#nextId;
    try {
      this.#session.outbox.enqueue({ type: EnvelopeType.StreamOpen, stream: id, name, window: this.#limits.window });
    } catch (error) {
      return Promise.reject(error);
    }
    this.#nextId += 2;
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    return new Promise<PeerStream>((resolve, reject) => {
      const pending: PendingOpen = { name, resolve, reject, timer: undefined, signal, onAbort: undefined };
      pending.timer = this.#session.clock.setTimeout(() => {
        this.#abandon(id, new TimeoutError(`opening stream '${name}' timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      if (signal) {
        pending.onAbort = () => this.#abandon(id, new AbortedError(`opening stream '${name}' aborted`));
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      (this.#opening ??= new Map()).set(id, pending);
    });
  }

  /** A stream envelope other than data arrived. */
  onEnvelope(envelope: StreamEnvelope): void {
    switch (envelope.type) {
      case EnvelopeType.StreamOpen:
        this.#onOpen(envelope.stream, envelope.name, envelope.window);
        break;
      case EnvelopeType.StreamAccept:
        this.#onAccept(envelope.stream, envelope.window);
        break;
      case EnvelopeType.StreamCredit:
        this.#onCredit(envelope.stream, envelope.credit);
        break;
      case EnvelopeType.StreamEnd:
        this.#onEnd(envelope.stream);
        break;
      case EnvelopeType.StreamReset:
        this.#onReset(envelope.stream, envelope.code, envelope.message);
        break;
      case EnvelopeType.StreamData:
        this.onData(envelope.stream, envelope.data);
        break;
    }
  }

  /** Stream data arrived (a view into the decrypted message). */
  onData(id: number, data: Uint8Array): void {
    const stream = this.#live.get(id);
    if (stream === undefined) return this.#orphan(id, 'data');
    if (stream.remoteEnded) throw new ProtocolError(`stream data for stream ${id} after the peer ended it`);
    if (data.length > stream.allowance) {
      throw new ProtocolError(`stream data of ${data.length} bytes for stream ${id} exceeds its credit of ${stream.allowance}`);
    }
    stream.receive(data);
  }

  /** Queues a control envelope of a stream, unless the connection is gone. */
  control(envelope: Envelope): void {
    if (!this.#session.isClosed()) this.#session.outbox.enqueue(envelope);
  }

  /** A stream has a chunk to send. */
  ready(stream: PeerStream): void {
    this.#session.outbox.streamReady(stream);
  }

  /** A stream is destroyed locally before both sides ended it: the peer is told. */
  reset(stream: PeerStream, code: string, message: string): void {
    if (this.#live.get(stream.id) === stream) {
      this.control({ type: EnvelopeType.StreamReset, stream: stream.id, code, message });
    }
  }

  /** A stream is closed (ended both ways, reset or destroyed): it is forgotten but for what judges late frames. */
  forget(stream: PeerStream): void {
    if (this.#live.get(stream.id) !== stream) return;
    this.#live.delete(stream.id);
    this.#remember(stream.id, { peerEnded: stream.remoteEnded, peerReset: stream.resetByPeer });
    this.#session.checkDrained();
  }

  /** On close: opens in progress fail, open streams are destroyed with the connection's error. */
  closeAll(closed: () => PeerNetError): void {
    for (const [id, pending] of this.#opening ?? []) {
      this.#settleOpen(id, pending);
      pending.reject(closed());
    }
    for (const stream of [...this.#live.values()]) stream.destroy(closed());
  }

  #onOpen(id: number, name: string, window: number): void {
    if (this.#mine(id) || id <= this.#peerHighest) throw new ProtocolError(`stream open with id ${id}, which is not a new id of the peer's`);
    this.#peerHighest = id;
    checkWindow(window, id);
    const entry = this.#handlers?.get(name);
    if (entry === undefined) return this.#refuse(id, name, new NoSuchHandleError(`no stream handler named '${name}'`));
    const accepting = this.#accepting?.size ?? 0;
    if (this.#live.size + accepting >= this.#limits.maxStreams) {
      return this.#refuse(id, name, new TooManyStreamsError(`the peer allows ${this.#limits.maxStreams} streams per connection`));
    }
    if (accepting >= this.#limits.maxPendingStreams) {
      return this.#refuse(
        id, name, new TooManyStreamsError(`the peer allows ${this.#limits.maxPendingStreams} stream opens in progress per connection`),
      );
    }
    const peer = this.#session.peer as PeerId;
    let verdict: unknown = true;
    try {
      if (entry.authorize) verdict = entry.authorize(peer, name);
    } catch {
      verdict = false;
    }
    if (!isThenable(verdict)) {
      if (verdict === true) this.#accept(id, name, window, entry);
      else this.#refuse(id, name, forbidden(name));
      return;
    }
    (this.#accepting ??= new Map()).set(id, false);
    const decide = (allowed: unknown): void => {
      const resetMeanwhile = this.#accepting?.get(id);
      this.#accepting?.delete(id);
      if (this.#session.isClosed()) return;
      if (resetMeanwhile === true) this.#remember(id, { peerEnded: false, peerReset: true });
      else if (allowed === true) this.#accept(id, name, window, entry);
      else this.#refuse(id, name, forbidden(name));
      this.#session.checkDrained();
    };
    verdict.then(decide, () => decide(false));
  }

  #accept(id: number, name: string, window: number, entry: ExposedStreamHandler): void {
    const stream = new PeerStream(this, id, this.#limits.window, window);
    this.#live.set(id, stream);
    this.control({ type: EnvelopeType.StreamAccept, stream: id, window: this.#limits.window });
    const context = { peer: this.#session.peer as PeerId, name, signal: stream.signal };
    const failed = (error: unknown): void => {
      stream.destroy(new HandlerError(`stream handler '${name}' failed: ${errorMessage(error)}`));
    };
    try {
      const result = entry.handler(stream, context);
      if (isThenable(result)) result.then(undefined, failed);
    } catch (error) {
      failed(error);
    }
  }

  #refuse(id: number, name: string, error: PeerNetError): void {
    this.control({ type: EnvelopeType.StreamReset, stream: id, code: error.code, message: error.message });
    this.#remember(id, { peerEnded: false, peerReset: false });
    if (hasDiagnosticsSubscribers(DIAGNOSTICS_CHANNELS.callRefused)) {
      publishDiagnostic(DIAGNOSTICS_CHANNELS.callRefused, { peer: String(this.#session.peer), name, code: error.code, stream: true });
    }
  }

  #onAccept(id: number, window: number): void {
    const pending = this.#opening?.get(id);
    if (pending === undefined) {
      if (!this.#mine(id) || this.#live.has(id)) throw new ProtocolError(`stream accept for stream ${id}, which is not opening`);
      return this.#orphan(id, 'accept');
    }
    checkWindow(window, id);
    this.#settleOpen(id, pending);
    const stream = new PeerStream(this, id, this.#limits.window, window);
    this.#live.set(id, stream);
    pending.resolve(stream);
  }

  #onCredit(id: number, credit: number): void {
    const stream = this.#live.get(id);
    if (stream === undefined) return this.#orphan(id, 'credit');
    if (stream.credit + credit > MAX_STREAM_WINDOW_BYTES) {
      throw new ProtocolError(`stream credit for stream ${id} overflows: ${stream.credit} + ${credit} is above ${MAX_STREAM_WINDOW_BYTES}`);
    }
    stream.credit += credit;
    if (stream.sendable) this.ready(stream);
  }

  #onEnd(id: number): void {
    const stream = this.#live.get(id);
    if (stream === undefined) return this.#orphan(id, 'end');
    if (stream.remoteEnded) throw new ProtocolError(`stream end for stream ${id}, which the peer already ended`);
    stream.receiveEnd();
  }

  #onReset(id: number, code: string, message: string): void {
    const pending = this.#opening?.get(id);
    if (pending !== undefined) {
      this.#settleOpen(id, pending);
      this.#remember(id, { peerEnded: false, peerReset: true });
      pending.reject(errorFromWire(code, message));
      return;
    }
    if (this.#accepting?.has(id)) {
      if (this.#accepting.get(id) === true) throw new ProtocolError(`stream reset for stream ${id} after the peer reset it`);
      this.#accepting.set(id, true);
      return;
    }
    const stream = this.#live.get(id);
    if (stream === undefined) return this.#orphan(id, 'reset');
    stream.resetByPeer = true;
    stream.destroy(
      code === 'stream_reset' ? new StreamResetError(`the peer reset the stream: ${message}`) : errorFromWire(code, message),
    );
  }

  /**
   * A frame for a stream that is not open: late frames of a stream we closed
   * are dropped; frames for a stream never opened, or that the peer itself
   * ended or reset, break the protocol.
   */
  #orphan(id: number, kind: string): void {
    if (this.#accepting?.get(id) === true) throw new ProtocolError(`stream ${kind} for stream ${id} after the peer reset it`);
    if (this.#accepting?.has(id) || this.#opening?.has(id)) {
      throw new ProtocolError(`stream ${kind} for stream ${id}, which is not accepted yet`);
    }
    const closed = this.#closed.get(id);
    if (closed === undefined) {
      const opened = this.#mine(id) ? id < this.#nextId : id <= this.#peerHighest;
      if (!opened) throw new ProtocolError(`stream ${kind} for stream ${id}, which was never opened`);
      return;
    }
    if (closed.peerReset) throw new ProtocolError(`stream ${kind} for stream ${id} after the peer reset it`);
    if (kind === 'data' || kind === 'end') {
      if (closed.peerEnded) throw new ProtocolError(`stream ${kind} for stream ${id} after the peer ended it`);
      // An end crossing our reset: whatever the peer sends after it breaks the protocol as on a live stream.
      if (kind === 'end') closed.peerEnded = true;
    }
    if (kind === 'reset') closed.peerReset = true;
  }

  /** Our open gave up (deadline or abort): the peer is told, and its accept, if it comes, is dropped. */
  #abandon(id: number, error: PeerNetError): void {
    const pending = this.#opening?.get(id);
    if (pending === undefined) return;
    this.#settleOpen(id, pending);
    this.#remember(id, { peerEnded: false, peerReset: false });
    this.control({ type: EnvelopeType.StreamReset, stream: id, code: 'aborted', message: error.message });
    pending.reject(error);
  }

  #settleOpen(id: number, pending: PendingOpen): void {
    this.#opening?.delete(id);
    this.#session.clock.clearTimeout(pending.timer);
    if (pending.signal && pending.onAbort) pending.signal.removeEventListener('abort', pending.onAbort);
    this.#session.checkDrained();
  }

  #remember(id: number, closed: Closed): void {
    this.#closed.set(id, closed);
    if (this.#closed.size > MAX_CLOSED_REMEMBERED) this.#closed.delete(this.#closed.keys().next().value as number);
  }

  #mine(id: number): boolean {
    return id % 2 === 1 === this.#session.initiator;
  }
}

function checkWindow(window: number, id: number): void {
  if (window > MAX_STREAM_WINDOW_BYTES) {
    throw new ProtocolError(`stream ${id} grants a window of ${window} bytes, above ${MAX_STREAM_WINDOW_BYTES}`);
  }
}

function forbidden(name: string): ForbiddenError {
  return new ForbiddenError(`not allowed to open stream '${name}'`);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}
