// Fuzz targets of the codecs that read a peer's decrypted bytes: the CBOR
// value decoder and its heap budget, the envelope decoder and the
// pre-authentication handshake payload. fuzz-targets.ts lists them with the
// framing targets; test/properties.test.ts runs each a few hundred times and
// `pnpm fuzz` for millions of inputs (tooling/fuzz).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { HandshakeFailedError, MessageTooLargeError, ProtocolError, type Value } from '@peernet/interface';
import type { FuzzTarget } from '../../../tooling/fuzz/target.js';
import { decodeValue, decodedCost } from '../src/cbor-decoder.js';
import { encodeValue } from '../src/cbor-encoder.js';
import { DECODED_COST, EXACT_ARRAY_MAX, MAX_DECODED_COST_PER_BYTE } from '../src/cbor-reader.js';
import { EnvelopeType, decodeEnvelope, encodeEnvelope, type Envelope } from '../src/envelope.js';
import { decodeHandshakePayload, encodeHandshakePayload } from '../src/handshake-payload.js';

// ------------------------------------------------------------------ inputs

const key = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '', 'a'),
  fc.string({ maxLength: 12 }),
);
const leaf: fc.Arbitrary<Value> = fc.oneof(
  fc.constantFrom<Value>(null, true, false, 0, -0, NaN, Infinity, 2 ** 53, -(2 ** 53), 1e300),
  fc.integer(),
  fc.double(),
  fc.bigInt({ min: -(2n ** 130n), max: 2n ** 130n }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.uint8Array({ maxLength: 40 }),
);
const { value: anyValue } = fc.letrec<{ value: Value; array: Value[]; object: Value }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 5 }).map((entries) => {
    const out: Record<string, Value> = {};
    for (const [k, v] of entries) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    return out;
  }),
}));

/** Bytes that matter to a CBOR decoder: every head of interest, breaks, tags, simple values. */
const anyByte = fc.oneof(
  fc.constantFrom(
    0x00, 0x17, 0x18, 0x1b, 0x1c, 0x1f, 0x20, 0x3b, 0x40, 0x57, 0x58, 0x5b, 0x5f, 0x60, 0x78, 0x7b, 0x7f, 0x80,
    0x81, 0x98, 0x9b, 0x9f, 0xa0, 0xa1, 0xb8, 0xbb, 0xbf, 0xc0, 0xc2, 0xc3, 0xd8, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    0xf9, 0xfa, 0xfb, 0xff, 0xc3, 0xe6, 0xed, 0xf0, 0x80,
  ),
  fc.integer({ min: 0, max: 255 }),
);

const enc = new TextEncoder();
/** A CBOR head: major type, then a declared argument in any of its widths, often huge. */
const head = fc
  .tuple(
    fc.integer({ min: 0, max: 7 }),
    fc.oneof(
      fc.integer({ min: 0, max: 23 }).map((n) => Uint8Array.of(n)),
      fc.constantFrom(24, 25, 26, 27).chain((ai) =>
        fc.uint8Array({ minLength: 1 << (ai - 24), maxLength: 1 << (ai - 24) }).map((arg) => Uint8Array.of(ai, ...arg)),
      ),
      fc.constantFrom(
        Uint8Array.of(27, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
        Uint8Array.of(26, 0xff, 0xff, 0xff, 0xff),
        Uint8Array.of(27, 0, 0x20, 0, 0, 0, 0, 0, 0),
        Uint8Array.of(31),
        Uint8Array.of(28),
      ),
    ),
  )
  .map(([major, arg]) => Uint8Array.of((major << 5) | (arg[0] as number), ...arg.subarray(1)));

/** Pieces a hostile encoder strings together: heads, deep nests, dangerous keys, bignums, fragments of real encodings. */
const token = fc.oneof(
  { weight: 4, arbitrary: head },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => new Uint8Array(n).fill(0x81)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 3000 }).map((n) => new Uint8Array(n).fill(0xa1).map((b, i) => (i % 2 ? 0x60 : b))) },
  {
    weight: 2,
    arbitrary: fc.constantFrom('__proto__', 'constructor', 'prototype', 'polluted').map((k) => {
      const bytes = enc.encode(k);
      return Uint8Array.of(0xa1, 0x60 | bytes.length, ...bytes, 0xa1, 0x68, ...enc.encode('polluted'), 0xf5);
    }),
  },
  { weight: 1, arbitrary: fc.constantFrom(0xc2, 0xc3).map((tag) => Uint8Array.of(tag, 0x5a, 0x7f, 0xff, 0xff, 0xff)) },
  { weight: 2, arbitrary: anyValue.map((v) => encodeValue(v)) },
);

