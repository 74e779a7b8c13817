import { InvalidArgumentError, MessageTooLargeError } from '@peernet/interface';
import {
  AEAD_TAG_BYTES,
  ENVELOPE_HEADER_BYTES,
  MAX_ENVELOPE_LENGTH,
  MAX_NOISE_MESSAGE_BYTES,
  MAX_PLAINTEXT_PER_MESSAGE,
  NOISE_HEADER_BYTES,
} from './constants.js';

// The in-place writers below do not check their arguments: they run once per
// envelope and once per Noise message on the write path, whose callers have
// already bounded every length (the encoder by the u32 limit, the sealer by
// MAX_PLAINTEXT_PER_MESSAGE). The copying helpers further down check.

/**
 * Writes the u16 big-endian length of a Noise message of `length` bytes (at
 * most 65535, unchecked) at `offset` of `buffer`.
 * @returns the offset just after the header.
 */
export function writeNoiseHeader(buffer: Uint8Array, offset: number, length: number): number {
  buffer[offset] = length >>> 8;
  buffer[offset + 1] = length & 0xff;
  return offset + NOISE_HEADER_BYTES;
}

/**
 * Writes the u32 big-endian length of an envelope of `length` bytes (at most
 * 2^32 − 1, unchecked) at `offset` of `buffer`.
 * @returns the offset just after the header.
 */
export function writeEnvelopeHeader(buffer: Uint8Array, offset: number, length: number): number {
  buffer[offset] = length >>> 24;
  buffer[offset + 1] = (length >>> 16) & 0xff;
  buffer[offset + 2] = (length >>> 8) & 0xff;
  buffer[offset + 3] = length & 0xff;
  return offset + ENVELOPE_HEADER_BYTES;
}

/**
 * Bytes on the socket for `length` bytes of the secure stream sent as full
 * Noise messages (all but the last carrying `MAX_PLAINTEXT_PER_MESSAGE`),
 * each with its header and tag: the size of the buffer to seal them into.
 */
export function sealedLength(length: number): number {
  return length + Math.ceil(length / MAX_PLAINTEXT_PER_MESSAGE) * (NOISE_HEADER_BYTES + AEAD_TAG_BYTES);
}

/**
 * Frames Noise messages for the socket: each becomes `u16 BE length | bytes`,
 * all in one buffer so they go out in a single write.
 */
export function encodeFrames(messages: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const m of messages) {
    if (m.length > MAX_NOISE_MESSAGE_BYTES) {
      throw new MessageTooLargeError(`Noise message of ${m.length} bytes exceeds ${MAX_NOISE_MESSAGE_BYTES}`);
    }
    total += NOISE_HEADER_BYTES + m.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const m of messages) {
    at = writeNoiseHeader(out, at, m.length);
    out.set(m, at);
    at += m.length;
  }
  return out;
}

/** Frames one Noise message for the socket. */
export function encodeFrame(message: Uint8Array): Uint8Array {
  return encodeFrames([message]);
}

/** Options of `packEnvelopes`. */
export interface PackOptions {
  /** Size of each chunk but the last (default `MAX_PLAINTEXT_PER_MESSAGE`). */
  chunkBytes?: number;
  /** Refuse an envelope larger than this (default: no limit beyond u32). */
  maxMessageBytes?: number;
}

/**
 * Lays envelopes out on the secure byte stream (`u32 BE length | body` each)
 * and cuts that stream into plaintext chunks for Noise messages: small
 * envelopes share a chunk, a large one spans several. Every chunk but the
 * last is exactly `chunkBytes` long, so the fewest Noise messages are used.
 */
export function packEnvelopes(envelopes: readonly Uint8Array[], options: PackOptions = {}): Uint8Array[] {
  const chunkBytes = options.chunkBytes ?? MAX_PLAINTEXT_PER_MESSAGE;
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > MAX_PLAINTEXT_PER_MESSAGE) {
    throw new InvalidArgumentError(`chunkBytes must be an integer from 1 to ${MAX_PLAINTEXT_PER_MESSAGE}`);
  }
  const maxMessageBytes = options.maxMessageBytes ?? MAX_ENVELOPE_LENGTH;
  let total = 0;
  for (const e of envelopes) {
    if (e.length > maxMessageBytes) {
      throw new MessageTooLargeError(`envelope of ${e.length} bytes exceeds maxMessageBytes (${maxMessageBytes})`);
    }
    total += ENVELOPE_HEADER_BYTES + e.length;
  }
  const chunks: Uint8Array[] = [];
  if (total === 0) return chunks;
  let chunk = new Uint8Array(Math.min(chunkBytes, total));
  let at = 0;
  let remaining = total;
  const header = new Uint8Array(ENVELOPE_HEADER_BYTES);
  // Copies `bytes` into the chunk sequence, opening a new chunk whenever one fills.
  const put = (bytes: Uint8Array): void => {
    let from = 0;
    while (from < bytes.length) {
      const n = Math.min(chunk.length - at, bytes.length - from);
      chunk.set(bytes.subarray(from, from + n), at);
      at += n;
      from += n;
      remaining -= n;
      if (at === chunk.length) {
        chunks.push(chunk);
        if (remaining > 0) chunk = new Uint8Array(Math.min(chunkBytes, remaining));
        at = 0;
      }
    }
  };
  for (const e of envelopes) {
    writeEnvelopeHeader(header, 0, e.length);
    put(header);
    put(e);
  }
  return chunks;
}
