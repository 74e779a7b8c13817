import { InvalidArgumentError, MessageTooLargeError, type DuplexStream, type Value } from '@peernet/interface';
import {
  AEAD_TAG_BYTES, ENVELOPE_HEADER_BYTES, EnvelopeType, MAX_PLAINTEXT_PER_MESSAGE, NOISE_HEADER_BYTES, appendEnvelope,
  STREAM_DATA_HEAD_MAX_BYTES, encodeFrames, sealedLength, writeEnvelopeHeader, writeNoiseHeader, writeStreamDataHead,
  type AppendResult, type Envelope,
} from '@peernet/frame';
import type { CipherState } from '@peernet/noise';
import { asProtocolError } from './errors.js';
import type { PeerStream } from './peer-stream.js';
import type { Session } from './session.js';

// Heap cost of one queued envelope beyond its bytes, counted against maxQueuedBytes
// when deciding to stop reading, so a flood of tiny replies is bounded too.
const QUEUED_ENTRY_OVERHEAD = 128;

/**
 * The write path of one connection: envelopes are encoded straight into this
 * tick's write buffer behind their u32 header, and everything written in one
 * turn of the event loop is sealed into as few Noise messages as possible and
 * handed to the stream in one write. It also applies backpressure both ways:
 * sends are refused, and reading stops, while the peer does not read.
 */
export class Outbox {
  readonly #session: Session;
  readonly #stream: DuplexStream;
  readonly #maxMessageBytes: number;
  readonly #maxQueuedBytes: number;
  // The secure-stream bytes (`u32 length | envelope`, ...) written this tick.
  #pending: Uint8Array<ArrayBuffer> | undefined;
  #queuedBytes = 0;
  #queuedEntries = 0;
  // True while an envelope is being encoded into #pending (see enqueue).
  #encoding = false;
  #flushScheduled = false;
  #awaitingDrain = false;
  // Reading stopped because the peer does not read what we write (see enqueue).
  #pausedForOutput = false;
  // Byte streams with data to send, served in turn from #readyAt.
  #ready: PeerStream[] = [];
  #readyAt = 0;

  // Settles when what is queued now is handed to the stream: one promise for every send of a flush.
  #flushed: { promise: Promise<void>; resolve(): void; reject(error: Error): void } | undefined;

  constructor(session: Session, maxMessageBytes: number, maxQueuedBytes: number) {
    this.#session = session;
    this.#stream = session.stream;
    this.#maxMessageBytes = maxMessageBytes;
    this.#maxQueuedBytes = maxQueuedBytes;
  }

  /** True while reading is stopped because the peer does not read what we write. */
  get pausedForOutput(): boolean {
    return this.#pausedForOutput;
  }