const mutation = fc.record({
  at: fc.nat(),
  byte: anyByte,
  kind: fc.constantFrom('replace', 'insert', 'delete', 'truncate', 'flip', 'duplicate'),
});

/** Applies byte mutations (replace, insert, delete, truncate, flip, duplicate) to a copy of `bytes`. */
export function mutate(bytes: Uint8Array, mutations: readonly { at: number; byte: number; kind: string }[]): Uint8Array {
  let out = Array.from(bytes);
  for (const { at, byte, kind } of mutations) {
    const i = out.length === 0 ? 0 : at % out.length;
    if (kind === 'replace') out[i] = byte;
    else if (kind === 'insert') out.splice(i, 0, byte);
    else if (kind === 'delete') out.splice(i, 1);
    else if (kind === 'truncate') out = out.slice(0, i);
    else if (kind === 'duplicate') out.splice(i, 0, ...out.slice(i, i + (byte % 16)));
    else out[i] = (out[i] ?? 0) ^ (1 << (byte & 7));
  }
  return Uint8Array.from(out);
}

/** Random bytes, mutated valid encodings of `valid`, and strings of hostile tokens. */
function hostileBytes(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.array(anyByte, { maxLength: 64 }).map((bytes) => Uint8Array.from(bytes)),
    fc.tuple(valid, fc.array(mutation, { minLength: 1, maxLength: 4 })).map(([bytes, ms]) => mutate(bytes, ms)),
    fc.array(token, { minLength: 1, maxLength: 8 }).map((parts) => new Uint8Array(Buffer.concat(parts))),
    // A valid encoding at a non-zero offset of a larger buffer.
    valid.map((bytes) => {
      const backing = new Uint8Array(bytes.length + 3).fill(0xff);
      backing.set(bytes, 1);
      return backing.subarray(1, 1 + bytes.length);
    }),
  );
}

// ------------------------------------------------------------------ checks

const objectPrototypeNames = Object.getOwnPropertyNames(Object.prototype).length;
const arrayPrototypeNames = Object.getOwnPropertyNames(Array.prototype).length;

/** Nothing reached a shared prototype. */
function assertNoPollution(): void {
  assert.equal(Object.getOwnPropertyNames(Object.prototype).length, objectPrototypeNames, 'Object.prototype changed');
  assert.equal(Object.getOwnPropertyNames(Array.prototype).length, arrayPrototypeNames, 'Array.prototype changed');
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype.polluted is set');
}

/**
 * A lower bound of the bytes any encoding of `value` needs: every item costs
 * at least its head byte, strings and byte strings their length, bignums
 * their magnitude. A decoder that returned more than the input holds would
 * have allocated from a declared length instead of the bytes present.
 */
function weight(value: unknown): number {
  if (typeof value === 'string') return 1 + value.length;
  // A negative integer is encoded as -1 - n, so its magnitude needs the bytes of n.
  if (typeof value === 'bigint') return 1 + Math.ceil((value < 0n ? -1n - value : value).toString(16).length / 2);
  if (value instanceof Uint8Array) return 1 + value.length;
  if (Array.isArray(value)) return value.reduce((n: number, v) => n + weight(v), 1);
  if (typeof value === 'object' && value !== null) {
    assert.ok(Object.getPrototypeOf(value) === Object.prototype, 'a map decoded to an object with another prototype');
    return Object.keys(value).reduce((n, k) => n + weight(k) + weight((value as Record<string, unknown>)[k]), 1);
  }
  return 1;
}

function expectOnly<T>(Type: abstract new (...args: never[]) => Error, run: () => T): T | undefined {
  try {
    return run();
  } catch (error) {
    if (!(error instanceof Type)) throw error;
    return undefined;
  }
}

// ------------------------------------------------------------------ targets

const cborDecode = fc.property(hostileBytes(anyValue.map((v) => encodeValue(v))), (bytes) => {
  const before = Uint8Array.from(bytes);
  const value = expectOnly(ProtocolError, () => decodeValue(bytes));
  assertNoPollution();
  assert.deepEqual(bytes, before, 'the input was modified');
  if (value === undefined) return;
  assert.ok(weight(value) <= bytes.length, `decoded ${weight(value)} units from ${bytes.length} bytes`);
  // What was accepted is a value of the value set: it encodes, and its encoding decodes to the same thing.
  const again = encodeValue(value);
  assert.deepEqual(encodeValue(decodeValue(again)), again);
});

