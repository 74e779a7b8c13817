import { Duplex } from 'node:stream';
import { StreamResetError, isPeerNetError, isWireErrorCode, type PeerNetError } from '@peernet/interface';
import { EnvelopeType } from '@peernet/frame';
import type { Streams } from './streams.js';

// Received data smaller than this share of the buffer it arrived in is copied out: a
// view would keep the whole decrypted message alive while it waits for the reader.
const VIEW_MIN_SHARE = 2;

/**
 * One byte stream of a session, as the application sees it: a Node `Duplex`.
 * The writer sends only as much as the peer's credit allows; the reader
 * grants credit back as the application consumes. `end()` half-closes,
 * `destroy(error)` resets both directions.
 */
export class PeerStream extends Duplex {
  /** The stream id on the wire. */
  readonly id: number;
  readonly #streams: Streams;
  readonly #window: number;
  /** Bytes the peer still allows us to send. */
  credit: number;
  // Receiving: credit granted in all (the window included) and bytes received in all.
  #granted: number;
  #received = 0;
  /** True once the peer ended its side (no more data from it). */
  remoteEnded = false;
  /** True once our end went out (no more data from us). */
  localEnded = false;
  /** True when the peer reset the stream (nothing more may come from it, and no reset goes back). */
  resetByPeer = false;
  // The chunk being sent, how far, and the callback that asks the application for the next one.
  #chunk: Uint8Array | undefined;
  #chunkAt = 0;
  #chunkDone: ((error?: Error | null) => void) | undefined;
  #abort: AbortController | undefined;

  constructor(streams: Streams, id: number, window: number, credit: number) {
    super({ allowHalfOpen: true, readableHighWaterMark: window, writableHighWaterMark: 64 * 1024 });
    this.#streams = streams;
    this.id = id;
    this.#window = window;
    this.#granted = window;
    this.credit = credit;
    // A reset or a lost session must not crash a process that forgot an 'error' listener: the peer could
    // otherwise bring it down at will. The error still reaches every listener, pipeline and async iterator.
    this.on('error', noop);
  }

  /** Aborted when the stream is destroyed before both sides ended it (for a handler's context). */
  get signal(): AbortSignal {
    this.#abort ??= new AbortController();
    if (this.destroyed && !this.#abort.signal.aborted && !this.#finishedCleanly()) this.#abort.abort(this.errored ?? undefined);
    return this.#abort.signal;
  }

  /** Bytes the peer may still send before it needs more credit. */
  get allowance(): number {
    return this.#granted - this.#received;
  }

  /** True while the write path has this stream in its queue. */
  queued = false;

  /** True while a chunk waits to go out and the peer's credit lets some of it. */
  get sendable(): boolean {
    return this.#chunk !== undefined && this.credit > 0 && !this.destroyed;
  }

  /**
   * The next piece of the chunk being sent, at most `max` bytes and within
   * the credit: a view of the application's buffer, not a copy.
   */
  takePiece(max: number): Uint8Array | undefined {
    const chunk = this.#chunk;
    if (chunk === undefined || this.credit <= 0) return undefined;
    const length = Math.min(max, this.credit, chunk.length - this.#chunkAt);
    const piece = chunk.subarray(this.#chunkAt, this.#chunkAt + length);
    this.#chunkAt += length;
    this.credit -= length;
    return piece;
  }

  /** The pieces taken are handed to the socket: once the whole chunk is, the application may write the next. */
  piecesWritten(): void {
    const chunk = this.#chunk;
    if (chunk === undefined || this.#chunkAt < chunk.length) return;
    const done = this.#chunkDone;
    this.#chunk = undefined;
    this.#chunkDone = undefined;
    done?.();
  }

  /** Data from the peer, already checked against the allowance. */
  receive(data: Uint8Array): void {
    this.#received += data.length;
    if (data.length === 0) return;
    const owned = data.length * VIEW_MIN_SHARE < data.buffer.byteLength ? data.slice() : data;
    this.push(owned);
  }

  /** The peer ended its side. */
  receiveEnd(): void {
    this.remoteEnded = true;
    this.push(null);
  }

  // Every way of consuming (read(), 'data' in flowing mode, async iteration, pipe) goes
  // through read(); Node calls _read before it takes the chunk out of the buffer, and not
  // again until the next push, so credit is granted here, once the chunk is out.
  override read(size?: number): unknown {
    const chunk: unknown = super.read(size);
    this.#grant();
    return chunk;
  }

  override _read(): void {
    this.#grant();
  }

  /** Everything the application consumed since the last grant goes back to the peer as credit. */
  #grant(): void {
    const consumed = this.#received - this.readableLength;
    const free = consumed + this.#window - this.#granted;
    // In quarters of the window, not per chunk, unless the reader has taken everything (it may read no more until then).
    if (free <= 0 || (free < this.#window / 4 && this.readableLength > 0) || this.remoteEnded || this.destroyed) return;
    this.#granted += free;
    this.#streams.control({ type: EnvelopeType.StreamCredit, stream: this.id, credit: free });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (chunk.length === 0) {
      done();
      return;
    }
    this.#chunk = chunk;
    this.#chunkAt = 0;
    this.#chunkDone = done;
    this.#streams.ready(this);
  }

  override _final(done: (error?: Error | null) => void): void {
    this.localEnded = true;
    this.#streams.control({ type: EnvelopeType.StreamEnd, stream: this.id });
    done();
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.#chunk = undefined;
    this.#chunkDone = undefined;
    if (!this.#finishedCleanly()) {
      this.#abort?.abort(error ?? new StreamResetError('the stream was destroyed'));
      if (!this.resetByPeer) this.#streams.reset(this, resetCode(error), error?.message ?? 'the stream was destroyed');
    }
    this.#streams.forget(this);
    done(error);
  }

  /** True when both sides ended their writing: closing then resets nothing. */
  #finishedCleanly(): boolean {
    return this.localEnded && this.remoteEnded;
  }
}

/** The code a local destroy sends: the error's own when it may travel, else `stream_reset`. */
function resetCode(error: Error | null): string {
  if (error !== null && isPeerNetError(error) && isWireErrorCode((error as PeerNetError).code)) return (error as PeerNetError).code;
  return 'stream_reset';
}

function noop(): void {}
