import {
  AbortedError,
  ConnectionClosedError,
  ForbiddenError,
  HandlerError,
  HandshakeFailedError,
  InvalidArgumentError,
  MessageTooLargeError,
  NoSuchHandleError,
  PeerId,
  PeerMismatchError,
  PeerNetError,
  ProtocolError,
  TimeoutError,
  UntrustedPeerError,
  bytesEqual,
  errorFromWire,
  isErrorCode,
  isPeerNetError,
  isWireErrorCode,
  type DuplexStream,
} from '@peernet/interface';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  EnvelopeDecoder,
  HANDSHAKE_FRAME_MAX_BYTES,
  MAX_NOISE_MESSAGE_BYTES,
  NoiseFrameDecoder,
  MAX_PLAINTEXT_PER_MESSAGE,
  encodeFrames,
} from '@peernet/frame';
import { x25519PublicKeyOf } from '@peernet/identity';
import { createHandshake, defaultCrypto, type CipherState, type CryptoProvider, type Handshake, type KeyPair } from '@peernet/noise';
import { EnvelopeType, appendEnvelope, decodeOwnedEnvelope, emptyHead, readEnvelopeHead, type Envelope } from './envelope.js';
import {
  DEFAULT_MAX_DECODED_BYTES,
  MAX_DECODED_COST_PER_BYTE,
  decodePayload,
  payloadCost,
  type AppendResult,
  type Value,
} from './cbor.js';
import { decodeHandshakePayload, encodeHandshakePayload } from './handshake-payload.js';
import type { ExposedHandler, HandlerContext, HandlerLookup } from './handlers.js';

/** The prologue of wire protocol v1, mixed into the handshake hash by both sides. */
export const PROLOGUE = new TextEncoder().encode('peernet/1');

/** Who we are, as the connection needs it. An `Identity` from `@peernet/identity` fits. */
export interface LocalIdentity {
  readonly id: PeerId;
  /** The Noise static key pair; read once per identity object and kept for its connections. */
  noiseKeyPair(): KeyPair;
}

/** The trust check run on the remote identity. A `TrustStore` from `@peernet/trust` fits. */
export interface TrustCheck {
  has(id: PeerId): boolean;
}

/** Timer functions, injectable so tests control time. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of `openConnection`. */
export interface ConnectionOptions {
  /** The byte stream, already connected. The connection owns it from now on. */
  stream: DuplexStream;
  /** Our identity. */
  identity: LocalIdentity;
  /** Whom we trust; checked during the handshake. */
  trust: TrustCheck;
  /** True when we dialled. */
  initiator: boolean;
  /** The peer we dialled (required for initiators): reaching anyone else is `peer_mismatch`. */
  expectedPeer?: PeerId | undefined;
  /** Handlers callable by the peer (none when omitted: everything is `no_such_handle`). */
  handlers?: HandlerLookup | undefined;
  /** Time for the whole handshake, including the responder's confirmation (default 10 s). */
  handshakeTimeoutMs?: number | undefined;
  /** Default timeout of `call` (default 5 s). */
  callTimeoutMs?: number | undefined;
  /** Largest envelope sent or accepted (default 16 MiB). */
  maxMessageBytes?: number | undefined;
  /**
   * Largest estimated JS heap, in bytes, that one received envelope may
   * decode to (default 64 MiB); a peer that sends more is disconnected with
   * `message_too_large`, before anything is decoded. The arguments held by
   * this connection's running handlers together stay within it too: when
   * the next call would pass it, the connection stops reading until enough
   * handlers finish. The estimate is an upper bound of V8's real cost
   * (`{}` counts 64 bytes, a small integer in an array 8, a string 24 + 2 per
   * UTF-8 byte, a byte string 208 + its length).
   */
  maxDecodedBytes?: number | undefined;
  /** Handlers running at once for this peer; beyond it the connection stops reading (default 256). */
  maxConcurrentHandlers?: number | undefined;
  /** Bytes queued behind a stream that does not drain before `send`/`call` are refused and reading stops until it drains (default 64 MiB). */
  maxQueuedBytes?: number | undefined;
  /** Aborts the handshake. */
  signal?: AbortSignal | undefined;
  /** Crypto provider for Noise (the package default when omitted). */
  crypto?: CryptoProvider | undefined;
  /** Timers (global ones when omitted). */
  timers?: Timers | undefined;
  /** Called when a handler of a one-way `send` fails; there is nobody to reply to. */
  onHandlerError?: ((error: unknown, context: HandlerContext) => void) | undefined;
}

/** Options of `Connection.call`. */
export interface CallOptions {
  /** Milliseconds before the call fails with `timeout` (connection default when omitted). */
  timeout?: number | undefined;
  /** Aborts the call: it fails with `aborted` and the peer is told to cancel. */
  signal?: AbortSignal | undefined;
}

interface PendingCall {
  resolve(value: Value): void;
  reject(error: Error): void;
  timer: unknown;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

const EMPTY = new Uint8Array(0);
// Heap cost of one queued envelope beyond its bytes, counted against maxQueuedBytes
// when deciding to stop reading, so a flood of tiny replies is bounded too.
const QUEUED_ENTRY_OVERHEAD = 128;
// How long a graceful close waits for the peer to close its side.
const CLOSE_GRACE_MS = 2_000;
const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

type Phase = 'handshake' | 'confirming' | 'open' | 'closed';

/**
 * One authenticated, encrypted session with one peer over one byte stream.
 * Created by `openConnection`; usable once its promise resolves.
 */
export class Connection {
  readonly #stream: DuplexStream;
  readonly #identity: LocalIdentity;
  readonly #trust: TrustCheck;
  readonly #initiator: boolean;
  readonly #expectedPeer: PeerId | undefined;
  readonly #handlers: HandlerLookup | undefined;
  readonly #timers: Timers;
  readonly #callTimeoutMs: number;
  readonly #maxMessageBytes: number;
  readonly #maxDecodedBytes: number;
  // Payloads whose worst case (216 bytes of heap per byte) is below this are not walked first: see #payloadCost.
  readonly #smallPayloadCost: number;
  readonly #decodeOptions: { maxDecodedBytes: number };
  readonly #maxConcurrentHandlers: number;
  readonly #maxQueuedBytes: number;
  readonly #onHandlerError: ConnectionOptions['onHandlerError'];
  readonly #crypto: CryptoProvider;