  /** `Connection.send`: queues a send envelope and resolves once it is handed to the stream. */
  send(name: string, args: Value): Promise<void> {
    const closed = this.#session.closedError();
    if (closed) return Promise.reject(closed);
    try {
      this.enqueue({ type: EnvelopeType.Send, name, args }, true);
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

  /**
   * Encodes `envelope` as `u32 length | envelope` straight into this tick's
   * write buffer. With `limits` (a message of the application's), an envelope
   * over `maxMessageBytes`, or over `maxQueuedBytes` while the peer is not
   * reading, throws `MessageTooLargeError` and leaves the queue as it was.
   */
  enqueue(envelope: Envelope, limits = false): void {
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
      result = appendEnvelope(envelope, target, at + ENVELOPE_HEADER_BYTES);
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
    const size = end - at - ENVELOPE_HEADER_BYTES;
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
    writeEnvelopeHeader(buffer, at, size);
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
      this.#session.backpressure('paused', 'peer-not-reading', this.#queuedBytes);
    }
    if (!this.#flushScheduled && !this.#awaitingDrain) {
      this.#flushScheduled = true;
      queueMicrotask(this.#scheduledFlush);
    }
  }

  readonly #scheduledFlush = (): void => {
    this.#flushScheduled = false;
    if (this.#session.phase !== 'closed' && !this.#awaitingDrain) this.#flush();
  };

  /** Before a graceful close: hands over what was queued, unless the stream is still full. */
  flushForClose(): void {
    if (!this.#awaitingDrain) this.#flush();
  }

  /** A byte stream has data to send: it joins the round-robin of the write path. */
  streamReady(stream: PeerStream): void {
    if (stream.queued) return;
    stream.queued = true;
    this.#ready.push(stream);
    if (!this.#flushScheduled && !this.#awaitingDrain) {
      this.#flushScheduled = true;
      queueMicrotask(this.#scheduledFlush);
    }
  }

  /** Envelopes first, then stream data while the stream takes it. */
  #flush(): void {
    this.#flushEnvelopes();
    if (this.#ready.length > 0 && !this.#awaitingDrain && this.#session.send && !this.#session.isClosed()) this.#flushStreams();
  }

  /**
   * Stream data, one Noise message per stream in turn (round-robin), until
   * the socket asks us to wait: envelopes queued meanwhile (calls, other
   * streams' credit) then go out on the next drain, behind at most what the
   * socket already holds. Each message seals the data's head and the
   * application's bytes by reference.
   */
  #flushStreams(): void {
    const stream = this.#stream;
    const send = this.#session.send as CipherState;
    const ready = this.#ready;
    let accepted = true;
    stream.cork?.();
    try {
      while (accepted && this.#readyAt < ready.length) {
        const peerStream = ready[this.#readyAt++] as PeerStream;
        peerStream.queued = false;
        const piece = peerStream.takePiece(MAX_STREAM_DATA_PER_MESSAGE);
        if (piece === undefined) continue;
        accepted = writeStreamData(stream, send, peerStream.id, piece);
        if (peerStream.sendable) this.streamReady(peerStream);
        // May hand the stream its application's next chunk, at once: it queues behind the others.
        peerStream.piecesWritten();
      }
    } catch (error) {
      this.#session.fail(asProtocolError(error));
      return;
    } finally {
      if (this.#readyAt === ready.length) {
        this.#ready = [];
        this.#readyAt = 0;
      } else if (this.#readyAt > 1024) {
        this.#ready = ready.slice(this.#readyAt);
        this.#readyAt = 0;
      }
      stream.uncork?.();
    }
    if (!accepted) this.#awaitingDrain = true;
  }

  /** Encrypts every queued envelope into as few Noise messages as possible, in one stream write. */
  #flushEnvelopes(): void {
    const send = this.#session.send;
    // Before the handshake finished (initiator's early calls), keep queueing.
    if (!send || this.#queuedBytes === 0) return;
    const pending = this.#pending as Uint8Array<ArrayBuffer>;
    const length = this.#queuedBytes;
    // Given back after each flush: an idle session keeps no write buffer.
    this.#pending = undefined;
    this.#queuedBytes = 0;
    this.#queuedEntries = 0;
    let accepted: boolean;
    try {
      accepted = writeSealed(this.#stream, send, pending, length);
    } catch (error) {
      // Closing rejects the senders of this flush too (they are still in #flushed).
      this.#session.fail(asProtocolError(error));
      return;
    } finally {
      spareWriteBuffer.give(pending);
    }
    if (!accepted) this.#awaitingDrain = true;
    const flushed = this.#flushed;
    this.#flushed = undefined;
    flushed?.resolve();
  }

  /** Writes handshake messages (and the responder's confirmation), framed but not sealed here. */
  writeRaw(messages: Uint8Array[]): void {
    if (!this.#stream.write(encodeFrames(messages))) this.#awaitingDrain = true;
  }

  /** The stream's `'drain'` listener: flushes what waited and restarts reading stopped for output. */
  readonly onDrain = (): void => {
    if (!this.#awaitingDrain) return;
    this.#awaitingDrain = false;
    const session = this.#session;
    if (session.phase !== 'closed') this.#flush();
    if (this.#pausedForOutput && !this.#awaitingDrain && session.phase !== 'closed') {
      this.#pausedForOutput = false;
      if (!session.inbox.paused) this.#stream.resume();
      session.backpressure('resumed', 'peer-not-reading', this.#queuedBytes);
    }
  };

  /** On close: the senders of the unflushed bytes fail, and the bytes are dropped. */
  close(closed: () => Error): void {
    this.#flushed?.reject(closed());
    this.#flushed = undefined;
    this.#pending = undefined;
    this.#queuedBytes = 0;
    this.#queuedEntries = 0;
    this.#ready = [];
    this.#readyAt = 0;
  }
}

// Node's Buffer.allocUnsafe skips zero-filling a buffer that is overwritten at once; plain Uint8Array elsewhere.
const uninitialized: (n: number) => Uint8Array =
  (globalThis as { Buffer?: { allocUnsafe(n: number): Uint8Array } }).Buffer?.allocUnsafe ?? ((n) => new Uint8Array(n));

/**
 * Cuts `length` bytes of the secure stream into Noise messages of at most
 * 65519 plaintext bytes (all full but the last) and returns them framed for
 * the socket, in one buffer: each message is sealed straight into its place.
 */
function sealStream(send: CipherState, stream: Uint8Array, length: number): Uint8Array {
  const out = uninitialized(sealedLength(length));
  let at = 0;
  for (let from = 0; from < length; from += MAX_PLAINTEXT_PER_MESSAGE) {
    const chunk = Math.min(MAX_PLAINTEXT_PER_MESSAGE, length - from);
    at = writeNoiseHeader(out, at, chunk + AEAD_TAG_BYTES);
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
      const header = uninitialized(NOISE_HEADER_BYTES);
      writeNoiseHeader(header, 0, chunk + AEAD_TAG_BYTES);
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

// Stream data per Noise message: what is left of the plaintext after the data's head.
const MAX_STREAM_DATA_PER_MESSAGE = MAX_PLAINTEXT_PER_MESSAGE - STREAM_DATA_HEAD_MAX_BYTES;

/**
 * Writes one Noise message holding a stream data envelope: the head is
 * built here, the data sealed from the application's buffer without a copy
 * (where the provider can seal in parts). Returns what the last write returned.
 */
function writeStreamData(stream: DuplexStream, send: CipherState, id: number, data: Uint8Array): boolean {
  const head = new Uint8Array(NOISE_HEADER_BYTES + STREAM_DATA_HEAD_MAX_BYTES);
  const end = writeStreamDataHead(head, NOISE_HEADER_BYTES, id, data.length);
  const plainHead = head.subarray(NOISE_HEADER_BYTES, end);
  writeNoiseHeader(head, 0, plainHead.length + data.length + AEAD_TAG_BYTES);
  const sealed = send.encryptParts([plainHead, data]);
  stream.write(head.subarray(0, NOISE_HEADER_BYTES));
  let accepted = true;
  for (const part of sealed) accepted = stream.write(part);
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
