import fc from 'fast-check';
import { runInNewContext } from 'node:vm';
import { BadRequestError, InvalidArgumentError, MessageTooLargeError, ProtocolError, type Value } from '@peernet/interface';
import { DEFAULT_MAX_DEPTH, MAX_BIGNUM_BYTES } from '../src/cbor-common.js';
import { decodeOwnedValue, decodeValue } from '../src/cbor-decoder.js';
import { appendValue, encodeValue } from '../src/cbor-encoder.js';

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** Deep equality that tells -0 from 0, NaN from everything but NaN, and bigint from number. */
function same(a: unknown, b: unknown): boolean {
  if (typeof a !== typeof b) return false;
  if (typeof a === 'number') return Object.is(a, b);
  if (typeof a !== 'object' || a === null || b === null) return a === b;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    return (
      a instanceof Uint8Array && b instanceof Uint8Array && a.length === b.length && a.every((x, i) => x === b[i])
    );
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b as object);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) => Object.hasOwn(b as object, k) && same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

/** What a value decodes to: bigints within the safe range come back as numbers. */
function normalise(v: Value): Value {
  if (typeof v === 'bigint') return v >= -(2n ** 53n - 1n) && v <= 2n ** 53n - 1n ? Number(v) : v;
  if (v === null || typeof v !== 'object' || v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map(normalise);
  const out: Record<string, Value> = {};
  for (const key of Object.keys(v)) {
    const value = normalise((v as { readonly [key: string]: Value })[key]!);
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function expectProtocolError(bytes: Uint8Array, pattern?: RegExp): ProtocolError {
  let caught: unknown;
  try {
    decodeValue(bytes);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  const error = caught as ProtocolError;
  expect(error.code).toBe('protocol_error');
  expect(error.message).toMatch(/at offset \d+/);
  if (pattern) expect(error.message).toMatch(pattern);
  return error;
}

function encodeError(value: unknown, label?: string): BadRequestError {
  let caught: unknown;
  try {
    encodeValue(value as Value, label === undefined ? undefined : { label });
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(BadRequestError);
  expect((caught as BadRequestError).code).toBe('bad_request');
  return caught as BadRequestError;
}

function expectEncodeRejects(value: unknown, pattern?: RegExp): void {
  const error = encodeError(value);
  if (pattern) expect(error.message).toMatch(pattern);
}

// RFC 8949 Appendix A, the examples within the value set.
// [encoding, value, whether encoding `value` gives exactly this encoding]
const vectors: Array<[string, Value, boolean]> = [
  ['00', 0, true],
  ['01', 1, true],
  ['0a', 10, true],
  ['17', 23, true],
  ['1818', 24, true],
  ['1819', 25, true],
  ['1864', 100, true],
  ['1903e8', 1000, true],
  ['1a000f4240', 1000000, true],
  ['1b000000e8d4a51000', 1000000000000, true],
  ['1bffffffffffffffff', 18446744073709551615n, true],
  ['c249010000000000000000', 18446744073709551616n, true],
  ['3bffffffffffffffff', -18446744073709551616n, true],
  ['c349010000000000000000', -18446744073709551617n, true],
  ['20', -1, true],
  ['29', -10, true],
  ['3863', -100, true],
  ['3903e7', -1000, true],
  ['f90000', 0, false],
  ['f98000', -0, true],
  ['f93c00', 1, false],
  ['fb3ff199999999999a', 1.1, true],
  ['f93e00', 1.5, true],
  ['f97bff', 65504, false],
  ['fa47c35000', 100000, false],
  ['fa7f7fffff', 3.4028234663852886e38, true],
  ['fb7e37e43c8800759c', 1.0e300, true],
  ['f90001', 5.960464477539063e-8, true],
  ['f90400', 0.00006103515625, true],
  ['f9c400', -4, false],
  ['fbc010666666666666', -4.1, true],
  ['f97c00', Infinity, true],
  ['f97e00', NaN, true],
  ['f9fc00', -Infinity, true],
  ['fa7f800000', Infinity, false],
  ['fa7fc00000', NaN, false],
  ['faff800000', -Infinity, false],
  ['fb7ff0000000000000', Infinity, false],
  ['fb7ff8000000000000', NaN, false],
  ['fbfff0000000000000', -Infinity, false],
  ['f4', false, true],
  ['f5', true, true],
  ['f6', null, true],
  ['40', new Uint8Array(0), true],
  ['4401020304', Uint8Array.of(1, 2, 3, 4), true],
  ['60', '', true],
  ['6161', 'a', true],
  ['6449455446', 'IETF', true],
  ['62225c', '"\\', true],
  ['62c3bc', '\u00fc', true],
  ['63e6b0b4', '\u6c34', true],
  ['64f0908591', '\u{10151}', true],
  ['80', [], true],
  ['83010203', [1, 2, 3], true],
  ['8301820203820405', [1, [2, 3], [4, 5]], true],
  [
    '98190102030405060708090a0b0c0d0e0f101112131415161718181819',
    Array.from({ length: 25 }, (_, i) => i + 1),
    true,
  ],
  ['a0', {}, true],
  ['a26161016162820203', { a: 1, b: [2, 3] }, true],
  ['826161a161626163', ['a', { b: 'c' }], true],
  ['a56161614161626142616361436164614461656145', { a: 'A', b: 'B', c: 'C', d: 'D', e: 'E' }, true],
];

describe('CBOR: RFC 8949 Appendix A', () => {
  it.each(vectors)('decodes %s', (encoding, value) => {
    expect(same(decodeValue(hex(encoding)), value)).toBe(true);
  });

  it.each(vectors.filter(([, , canonical]) => canonical))('encodes to %s', (encoding, value) => {
    expect(toHex(encodeValue(value))).toBe(encoding);
  });

  it('encodes integral numbers and floats in their shortest exact form', () => {
    expect(toHex(encodeValue(65504.5))).toBe('fa477fe080');
    expect(toHex(encodeValue(0.5))).toBe('f93800');
    expect(toHex(encodeValue(0.1))).toBe('fb3fb999999999999a');
    expect(toHex(encodeValue(2 ** 53))).toBe('fa5a000000');
    expect(toHex(encodeValue(-(2 ** 53)))).toBe('fada000000');
    expect(toHex(encodeValue(Number.MAX_SAFE_INTEGER))).toBe('1b001fffffffffffff');
    expect(toHex(encodeValue(Number.MIN_SAFE_INTEGER))).toBe('3b001ffffffffffffe');
    expect(toHex(encodeValue(2 ** -24))).toBe('f90001');
    expect(toHex(encodeValue(2 ** -25))).toBe('fa33000000');
    expect(toHex(encodeValue(Number.MIN_VALUE))).toBe('fb0000000000000001');
    expect(toHex(encodeValue(Number.MAX_VALUE))).toBe('fb7fefffffffffffff');
  });

  it('round-trips every half-precision value exactly', () => {
    const wrong: string[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const encoding = Uint8Array.of(0xf9, h >>> 8, h & 0xff);
      const value = decodeValue(encoding);
      const again = encodeValue(value);
      const ok =
        typeof value !== 'number'
          ? false
          : Number.isNaN(value)
            ? toHex(again) === 'f97e00'
            : Number.isSafeInteger(value) && !Object.is(value, -0)
              ? decodeValue(again) === value
              : toHex(again) === toHex(encoding);
      if (!ok) wrong.push(toHex(encoding));
    }
    expect(wrong).toEqual([]);
  });

  it('decodes integers by value: number within ±(2^53−1), bigint beyond', () => {
    expect(decodeValue(hex('1b001fffffffffffff'))).toBe(Number.MAX_SAFE_INTEGER);
    expect(decodeValue(hex('1b0020000000000000'))).toBe(2n ** 53n);
    expect(decodeValue(hex('3b001ffffffffffffe'))).toBe(Number.MIN_SAFE_INTEGER);
    expect(decodeValue(hex('3b001fffffffffffff'))).toBe(-(2n ** 53n));
    expect(decodeValue(hex('c24105'))).toBe(5);
    expect(decodeValue(hex('c240'))).toBe(0);
    expect(decodeValue(hex('c34100'))).toBe(-1);
    expect(decodeValue(hex('c2480020000000000000'))).toBe(2n ** 53n);
  });

  it('encodes bigints: small ones as plain integers, up to 2^64 with an 8-byte argument, beyond as bignums', () => {
    expect(toHex(encodeValue(5n))).toBe('05');
    expect(toHex(encodeValue(-5n))).toBe('24');
    expect(toHex(encodeValue(2n ** 53n))).toBe('1b0020000000000000');
    expect(toHex(encodeValue(-(2n ** 53n)))).toBe('3b001fffffffffffff');
    expect(toHex(encodeValue(2n ** 72n))).toBe('c24a01000000000000000000');
    const largest = 2n ** BigInt(8 * MAX_BIGNUM_BYTES) - 1n;
    expect(decodeValue(encodeValue(largest))).toBe(largest);
    expect(decodeValue(encodeValue(-largest - 1n))).toBe(-largest - 1n);
    expectEncodeRejects(largest + 1n, /bigint/);
    const tooLong = new Uint8Array(4 + MAX_BIGNUM_BYTES + 1);
    tooLong.set([0xc2, 0x59, (MAX_BIGNUM_BYTES + 1) >> 8, (MAX_BIGNUM_BYTES + 1) & 0xff, 1]);
    expectProtocolError(tooLong, /bignum/);
  });

  it('accepts non-shortest heads and floats', () => {
    expect(decodeValue(hex('1800'))).toBe(0);
    expect(decodeValue(hex('190001'))).toBe(1);
    expect(decodeValue(hex('1b0000000000000017'))).toBe(23);
    expect(decodeValue(hex('3800'))).toBe(-1);
    expect(decodeValue(hex('5800'))).toEqual(new Uint8Array(0));
    expect(decodeValue(hex('780161'))).toBe('a');
    expect(decodeValue(hex('9800'))).toEqual([]);
    expect(decodeValue(hex('b800'))).toEqual({});
    expect(decodeValue(hex('fb3ff8000000000000'))).toBe(1.5);
    expect(decodeValue(hex('d80241ff'))).toBe(255);
  });
});

describe('CBOR: encoding', () => {
  it('writes byte strings from subarrays, Buffers and other realms', () => {
    const backing = Uint8Array.of(9, 9, 1, 2, 3, 9);
    expect(toHex(encodeValue(backing.subarray(2, 5)))).toBe('43010203');
    expect(toHex(encodeValue(Buffer.from([1, 2, 3])))).toBe('43010203');
    const foreign = runInNewContext('new Uint8Array([1, 2, 3])') as Uint8Array;
    expect(foreign instanceof Uint8Array).toBe(false);
    expect(toHex(encodeValue(foreign))).toBe('43010203');
    expect(toHex(encodeValue({ b: foreign }))).toBe('a1616243010203');
  });

  it('writes plain objects as maps of their own enumerable string keys', () => {
    const object: Record<string | symbol, Value> = { a: 1 };
    object[Symbol('hidden')] = 2;
    Object.defineProperty(object, 'b', { value: 3, enumerable: false });
    expect(toHex(encodeValue(object as Value))).toBe('a1616101');
    const bare = Object.create(null) as Record<string, Value>;
    bare.x = true;
    expect(toHex(encodeValue(bare))).toBe('a16178f5');
    expect(toHex(encodeValue(Object.create(Object.create(null)) as Value))).toBe('a0');
  });

  it('writes strings of every length and script', () => {
    const texts = ['', 'x'.repeat(23), 'x'.repeat(24), 'é'.repeat(63), 'é'.repeat(64), '水'.repeat(200)];
    texts.push('a\u{1f600}'.repeat(40), `${'x'.repeat(40)}é`);
    for (const text of texts) {
      const encoded = encodeValue(text);
      expect(decodeValue(encoded)).toBe(text);
      expect(toHex(encoded)).toBe(toHex(encodeWithTextEncoder(text)));
    }
    expect(toHex(encodeValue('x'.repeat(300)))).toBe(`79012c${'78'.repeat(300)}`);
    expect(toHex(encodeValue('x'.repeat(70000)).subarray(0, 5))).toBe('7a00011170');
  });

  it('reserves zeroed headroom and enforces maxBytes', () => {
    expect(toHex(encodeValue([1], { headroom: 4 }))).toBe('000000008101');
    expect(toHex(encodeValue('x'.repeat(200), { headroom: 2 }).subarray(0, 4))).toBe('000078c8');
    expect(() => encodeValue('x'.repeat(100), { maxBytes: 10 })).toThrow(MessageTooLargeError);
    expect(encodeValue('x'.repeat(8), { maxBytes: 9 })).toHaveLength(9);
    // A shared subtree repeated 2^40 times stops at the limit instead of exhausting memory.
    let bomb: Value = 'x'.repeat(64);
    for (let i = 0; i < 40; i++) bomb = [bomb, bomb];
    expect(() => encodeValue(bomb, { maxBytes: 1 << 20 })).toThrow(MessageTooLargeError);
    expect(() => encodeValue(1, { maxDepth: 100_000 })).toThrow(InvalidArgumentError);
    expect(() => encodeValue(1, { headroom: -1 })).toThrow(InvalidArgumentError);
  });

  it('treats undefined as JSON does: map entries left out, array elements and the whole value as null', () => {
    expect(toHex(encodeValue(undefined))).toBe('f6');
    expect(toHex(encodeValue([undefined] as unknown as Value))).toBe('81f6');
    // eslint-disable-next-line no-sparse-arrays
    expect(toHex(encodeValue([1, , 3] as Value))).toBe('8301f603');
    expect(toHex(encodeValue({ a: undefined }))).toBe('a0');
    expect(toHex(encodeValue({ a: 1, b: undefined, c: 2 }))).toBe('a2616101616302');
    expect(toHex(encodeValue({ a: { b: undefined, c: [undefined, { d: undefined }] } } as Value))).toBe('a16161a1616382f6a0');
    for (const value of [{ a: 1, b: undefined, c: 2 }, [undefined, { x: undefined, y: [1] }]] as Value[]) {
      expect(toHex(encodeValue(value))).toBe(toHex(encodeValue(JSON.parse(JSON.stringify(value)) as Value)));
    }
  });

  it('shrinks the head of a map whose entries are left out, moving what follows', () => {
    // 24 entries need a 2-byte head; 23 fit in the 1-byte one.
    const wide: Record<string, Value | undefined> = {};
    for (let i = 0; i < 24; i++) wide[`k${i}`] = i;
    const full = encodeValue(wide);
    expect(toHex(full.subarray(0, 2))).toBe('b818');
    wide.k0 = undefined;
    const shrunk = encodeValue([wide, 'after']);
    expect(toHex(shrunk.subarray(0, 2))).toBe('82b7');
    const { k0: _dropped, ...rest } = wide;
    expect(toHex(shrunk)).toBe(toHex(encodeValue([rest, 'after'])));
    expect(decodeValue(shrunk)).toEqual([rest, 'after']);
    // 256 entries need a 3-byte head, 255 a 2-byte one; with headroom and near the end of a buffer.
    const wider: Record<string, Value | undefined> = { gone: undefined };
    for (let i = 0; i < 255; i++) wider[`k${i}`] = i;
    expect(toHex(encodeValue(wider, { headroom: 3 }))).toBe(`000000${toHex(encodeValue(Object.fromEntries(Object.entries(wider).slice(1)) as Value))}`);
    const onlyUndefined = { a: undefined, b: undefined };
    const target = new Uint8Array(3);
    const appended = appendValue(onlyUndefined, target, 2);
    expect(toHex(appended.buffer.subarray(2, appended.end))).toBe('a0');
  });

  it('refuses values outside the value set with bad_request naming where they are', () => {
    expect(encodeError(() => 1).message).toBe('value: function is not a wire value');
    expect(encodeError({ when: new Date(0) }, 'args').message).toBe('args.when: Date is not a wire value');
    expect(encodeError({ items: [1, 2, new Map()] }, 'args').message).toBe('args.items[2]: Map is not a wire value');
    expect(encodeError([{ 'two words': [new Set()] }]).message).toBe('value[0]["two words"][0]: Set is not a wire value');
    expect(encodeError({ a: { b: Symbol('s') } }).message).toBe('value.a.b: symbol is not a wire value');
    const error = encodeError({ list: [0, { deep: () => 1 }] }, 'result');
    expect(error.message).toBe('result.list[1].deep: function is not a wire value');
    expect(error.valuePath).toEqual(['list', 1, 'deep']);
    // An error thrown by a getter passes through as it is, not renamed.
    const thrown = new Error('from a getter');
    expect(() =>
      encodeValue({
        get bad(): Value {
          throw thrown;
        },
      }),
    ).toThrow(thrown);
    // A value that fails after others were written does not leave the shared buffer in a bad state.
    expect(toHex(encodeValue([1, 2]))).toBe('820102');
  });

  it('rejects values outside the value set with BadRequestError', () => {
    expectEncodeRejects(() => 1, /function/);
    expectEncodeRejects(Symbol('s'), /symbol/);
    expectEncodeRejects(new Date(), /Date/);
    expectEncodeRejects(new Map(), /Map/);
    expectEncodeRejects(new Set(), /Set/);
    expectEncodeRejects(new Uint16Array(2), /Uint16Array/);
    expectEncodeRejects(new Uint8ClampedArray(2));
    expectEncodeRejects(new ArrayBuffer(2));
    expectEncodeRejects(new DataView(new ArrayBuffer(2)));
    expectEncodeRejects(new (class Point {})(), /Point/);
    expectEncodeRejects({ nested: [new Error('x')] }, /Error/);
    expectEncodeRejects(Object(1), /Number/);
    expectEncodeRejects('\ud800', /surrogate/);
    expectEncodeRejects('a\udc00b', /surrogate/);
    expectEncodeRejects(`${'x'.repeat(100)}\ud83d`, /surrogate/);
    expectEncodeRejects({ ['\udfff']: 1 }, /surrogate/);
  });

  it('rejects cycles and nesting beyond maxDepth', () => {
    const cyclic: Record<string, Value> = {};
    cyclic.self = cyclic;
    expectEncodeRejects(cyclic, /cyclic/);
    const loop: Value[] = [];
    loop.push(loop);
    expectEncodeRejects(loop, /cyclic/);
    expect(() => encodeValue(nestedArrays(DEFAULT_MAX_DEPTH))).not.toThrow();
    expectEncodeRejects(nestedArrays(DEFAULT_MAX_DEPTH + 1), /deeper than 64/);
    expect(() => encodeValue(nestedArrays(10), { maxDepth: 9 })).toThrow(BadRequestError);
  });

  it('survives a getter that encodes while an encoding is under way', () => {
    const value = {
      get inner(): Value {
        return toHex(encodeValue(['nested', 1]));
      },
    };
    expect(decodeValue(encodeValue([value as unknown as Value, 'tail']))).toEqual([
      { inner: '82666e657374656401' },
      'tail',
    ]);
  });

  it('returns a fresh copy each time', () => {
    const first = encodeValue([1, 2]);
    const second = encodeValue([3, 4]);
    expect(toHex(first)).toBe('820102');
    expect(toHex(second)).toBe('820304');
    expect(first.buffer).not.toBe(second.buffer);
  });
});

function encodeWithTextEncoder(text: string): Uint8Array {
  const utf8 = new TextEncoder().encode(text);
  const n = utf8.length;
  const head =
    n < 24
      ? [0x60 | n]
      : n < 256
        ? [0x78, n]
        : n < 65536
          ? [0x79, n >> 8, n & 0xff]
          : [0x7a, n >>> 24, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff];
  return Uint8Array.from([...head, ...utf8]);
}

function nestedArrays(levels: number): Value {
  let value: Value = [];
  for (let i = 1; i < levels; i++) value = [value];
  return value;
}

describe('CBOR: decoding hostile input', () => {
  it('rejects undefined and simple values other than false/true/null', () => {
    expectProtocolError(hex('f7'), /undefined/);
    for (const encoding of ['e0', 'f0', 'f3', 'f810', 'f818', 'f8ff', 'fc', 'fd', 'fe']) {
      expectProtocolError(hex(encoding));
    }
    expectProtocolError(hex('ff'), /break/);
  });

  it('rejects indefinite-length items', () => {
    for (const encoding of [
      '5f42010243030405ff',
      '7f657374726561646d696e67ff',
      '9fff',
      '9f018202039f0405ffff',
      '9f01820203820405ff',
      '83018202039f0405ff',
      '83019f0203ff820405',
      'bf61610161629f0203ffff',
      '826161bf61626163ff',
      'bf6346756ef563416d7421ff',
      '1f',
      '3f',
      'df',
    ]) {
      expectProtocolError(hex(encoding));
    }
    expectProtocolError(hex('9fff'), /indefinite/);
  });

  it('rejects reserved additional information', () => {
    for (const encoding of ['1c', '1d', '1e', '3c', '5c', '7d', '9e', 'bc', 'dc']) {
      expectProtocolError(hex(encoding), /reserved/);
    }
  });

  it('rejects tags other than 2 and 3, and bignums whose content is not a byte string', () => {
    for (const encoding of [
      'c074323031332d30332d32315432303a30343a30305a',
      'c11a514b67b0',
      'c1fb41d452d9ec200000',
      'd74401020304',
      'd818456449455446',
      'd82076687474703a2f2f7777772e6578616d706c652e636f6d',
      'c4820000',
      'db0000000100000002',
      'dbffffffffffffffff00',
    ]) {
      expectProtocolError(hex(encoding), /tag/);
    }
    for (const encoding of ['c201', 'c26161', 'c2c24101', 'c3f6', 'c25f4101ff']) expectProtocolError(hex(encoding));
  });

  it('rejects map keys that are not text strings, and duplicate keys', () => {
    expectProtocolError(hex('a201020304'), /map key/);
    expectProtocolError(hex('a14161f6'), /map key/);
    expectProtocolError(hex('a1f6f6'), /map key/);
    expectProtocolError(hex('a180f6'), /map key/);
    expectProtocolError(hex('a2616101616102'), /duplicate map key "a" at offset 4/);
    expectProtocolError(hex('a2695f5f70726f746f5f5f01695f5f70726f746f5f5f02'), /duplicate/);
  });

  it('rejects invalid UTF-8 in text strings and keys', () => {
    for (const encoding of ['61ff', '6180', '62c328', '62c0af', '63eda080', '64f4908080', '62e6b0']) {
      expectProtocolError(hex(encoding), /UTF-8/);
    }
    expectProtocolError(hex('a161fff6'), /UTF-8/);
    expectProtocolError(hex(`78 21 ${'61'.repeat(32)} ff`), /UTF-8/);
  });

  it('keeps a leading byte order mark as data', () => {
    expect(decodeValue(hex('63efbbbf'))).toBe('\ufeff');
  });

  it('rejects trailing bytes and empty input', () => {
    expectProtocolError(hex('0000'), /1 trailing bytes after the item at offset 1/);
    expectProtocolError(hex('80ff'), /trailing/);
    expectProtocolError(new Uint8Array(0), /end of input at offset 0/);
  });

  it('rejects every truncation of every valid encoding', () => {
    const encodings = [...vectors.map(([encoding]) => hex(encoding)), encodeValue(sampleValue())];
    for (const encoding of encodings) {
      for (let cut = 0; cut < encoding.length; cut++) expectProtocolError(encoding.subarray(0, cut));
    }
  });

  it('checks declared lengths against the bytes present before allocating, quickly', () => {
    const started = performance.now();
    for (const encoding of [
      '5affffffff00',
      '5b000000010000000000',
      '5bffffffffffffffff00',
      '7affffffff61',
      '7bffffffffffffffff61',
      '9affffffff00',
      '9b000000010000000000',
      '9bffffffffffffffff00',
      'baffffffff6161',
      'bbffffffffffffffff6161',
      'c25bffffffffffffffff00',
      '5803ffff',
      '8300',
      'a2616100',
      '8183',
    ]) {
      expectProtocolError(hex(encoding));
    }
    expectProtocolError(hex('9affffffff'), /declared length 4294967295 exceeds the 0 bytes left at offset 0/);
    // A map of N entries needs at least 2N bytes.
    expectProtocolError(hex('a36161006162'), /declared length 3/);
    expect(performance.now() - started).toBeLessThan(50);
  });

  it('bounds nesting depth without exhausting the stack', () => {
    const deep = (levels: number, open = 0x81): Uint8Array => {
      const bytes = new Uint8Array(levels).fill(open);
      bytes[levels - 1] = 0x80;
      return bytes;
    };
    expect(() => decodeValue(deep(64))).not.toThrow();
    expectProtocolError(deep(65), /nesting deeper than 64 levels at offset 64/);
    expectProtocolError(deep(100_000), /nesting deeper/);
    expect(() => decodeValue(deep(1024), { maxDepth: 1024 })).not.toThrow();
    expect(() => decodeValue(deep(100_000), { maxDepth: 1024 })).toThrow(ProtocolError);
    expect(() => decodeValue(deep(3), { maxDepth: 2 })).toThrow(ProtocolError);
    expect(() => decodeValue(hex('00'), { maxDepth: 0 })).not.toThrow();
    expect(() => decodeValue(hex('80'), { maxDepth: 0 })).toThrow(ProtocolError);
    expect(() => decodeValue(hex('00'), { maxDepth: 1025 })).toThrow(InvalidArgumentError);
    // Maps count too: {"a": {"a": ...}}
    const maps = new Uint8Array(65 * 3);
    for (let i = 0; i < 65; i++) maps.set([0xa1, 0x61, 0x61], i * 3);
    expectProtocolError(Uint8Array.from([...maps, 0xf6]), /nesting deeper/);
    // Bignums are not containers: one at depth 64 is fine.
    expect(decodeValue(Uint8Array.from([...new Uint8Array(64).fill(0x81), 0xc2, 0x41, 0x01]))).toBeDefined();
  });

  it('keeps __proto__ and constructor as plain data and never touches Object.prototype', () => {
    // {"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}, "toString": 1}
    const encoding = encodeValue(
      normalise(
        Object.defineProperty(
          { constructor: { prototype: { polluted: true } }, toString: 1 } as unknown as Record<string, Value>,
          '__proto__',
          { value: { polluted: true }, enumerable: true },
        ) as Value,
      ),
    );
    expect(toHex(encoding).includes(Buffer.from('__proto__').toString('hex'))).toBe(true);
    const decoded = decodeValue(encoding) as Record<string, Value>;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.hasOwn(decoded, '__proto__')).toBe(true);
    expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toEqual({ polluted: true });
    expect(decoded.polluted).toBeUndefined();
    expect(decoded.constructor).toEqual({ prototype: { polluted: true } });
    expect(decoded.toString).toBe(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.keys(decoded)).toEqual(['constructor', 'toString', '__proto__']);
  });

  it('never confuses one short map key with another', () => {
    const wrong: string[] = [];
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 5000; i++) {
        const key = (i % 3 === 0 ? 'ключ' : 'k') + i.toString(36).repeat(1 + (i % 4));
        const decoded = decodeValue(encodeValue({ [key]: i, x: key })) as Record<string, Value>;
        if (Object.keys(decoded).join() !== `${key},x` || decoded[key] !== i || decoded.x !== key) wrong.push(key);
      }
    }
    expect(wrong).toEqual([]);
    // A key whose bytes were rejected once is rejected again, never served from memory.
    expectProtocolError(hex('a162c328f6'), /UTF-8/);
    expectProtocolError(hex('a162c328f6'), /UTF-8/);
  });

  it('decodes byte strings as plain copies', () => {
    const input = Buffer.from('a1616243010203', 'hex');
    const decoded = decodeValue(input) as { b: Uint8Array };
    expect(Object.getPrototypeOf(decoded.b)).toBe(Uint8Array.prototype);
    expect(decoded.b.byteLength).toBe(3);
    expect(decoded.b.buffer.byteLength).toBe(3);
    input[4] = 0xff;
    expect([...decoded.b]).toEqual([1, 2, 3]);
    const framed = hex('ffff4401020304ffff').subarray(2, 7);
    expect([...(decodeValue(framed) as Uint8Array)]).toEqual([1, 2, 3, 4]);
    const foreign = runInNewContext('new Uint8Array([0x42, 1, 2])') as Uint8Array;
    expect(decodeValue(foreign)).toEqual(Uint8Array.of(1, 2));
  });

  it('rejects a non-Uint8Array argument with InvalidArgumentError', () => {
    for (const input of ['00', [0], null, undefined, new Uint16Array(1), new ArrayBuffer(1), { length: 1, 0: 0 }]) {
      expect(() => decodeValue(input as unknown as Uint8Array)).toThrow(InvalidArgumentError);
    }
  });
});

function sampleValue(): Value {
  return {
    name: 'échange',
    n: [0, -1, 24, 65536, 2 ** 40, -(2 ** 40), 1.5, 0.1, -0, NaN, 2n ** 70n, -(2n ** 64n)],
    bytes: Uint8Array.of(1, 2, 3),
    nested: { ok: true, no: false, nothing: null, text: 'x'.repeat(100) },
  };
}

// Arbitrary values of the value set, including the awkward keys and numbers.
const key = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '0', ''),
);
const leaf = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.maxSafeInteger(),
  fc.double(),
  fc.constantFrom(0, -0, NaN, Infinity, -Infinity, 2 ** 53, -(2 ** 53), 2 ** 64, 1e300, 5e-324),
  fc.bigInt({ min: -(2n ** 200n), max: 2n ** 200n }),
  fc.bigInt({ min: -(2n ** 65n), max: 2n ** 65n }),
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc.string({ maxLength: 30 }),
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ minLength: 2, maxLength: 40 }).map((bytes) => bytes.subarray(1, bytes.length - 1)),
);
const object = (value: fc.Arbitrary<Value>): fc.Arbitrary<Value> =>
  fc.array(fc.tuple(key, value), { maxLength: 6 }).map((entries) => {
    const out: Record<string, Value> = {};
    for (const [k, v] of entries) {
      Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
    }
    return out;
  });
