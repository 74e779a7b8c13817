import fc from 'fast-check';
import {
  AEAD_TAG_BYTES,
  ENVELOPE_HEADER_BYTES,
  EnvelopeDecoder,
  HANDSHAKE_FRAME_MAX_BYTES,
  MAX_NOISE_MESSAGE_BYTES,
  MAX_PLAINTEXT_PER_MESSAGE,
  NOISE_HEADER_BYTES,
  NoiseFrameDecoder,
  encodeFrame,
  encodeFrames,
  packEnvelopes,
  sealedLength,
  writeEnvelopeHeader,
  writeNoiseHeader,
} from '@peernet/frame';
import { FrameTooLargeError, InvalidArgumentError, MessageTooLargeError } from '@peernet/interface';
import { concat } from './bytes.js';

describe('NoiseFrameDecoder', () => {
  it('decodes byte by byte, including empty frames', () => {
    const messages = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(0)];
    const decoder = new NoiseFrameDecoder();
    const out: Uint8Array[] = [];
    for (const byte of encodeFrames(messages)) out.push(...decoder.push(Uint8Array.of(byte)));
    expect(out).toEqual(messages);
  });

  it('hands out frames that lie inside one chunk without copying', () => {
    const wire = encodeFrame(Uint8Array.of(9, 8, 7));
    const [frame] = new NoiseFrameDecoder().push(wire);
    expect(frame?.buffer).toBe(wire.buffer);
  });

  it('refuses an oversized length before buffering anything, and stays failed', () => {
    const decoder = new NoiseFrameDecoder({ maxBytes: HANDSHAKE_FRAME_MAX_BYTES });
    expect(() => decoder.push(Uint8Array.of(0x04))).not.toThrow();
    expect(() => decoder.push(Uint8Array.of(0x01))).toThrow(FrameTooLargeError);
    expect(decoder.bufferedBytes).toBe(0);
    expect(() => decoder.push(Uint8Array.of(0))).toThrow(/1025 bytes exceeds the limit of 1024/);
  });

  it('accepts a frame at the cap exactly, and a raised cap afterwards', () => {
    const decoder = new NoiseFrameDecoder({ maxBytes: 1024 });
    expect(decoder.push(encodeFrame(new Uint8Array(1024)))[0]).toHaveLength(1024);
    decoder.maxBytes = 65535;
    expect(decoder.push(encodeFrame(new Uint8Array(65535)))[0]).toHaveLength(65535);
    expect(() => (decoder.maxBytes = 65536)).toThrow(InvalidArgumentError);
  });

  it('refuses to frame a message over 65535 bytes', () => {
    expect(() => encodeFrame(new Uint8Array(65536))).toThrow(MessageTooLargeError);
  });
});

describe('NoiseFrameDecoder with reuseBuffers', () => {
  // Frames of 70 and 5 bytes cut into 64-byte chunks: most frames span two chunks.
  const frames = Array.from({ length: 40 }, (_, i) => Uint8Array.from({ length: i % 2 === 0 ? 70 : 5 }, (_, j) => (i * 31 + j) & 0xff));
  const stream = encodeFrames(frames);
  const chunks = Array.from({ length: Math.ceil(stream.length / 64) }, (_, i) => stream.slice(i * 64, i * 64 + 64));

  it('returns the same frames as without reuse, when each push is consumed before the next', () => {
    const decoder = new NoiseFrameDecoder({ reuseBuffers: true });
    const out: Uint8Array[] = [];
    for (const chunk of chunks) for (const frame of decoder.push(chunk)) out.push(frame.slice());
    expect(out).toEqual(frames);
  });

  it('reuses the buffer of an assembled frame for a later push, never within the same push', () => {
    const decoder = new NoiseFrameDecoder({ reuseBuffers: true });
    const buffers = new Set<ArrayBufferLike>();
    for (const chunk of chunks) {
      const out = decoder.push(chunk);
      // Every frame of one push is intact when the push returns.
      for (const frame of out) expect(frames).toContainEqual(frame);
      for (const frame of out) if (frame.buffer !== chunk.buffer) buffers.add(frame.buffer);
    }
    // 20 frames were assembled from two chunks each (each with its own buffer without
    // reuse); with it, the one being filled and the one lent out take turns, and a new
    // one is needed only when a push lends none back or ends at a frame boundary.
    expect(buffers.size).toBeLessThanOrEqual(6);
  });

  it('reuses buffers while frames keep spanning chunks, and keeps none after a frame boundary', () => {
    const decoder = new NoiseFrameDecoder({ reuseBuffers: true });
    const big = new Uint8Array(60_000).fill(3);
    const bytes = encodeFrames([big, big, big]);
    const cuts = [0, 30_000, 90_000, 150_000, bytes.length];
    const push = (i: number): Uint8Array[] => decoder.push(bytes.subarray(cuts[i], cuts[i + 1]));
    expect(push(0)).toHaveLength(0);
    const [first] = push(1);
    const [second] = push(2);
    const [third] = push(3); // ends at a frame boundary
    expect(third?.buffer).toBe(first?.buffer);
    expect(second?.buffer).not.toBe(first?.buffer);
    // The same bytes again: every buffer is new, none was kept over the boundary.
    push(0);
    const [again] = push(1);
    expect(again?.buffer).not.toBe(first?.buffer);
    expect(again?.buffer).not.toBe(second?.buffer);
  });

  it('allocates a buffer per assembled frame without the option', () => {
    const decoder = new NoiseFrameDecoder();
    const buffers = new Set<ArrayBufferLike>();
    for (const chunk of chunks) for (const frame of decoder.push(chunk)) if (frame.buffer !== chunk.buffer) buffers.add(frame.buffer);
    expect(buffers.size).toBeGreaterThanOrEqual(20);
  });
});

