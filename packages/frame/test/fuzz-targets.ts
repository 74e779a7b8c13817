// Fuzz targets of the framing layer, the first code that sees a peer's bytes,
// and (from codec-fuzz-targets.ts) of the codecs behind it.
// test/properties.test.ts runs each a few hundred times; `pnpm fuzz` runs
// them for millions of inputs (tooling/fuzz).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameTooLargeError, MessageTooLargeError } from '@peernet/interface';
import type { FuzzTarget } from '../../../tooling/fuzz/target.js';
import { EnvelopeDecoder, MAX_PLAINTEXT_PER_MESSAGE, NoiseFrameDecoder, packEnvelopes } from '../src/index.js';
import { concat } from './bytes.js';
import { codecTargets } from './codec-fuzz-targets.js';
import { streamTargets } from './stream-fuzz-targets.js';

/** Cuts `bytes` at the given points (taken modulo the length, sorted). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let last = 0;
  for (const p of points) {
    parts.push(bytes.subarray(last, p));
    last = p;
  }
  parts.push(bytes.subarray(last));
  return parts;
}

function prefix(length: number, bytes: 2 | 4): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = bytes - 1, n = length; i >= 0; i--, n = Math.floor(n / 256)) out[i] = n % 256;
  return out;
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/**
 * What a correct decoder makes of the whole stream read at once: the frames,
 * whether it stops at an oversized length, and the bytes of the incomplete
 * tail. `capAt(i)` is the cap in force when the length prefix ending at
 * stream offset `i` is read.
 */
function reference(stream: Uint8Array, prefixBytes: 2 | 4, capAt: (i: number) => number) {
  const frames: { body: string; end: number }[] = [];
  let at = 0;
  for (;;) {
    if (stream.length - at < prefixBytes) return { frames, tooLarge: false, tail: stream.length - at };
    let length = 0;
    for (let i = 0; i < prefixBytes; i++) length = length * 256 + (stream[at + i] as number);
    if (length > capAt(at + prefixBytes - 1)) return { frames, tooLarge: true, tail: 0 };
    if (stream.length - at - prefixBytes < length) return { frames, tooLarge: false, tail: stream.length - at };
    frames.push({ body: hex(stream.subarray(at + prefixBytes, at + prefixBytes + length)), end: at + prefixBytes + length });
    at += prefixBytes + length;
  }
}