  #phase: Phase = 'handshake';
  #handshake: Handshake | undefined;
  #send: CipherState | undefined;
  #receive: CipherState | undefined;
  #peer: PeerId | undefined;
  readonly #frames = new NoiseFrameDecoder({ maxBytes: HANDSHAKE_FRAME_MAX_BYTES });
  readonly #envelopes: EnvelopeDecoder;
  #handshakeTimer: unknown;
  #handshakeMessagesRead = 0;
  #readyResolve!: (connection: Connection) => void;
  #readyReject!: (error: Error) => void;
  readonly ready: Promise<Connection>;
  #closedResolve!: (reason: PeerNetError | undefined) => void;
  /** Resolves once the connection is closed, with the reason (undefined for a local `close()`). */
  readonly closed: Promise<PeerNetError | undefined>;
  #closeReason: PeerNetError | undefined;

  // Outgoing calls, by id.
  #nextCallId = 1;
  // Created on first use, as the other maps here: an idle session holds none.
  #calls: Map<number, PendingCall> | undefined;
  // Incoming calls being served, by the peer's id, so a cancel can abort them.
  #serving: Map<number, Serving> | undefined;
  #handlersRunning = 0;
  // Estimated heap reserved by the arguments of handlers running now (see maxDecodedBytes).
  #decodedInUse = 0;
  // Cost of the envelope at the head of the backlog that waits until that many bytes are free; 0 when none waits.
  #waitingCost = 0;
  // Reused for every received envelope: routing one allocates nothing.
  readonly #head = emptyHead();
  #readingPaused = false;
  // Reading stopped because the peer does not read what we write (see #enqueue).
  #pausedForOutput = false;
  // Envelopes received but not yet handled because the handler cap was reached.
  #backlog: Uint8Array[] = [];
  #backlogAt = 0;
  // Handlers still running that no id reaches: sends, and calls the peer cancelled (their id may be reused).
  #detachedServing: Set<Serving> | undefined;
  // True while #processBacklog runs: a handler that finishes synchronously must not re-enter it.
  #inBacklog = false;
  #drainWaiters: Array<() => void> = [];
  // Outgoing pings, by nonce (hex).
  #pings: Map<string, Waiter> | undefined;

  // Write path: the secure-stream bytes (`u32 length | envelope`, ...) written this tick,
  // appended as each envelope is encoded and flushed together into few Noise messages.
  #pending: Uint8Array<ArrayBuffer> | undefined;
  #queuedBytes = 0;
  #queuedEntries = 0;
  // True while an envelope is being encoded into #pending (see #enqueue).
  #encoding = false;
  #flushScheduled = false;
  #awaitingDrain = false;
  // Settles when what is queued now is handed to the stream: one promise for every send of a flush.
  #flushed: { promise: Promise<void>; resolve(): void; reject(error: Error): void } | undefined;

  constructor(options: ConnectionOptions) {
    this.#stream = options.stream;
    this.#identity = options.identity;
    this.#trust = options.trust;
    this.#initiator = options.initiator;
    this.#expectedPeer = options.expectedPeer;
    this.#handlers = options.handlers;
    this.#timers = options.timers ?? defaultTimers;
    this.#callTimeoutMs = positive(options.callTimeoutMs ?? 5_000, 'callTimeoutMs');
    this.#maxMessageBytes = positive(options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES, 'maxMessageBytes');
    this.#maxDecodedBytes = positiveInteger(options.maxDecodedBytes ?? DEFAULT_MAX_DECODED_BYTES, 'maxDecodedBytes');
    this.#decodeOptions = { maxDecodedBytes: this.#maxDecodedBytes };
    this.#smallPayloadCost = Math.floor(this.#maxDecodedBytes / 1024);
    this.#maxConcurrentHandlers = positive(options.maxConcurrentHandlers ?? 256, 'maxConcurrentHandlers');
    this.#maxQueuedBytes = positive(options.maxQueuedBytes ?? 64 * 1024 * 1024, 'maxQueuedBytes');
    this.#onHandlerError = options.onHandlerError;
    this.#crypto = options.crypto ?? defaultCrypto;
    this.#envelopes = new EnvelopeDecoder({ maxBytes: this.#maxMessageBytes });
    if (this.#initiator && !this.#expectedPeer) {
      throw new InvalidArgumentError('an initiator must name the peer it dialled (expectedPeer)');
    }
    this.ready = new Promise((resolve, reject) => {
      this.#readyResolve = resolve;
      this.#readyReject = reject;
    });
    // The owner may never await `ready` if it closes first; that is not an unhandled rejection.
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.#closedResolve = resolve));

    this.#stream.on('data', this.#onData);
    this.#stream.on('end', this.#onEnd);
    this.#stream.on('close', this.#onStreamClose);
    this.#stream.on('error', this.#onError);
    this.#stream.on('drain', this.#onDrain);

    const signal = options.signal;
    if (signal?.aborted) {
      this.#fail(new AbortedError('handshake aborted'));
      return;
    }
    if (signal) {
      const onAbort = (): void => this.#fail(new AbortedError('handshake aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      void this.ready.finally(() => signal.removeEventListener('abort', onAbort)).catch(() => undefined);
    }
    const handshakeTimeoutMs = positive(options.handshakeTimeoutMs ?? 10_000, 'handshakeTimeoutMs');
    this.#handshakeTimer = this.#timers.setTimeout(() => {
      this.#handshakeTimer = undefined;
      this.#fail(new TimeoutError(`handshake did not complete within ${handshakeTimeoutMs} ms`));
    }, handshakeTimeoutMs);