describe('EnvelopeDecoder', () => {
  it('refuses a declared length above maxMessageBytes before allocating it', () => {
    const decoder = new EnvelopeDecoder({ maxBytes: 1000 });
    expect(() => decoder.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff))).toThrow(MessageTooLargeError);
    expect(decoder.bufferedBytes).toBe(0);
    expect(() => new EnvelopeDecoder().push(Uint8Array.of(0x01, 0x00, 0x00, 0x01))).toThrow(
      /16777217 bytes exceeds maxMessageBytes \(16777216\)/,
    );
  });

  it('reserves little for a declared length until its bytes arrive, and grows to hold them', () => {
    // 64 peers each announcing a 16 MiB message and sending 10 bytes of it.
    const before = process.memoryUsage().arrayBuffers;
    const decoders = Array.from({ length: 64 }, () => new EnvelopeDecoder());
    for (const decoder of decoders) decoder.push(Uint8Array.of(0x01, 0x00, 0x00, 0x00, ...new Uint8Array(10)));
    const held = process.memoryUsage().arrayBuffers - before;
    expect(held).toBeLessThan(64 * 256 * 1024); // not 64 × 16 MiB
    expect(decoders.every((d) => d.bufferedBytes === 10)).toBe(true);
    // Fed to the end in uneven pieces, the frame comes out whole and exact.
    const body = new Uint8Array(300_001).map((_, i) => (i * 7) & 0xff);
    const stream = concat([Uint8Array.of(0, 0x04, 0x93, 0xe1), body]);
    const decoder = new EnvelopeDecoder();
    const out: Uint8Array[] = [];
    for (let at = 0, step = 1; at < stream.length; at += step, step = step * 3 + 1) out.push(...decoder.push(stream.subarray(at, at + step)));
    expect(out).toHaveLength(1);
    expect(out[0]?.length).toBe(300_001);
    expect(Buffer.compare(out[0] as Uint8Array, body)).toBe(0);
  });

  it('reads lengths above 2^31 as unsigned', () => {
    const decoder = new EnvelopeDecoder({ maxBytes: 0xffffffff });
    decoder.push(Uint8Array.of(0x80, 0, 0));
    // The fourth byte completes a 2 GiB declared length; we only check the prefix is read unsigned
    // by capping just below it.
    decoder.maxBytes = 0x7fffffff;
    expect(() => decoder.push(Uint8Array.of(0))).toThrow(/2147483648 bytes/);
    const whole = new EnvelopeDecoder({ maxBytes: 0x7fffffff });
    expect(() => whole.push(Uint8Array.of(0xff, 0xff, 0xff, 0xfe, 1))).toThrow(/4294967294 bytes/);
  });
});

