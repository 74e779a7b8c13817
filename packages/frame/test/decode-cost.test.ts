// The heap budget's cost model against V8's real heap: what the budget walk
// charges for some bytes must be at least what their decoded value really
// takes (measured after full collections), and not wildly more for the
// shapes an attacker would pick.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { MessageTooLargeError } from '@peernet/interface';
import { DEFAULT_MAX_DECODED_BYTES, decodeValue, decodedCost, encodeValue } from '../src/index.js';
import { denseArray } from './bytes.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const unlimited = { maxDecodedBytes: Number.MAX_SAFE_INTEGER };

let sink: unknown;

/**
 * Heap (and ArrayBuffer memory) still held after full collections by what
 * `make` returns: the median of five measurements, so that one disturbed by
 * the test runner's own allocations or collections, either way, is not the
 * one compared.
 */
function retained(make: () => unknown): number {
  const measured: number[] = [];
  for (let i = 0; i < 5; i++) {
    gc();
    gc();
    const before = process.memoryUsage();
    sink = make();
    gc();
    gc();
    const after = process.memoryUsage();
    sink = undefined;
    measured.push(after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers));
  }
  return measured.sort((x, y) => x - y)[2] as number;
}

/** `count` copies of `item` (encoded items) under one array head. */
function arrayOf(count: number, item: (i: number) => Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [Uint8Array.of(0x9a, count >>> 24, (count >>> 16) & 0xff, (count >>> 8) & 0xff, count & 0xff)];
  for (let i = 0; i < count; i++) parts.push(item(i));
  return new Uint8Array(Buffer.concat(parts));
}

// Measurement noise of heapUsed after two collections, and a margin for it.
const NOISE = 256 * 1024;

function check(bytes: Uint8Array): { heap: number; charged: number } {
  const charged = decodedCost(bytes, unlimited);
  const heap = retained(() => decodeValue(bytes, unlimited));
  expect({ heap, within: heap <= charged * 1.01 + NOISE }).toEqual({ heap, within: true });
  return { heap, charged };
}

const fixed = (...bytes: number[]) => () => Uint8Array.from(bytes);
let unique = 0;

describe('the charged cost bounds the real heap', () => {
  // Dense hostile shapes: the charge must be an upper bound, and a tight one (within 1.5×).
  it.each([
    ['{}', fixed(0xa0)],
    ['[]', fixed(0x80)],
    ['0', fixed(0x00)],
    ['empty byte string', fixed(0x40)],
    ['one-byte byte string', fixed(0x41, 0x07)],
    ['empty text', fixed(0x60)],
    ['[0]', fixed(0x81, 0x00)],
    ['[[]]', fixed(0x81, 0x80)],
    ['[[[0]]]', fixed(0x81, 0x81, 0x81, 0x00)],
    ['float', fixed(0xf9, 0x3e, 0x00)],
    ['32-bit integer', fixed(0x1a, 0xff, 0, 0, 1)],
    ['bignum', fixed(0xc2, 0x49, 1, 2, 3, 4, 5, 6, 7, 8, 9)],
    ['null', fixed(0xf6)],
    ['map with a unique key', () => encodeValue({ [`k${unique++}`]: 0 })],
  ])('an array of 100,000 × %s', (_label, item) => {
    const { heap, charged } = check(arrayOf(100_000, item));
    expect({ charged, tight: charged <= heap * 1.5 + NOISE }).toEqual({ charged, tight: true });
  });

  it.each([
    ['13-character ASCII strings', (i: number) => encodeValue(`abcdefghijkl${String.fromCharCode(97 + (i % 26))}`)],
    ['40-character ASCII strings', (i: number) => encodeValue(`${'x'.repeat(36)}${i}`.slice(0, 40))],
    ['two-byte strings', (i: number) => encodeValue(`${'a'.repeat(30)}中${i}`)],
    ['100-byte byte strings', () => encodeValue(new Uint8Array(100))],
    ['records', (i: number) => encodeValue({ id: i, name: `user${i}`, tags: ['a', 'b'], score: i / 3, ok: true })],
    ['maps of 20 unique keys', () => encodeValue(Object.fromEntries(Array.from({ length: 20 }, () => [`k${unique++}`, 1])))],
  ])('an array of %s', (_label, item) => {
    check(arrayOf(20_000, item));
  });

  it('holds for arrays grown rather than allocated at their size', () => {
    check(denseArray(0x00, (1 << 20) + 1));
  });

  it('holds for random values repeated into a measurable heap', () => {
    const leaf = fc.oneof(
      fc.integer(),
      fc.double(),
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 10 }),
      fc.uint8Array({ maxLength: 80 }),
      fc.bigInt({ min: -(2n ** 130n), max: 2n ** 130n }),
      fc.constantFrom(null, true, false),
    );
    const value = fc.letrec<{ v: unknown }>((tie) => ({
      v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 4 }), fc.dictionary(fc.string({ maxLength: 8 }), tie('v'), { maxKeys: 4 })),
    })).v;
    fc.assert(
      fc.property(value, (template) => {
        const encoded = encodeValue(template as never);
        // Enough copies for a few MB of charge: small shapes are lost in the noise otherwise.
        const count = Math.max(1, Math.min(200_000, Math.floor(4_000_000 / decodedCost(encoded, unlimited))));
        check(arrayOf(count, () => encoded));
      }),
      { numRuns: 12 },
    );
  });
});

describe('the default budget', () => {
  it('refuses a 16 MiB array of {} before allocating anything', () => {
    const bytes = denseArray(0xa0, 16 * 1024 * 1024 - 5);
    let thrown: unknown;
    const heap = retained(() => {
      try {
        return decodeValue(bytes);
      } catch (error) {
        thrown = error;
        return undefined;
      }
    });
    expect(thrown).toBeInstanceOf(MessageTooLargeError);
    expect(heap).toBeLessThan(NOISE);
    expect(DEFAULT_MAX_DECODED_BYTES).toBe(64 * 1024 * 1024);
  });
});