const id = fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 1, 2 ** 53 - 1));
const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 64 });
const nonce = fc.uint8Array({ minLength: 8, maxLength: 8 });
const envelope: fc.Arbitrary<Envelope> = fc.oneof(
  fc.record({ type: fc.constant(EnvelopeType.Call), id, name, args: anyValue }),
  fc.record({ type: fc.constant(EnvelopeType.Reply), id, result: anyValue }),
  fc.record({ type: fc.constant(EnvelopeType.Error), id, code: fc.string(), message: fc.string() }),
  fc.record({ type: fc.constant(EnvelopeType.Send), name, args: anyValue }),
  fc.record({ type: fc.constant(EnvelopeType.Ping), nonce }),
  fc.record({ type: fc.constant(EnvelopeType.Pong), nonce }),
  fc.record({ type: fc.constant(EnvelopeType.Cancel), id }),
);
/** Arrays that look like envelopes: a plausible type, then items of any kind and number. */
const nearEnvelope = fc
  .tuple(fc.oneof(fc.integer({ min: -1, max: 9 }), anyValue), fc.array(anyValue, { maxLength: 5 }))
  .map(([type, items]) => encodeValue([type, ...items]));

const envelopeDecode = fc.property(
  fc.oneof(hostileBytes(envelope.map((e) => encodeEnvelope(e))), nearEnvelope),
  (bytes) => {
    const decoded = expectOnly(ProtocolError, () => decodeEnvelope(bytes));
    assertNoPollution();
    if (decoded === undefined) return;
    // Whatever is accepted is a well-formed envelope, so it re-encodes and decodes to itself.
    assert.ok(decoded.type >= 1 && decoded.type <= 13);
    assert.deepEqual(decodeEnvelope(encodeEnvelope(decoded)), decoded);
  },
);

const genuinePayload = fc
  .tuple(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 40 }))
  .map(([identityKey, extensions]) => encodeHandshakePayload({ identityKey, extensions }));
const payloadDecode = fc.property(
  fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(genuinePayload, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([bytes, ms]) => mutate(bytes, ms)),
    genuinePayload,
  ),
  (bytes) => {
    const payload = expectOnly(HandshakeFailedError, () => decodeHandshakePayload(bytes));
    const wellFormed = bytes.length >= 34 && bytes[0] === 1 && bytes.length === 34 + (bytes[33] as number);
    assert.equal(payload !== undefined, wellFormed);
    if (payload === undefined) return;
    assert.deepEqual(encodeHandshakePayload(payload), bytes);
    // Copies, not views: the caller's buffer may be reused for the next frame.
    assert.notEqual(payload.identityKey.buffer, bytes.buffer);
  },
);

// ------------------------------------------------------------------ heap budget

/** A CBOR array head for `n` items. */
function arrayHead(n: number): Uint8Array {
  if (n < 24) return Uint8Array.of(0x80 | n);
  if (n < 0x100) return Uint8Array.of(0x98, n);
  return Uint8Array.of(0x99, n >>> 8, n & 0xff);
}

/** The items that cost the most heap per byte, alone or in the smallest containers, repeated under one array. */
const cheapItem = fc.constantFrom(
  [0xa0], [0x80], [0x00], [0x40], [0x60], [0xf6], [0x41, 0x01], [0x61, 0x61], [0x81, 0x00], [0x81, 0x80], [0x81, 0xa0],
  [0xa1, 0x60, 0x00], [0xa1, 0x61, 0x61, 0xa0], [0xf9, 0x3c, 0x01], [0x1a, 0x80, 0, 0, 0], [0x1b, 0x80, 0, 0, 0, 0, 0, 0, 0],
  [0xc2, 0x41, 0xff], [0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0],
);
const denseRun = fc
  .tuple(fc.array(cheapItem, { minLength: 1, maxLength: 3 }), fc.integer({ min: 0, max: 1000 }))
  .map(([items, n]) => {
    const parts: Uint8Array[] = [arrayHead(n)];
    for (let i = 0; i < n; i++) parts.push(Uint8Array.from(items[i % items.length]!));
    return new Uint8Array(Buffer.concat(parts));
  });
/** Maps whose keys are all different (each a new hidden class in V8). */
const uniqueKeys = fc
  .tuple(fc.integer({ min: 1, max: 300 }), fc.integer({ min: 0, max: 20 }), fc.integer({ min: 1, max: 4 }))
  .map(([n, keyLength, perMap]) => {
    const parts: Uint8Array[] = [arrayHead(n)];
    for (let i = 0; i < n; i++) {
      parts.push(Uint8Array.of(0xa0 | perMap));
      for (let k = 0; k < perMap; k++) {
        const key = `${i}.${k}`.padEnd(keyLength, 'k');
        parts.push(encodeValue(key), Uint8Array.of(0x00));
      }
    }
    return new Uint8Array(Buffer.concat(parts));
  });