/** A stream of well-formed frames, garbage, and lengths at or near the limits, in any order. */
function hostileStream(prefixBytes: 2 | 4) {
  const limit = prefixBytes === 2 ? 0xffff : 0xffffffff;
  const segment = fc.oneof(
    { weight: 4, arbitrary: fc.uint8Array({ maxLength: 300 }).map((body) => concat([prefix(body.length, prefixBytes), body])) },
    { weight: 3, arbitrary: fc.uint8Array({ maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom(limit, limit - 1, 1024, 1025, 0).map((n) => prefix(n, prefixBytes)) },
  );
  return fc.array(segment, { maxLength: 12 }).map(concat);
}

/**
 * Any bytes, cut anywhere, with the cap possibly changed between two chunks
 * (as a connection raises it after authentication), with or without reused
 * buffers (each push's frames are read before the next): the decoder yields
 * exactly the reference frames, throws nothing but its typed error (and keeps
 * throwing it), and never holds more than one prefix plus one capped body.
 * The push that throws returns nothing, so frames completed by that chunk
 * before the oversized length are not handed out (the connection closes then
 * anyway).
 */
function decoderTarget(kind: 'noise' | 'envelope') {
  const prefixBytes = kind === 'noise' ? 2 : 4;
  // Envelope caps stay small here: a 16 MiB cap would make the run allocate 16 MiB bodies, not find bugs.
  const cap = kind === 'noise' ? fc.oneof(fc.nat({ max: 2048 }), fc.constant(65535)) : fc.nat({ max: 70_000 });
  return fc.property(
    hostileStream(prefixBytes),
    fc.array(fc.nat(), { maxLength: 24 }),
    cap,
    fc.option(fc.record({ chunk: fc.nat({ max: 24 }), cap }), { nil: undefined }),
    fc.boolean(),
    (stream, cuts, firstCap, change, reuseBuffers) => {
      const options = { maxBytes: firstCap, reuseBuffers };
      const decoder = kind === 'noise' ? new NoiseFrameDecoder(options) : new EnvelopeDecoder(options);
      const chunks = split(stream, cuts);
      const changeAt =
        change === undefined || change.chunk >= chunks.length
          ? Infinity
          : chunks.slice(0, change.chunk).reduce((n, c) => n + c.length, 0);
      const expected = reference(stream, prefixBytes, (i) => (i < changeAt ? firstCap : (change?.cap ?? firstCap)));
      const TooLarge = kind === 'noise' ? FrameTooLargeError : MessageTooLargeError;

      const frames: string[] = [];
      let failure: unknown;
      let failedAt = Infinity;
      let offset = 0;
      chunks.forEach((chunk, index) => {
        const start = offset;
        offset += chunk.length;
        if (failure !== undefined) return;
        if (change !== undefined && index === change.chunk) decoder.maxBytes = change.cap;
        try {
          for (const frame of decoder.push(chunk)) frames.push(hex(frame));
        } catch (error) {
          failure = error;
          failedAt = start;
        }
        // A body under way keeps the cap it was admitted with.
        const bound = prefixBytes + Math.max(firstCap, change?.cap ?? 0);
        assert.ok(decoder.bufferedBytes <= bound, `holds ${decoder.bufferedBytes} bytes, above ${bound}`);
      });
      assert.deepEqual(frames, expected.frames.filter((f) => f.end <= failedAt).map((f) => f.body));
      if (expected.tooLarge) {
        assert.ok(failure instanceof TooLarge, `expected ${TooLarge.name}, got ${String(failure)}`);
        assert.throws(() => decoder.push(Uint8Array.of(0)), (error) => error === failure, 'a failed decoder stays failed');
      } else {
        assert.equal(failure, undefined);
        assert.equal(decoder.idle, expected.tail === 0);
        assert.equal(decoder.bufferedBytes, expected.tail < prefixBytes ? expected.tail : expected.tail - prefixBytes);
      }
    },
  );
}

/**
 * Chunk reassembly: envelopes packed into Noise-sized plaintexts, the
 * plaintexts then cut again anywhere (a peer may split and coalesce as it
 * likes), come out of the envelope decoder whole and in order.
 */
const reassembly = fc.property(
  fc.array(fc.uint8Array({ maxLength: 400 }), { maxLength: 30 }),
  fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(MAX_PLAINTEXT_PER_MESSAGE)),
  fc.array(fc.nat(), { maxLength: 30 }),
  (envelopes, chunkBytes, cuts) => {
    const decoder = new EnvelopeDecoder({ maxBytes: 400 });
    const stream = concat(packEnvelopes(envelopes, { chunkBytes, maxMessageBytes: 400 }));
    const out = split(stream, cuts).flatMap((part) => decoder.push(part).map(hex));
    assert.deepEqual(out, envelopes.map(hex));
    assert.ok(decoder.idle);
  },
);

/** The framing targets, then the codecs' and the stream envelopes', by name. */
export const targets: FuzzTarget[] = [
  {
    name: 'frame.noise-decoder',
    summary: 'u16 socket frames: garbage, any split, cap raised mid-stream',
    ciRuns: 400,
    property: decoderTarget('noise'),
  },
  {
    name: 'frame.envelope-decoder',
    summary: 'u32 envelope frames: garbage, any split, cap changed mid-stream',
    ciRuns: 400,
    property: decoderTarget('envelope'),
  },
  {
    name: 'frame.reassembly',
    summary: 'envelopes packed into plaintext chunks, re-cut anywhere, reassembled',
    ciRuns: 300,
    property: reassembly,
  },
  ...codecTargets,
  ...streamTargets,
];
