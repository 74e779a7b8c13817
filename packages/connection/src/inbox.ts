import { errorFromWire } from '@peernet/interface';
import {
  EnvelopeDecoder, EnvelopeType, HANDSHAKE_FRAME_MAX_BYTES, MAX_DECODED_COST_PER_BYTE, MAX_NOISE_MESSAGE_BYTES,
  NoiseFrameDecoder, decodeOwnedEnvelope, decodePayload, emptyHead, payloadCost, readEnvelopeHead, streamDataOf,
} from '@peernet/frame';
import type { CipherState } from '@peernet/noise';
import { asHandshakeError, asProtocolError } from './errors.js';
import type { Session } from './session.js';

/**
 * The read path of one connection: socket frames to Noise messages to
 * envelopes, then each envelope routed on its head (a payload is decoded
 * only once a handler will run or a call waits for it, and its estimated
 * heap is checked first). Envelopes that cannot be served yet wait in a
 * backlog, with the stream paused.
 */
export class Inbox {
  readonly #session: Session;
  readonly frames = new NoiseFrameDecoder({ maxBytes: HANDSHAKE_FRAME_MAX_BYTES });
  #envelopes: EnvelopeDecoder;
  readonly #maxDecodedBytes: number;
  // Payloads whose worst case (216 bytes of heap per byte) is below this are not walked first: see payloadCost.
  readonly #smallPayloadCost: number;
  readonly #decodeOptions: { maxDecodedBytes: number };
  // Reused for every received envelope: routing one allocates nothing.
  readonly #head = emptyHead();
  // Envelopes received but not yet handled because the handler cap was reached.
  #backlog: Uint8Array[] = [];
  #backlogAt = 0;
  // True while processBacklog runs: a handler that finishes synchronously must not re-enter it.
  #inBacklog = false;
  /** True while reading is stopped because the handlers are at their cap or budget. */
  paused = false;

  constructor(session: Session, maxMessageBytes: number, maxDecodedBytes: number) {
    this.#session = session;
    this.#envelopes = new EnvelopeDecoder({ maxBytes: maxMessageBytes });
    this.#maxDecodedBytes = maxDecodedBytes;
    this.#decodeOptions = { maxDecodedBytes };
    this.#smallPayloadCost = Math.floor(maxDecodedBytes / 1024);
  }

  /** The stream's `'data'` listener. */
  readonly onData = (chunk: Uint8Array): void => {
    const session = this.#session;
    if (session.phase === 'closed') return;
    try {
      for (const frame of this.frames.push(chunk)) {
        if (session.isClosed()) return;
        const handshake = session.handshake;
        if (handshake !== undefined) handshake.read(frame);
        else this.#onTransportMessage(frame);
      }
    } catch (error) {
      session.fail(session.phase === 'handshake' ? asHandshakeError(error) : asProtocolError(error));
    }
  };

  /** Once the handshake is over: frames up to the Noise limit, and their buffers reused. */
  authenticated(): void {
    this.frames.maxBytes = MAX_NOISE_MESSAGE_BYTES;
    // Each transport message is decrypted into a new buffer before the next read: its frame buffer can be reused.
    this.frames.reuseBuffers = true;
  }

  /** Caps envelopes at `maxBytes` from now on: a pairing session with a stranger carries only small messages. */
  limit(maxBytes: number): void {
    this.#envelopes = new EnvelopeDecoder({ maxBytes });
  }

  #onTransportMessage(message: Uint8Array): void {
    const session = this.#session;
    const plaintext = (session.receive as CipherState).decrypt(message);
    if (session.phase === 'confirming') session.open();
    if (plaintext.length === 0) return;
    const bodies = this.#envelopes.push(plaintext);
    if (bodies.length === 0) return;
    if (this.#backlog.length === 0) this.#backlog = bodies;
    else for (const body of bodies) this.#backlog.push(body);
    this.processBacklog();
  }

  /**
   * Handles received envelopes in order until the handler cap is reached;
   * the rest (at most what one read brought) waits, with the stream paused.
   */
  processBacklog(): void {
    if (this.#inBacklog) return;
    this.#inBacklog = true;
    try {
      const backlog = this.#backlog;
      const server = this.#session.server;
      while (this.#backlogAt < backlog.length) {
        // Backpressure on a peer that calls faster than we serve: stop reading its stream.
        if (server.full() || !this.#onEnvelope(backlog[this.#backlogAt] as Uint8Array)) {
          this.#pause();
          return;
        }
        server.waitingCost = 0;
        if (this.#session.isClosed()) return;
        this.#backlogAt++;
      }
      this.#backlog = [];
      this.#backlogAt = 0;
      if (this.paused) {
        this.paused = false;
        // Reading may also be stopped for output the peer does not take; that stop outlives this one.
        if (!this.#session.outbox.pausedForOutput) this.#session.stream.resume();
        this.#session.backpressure('resumed', 'handlers-busy', 0);
      }
    } finally {
      this.#inBacklog = false;
    }
  }

  #pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.#session.stream.pause();
      this.#session.backpressure('paused', 'handlers-busy', 0);
    }
  }

  /**
   * Handles one received envelope; false when it must wait for running
   * handlers to free decode budget (it stays at the head of the backlog).
   * Calls, sends and replies are routed on their head: their payload is
   * decoded only once a handler will run or a call waits for it.
   */
  #onEnvelope(body: Uint8Array): boolean {
    const session = this.#session;
    const head = this.#head;
    const type = readEnvelopeHead(body, head);
    if (type === EnvelopeType.Call) return session.server.serve(head.id, head.name, head.bytes, head.payload);
    if (type === EnvelopeType.Send) return session.server.serve(undefined, head.name, head.bytes, head.payload);
    if (type === EnvelopeType.StreamData) {
      session.streams.onData(head.id, streamDataOf(head));
      return true;
    }
    if (type === EnvelopeType.Reply) {
      // A reply to a call we gave up on (timeout, abort) is expected and ignored, undecoded.
      if (!session.calls.has(head.id)) return true;
      this.payloadCost(head.bytes, head.payload);
      session.calls.settle(head.id, decodePayload(head.bytes, head.payload), undefined);
      return true;
    }
    const envelope = decodeOwnedEnvelope(body, this.#decodeOptions);
    switch (envelope.type) {
      case EnvelopeType.Error:
        session.calls.settle(envelope.id, null, errorFromWire(envelope.code, envelope.message));
        break;
      case EnvelopeType.Ping:
        session.outbox.enqueue({ type: EnvelopeType.Pong, nonce: envelope.nonce });
        break;
      case EnvelopeType.Pong:
        session.calls.pong(envelope.nonce);
        break;
      case EnvelopeType.Cancel:
        session.server.cancel(envelope.id);
        break;
      case EnvelopeType.Call:
      case EnvelopeType.Reply:
      case EnvelopeType.Send:
        break;
      default:
        session.streams.onEnvelope(envelope);
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
  payloadCost(bytes: Uint8Array, payload: number): number {
    const worst = (bytes.length - payload) * MAX_DECODED_COST_PER_BYTE;
    return worst <= this.#smallPayloadCost ? worst : payloadCost(bytes, payload, this.#maxDecodedBytes);
  }

  /** On close: the envelopes still waiting are dropped. */
  close(): void {
    this.#backlog = [];
    this.#backlogAt = 0;
  }
}