const { value: arbitraryValue } = fc.letrec<{ value: Value; array: Value[]; object: Value }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 6 }),
  object: object(tie('value')),
}));

describe('CBOR: properties', () => {
  it('decode(encode(v)) equals v for every value of the value set', () => {
    fc.assert(
      fc.property(arbitraryValue, (value) => {
        const decoded = decodeValue(encodeValue(value));
        expect(same(decoded, normalise(value))).toBe(true);
        // And the encoding is stable: re-encoding the decoded value gives the same bytes.
        expect(toHex(encodeValue(decoded))).toBe(toHex(encodeValue(normalise(value))));
      }),
      { numRuns: 1000 },
    );
  });

  it('round-trips every double and every bigint up to the bignum cap', () => {
    fc.assert(
      fc.property(fc.double(), (value) => {
        expect(Object.is(decodeValue(encodeValue(value)), value)).toBe(true);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 8192n), max: 2n ** 8192n - 1n }), (value) => {
        expect(decodeValue(encodeValue(value))).toEqual(normalise(value));
      }),
    );
  });
});

describe('CBOR: internal entry points of the connection', () => {
  it('decodeOwnedValue views a byte string filling half its input buffer or more, and copies smaller ones', () => {
    const big = new Uint8Array(1000).fill(7);
    const small = new Uint8Array(10).fill(9);
    const input = encodeValue([big, small]);
    const [bigOut, smallOut] = decodeOwnedValue(input) as [Uint8Array, Uint8Array];
    expect(bigOut).toEqual(big);
    expect(smallOut).toEqual(small);
    expect(bigOut.buffer).toBe(input.buffer);
    expect(smallOut.buffer).not.toBe(input.buffer);
    // decodeValue never shares the caller's buffer.
    const [copied] = decodeValue(input) as [Uint8Array];
    expect(copied.buffer).not.toBe(input.buffer);
    // Two byte strings of a quarter each: neither retains the whole input.
    const halves = decodeOwnedValue(encodeValue([new Uint8Array(400), new Uint8Array(400)])) as Uint8Array[];
    expect(halves.every((h) => h.byteLength === h.buffer.byteLength)).toBe(true);
  });

  it('appendValue writes after the given offset, keeps the bytes before it, and grows when needed', () => {
    const target = new Uint8Array(16).fill(0xaa);
    const fits = appendValue('hi', target, 4);
    expect(fits.buffer).toBe(target);
    expect(toHex(target.subarray(0, 4 + 3))).toBe('aaaaaaaa626869');
    expect(fits.end).toBe(7);
    const value = { list: [1, 2, 3], bytes: new Uint8Array(100).fill(1) };
    const grown = appendValue(value, target, 7);
    expect(grown.buffer).not.toBe(target);
    expect(toHex(grown.buffer.subarray(0, 7))).toBe('aaaaaaaa626869');
    expect(decodeValue(grown.buffer.subarray(7, grown.end))).toEqual(value);
    expect(() => appendValue((() => 1) as never, target, 0)).toThrow(BadRequestError);
  });
});
