import { Duplex } from 'node:stream';
import { ProtocolError } from '@peernet/interface';
import type { SecretStream } from 'hyperdht';

// HyperDHT's stream (UDX under it) keeps receiving and acknowledging while
// its reader is paused, so a sender is never held back and a paused reader
// would buffer without limit. This layer gives the stream TCP's promise back
// with credit: a side sends only what the other has granted, and grants as
// its application takes bytes out. Each HyperDHT message is one frame:
//   [0] data: the bytes that follow
//   [1] credit: u32 big-endian, more bytes the sender of this frame will take

/** Bytes a side may send before the first grant, and the most a reader holds. */
export const FLOW_WINDOW_BYTES = 1024 * 1024;
// Largest data frame: a HyperDHT message each, small enough to interleave grants.
const MAX_FRAME_PAYLOAD = 64 * 1024;
// Grant in steps of a quarter window: one credit frame per 256 KiB read.
const GRANT_STEP = FLOW_WINDOW_BYTES / 4;
const DATA = 0;
const CREDIT = 1;

/** A HyperDHT stream with credit-based flow control: a paused reader holds at most one window. */
export class FlowStream extends Duplex {
  readonly #inner: SecretStream;
  #sendCredit = FLOW_WINDOW_BYTES;
  #waitingForCredit: (() => void) | undefined;
  // Received bytes: pushed to our reader, and granted back to the peer (the first window included).
  #received = 0;
  #granted = FLOW_WINDOW_BYTES;
  #grantPlanned = false;

  constructor(inner: SecretStream) {
    // Not autoDestroy: ending both ways must let HyperDHT's stream flush and close by itself (its
    // 'close' then closes this one); destroying it at once would reset what it still has to send.
    super({
      allowHalfOpen: true,
      autoDestroy: false,
      readableHighWaterMark: MAX_FRAME_PAYLOAD,
      writableHighWaterMark: MAX_FRAME_PAYLOAD,
    });
    this.#inner = inner;
    inner.on('data', (message: Buffer) => this.#onMessage(message));
    inner.on('end', () => this.push(null));
    inner.on('error', (error: Error) => this.destroy(error));
    inner.on('close', () => {
      if (!this.destroyed) this.destroy();
    });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#send(chunk, 0, callback);
  }

  // A session writes a message as several pieces (header, sealed parts, tag) under cork(): one frame
  // for all of them, as TCP's writev makes one packet, rather than a HyperDHT message each.
  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.#send(chunks.length === 1 ? (chunks[0] as { chunk: Buffer }).chunk : Buffer.concat(chunks.map((c) => c.chunk)), 0, callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#inner.end();
    callback();
  }

  override _read(): void {
    // Node calls this before it takes the chunk that triggered it out of the buffer: count afterwards.
    this.#planGrant();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#waitingForCredit = undefined;
    this.#inner.destroy(error ?? undefined);
    callback(error);
  }

  /** Sends `chunk` from `offset` as credit allows, then calls back (which lets Node's writable buffer move on). */
  #send(chunk: Buffer, offset: number, callback: (error?: Error | null) => void): void {
    while (offset < chunk.length) {
      if (this.destroyed) return callback(new Error('stream destroyed'));
      if (this.#sendCredit === 0) {
        this.#waitingForCredit = () => this.#send(chunk, offset, callback);
        return;
      }
      const length = Math.min(chunk.length - offset, MAX_FRAME_PAYLOAD, this.#sendCredit);
      const frame = Buffer.allocUnsafe(1 + length);
      frame[0] = DATA;
      chunk.copy(frame, 1, offset, offset + length);
      this.#sendCredit -= length;
      offset += length;
      this.#inner.write(frame);
    }
    callback();
  }

  #onMessage(message: Buffer): void {
    if (message.length === 0) return this.#violation('an empty message');
    if (message[0] === DATA) {
      this.#received += message.length - 1;
      if (this.#received > this.#granted) {
        return this.#violation(`${this.#received - this.#granted} bytes beyond the credit it was given`);
      }
      this.push(message.subarray(1));
      this.#planGrant();
      return;
    }
    if (message[0] === CREDIT && message.length === 5) {
      this.#sendCredit += message.readUInt32BE(1);
      if (this.#sendCredit > 2 * FLOW_WINDOW_BYTES) return this.#violation('credit beyond twice the window');
      const resume = this.#waitingForCredit;
      this.#waitingForCredit = undefined;
      resume?.();
      return;
    }
    this.#violation(`an unknown frame (type ${message[0]}, ${message.length} bytes)`);
  }

  /** After the current turn (when Node has taken out what it reads), grants what the reader consumed. */
  #planGrant(): void {
    if (this.#grantPlanned) return;
    this.#grantPlanned = true;
    queueMicrotask(() => {
      this.#grantPlanned = false;
      if (this.destroyed) return;
      const consumed = this.#received - this.readableLength;
      const owed = consumed + FLOW_WINDOW_BYTES - this.#granted;
      // Once the sender is out of credit, owed is the window less what the reader still holds: no stall.
      if (owed >= GRANT_STEP) {
        this.#granted += owed;
        const frame = Buffer.allocUnsafe(5);
        frame[0] = CREDIT;
        frame.writeUInt32BE(owed, 1);
        this.#inner.write(frame);
      }
    });
  }

  #violation(what: string): void {
    this.destroy(new ProtocolError(`dht stream: the peer sent ${what}`));
  }
}
