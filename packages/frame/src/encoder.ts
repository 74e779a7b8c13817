import { InvalidArgumentError, MessageTooLargeError } from '@peernet/interface';
import { MAX_NOISE_MESSAGE_BYTES } from './decoder.js';

/** Most plaintext one Noise transport message can carry (65535 minus the 16-byte tag). */
export const MAX_PLAINTEXT_PER_MESSAGE = MAX_NOISE_MESSAGE_BYTES - 16;

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
    total += 2 + m.length;
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const m of messages) {
    out[at] = m.length >>> 8;
    out[at + 1] = m.length & 0xff;
    out.set(m, at + 2);
    at += 2 + m.length;
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
  const maxMessageBytes = options.maxMessageBytes ?? 0xffffffff;
  let total = 0;
  for (const e of envelopes) {
    if (e.length > maxMessageBytes) {
      throw new MessageTooLargeError(`envelope of ${e.length} bytes exceeds maxMessageBytes (${maxMessageBytes})`);
    }
    total += 4 + e.length;
  }
  const chunks: Uint8Array[] = [];
  if (total === 0) return chunks;
  let chunk = new Uint8Array(Math.min(chunkBytes, total));
  let at = 0;
  let remaining = total;
  const header = new Uint8Array(4);
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
    const n = e.length;
    header[0] = n >>> 24;
    header[1] = (n >>> 16) & 0xff;
    header[2] = (n >>> 8) & 0xff;
    header[3] = n & 0xff;
    put(header);
    put(e);
  }
  return chunks;
}
