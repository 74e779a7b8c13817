// Fuzz targets of the byte-stream envelopes (types 8 to 13): the read path's
// head reader and stream-data view, checked against the full envelope
// decoder, and the write path's stream-data head. fuzz-targets.ts lists them;
// test/properties.test.ts runs each a few hundred times and `pnpm fuzz` for
// millions of inputs (tooling/fuzz).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { InvalidArgumentError, ProtocolError } from '@peernet/interface';
import type { FuzzTarget } from '../../../tooling/fuzz/target.js';
import { ENVELOPE_HEADER_BYTES } from '../src/constants.js';
import { mutate } from './codec-fuzz-targets.js';
import { encodeValue } from '../src/cbor-encoder.js';
import {
  EnvelopeType, STREAM_DATA_HEAD_MAX_BYTES, decodeEnvelope, emptyHead, encodeEnvelope, readEnvelopeHead, streamDataOf,
  writeStreamDataHead, type Envelope, type StreamEnvelope,
} from '../src/envelope.js';

// ------------------------------------------------------------------ inputs

const MAX_WINDOW = 16 * 1024 * 1024;

/** Stream ids, windows and credits: any safe integer, with the CBOR width boundaries and the window limit. */
const count = fc.oneof(
  fc.maxSafeNat(),
  fc.nat({ max: 300 }),
  fc.constantFrom(0, 1, 2, 23, 24, 255, 256, 65535, 65536, 2 ** 32 - 1, 2 ** 32, MAX_WINDOW, MAX_WINDOW + 1, 2 ** 53 - 1),
);
const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 64 });
/** Mostly small payloads, sometimes at a CBOR width boundary (23/24, 255/256, 65535/65536 bytes). */
const payload = fc.oneof(
  { weight: 6, arbitrary: fc.uint8Array({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(23, 24, 255, 256, 65535, 65536).map((n) => new Uint8Array(n).fill(0x5a)) },
);

const streamEnvelope: fc.Arbitrary<StreamEnvelope> = fc.oneof(
  fc.record({ type: fc.constant(EnvelopeType.StreamOpen), stream: count, name, window: count }),
  fc.record({ type: fc.constant(EnvelopeType.StreamAccept), stream: count, window: count }),
  { weight: 3, arbitrary: fc.record({ type: fc.constant(EnvelopeType.StreamData), stream: count, data: payload }) },
  fc.record({ type: fc.constant(EnvelopeType.StreamCredit), stream: count, credit: count }),
  fc.record({ type: fc.constant(EnvelopeType.StreamEnd), stream: count }),
  fc.record({ type: fc.constant(EnvelopeType.StreamReset), stream: count, code: fc.string({ maxLength: 20 }), message: fc.string() }),
);

/** A valid encoding of a stream envelope: the encoder's, or for data the write path's head followed by the bytes. */
const validBytes = fc.oneof(
  streamEnvelope.map((e) => encodeEnvelope(e)),
  fc.tuple(count, payload).map(([stream, data]) => {
    const out = new Uint8Array(STREAM_DATA_HEAD_MAX_BYTES + data.length);
    const at = writeStreamDataHead(out, 0, stream, data.length);
    out.set(data, at);
    return out.slice(ENVELOPE_HEADER_BYTES, at + data.length);
  }),
);

/** Bytes that matter here: the stream type numbers, every byte-string and integer head width, floats, tags, breaks. */
const anyByte = fc.oneof(
  fc.constantFrom(
    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x00, 0x01, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1f, 0x20, 0x40, 0x41, 0x57,
    0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5f, 0x60, 0x61, 0x7f, 0x80, 0x82, 0x83, 0x84, 0x9f, 0xa0, 0xc2, 0xc3, 0xf4, 0xf6,
    0xf9, 0xfa, 0xfb, 0xff,
  ),
  fc.integer({ min: 0, max: 255 }),
);

const mutation = fc.record({
  at: fc.nat(),
  byte: anyByte,
  kind: fc.constantFrom('replace', 'insert', 'delete', 'truncate', 'flip', 'duplicate'),
});

/** A CBOR byte-string head for `n` bytes in the given width (non-shortest widths included): 0..3 = 1, 2, 3, 5 bytes; 4 = 9 bytes. */
function bytesHead(n: number, width: number): number[] {
  if (width === 0 && n < 24) return [0x40 | n];
  if (width <= 1 && n < 0x100) return [0x58, n];
  if (width <= 2 && n < 0x1_0000) return [0x59, n >>> 8, n & 0xff];
  if (width <= 3) return [0x5a, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return [0x5b, 0, 0, 0, 0, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

/**
 * Hand-made data envelopes: a stream id item of any kind, then a byte
 * string whose declared length is right, short or long, in any width, or
 * indefinite, or another item altogether; the array head may miscount.
 */
const craftedData = fc
  .tuple(
    fc.constantFrom(0x83, 0x83, 0x83, 0x82, 0x84, 0x9f, 0x98),
    fc.oneof(
      count.map((n) => encodeValue(n)),
      fc.constantFrom(
        Uint8Array.of(0xf9, 0x40, 0x00), // 2.0 as a half float
        Uint8Array.of(0xf9, 0x80, 0x00), // -0
        Uint8Array.of(0xfb, 0x43, 0x40, 0, 0, 0, 0, 0, 0), // 2^53
        Uint8Array.of(0x20), // -1
        Uint8Array.of(0xc2, 0x41, 0x01), // bignum 1
        Uint8Array.of(0x61, 0x31), // "1"
        Uint8Array.of(0x1b, 0, 0x20, 0, 0, 0, 0, 0, 0), // 2^53 as an integer
      ),
    ),
    fc.uint8Array({ maxLength: 40 }),
    fc.integer({ min: -3, max: 3 }),
    fc.integer({ min: 0, max: 4 }),
    fc.constantFrom('bytes', 'bytes', 'bytes', 'indefinite', 'text', 'other'),
    fc.uint8Array({ maxLength: 3 }),
  )
  .map(([arrayHead, id, data, skew, width, kind, trailer]) => {
    const declared = Math.max(0, data.length + skew);
    let item: number[];
    if (kind === 'bytes') item = [...bytesHead(declared, width), ...data];
    else if (kind === 'indefinite') item = [0x5f, ...bytesHead(data.length, 0), ...data, 0xff];
    else if (kind === 'text') item = [...bytesHead(declared, width).map((b, i) => (i === 0 ? b + 0x20 : b)), ...data];
    else item = Array.from(encodeValue(Array.from(data.subarray(0, 4))));
    const head = arrayHead === 0x98 ? [0x98, 3] : [arrayHead];
    return Uint8Array.from([...head, 0x0a, ...id, ...item, ...(skew === 0 ? [] : trailer), ...(arrayHead === 0x9f ? [0xff] : [])]);
  });

/** Arrays that look like stream envelopes: a stream type number (or near one), then items of any kind and number. */
const nearStream = fc
  .tuple(
    fc.oneof(fc.integer({ min: 7, max: 14 }), fc.constantFrom<unknown>(8.5, '10', -10, null)),
    fc.array(fc.oneof(count, fc.integer(), fc.string({ maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), fc.constant(null)), {
      maxLength: 5,
    }),
  )
  .map(([type, items]) => encodeValue([type, ...items] as never));

/** Any of the above, sometimes as a view at a non-zero offset of a larger buffer, or as a Node Buffer. */
const hostile = fc
  .tuple(
    fc.oneof(
      { weight: 2, arbitrary: fc.array(anyByte, { maxLength: 48 }).map((bytes) => Uint8Array.from(bytes)) },
      { weight: 2, arbitrary: fc.tuple(validBytes, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([b, ms]) => mutate(b, ms)) },
      { weight: 3, arbitrary: craftedData },
      { weight: 2, arbitrary: nearStream },
      { weight: 1, arbitrary: validBytes },
    ),
    fc.constantFrom('plain', 'plain', 'offset', 'buffer'),
  )
  .map(([bytes, layout]) => {
    if (layout === 'plain') return bytes;
    if (layout === 'buffer') return Buffer.from(bytes);
    const backing = new Uint8Array(bytes.length + 4).fill(0x5b);
    backing.set(bytes, 2);
    return backing.subarray(2, 2 + bytes.length);
  });

// ------------------------------------------------------------------ checks

const objectPrototypeNames = Object.getOwnPropertyNames(Object.prototype).length;

function expectOnly<T>(Type: abstract new (...args: never[]) => Error, run: () => T): T | undefined {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof Type)) throw error;
    return undefined;
  }
}

const isStreamType = (type: number): boolean => type >= EnvelopeType.StreamOpen && type <= EnvelopeType.StreamReset;

/** The bytes as the read path sees them (a plain Uint8Array view), for comparisons. */
const view = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);

// ------------------------------------------------------------------ targets

/**
 * The read path (`readEnvelopeHead`, then `streamDataOf` for data) and the
 * full decoder on the same bytes: each returns a well-formed envelope or
 * throws `ProtocolError`, nothing else; they agree on the type, and on the
 * stream id and bytes of data, and the read path accepts no data envelope
 * the full decoder refuses. Accepted envelopes re-encode to bytes that
 * decode to the same envelope, and the write path's head writes the same
 * bytes as the encoder; the data is a view of the input, which is not
 * modified.
 */
const streamEnvelopes = fc.property(hostile, (bytes) => {
  const before = Uint8Array.from(bytes);
  const head = emptyHead();
  const type = expectOnly(ProtocolError, () => readEnvelopeHead(bytes, head));
  const fast = type === EnvelopeType.StreamData ? expectOnly(ProtocolError, () => streamDataOf(head)) : undefined;
  const full = expectOnly(ProtocolError, () => decodeEnvelope(bytes));
  assert.equal(Object.getOwnPropertyNames(Object.prototype).length, objectPrototypeNames, 'Object.prototype changed');
  assert.deepEqual(view(bytes), before, 'the input was modified');

  if (full !== undefined) {
    assert.equal(type, full.type, `the head reader says ${String(type)}, the decoder ${full.type}`);
    const again = encodeEnvelope(full);
    assert.deepEqual(decodeEnvelope(again), full);
    if (isStreamType(full.type)) {
      const e = full as StreamEnvelope;
      assert.ok(Number.isSafeInteger(e.stream) && e.stream >= 0 && !Object.is(e.stream, -0));
      if (e.type === EnvelopeType.StreamOpen || e.type === EnvelopeType.StreamAccept) assert.ok(Number.isSafeInteger(e.window) && e.window >= 0);
      if (e.type === EnvelopeType.StreamCredit) assert.ok(Number.isSafeInteger(e.credit) && e.credit >= 0);
    }
  }
  if (type === EnvelopeType.StreamData && full !== undefined) {
    // Whatever the full decoder takes as stream data, the read path takes too, with the same id and bytes;
    // but for a byte string whose length is written in 8 bytes, which the read path refuses (see below).
    assert.ok(fast !== undefined, 'the decoder accepts stream data the read path refuses');
  }
  if (fast === undefined) return;
  assert.ok(full !== undefined && full.type === EnvelopeType.StreamData, 'the read path accepts stream data the decoder refuses');
  assert.equal(head.id, full.stream);
  assert.deepEqual(fast, full.data);
  // A view into the input, ending where it ends: nothing copied, nothing past the envelope.
  assert.equal(fast.buffer, bytes.buffer);
  assert.equal(fast.byteOffset + fast.byteLength, bytes.byteOffset + bytes.byteLength);
  // The write path's head and the encoder write the same canonical bytes for it.
  const out = new Uint8Array(STREAM_DATA_HEAD_MAX_BYTES + fast.length);
  const at = writeStreamDataHead(out, 0, head.id, fast.length);
  out.set(fast, at);
  const rewritten = out.subarray(ENVELOPE_HEADER_BYTES, at + fast.length);
  assert.deepEqual(rewritten, encodeEnvelope(full as Envelope));
});

const uintBytes = (n: number): number => (n < 24 ? 0 : n < 0x100 ? 1 : n < 0x1_0000 ? 2 : n < 0x1_0000_0000 ? 4 : 8);

const dataLength = fc.oneof(
  { weight: 6, arbitrary: fc.nat({ max: 300 }) },
  { weight: 2, arbitrary: fc.constantFrom(0, 23, 24, 255, 256, 65519 - STREAM_DATA_HEAD_MAX_BYTES, 65535, 65536) },
  { weight: 1, arbitrary: fc.nat({ max: 70_000 }) },
);
/** Lengths too large to fill: only the head is written and checked. */
const hugeLength = fc.oneof(
  fc.integer({ min: 0, max: 0xffff_ffff }),
  fc.integer({ min: 0xffff_ffff - 32, max: 0xffff_ffff }),
  fc.constantFrom(2 ** 24, 2 ** 31, 2 ** 32 - 1),
);
const badId = fc.constantFrom(-1, 0.5, 2 ** 53, Number.NaN, Infinity, -0.5, 2 ** 60);
const badLength = fc.constantFrom(-1, 0.5, 2 ** 32, 2 ** 53, Number.NaN, Infinity);

/**
 * `writeStreamDataHead` for any id and length, at any offset: it writes only
 * from the offset to the returned position (at most
 * STREAM_DATA_HEAD_MAX_BYTES), the u32 header declares exactly the envelope
 * that follows, and with the bytes after it the envelope reads back through
 * `readEnvelopeHead`/`streamDataOf` and `decodeEnvelope` to the same id and
 * bytes, identical to `encodeEnvelope`'s. Bad ids and lengths throw
 * `InvalidArgumentError` and write nothing.
 */
const streamDataHead = fc.property(
  count,
  fc.oneof({ weight: 4, arbitrary: dataLength.map((n) => ({ fill: true, n })) }, { weight: 1, arbitrary: hugeLength.map((n) => ({ fill: false, n })) }),
  fc.nat({ max: 16 }),
  fc.integer({ min: 0, max: 255 }),
  fc.option(fc.oneof(badId.map((v) => ({ id: v })), badLength.map((v) => ({ length: v }))), { nil: undefined }),
  (stream, { fill, n: length }, offset, seed, bad) => {
    const size = offset + STREAM_DATA_HEAD_MAX_BYTES + (fill ? length : 0) + 4;
    const target = new Uint8Array(size).fill(0xee);
    if (bad !== undefined) {
      const id = 'id' in bad ? bad.id : stream;
      const n = 'length' in bad ? bad.length : length;
      assert.throws(() => writeStreamDataHead(target, offset, id, n), InvalidArgumentError);
      assert.ok(target.every((b) => b === 0xee), 'a refused head wrote bytes');
      return;
    }
    const envelopeOf = (): number => ENVELOPE_HEADER_BYTES + 2 + 1 + uintBytes(stream) + 1 + uintBytes(length);
    // An envelope whose length the u32 header cannot declare must be refused, not declared modulo 2^32.
    if (envelopeOf() - ENVELOPE_HEADER_BYTES + length > 0xffff_ffff) {
      assert.throws(() => writeStreamDataHead(target, offset, stream, length), InvalidArgumentError);
      assert.ok(target.every((b) => b === 0xee), 'a refused head wrote bytes');
      return;
    }
    // Within one largest head of the limit, a refusal is allowed (the bound may be the same for every id).
    if (length > 0xffff_ffff - (STREAM_DATA_HEAD_MAX_BYTES - ENVELOPE_HEADER_BYTES)) {
      const refused = expectOnly(InvalidArgumentError, () => writeStreamDataHead(target.slice(), offset, stream, length)) === undefined;
      if (refused) return;
    }
    const at = writeStreamDataHead(target, offset, stream, length);
    assert.equal(at - offset, envelopeOf(), 'the head is not in its shortest form');
    assert.ok(at - offset <= STREAM_DATA_HEAD_MAX_BYTES);
    assert.ok(target.subarray(0, offset).every((b) => b === 0xee), 'wrote before the offset');
    assert.ok(target.subarray(at).every((b) => b === 0xee), 'wrote past the head');
    const declared = new DataView(target.buffer).getUint32(offset);
    assert.equal(declared, at - offset - ENVELOPE_HEADER_BYTES + length, 'the u32 header declares another length');
    if (!fill) return;
    const data = new Uint8Array(length);
    for (let i = 0; i < length; i++) data[i] = (seed + i * 31) & 0xff;
    target.set(data, at);
    const body = target.subarray(offset + ENVELOPE_HEADER_BYTES, at + length);
    const head = emptyHead();
    assert.equal(readEnvelopeHead(body, head), EnvelopeType.StreamData);
    assert.equal(head.id, stream);
    const read = streamDataOf(head);
    assert.deepEqual(read, data);
    assert.equal(read.byteOffset, at);
    assert.deepEqual(decodeEnvelope(body), { type: EnvelopeType.StreamData, stream, data });
    assert.deepEqual(body, encodeEnvelope({ type: EnvelopeType.StreamData, stream, data }));
  },
);

/** The stream envelopes' targets, by name. */
export const streamTargets: FuzzTarget[] = [
  {
    name: 'frame.stream-envelopes',
    summary: 'readEnvelopeHead/streamDataOf against decodeEnvelope on random, mutated and hand-made stream envelopes',
    ciRuns: 1000,
    property: streamEnvelopes,
  },
  {
    name: 'frame.stream-data-head',
    summary: 'writeStreamDataHead for any id, length and offset, read back through both read paths',
    ciRuns: 300,
    property: streamDataHead,
  },
];