const roundUp8 = (n: number): number => Math.ceil(n / 8) * 8;

/**
 * The heap `value` takes, estimated from the decoded value itself with the
 * per-kind sizes of V8 (the calibration test/decode-cost.test.ts checks them
 * against the real heap): what the budget walk charged for the bytes must
 * never be less.
 */
export function heapOf(value: unknown): number {
  // Literal sizes measured on Node 20, independent of DECODED_COST: the point is to catch the model undercharging.
  const slot = 8;
  switch (typeof value) {
    case 'number':
      // Small integers live in the slot; everything else is a HeapNumber.
      return slot + (Number.isInteger(value) && Math.abs(value) < 2 ** 31 && !Object.is(value, -0) ? 0 : 16);
    case 'bigint': {
      const magnitude = value < 0n ? -value : value;
      return slot + 16 + 8 * Math.ceil(magnitude.toString(2).length / 64);
    }
    case 'string': {
      if (value.length === 0) return slot;
      let twoByte = false;
      for (let i = 0; i < value.length && !twoByte; i++) twoByte = value.charCodeAt(i) > 0xff;
      return slot + 16 + roundUp8(twoByte ? 2 * value.length : value.length);
    }
    case 'object': {
      if (value === null) return slot;
      if (value instanceof Uint8Array) {
        const n = value.byteLength;
        return slot + 184 + (n === 0 ? 0 : n <= 64 ? 16 + roundUp8(n) : n);
      }
      if (Array.isArray(value)) {
        const n = value.length;
        let total = slot + (n === 0 ? 32 : 48 + 8 * (n > EXACT_ARRAY_MAX ? Math.ceil(1.5 * n) + 16 : n));
        for (const item of value) total += heapOf(item) - slot;
        return total;
      }
      let total = slot + 56;
      // An entry whose key makes a new hidden class (the worst case, measured): 112 bytes besides the key string.
      for (const [key, item] of Object.entries(value)) total += 112 + heapOf(key) - slot + heapOf(item);
      return total;
    }
    default:
      return slot;
  }
}

const costInput = fc.oneof(
  { weight: 3, arbitrary: hostileBytes(anyValue.map((v) => encodeValue(v))) },
  { weight: 3, arbitrary: denseRun },
  { weight: 1, arbitrary: uniqueKeys },
);
const costBudget = fc.oneof(fc.integer({ min: 0, max: 256 }), fc.integer({ min: 0, max: 1 << 20 }), fc.constant(2 ** 40));

const costCheck = fc.property(costInput, costBudget, (bytes, budget) => {
  let cost: number | undefined;
  try {
    cost = decodedCost(bytes, { maxDecodedBytes: Number.MAX_SAFE_INTEGER });
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
  }
  // The charge per input byte is bounded, whatever the shape: no input decodes to more than 216 heap bytes per byte.
  if (cost !== undefined) assert.ok(cost <= MAX_DECODED_COST_PER_BYTE * bytes.length, `charged ${cost} for ${bytes.length} bytes`);
  let value: Value | undefined;
  let refused = false;
  try {
    value = decodeValue(bytes, { maxDecodedBytes: budget });
  } catch (error) {
    if (error instanceof MessageTooLargeError) refused = true;
    else if (!(error instanceof ProtocolError)) throw error;
  }
  assertNoPollution();
  if (cost === undefined) {
    assert.equal(value, undefined, 'malformed input decoded');
    return;
  }
  // Refused exactly when over budget, and then before anything was decoded.
  assert.equal(refused, cost > budget, `cost ${cost}, budget ${budget}, refused ${refused}`);
  if (value === undefined) return;
  const heap = heapOf(value);
  assert.ok(heap <= cost, `the value takes ${heap} heap bytes but only ${cost} were charged for its ${bytes.length} bytes`);
});

/** The codecs' targets, by name. */
export const codecTargets: FuzzTarget[] = [
  {
    name: 'frame.cbor',
    summary: 'decodeValue on random bytes, mutated encodings, hostile token strings',
    ciRuns: 1000,
    property: cborDecode,
  },
  {
    name: 'frame.decode-cost',
    summary: 'decodedCost and decodeValue under a budget on dense runs of cheap items, unique-key maps, hostile bytes',
    ciRuns: 300,
    property: costCheck,
  },
  {
    name: 'frame.envelope',
    summary: 'decodeEnvelope on mutated envelopes and arrays of any shape',
    ciRuns: 1000,
    property: envelopeDecode,
  },
  {
    name: 'frame.handshake-payload',
    summary: 'decodeHandshakePayload on random and mutated payloads',
    ciRuns: 500,
    property: payloadDecode,
  },
];