describe('packEnvelopes', () => {
  it('lays envelopes out so the envelope decoder returns them, in chunks of the given size', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 30 }),
        fc.integer({ min: 1, max: 100 }),
        (envelopes, chunkBytes) => {
          const chunks = packEnvelopes(envelopes, { chunkBytes });
          const total = envelopes.reduce((n, e) => n + 4 + e.length, 0);
          expect(chunks.reduce((n, c) => n + c.length, 0)).toBe(total);
          expect(chunks.length).toBe(Math.ceil(total / chunkBytes));
          chunks.slice(0, -1).forEach((c) => expect(c.length).toBe(chunkBytes));
          const decoder = new EnvelopeDecoder();
          expect(chunks.flatMap((c) => decoder.push(c))).toEqual(envelopes);
        },
      ),
    );
  });

  it('coalesces many small envelopes into one Noise-sized chunk', () => {
    const small = Array.from({ length: 1000 }, (_, i) => Uint8Array.of(i & 0xff, 1, 2));
    const chunks = packEnvelopes(small);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]).toHaveLength(7000);
  });

  it('splits one large envelope across several chunks of at most 65519 bytes', () => {
    const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
    const chunks = packEnvelopes([big]);
    expect(chunks.map((c) => c.length)).toEqual([65519, 65519, 65519, 200_004 - 3 * 65519]);
    expect(chunks.every((c) => c.length <= MAX_PLAINTEXT_PER_MESSAGE)).toBe(true);
    const decoder = new EnvelopeDecoder();
    expect(Buffer.compare(concat(chunks.flatMap((c) => decoder.push(c))), big)).toBe(0);
  });

  it('refuses an envelope above maxMessageBytes and bad chunk sizes', () => {
    expect(() => packEnvelopes([new Uint8Array(11)], { maxMessageBytes: 10 })).toThrow(MessageTooLargeError);
    expect(() => packEnvelopes([], { chunkBytes: 0 })).toThrow(InvalidArgumentError);
    expect(() => packEnvelopes([], { chunkBytes: 65520 })).toThrow(InvalidArgumentError);
    expect(packEnvelopes([])).toEqual([]);
  });
});

describe('in-place writers', () => {
  it('write the u16 and u32 lengths big-endian at an offset and return the offset after them', () => {
    const buffer = new Uint8Array(12).fill(0xee);
    expect(writeNoiseHeader(buffer, 1, 0x1234)).toBe(1 + NOISE_HEADER_BYTES);
    expect(writeEnvelopeHeader(buffer, 4, 0x89abcdef)).toBe(4 + ENVELOPE_HEADER_BYTES);
    expect(Buffer.from(buffer).toString('hex')).toBe('ee1234ee89abcdefeeeeeeee');
  });

  it('lay out the same bytes as the copying encoders', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }), (messages) => {
        const out = new Uint8Array(messages.reduce((n, m) => n + NOISE_HEADER_BYTES + m.length, 0));
        let at = 0;
        for (const m of messages) {
          at = writeNoiseHeader(out, at, m.length);
          out.set(m, at);
          at += m.length;
        }
        expect(out).toEqual(encodeFrames(messages));
        const stream = new Uint8Array(messages.reduce((n, m) => n + ENVELOPE_HEADER_BYTES + m.length, 0));
        at = 0;
        for (const m of messages) {
          at = writeEnvelopeHeader(stream, at, m.length);
          stream.set(m, at);
          at += m.length;
        }
        expect(packEnvelopes(messages, { chunkBytes: 1 + stream.length })).toEqual(stream.length === 0 ? [] : [stream]);
      }),
    );
  });

  it('size a sealed stream as full Noise messages with their headers and tags', () => {
    expect(MAX_PLAINTEXT_PER_MESSAGE).toBe(MAX_NOISE_MESSAGE_BYTES - AEAD_TAG_BYTES);
    expect(sealedLength(0)).toBe(0);
    expect(sealedLength(1)).toBe(1 + 2 + 16);
    expect(sealedLength(MAX_PLAINTEXT_PER_MESSAGE)).toBe(NOISE_HEADER_BYTES + MAX_NOISE_MESSAGE_BYTES);
    expect(sealedLength(MAX_PLAINTEXT_PER_MESSAGE + 1)).toBe(NOISE_HEADER_BYTES + MAX_NOISE_MESSAGE_BYTES + 1 + 2 + 16);
    // What the chunks of packEnvelopes become once each is sealed and framed.
    const chunks = packEnvelopes([new Uint8Array(200_000)]);
    const stream = chunks.reduce((n, c) => n + c.length, 0);
    expect(sealedLength(stream)).toBe(chunks.reduce((n, c) => n + NOISE_HEADER_BYTES + c.length + AEAD_TAG_BYTES, 0));
  });
});
