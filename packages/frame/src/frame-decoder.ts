import { FrameTooLargeError, InvalidArgumentError, MessageTooLargeError, type PeerNetError } from '@peernet/interface';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  ENVELOPE_HEADER_BYTES,
  MAX_ENVELOPE_LENGTH,
  MAX_NOISE_MESSAGE_BYTES,
  NOISE_HEADER_BYTES,
} from './constants.js';

/** Options shared by the length-prefixed decoders. */
export interface DecoderOptions {
  /** Largest body accepted; a larger declared length fails before any byte of it is buffered. */
  maxBytes: number;
  /**
   * Reuse the buffer of a body assembled from several chunks for a later frame
   * (default false). Only for a consumer that is done with every frame of one
   * `push` before the next `push`: a frame may then be overwritten.
   */
  reuseBuffers?: boolean;
}

/**
 * Streaming decoder of `length | body` frames with a big-endian length prefix
 * of 2 or 4 bytes. It holds at most one incomplete frame: complete frames are
 * handed out as they arrive (as views into the pushed chunk when they lie
 * within it), so memory is bounded by the cap, whatever the peer sends.
 */
abstract class LengthPrefixedDecoder {
  #maxBytes: number;
  readonly #prefixBytes: 2 | 4;
  // Length prefix being assembled (when split across chunks).
  #prefix = 0;
  #prefixHave = 0;
  // Body of the one incomplete frame, allocated only after the cap check and
  // grown as its bytes arrive: a declared length alone reserves little.
  #body: Uint8Array | undefined;
  #bodyLength = 0;
  #bodyHave = 0;
  #failed: PeerNetError | undefined;
  /** `DecoderOptions.reuseBuffers`; may be switched on later (e.g. once frames are decrypted into new buffers). */
  reuseBuffers: boolean;
  // With reuseBuffers: the buffer handed out by the current push, then free for the next body.
  #lent: Uint8Array | undefined;
  #spare: Uint8Array | undefined;

  protected constructor(prefixBytes: 2 | 4, limit: number, options: DecoderOptions) {
    this.#prefixBytes = prefixBytes;
    this.#maxBytes = checkCap(options.maxBytes, limit);
    this.reuseBuffers = options.reuseBuffers === true;
  }

  /** The current cap on a frame body. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** Changes the cap for frames whose length has not been read yet (e.g. after authentication). */
  set maxBytes(value: number) {
    this.#maxBytes = checkCap(value, this.#limit());
  }

  /** Bytes held for the incomplete frame (0 between frames). */
  get bufferedBytes(): number {
    return this.#prefixHave + this.#bodyHave;
  }

  /** True when no partial frame is pending, i.e. the stream may end here. */
  get idle(): boolean {
    return this.#prefixHave === 0 && this.#body === undefined;
  }