    try {
      this.#handshake = createHandshake({
        initiator: this.#initiator,
        prologue: PROLOGUE,
        staticKeyPair: staticKeyPairOf(this.#identity),
        crypto: this.#crypto,
      });
      if (this.#initiator) this.#writeRaw([this.#handshake.writeMessage(EMPTY)]);
    } catch (error) {
      this.#fail(asHandshakeError(error));
    }
  }

  /** The authenticated remote peer (throws before the handshake has authenticated it). */
  get peer(): PeerId {
    if (!this.#peer) throw new HandshakeFailedError('the peer is not authenticated yet');
    return this.#peer;
  }

  /** True once authenticated and until closed. */
  get isOpen(): boolean {
    return this.#phase === 'open';
  }

  /** Why the connection closed, once it has (undefined while open or after a local close). */
  get closeReason(): PeerNetError | undefined {
    return this.#closeReason;
  }

  /** True if we dialled. */
  get initiator(): boolean {
    return this.#initiator;
  }

  /** Calls the peer's handler `name`; resolves with its result or rejects with a typed error. */
  call(name: string, args: Value = null, options: CallOptions = {}): Promise<Value> {
    const signal = options.signal;
    if (signal?.aborted) return Promise.reject(new AbortedError('call aborted before it was sent'));
    const closed = this.#closedError();
    if (closed) return Promise.reject(closed);
    const id = this.#nextCallId++;
    try {
      this.#enqueue({ type: EnvelopeType.Call, id, name, args }, true);
    } catch (error) {
      return Promise.reject(error);
    }
    const timeout = options.timeout ?? this.#callTimeoutMs;
    return new Promise<Value>((resolve, reject) => {
      const pending: PendingCall = { resolve, reject, timer: undefined, signal, onAbort: undefined };
      pending.timer = this.#timers.setTimeout(() => {
        this.#cancelCall(id, new TimeoutError(`call to '${name}' timed out after ${timeout} ms`));
      }, timeout);
      if (signal) {
        pending.onAbort = () => this.#cancelCall(id, new AbortedError(`call to '${name}' aborted`));
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      (this.#calls ??= new Map()).set(id, pending);
    });
  }

  /** Sends to the peer's handler `name` without a reply; resolves once handed to the stream. */
  send(name: string, args: Value = null): Promise<void> {
    const closed = this.#closedError();
    if (closed) return Promise.reject(closed);
    try {
      this.#enqueue({ type: EnvelopeType.Send, name, args }, true);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#flushed === undefined) {
      let resolve!: () => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#flushed = { promise, resolve, reject };
    }
    return this.#flushed.promise;
  }

  /** Sends a ping and resolves with the round-trip time in milliseconds once the pong arrives. */
  ping(options: { timeout?: number; signal?: AbortSignal } = {}): Promise<number> {
    const closed = this.#closedError();
    if (closed) return Promise.reject(closed);
    const nonce = new Uint8Array(8);
    globalThis.crypto.getRandomValues(nonce);
    const key = hex(nonce);
    const started = performance.now();
    const timeout = options.timeout ?? this.#callTimeoutMs;
    return new Promise<number>((resolve, reject) => {
      const finish = (error?: Error): void => {
        this.#pings?.delete(key);
        this.#timers.clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(performance.now() - started);
      };
      const onAbort = (): void => finish(new AbortedError('ping aborted'));
      const timer = this.#timers.setTimeout(() => finish(new TimeoutError(`no pong within ${timeout} ms`)), timeout);
      if (options.signal?.aborted) return finish(new AbortedError('ping aborted'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      (this.#pings ??= new Map()).set(key, { resolve: () => finish(), reject: finish });
      this.#enqueue({ type: EnvelopeType.Ping, nonce });
    });
  }

  /**
   * Closes the connection: what was already handed over is flushed, the
   * stream is ended, outstanding calls fail with `connection_closed`.
   * Idempotent; resolves once the stream is closed.
   */
  close(reason?: PeerNetError): Promise<void> {
    if (this.#phase !== 'closed') {
      if (this.#send && this.#queuedBytes > 0 && !this.#awaitingDrain) this.#flush();
      this.#shutdown(reason, false);
    }
    return this.closed.then(() => undefined);
  }

  /**
   * Resolves once no call is outstanding in either direction on this
   * connection (at once if none is), or once it closes. Used to retire a
   * duplicate session without failing the calls already on it.
   */
  drained(): Promise<void> {
    if (this.#phase === 'closed' || !this.#busy()) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Closes at once, without flushing: for peers we give up on (eviction, protocol abuse). */
  destroy(reason?: PeerNetError): void {
    if (this.#phase !== 'closed') this.#shutdown(reason, true);
  }

  // ---- inbound -------------------------------------------------------------

  readonly #onData = (chunk: Uint8Array): void => {
    if (this.#phase === 'closed') return;
    try {
      for (const frame of this.#frames.push(chunk)) {
        if (this.#isClosed()) return;
        if (this.#handshake) this.#onHandshakeMessage(this.#handshake, frame);
        else this.#onTransportMessage(frame);
      }
    } catch (error) {
      this.#fail(this.#phase === 'handshake' ? asHandshakeError(error) : asProtocolError(error));
    }
  };

  #onHandshakeMessage(handshake: Handshake, message: Uint8Array): void {
    const payload = handshake.readMessage(message);
    if (this.#initiator) {
      // Message 2: the responder identified itself. Check it before we say who we are.
      this.#authenticate(handshake, payload);
      const m3 = handshake.writeMessage(this.#ownPayload());
      this.#finishHandshake(handshake);
      this.#writeRaw([m3]);
      // Open only once the responder confirms; it closes silently if it does not trust us.
      this.#phase = 'confirming';
      return;
    }
    if (++this.#handshakeMessagesRead === 1) {
      // Message 1: `-> e` with an empty payload.
      if (payload.length !== 0) throw new HandshakeFailedError('first handshake message carries a payload');
      this.#writeRaw([handshake.writeMessage(this.#ownPayload())]);
      return;
    }
    // Message 3: the initiator identified itself.
    this.#authenticate(handshake, payload);
    this.#finishHandshake(handshake);
    // An empty transport message tells the initiator it was accepted.
    this.#writeRaw([(this.#send as CipherState).encrypt(EMPTY)]);
    this.#open();
  }

  #authenticate(handshake: Handshake, payloadBytes: Uint8Array): void {
    const payload = decodeHandshakePayload(payloadBytes);
    const peer = PeerId.fromBytes(payload.identityKey);
    let mapped: Uint8Array;
    try {
      mapped = montgomeryForm(peer, this.#crypto);
    } catch (error) {
      throw new HandshakeFailedError('the identity key in the handshake is not a valid Ed25519 key', { cause: error });
    }
    const staticKey = handshake.remoteStaticKey;
    if (!staticKey || !bytesEqual(mapped, staticKey)) {
      throw new HandshakeFailedError('the identity key does not match the Noise static key');
    }
    if (this.#expectedPeer && !peer.equals(this.#expectedPeer)) {
      throw new PeerMismatchError(`dialled ${this.#expectedPeer.toString()} but reached ${peer.toString()}`);
    }
    if (!this.#trust.has(peer)) throw new UntrustedPeerError(`peer ${peer.toString()} is not trusted`);
    // The initiator keeps the id it dialled (equal to `peer` by now): one PeerId per session, not two.
    this.#peer = this.#expectedPeer ?? peer;
  }

  #ownPayload(): Uint8Array {
    return encodeHandshakePayload({ identityKey: this.#identity.id.unsafeBytes, extensions: EMPTY });
  }

  #finishHandshake(handshake: Handshake): void {
    const { send, receive } = handshake.split();
    this.#send = send;
    this.#receive = receive;
    this.#handshake = undefined;
    this.#frames.maxBytes = MAX_NOISE_MESSAGE_BYTES;
    // Each transport message is decrypted into a new buffer before the next read: its frame buffer can be reused.
    this.#frames.reuseBuffers = true;
  }

  #open(): void {
    this.#phase = 'open';
    this.#clearHandshakeTimer();
    this.#readyResolve(this);
  }

  #onTransportMessage(message: Uint8Array): void {
    const plaintext = (this.#receive as CipherState).decrypt(message);
    if (this.#phase === 'confirming') this.#open();
    if (plaintext.length === 0) return;
    const bodies = this.#envelopes.push(plaintext);
    if (bodies.length === 0) return;
    if (this.#backlog.length === 0) this.#backlog = bodies;
    else for (const body of bodies) this.#backlog.push(body);
    this.#processBacklog();
  }

  /**
   * Handles received envelopes in order until the handler cap is reached;
   * the rest (at most what one read brought) waits, with the stream paused.
   */
  #processBacklog(): void {
    if (this.#inBacklog) return;
    this.#inBacklog = true;
    try {
      const backlog = this.#backlog;
      while (this.#backlogAt < backlog.length) {
        if (
          this.#handlersRunning >= this.#maxConcurrentHandlers ||
          (this.#waitingCost > 0 && this.#decodedInUse + this.#waitingCost > this.#maxDecodedBytes)
        ) {
          // Backpressure on a peer that calls faster than we serve: stop reading its stream.
          this.#pauseReading();
          return;
        }
        if (!this.#onEnvelope(backlog[this.#backlogAt] as Uint8Array)) {
          this.#pauseReading();
          return;
        }
        this.#waitingCost = 0;
        if (this.#isClosed()) return;
        this.#backlogAt++;
      }
      this.#backlog = [];
      this.#backlogAt = 0;
      if (this.#readingPaused) {
        this.#readingPaused = false;
        this.#stream.resume();
      }
    } finally {
      this.#inBacklog = false;
    }
  }

  #pauseReading(): void {
    if (!this.#readingPaused) {
      this.#readingPaused = true;
      this.#stream.pause();
    }
  }

  /**
   * Handles one received envelope; false when it must wait for running
   * handlers to free decode budget (it stays at the head of the backlog).
   * Calls, sends and replies are routed on their head: their payload is
   * decoded only once a handler will run or a call waits for it.
   */
  #onEnvelope(body: Uint8Array): boolean {
    const head = this.#head;
    const type = readEnvelopeHead(body, head);
    if (type === EnvelopeType.Call) return this.#serve(head.id, head.name, head.bytes, head.payload);
    if (type === EnvelopeType.Send) return this.#serve(undefined, head.name, head.bytes, head.payload);
    if (type === EnvelopeType.Reply) {
      // A reply to a call we gave up on (timeout, abort) is expected and ignored, undecoded.
      if (this.#calls?.has(head.id) !== true) return true;
      this.#payloadCost(head.bytes, head.payload);
      this.#settleCall(head.id, decodePayload(head.bytes, head.payload), undefined);
      return true;
    }
    const envelope = decodeOwnedEnvelope(body, this.#decodeOptions);
    switch (envelope.type) {
      case EnvelopeType.Error:
        this.#settleCall(envelope.id, null, errorFromWire(envelope.code, envelope.message));
        break;
      case EnvelopeType.Ping:
        this.#enqueue({ type: EnvelopeType.Pong, nonce: envelope.nonce });
        break;
      case EnvelopeType.Pong:
        this.#pings?.get(hex(envelope.nonce))?.resolve();
        break;
      case EnvelopeType.Cancel: {
        const serving = this.#serving?.get(envelope.id);
        if (serving !== undefined) {
          // The call is no longer outstanding: its id may come again at once. A
          // handler that ignores the abort keeps its place under the handler cap
          // until it returns, and its result is dropped.
          this.#serving?.delete(envelope.id);
          (this.#detachedServing ??= new Set()).add(serving);
          serving.abort(new AbortedError('the caller cancelled the call'));
          this.#checkDrained();
        }
        break;
      }
    }
    return true;
  }

  #settleCall(id: number, result: Value, error: PeerNetError | undefined): void {
    const pending = this.#calls?.get(id);
    // A reply to a call we gave up on (timeout, abort) is expected and ignored.
    if (!pending) return;
    this.#forgetCall(id, pending);
    if (error) pending.reject(error);
    else pending.resolve(result);
  }

  /**
   * Runs a handler for a call (`id` set) or a send; the lookup happens now, for
   * this envelope. The arguments are decoded only once the handler exists,
   * the estimated cost of decoding them fits the budget and `authorize` (if
   * any) allowed the peer. A handler that returns a plain value completes
   * here, without a promise; only what it returns decides whether we wait.
   * Returns false, doing nothing, when the arguments must wait for budget.
   */
  #serve(id: number | undefined, name: string, bytes: Uint8Array, payload: number): boolean {
    if (id !== undefined && this.#serving?.has(id)) {
      throw new ProtocolError(`call id ${id} is already in progress`);
    }
    const entry = this.#handlers?.get(name);
    if (!entry) {
      if (id !== undefined) this.#replyError(id, new NoSuchHandleError(`no handler named '${name}'`));
      return true;
    }
    const cost = this.#payloadCost(bytes, payload);
    if (this.#decodedInUse > 0 && this.#decodedInUse + cost > this.#maxDecodedBytes) {
      this.#waitingCost = cost;
      return false;
    }
    const serving = new Serving(this.#peer as PeerId, name, id, cost);
    let verdict: unknown = true;
    if (entry.authorize) {
      try {
        verdict = entry.authorize(serving.peer, name);
      } catch {
        verdict = false;
      }
    }
    let result: unknown;
    if (isThenable(verdict)) {
      this.#reserve(serving);
      result = Promise.resolve(verdict).then(
        (allowed) => {
          if (allowed !== true) throw new ForbiddenError(`not allowed to use '${name}'`);
          // Closed meanwhile: the arguments are not worth decoding and nobody waits for a reply.
          if (this.#phase === 'closed') throw new ConnectionClosedError('connection closed');
          let args: Value;
          try {
            args = decodePayload(bytes, payload);
          } catch (error) {
            this.#fail(asProtocolError(error));
            throw error;
          }
          return entry.handler(args, serving);
        },
        () => {
          throw new ForbiddenError(`not allowed to use '${name}'`);
        },
      );
    } else if (verdict !== true) {
      this.#reserve(serving);
      this.#handlerFailed(serving, entry, new ForbiddenError(`not allowed to use '${name}'`));
      return true;
    } else {
      // A malformed payload throws here, before anything is counted: the connection closes.
      const args = decodePayload(bytes, payload);
      this.#reserve(serving);
      try {
        result = entry.handler(args, serving);
      } catch (error) {
        this.#handlerFailed(serving, entry, error);
        return true;
      }
    }
    if (isThenable(result)) {
      // Only a handler still running can be cancelled or aborted by a close: track it from here.
      serving.tracked = true;
      if (id !== undefined) (this.#serving ??= new Map()).set(id, serving);
      else (this.#detachedServing ??= new Set()).add(serving);
      result.then(
        (value) => this.#handlerSucceeded(serving, value),
        (error: unknown) => this.#handlerFailed(serving, entry, error),
      );
    } else {
      this.#handlerSucceeded(serving, result);
    }
    return true;
  }

  /**
   * What decoding the payload from `payload` to the end of `bytes` will cost
   * in heap (estimated); throws `MessageTooLargeError` above the budget of
   * one envelope. Large payloads are walked without allocating. A small one
   * is charged its worst case instead, which is within budget by
   * construction, and the decoder checks its structure as it goes: the walk
   * would cost the common small call more than its decoding does.
   */
  #payloadCost(bytes: Uint8Array, payload: number): number {
    const worst = (bytes.length - payload) * MAX_DECODED_COST_PER_BYTE;
    return worst <= this.#smallPayloadCost ? worst : payloadCost(bytes, payload, this.#maxDecodedBytes);
  }

  /** Counts a handler run against the handler cap and its arguments against the decode budget. */
  #reserve(serving: Serving): void {
    this.#handlersRunning++;
    this.#decodedInUse += serving.cost;
  }

  #handlerSucceeded(serving: Serving, value: unknown): void {
    const id = serving.id;
    if (id !== undefined && !serving.aborted) this.#reply(id, value === undefined ? null : (value as Value));
    this.#handlerDone(serving);
  }

  #handlerFailed(serving: Serving, entry: ExposedHandler, error: unknown): void {
    if (!(serving.aborted && this.#phase === 'closed')) {
      if (serving.id === undefined) this.#onHandlerError?.(error, serving);
      else if (!serving.aborted) this.#replyError(serving.id, handlerFailure(error, entry));
    }
    this.#handlerDone(serving);
  }

  #handlerDone(serving: Serving): void {
    if (serving.tracked) {
      // A cancelled call's id may already belong to a newer call: only its own entry is removed.
      if (serving.id !== undefined && this.#serving?.get(serving.id) === serving) {
        this.#serving.delete(serving.id);
        this.#checkDrained();
      } else {
        this.#detachedServing?.delete(serving);
      }
    }
    this.#handlersRunning--;
    this.#decodedInUse -= serving.cost;
    if (this.#readingPaused && !this.#isClosed()) {
      try {
        this.#processBacklog();
      } catch (error) {
        this.#fail(asProtocolError(error));
      }
    }
  }

  #reply(id: number, result: Value): void {
    if (this.#phase === 'closed') return;
    try {
      this.#enqueue({ type: EnvelopeType.Reply, id, result }, true);
    } catch (error) {
      this.#replyError(id, new HandlerError(`the handler's result could not be sent: ${messageOf(error)}`));
    }
  }

  #replyError(id: number, error: PeerNetError): void {
    if (this.#phase === 'closed') return;
    this.#enqueue({ type: EnvelopeType.Error, id, code: error.code, message: error.message });
  }

  // ---- outbound ------------------------------------------------------------

  /**
   * Encodes `envelope` as `u32 length | envelope` straight into this tick's
   * write buffer. With `limits` (a message of the application's), an envelope
   * over `maxMessageBytes`, or over `maxQueuedBytes` while the peer is not
   * reading, throws `MessageTooLargeError` and leaves the queue as it was.
   */
  #enqueue(envelope: Envelope, limits = false): void {
    if (this.#encoding) {
      // A getter in the arguments being encoded sends on this connection: it would write into the same bytes.
      throw new InvalidArgumentError('cannot send on a connection from inside the encoding of another of its messages');
    }
    const at = this.#queuedBytes;
    const before = this.#pending;
    const target = before ?? spareWriteBuffer.take();
    let result: AppendResult;
    this.#encoding = true;
    try {
      result = appendEnvelope(envelope, target, at + 4);
    } catch (error) {
      if (before === undefined) spareWriteBuffer.give(target);
      throw error;
    } finally {
      this.#encoding = false;
    }
    const { buffer, end } = result;
    // Outgrown: its bytes were copied into the new buffer.
    if (buffer !== target) spareWriteBuffer.give(target);
    this.#pending = buffer;
    const size = end - at - 4;
    if (limits) {
      let refused: MessageTooLargeError | undefined;
      if (size > this.#maxMessageBytes) {
        refused = new MessageTooLargeError(`message of ${size} bytes exceeds maxMessageBytes (${this.#maxMessageBytes})`);
      } else if (this.#awaitingDrain && end > this.#maxQueuedBytes) {
        refused = new MessageTooLargeError(
          `the peer is not reading: ${at} bytes are already queued (maxQueuedBytes ${this.#maxQueuedBytes})`,
        );
      }
      if (refused) {
        if (at === 0) {
          this.#pending = undefined;
          spareWriteBuffer.give(buffer);
        }
        throw refused;
      }
    }
    buffer[at] = size >>> 24;
    buffer[at + 1] = (size >>> 16) & 0xff;
    buffer[at + 2] = (size >>> 8) & 0xff;
    buffer[at + 3] = size & 0xff;
    this.#queuedBytes = end;
    this.#queuedEntries++;
    if (
      this.#awaitingDrain &&
      !this.#pausedForOutput &&
      this.#queuedBytes + this.#queuedEntries * QUEUED_ENTRY_OVERHEAD > this.#maxQueuedBytes
    ) {
      // The peer does not read what we write: stop reading its requests until
      // it does, or each one would queue a reply (or pong) without bound.
      this.#pausedForOutput = true;
      this.#stream.pause();
    }
    if (!this.#flushScheduled && !this.#awaitingDrain) {
      this.#flushScheduled = true;
      queueMicrotask(this.#scheduledFlush);
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#flushScheduled = false;
    if (this.#phase !== 'closed' && !this.#awaitingDrain) this.#flush();
  };

  /** Encrypts everything queued into as few Noise messages as possible, in one stream write. */
  #flush(): void {
    // Before the handshake finished (initiator's early calls), keep queueing.
    if (!this.#send || this.#queuedBytes === 0) return;
    const pending = this.#pending as Uint8Array<ArrayBuffer>;
    const length = this.#queuedBytes;
    // Given back after each flush: an idle session keeps no write buffer.
    this.#pending = undefined;
    this.#queuedBytes = 0;
    this.#queuedEntries = 0;
    let accepted: boolean;
    try {
      accepted = writeSealed(this.#stream, this.#send, pending, length);
    } catch (error) {
      // Closing rejects the senders of this flush too (they are still in #flushed).
      this.#fail(asProtocolError(error));
      return;
    } finally {
      spareWriteBuffer.give(pending);
    }
    if (!accepted) this.#awaitingDrain = true;
    const flushed = this.#flushed;
    this.#flushed = undefined;
    flushed?.resolve();
  }

  #writeRaw(messages: Uint8Array[]): void {
    if (!this.#stream.write(encodeFrames(messages))) this.#awaitingDrain = true;
  }

  readonly #onDrain = (): void => {
    if (!this.#awaitingDrain) return;
    this.#awaitingDrain = false;
    if (this.#phase !== 'closed') this.#flush();
    if (this.#pausedForOutput && !this.#awaitingDrain && this.#phase !== 'closed') {
      this.#pausedForOutput = false;
      if (!this.#readingPaused) this.#stream.resume();
    }
  };

  #cancelCall(id: number, error: PeerNetError): void {
    const pending = this.#calls?.get(id);
    if (!pending) return;
    this.#forgetCall(id, pending);
    pending.reject(error);
    if (this.#phase !== 'closed' && this.#send) this.#enqueue({ type: EnvelopeType.Cancel, id });
  }

  #forgetCall(id: number, pending: PendingCall): void {
    this.#calls?.delete(id);
    this.#timers.clearTimeout(pending.timer);
    if (pending.signal && pending.onAbort) pending.signal.removeEventListener('abort', pending.onAbort);
    this.#checkDrained();
  }

  /** True while a call is outstanding in either direction. */
  #busy(): boolean {
    return (this.#calls !== undefined && this.#calls.size > 0) || (this.#serving !== undefined && this.#serving.size > 0);
  }

  #checkDrained(): void {
    if (this.#drainWaiters.length === 0 || this.#busy()) return;
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
  }

  // ---- closing -------------------------------------------------------------

  readonly #onEnd = (): void => {
    this.#fail(withoutStack(() => new ConnectionClosedError('the peer closed the connection')));
  };

  readonly #onStreamClose = (): void => {
    this.#fail(withoutStack(() => new ConnectionClosedError('the stream closed')));
  };

  readonly #onError = (error: Error): void => {
    this.#fail(new ConnectionClosedError(`stream error: ${error.message}`, { cause: error }));
  };

  #fail(reason: PeerNetError): void {
    if (this.#phase === 'closed') return;
    if (reason.code === 'connection_closed') {
      // An initiator rejected after message 3 only sees the stream end before confirmation.
      if (this.#phase === 'confirming') {
        reason = new HandshakeFailedError('the peer closed the connection after the handshake (it does not trust us)', {
          cause: reason,
        });
      } else if (this.#phase === 'handshake') {
        reason = new HandshakeFailedError('the peer closed the connection during the handshake', { cause: reason });
      }
    }
    this.#shutdown(reason, true);
  }

  #shutdown(reason: PeerNetError | undefined, destroy: boolean): void {
    const wasOpen = this.#phase === 'open';
    this.#phase = 'closed';
    this.#closeReason = reason;
    this.#clearHandshakeTimer();
    this.#handshake = undefined;
    // Errors capture a stack trace, which costs more than the rest of a close: make them only when someone is told.
    if (!wasOpen) this.#readyReject(reason ?? new ConnectionClosedError('connection closed before the handshake completed'));
    let closedError: ConnectionClosedError | undefined;
    const closed = (): ConnectionClosedError =>
      (closedError ??= new ConnectionClosedError(
        reason ? `connection closed: ${reason.message}` : 'connection closed',
        reason ? { cause: reason } : undefined,
      ));
    for (const [id, pending] of this.#calls ?? []) {
      this.#forgetCall(id, pending);
      pending.reject(closed());
    }
    for (const serving of this.#serving?.values() ?? []) serving.abort(closed());
    for (const serving of this.#detachedServing ?? []) serving.abort(closed());
    this.#flushed?.reject(closed());
    this.#flushed = undefined;
    for (const ping of this.#pings?.values() ?? []) ping.reject(closed());
    for (const resolve of this.#drainWaiters.splice(0)) resolve();
    this.#pending = undefined;
    this.#queuedBytes = 0;
    this.#queuedEntries = 0;
    this.#backlog = [];
    this.#backlogAt = 0;
    this.#waitingCost = 0;
    this.#stream.off('data', this.#onData);
    this.#stream.off('drain', this.#onDrain);
    this.#stream.off('end', this.#onEnd);
    const done = (): void => {
      this.#stream.off('close', this.#onStreamClose);
      this.#stream.off('close', done);
      this.#closedResolve(reason);
    };
    // Keep an error listener: a late socket error must not crash the process.
    this.#stream.on('error', noop);
    this.#stream.off('error', this.#onError);
    if (this.#stream.destroyed) {
      done();
      return;
    }
    this.#stream.on('close', done);
    if (destroy) {
      this.#stream.destroy();
      return;
    }
    // Graceful: let written bytes reach the peer, but do not wait on it for long.
    this.#stream.end();
    const grace = this.#timers.setTimeout(() => this.#stream.destroy(), CLOSE_GRACE_MS);
    void this.closed.then(() => this.#timers.clearTimeout(grace));
  }

  #isClosed(): boolean {
    return this.#phase === 'closed';
  }

  #clearHandshakeTimer(): void {
    if (this.#handshakeTimer !== undefined) {
      this.#timers.clearTimeout(this.#handshakeTimer);
      this.#handshakeTimer = undefined;
    }
  }

  #closedError(): PeerNetError | undefined {
    if (this.#phase !== 'closed') return undefined;
    const reason = this.#closeReason;
    return new ConnectionClosedError(reason ? `connection closed: ${reason.message}` : 'connection closed');
  }
}

// An Identity returns fresh copies of its key pair, and a crypto provider caches
// the prepared (for node: imported) private key by array: one copy per identity
// spares every handshake that import, which costs about as much as a DH.
const staticKeyPairs = new WeakMap<LocalIdentity, KeyPair>();

function staticKeyPairOf(identity: LocalIdentity): KeyPair {
  let pair = staticKeyPairs.get(identity);
  if (pair === undefined) {
    pair = identity.noiseKeyPair();
    staticKeyPairs.set(identity, pair);
  }
  return pair;
}

const FRAME_OVERHEAD = 2 + 16;

// Node's Buffer.allocUnsafe skips zero-filling a buffer that is overwritten at once; plain Uint8Array elsewhere.
const uninitialized: (n: number) => Uint8Array =
  (globalThis as { Buffer?: { allocUnsafe(n: number): Uint8Array } }).Buffer?.allocUnsafe ?? ((n) => new Uint8Array(n));

/**
 * Cuts `length` bytes of the secure stream into Noise messages of at most
 * 65519 plaintext bytes (all full but the last) and returns them framed for
 * the socket, in one buffer: each message is sealed straight into its place.
 */
function sealStream(send: CipherState, stream: Uint8Array, length: number): Uint8Array {
  const out = uninitialized(length + Math.ceil(length / MAX_PLAINTEXT_PER_MESSAGE) * FRAME_OVERHEAD);
  let at = 0;
  for (let from = 0; from < length; from += MAX_PLAINTEXT_PER_MESSAGE) {
    const chunk = Math.min(MAX_PLAINTEXT_PER_MESSAGE, length - from);
    out[at] = (chunk + 16) >>> 8;
    out[at + 1] = (chunk + 16) & 0xff;
    at += 2;
    at += send.encryptInto(stream.subarray(from, from + chunk), out, at);
  }
  return out;
}

// From this size on, sealed messages are written as the cipher returns them
// (corked into one system call) rather than copied into one buffer.
const DETACHED_WRITE_MIN_BYTES = 16 * 1024;

/**
 * Seals `length` bytes of the secure stream into Noise messages and writes
 * them framed; returns what the stream's last `write` returned. A large write
 * on a stream that can cork goes out as the header, ciphertext and tag arrays
 * of each message, so no buffer is allocated and filled just to be written.
 */
function writeSealed(stream: DuplexStream, send: CipherState, secure: Uint8Array, length: number): boolean {
  if (length < DETACHED_WRITE_MIN_BYTES || stream.cork === undefined || stream.uncork === undefined) {
    return stream.write(sealStream(send, secure, length));
  }
  let accepted = true;
  stream.cork();
  try {
    for (let from = 0; from < length; from += MAX_PLAINTEXT_PER_MESSAGE) {
      const chunk = Math.min(MAX_PLAINTEXT_PER_MESSAGE, length - from);
      const header = uninitialized(2);
      header[0] = (chunk + 16) >>> 8;
      header[1] = (chunk + 16) & 0xff;
      const [ciphertext, tag] = send.encryptDetached(secure.subarray(from, from + chunk));
      stream.write(header);
      stream.write(ciphertext);
      accepted = stream.write(tag);
    }
  } finally {
    stream.uncork();
  }
  return accepted;
}

// Largest write buffer kept for reuse (see spareWriteBuffer).
const SPARE_WRITE_BUFFER_MAX = 1024 * 1024;

/**
 * One write buffer kept for the whole process. A flush gives its buffer back
 * and the next writer takes it, so a busy connection does not allocate (and
 * fault in) a new buffer every tick, while idle connections hold none.
 */
const spareWriteBuffer = {
  buffer: undefined as Uint8Array<ArrayBuffer> | undefined,
  /** The spare buffer, or a new 1 KiB one (the encoder grows it as a message needs). */
  take(): Uint8Array<ArrayBuffer> {
    const spare = this.buffer ?? new Uint8Array(1024);
    this.buffer = undefined;
    return spare;
  },
  give(buffer: Uint8Array<ArrayBuffer>): void {
    if (buffer.length <= SPARE_WRITE_BUFFER_MAX && (this.buffer === undefined || buffer.length > this.buffer.length)) {
      this.buffer = buffer;
    }
  },
};

/** Runs the handshake over `stream` and resolves with the open connection, or rejects with a typed error. */
export function openConnection(options: ConnectionOptions): Promise<Connection> {
  try {
    return new Connection(options).ready;
  } catch (error) {
    options.stream.destroy();
    return Promise.reject(error);
  }
}

/**
 * The context a handler gets, and the state of one handler run. The
 * AbortController is created only if the handler reads `signal`: most never
 * do, and one per message costs more than the rest of dispatch.
 */
class Serving implements HandlerContext {
  readonly peer: PeerId;
  readonly name: string;
  readonly id: number | undefined;
  /** Estimated heap of its decoded arguments, reserved from the connection's decode budget while it runs. */
  readonly cost: number;
  /** True once the connection tracks it (the handler returned a promise). */
  tracked = false;
  #controller: AbortController | undefined;
  #aborted = false;
  #reason: unknown;

  constructor(peer: PeerId, name: string, id: number | undefined, cost: number) {
    this.peer = peer;
    this.name = name;
    this.id = id;
    this.cost = cost;
  }

  get oneWay(): boolean {
    return this.id === undefined;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

// X25519 forms of Ed25519 peer ids, by id. Mapping checks the point's order
// (point decoding and a field division in pure JS plus one DH, about 0.35 ms
// with node's DH), and the same peers reconnect again and again. Only valid
// keys are kept; the map is bounded and simply emptied when full.
const MONTGOMERY_CACHE_MAX = 16_384;
const montgomeryCache = new Map<string, Uint8Array>();

function montgomeryForm(peer: PeerId, crypto: CryptoProvider): Uint8Array {
  const key = latin1(peer.unsafeBytes);
  const hit = montgomeryCache.get(key);
  if (hit !== undefined) return hit;
  // The provider's DH checks the key has no small-order component: with node's, about a fifth of the pure-JS check.
  const mapped = x25519PublicKeyOf(peer, { x25519: (scalar, u) => crypto.x25519(scalar).dh(u) });
  if (montgomeryCache.size >= MONTGOMERY_CACHE_MAX) montgomeryCache.clear();
  montgomeryCache.set(key, mapped);
  return mapped;
}

function latin1(bytes: Uint8Array): string {
  // One call, so the key is a flat string rather than a chain of 32 concatenations.
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/**
 * Makes an error without a stack trace. For the close reasons raised by stream
 * events: their frames would all be node's stream internals, and capturing them
 * costs more than the rest of closing a session (tens of µs per close here).
 */
function withoutStack<T>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

function handlerFailure(error: unknown, entry: ExposedHandler): PeerNetError {
  if (isPeerNetError(error) && isWireErrorCode(error.code)) {
    return errorFromWire(error.code, error.message);
  }
  let message = messageOf(error);
  if (entry.exposeErrorStack && error instanceof Error && error.stack) message = error.stack;
  return new HandlerError(message);
}

function asHandshakeError(error: unknown): PeerNetError {
  if (isPeerNetError(error) && isErrorCode(error.code)) {
    if (['untrusted_peer', 'peer_mismatch', 'handshake_failed', 'timeout', 'aborted'].includes(error.code)) {
      return error;
    }
    return new HandshakeFailedError(error.message, { cause: error });
  }
  return new HandshakeFailedError(messageOf(error), { cause: error });
}

function asProtocolError(error: unknown): PeerNetError {
  if (isPeerNetError(error) && isErrorCode(error.code)) return error;
  return new ProtocolError(messageOf(error), { cause: error });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
  return value;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new InvalidArgumentError(`${name} must be a positive integer`);
  return value;
}

function hex(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}

function noop(): void {}