  /**
   * Feeds bytes, returns the frames completed by them, in order. Throws the
   * decoder's typed error on an oversized length; the decoder then stays failed.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.#failed) throw this.#failed;
    const lent = this.#lent;
    if (lent !== undefined) {
      // The previous push's frames are consumed by now (the reuseBuffers contract); keep the larger buffer.
      if (this.#spare === undefined || lent.length > this.#spare.length) this.#spare = lent;
      this.#lent = undefined;
    }
    const frames: Uint8Array[] = [];
    let offset = 0;
    const end = chunk.length;
    while (offset < end) {
      if (this.#body === undefined) {
        // Fast path: a whole prefix is present in this chunk.
        if (this.#prefixHave === 0 && end - offset >= this.#prefixBytes) {
          const length = this.#readPrefix(chunk, offset);
          offset += this.#prefixBytes;
          this.#checkLength(length);
          if (end - offset >= length) {
            frames.push(chunk.subarray(offset, offset + length));
            offset += length;
            continue;
          }
          this.#startBody(length);
          continue;
        }
        this.#prefix = this.#prefix * 256 + (chunk[offset++] as number);
        if (++this.#prefixHave < this.#prefixBytes) continue;
        const length = this.#prefix;
        this.#prefix = 0;
        this.#prefixHave = 0;
        this.#checkLength(length);
        this.#startBody(length);
        if (length === 0) {
          frames.push(this.#takeBody());
        }
        continue;
      }
      const take = Math.min(this.#bodyLength - this.#bodyHave, end - offset);
      const body = this.#reserve(this.#bodyHave + take);
      body.set(chunk.subarray(offset, offset + take), this.#bodyHave);
      this.#bodyHave += take;
      offset += take;
      if (this.#bodyHave === this.#bodyLength) frames.push(this.#takeBody());
    }
    if (this.#body === undefined) {
      // At a frame boundary, perhaps for a long while: an idle connection keeps no buffer.
      this.#spare = undefined;
      this.#lent = undefined;
    }
    return frames;
  }

  protected abstract tooLarge(length: number, max: number): PeerNetError;

  #limit(): number {
    return this.#prefixBytes === NOISE_HEADER_BYTES ? MAX_NOISE_MESSAGE_BYTES : MAX_ENVELOPE_LENGTH;
  }

  #readPrefix(chunk: Uint8Array, at: number): number {
    if (this.#prefixBytes === NOISE_HEADER_BYTES) return ((chunk[at] as number) << 8) | (chunk[at + 1] as number);
    return (
      (chunk[at] as number) * 0x1000000 +
      (((chunk[at + 1] as number) << 16) | ((chunk[at + 2] as number) << 8) | (chunk[at + 3] as number))
    );
  }

  #checkLength(length: number): void {
    if (length > this.#maxBytes) {
      this.#failed = this.tooLarge(length, this.#maxBytes);
      throw this.#failed;
    }
  }

  #startBody(length: number): void {
    const initial = Math.min(length, INITIAL_BODY_BYTES);
    const spare = this.#spare;
    if (spare !== undefined && this.reuseBuffers && spare.length >= initial) {
      this.#body = spare;
      this.#spare = undefined;
    } else {
      this.#body = new Uint8Array(initial);
    }
    this.#bodyLength = length;
    this.#bodyHave = 0;
  }

  /** The body buffer, grown (doubling, up to the declared length) to hold `needed` bytes. */
  #reserve(needed: number): Uint8Array {
    const body = this.#body as Uint8Array;
    if (needed <= body.length) return body;
    const grown = new Uint8Array(Math.min(this.#bodyLength, Math.max(needed, body.length * 2)));
    grown.set(body.subarray(0, this.#bodyHave));
    this.#body = grown;
    return grown;
  }

  #takeBody(): Uint8Array {
    const body = this.#body as Uint8Array;
    this.#body = undefined;
    this.#bodyHave = 0;
    if (this.reuseBuffers) this.#lent = body;
    // A reused buffer may be longer than this body.
    return body.length === this.#bodyLength ? body : body.subarray(0, this.#bodyLength);
  }
}

// Largest buffer a frame gets before its bytes arrive (room for a 64 KiB payload and
// its header, so bulk transfers allocate once). A peer that declares a
// 16 MiB message and sends nothing more holds this much, not 16 MiB.
const INITIAL_BODY_BYTES = 128 * 1024;

function checkCap(value: number, limit: number): number {
  if (!Number.isInteger(value) || value < 0 || value > limit) {
    throw new InvalidArgumentError(`maxBytes must be an integer from 0 to ${limit}, got ${String(value)}`);
  }
  return value;
}

/**
 * Decoder of the socket framing: `u16 BE length | Noise message`.
 * Start it with `maxBytes: HANDSHAKE_FRAME_MAX_BYTES` and raise the cap once
 * the peer is authenticated.
 */
export class NoiseFrameDecoder extends LengthPrefixedDecoder {
  /** Creates a decoder; the cap defaults to the largest Noise message. */
  constructor(options: Partial<DecoderOptions> = {}) {
    super(NOISE_HEADER_BYTES, MAX_NOISE_MESSAGE_BYTES, { ...options, maxBytes: options.maxBytes ?? MAX_NOISE_MESSAGE_BYTES });
  }

  protected tooLarge(length: number, max: number): PeerNetError {
    return new FrameTooLargeError(`frame of ${length} bytes exceeds the limit of ${max} bytes`);
  }
}

/**
 * Decoder of the secure byte stream: `u32 BE length | CBOR envelope`.
 * A declared length above `maxBytes` fails before anything of it is buffered.
 */
export class EnvelopeDecoder extends LengthPrefixedDecoder {
  /** Creates a decoder; the cap defaults to 16 MiB. */
  constructor(options: Partial<DecoderOptions> = {}) {
    super(ENVELOPE_HEADER_BYTES, MAX_ENVELOPE_LENGTH, { ...options, maxBytes: options.maxBytes ?? DEFAULT_MAX_MESSAGE_BYTES });
  }

  protected tooLarge(length: number, max: number): PeerNetError {
    return new MessageTooLargeError(`envelope of ${length} bytes exceeds maxMessageBytes (${max})`);
  }
}
