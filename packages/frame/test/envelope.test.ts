import fc from 'fast-check';
import { runInNewContext } from 'node:vm';
import { InvalidArgumentError, ProtocolError, type Value } from '@peernet/interface';
import { encodeValue } from '../src/cbor-encoder.js';
import {
  EnvelopeType,
  MAX_NAME_BYTES,
  NONCE_BYTES,
  appendEnvelope,
  decodeEnvelope,
  encodeEnvelope,
  type Envelope,
} from '../src/envelope.js';

const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');
const nonce = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);

function expectMalformed(bytes: Uint8Array, pattern?: RegExp): void {
  let caught: unknown;
  try {
    decodeEnvelope(bytes);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(ProtocolError);
  expect((caught as ProtocolError).code).toBe('protocol_error');
  if (pattern) expect((caught as Error).message).toMatch(pattern);
}

const malformed = (value: Value, pattern?: RegExp): void => expectMalformed(encodeValue(value), pattern);

describe('envelopes', () => {
  it('numbers the types as the wire protocol does', () => {
    expect(EnvelopeType).toEqual({
      Call: 1, Reply: 2, Error: 3, Send: 4, Ping: 5, Pong: 6, Cancel: 7,
      StreamOpen: 8, StreamAccept: 9, StreamData: 10, StreamCredit: 11, StreamEnd: 12, StreamReset: 13,
    });
  });

  const examples: Array<[string, Envelope, string]> = [
    ['call', { type: EnvelopeType.Call, id: 0, name: 'echo', args: ['hi', 1] }, '840100646563686f82626869 01'],
    ['reply', { type: EnvelopeType.Reply, id: 1, result: { ok: true } }, '830201a1626f6bf5'],
    [
      'error reply',
      { type: EnvelopeType.Error, id: 2, code: 'forbidden', message: 'no' },
      '84030269666f7262696464656e626e6f',
    ],
    ['send', { type: EnvelopeType.Send, name: 'log', args: null }, '8304636c6f67f6'],
    ['ping', { type: EnvelopeType.Ping, nonce }, '8205480102030405060708'],
    ['pong', { type: EnvelopeType.Pong, nonce }, '8206480102030405060708'],
    ['cancel', { type: EnvelopeType.Cancel, id: 2 ** 40 }, '82071b0000010000000000'],
  ];

  it.each(examples)('encodes and decodes a %s', (_kind, envelope, encoding) => {
    const bytes = encodeEnvelope(envelope);
    expect(toHex(bytes)).toBe(encoding.replace(/\s+/g, ''));
    expect(decodeEnvelope(bytes)).toEqual(envelope);
  });

  it('round-trips arbitrary envelopes', () => {
    const id = fc.maxSafeNat();
    const name = fc.string({ unit: 'binary', minLength: 1, maxLength: 64 });
    const args = fc.jsonValue() as fc.Arbitrary<Value>;
    const bytes8 = fc.uint8Array({ minLength: NONCE_BYTES, maxLength: NONCE_BYTES });
    const envelope: fc.Arbitrary<Envelope> = fc.oneof(
      fc.record({ type: fc.constant(EnvelopeType.Call), id, name, args }),
      fc.record({ type: fc.constant(EnvelopeType.Reply), id, result: args }),
      fc.record({ type: fc.constant(EnvelopeType.Error), id, code: fc.string(), message: fc.string() }),
      fc.record({ type: fc.constant(EnvelopeType.Send), name, args }),
      fc.record({ type: fc.constant(EnvelopeType.Ping), nonce: bytes8 }),
      fc.record({ type: fc.constant(EnvelopeType.Pong), nonce: bytes8 }),
      fc.record({ type: fc.constant(EnvelopeType.Cancel), id }),
    );
    fc.assert(
      fc.property(envelope, (env) => {
        // JSON values may hold -0, which survives the codec; toEqual tells it from 0 as well.
        expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
      }),
      { numRuns: 500 },
    );
  });

  it('reserves headroom for a length prefix', () => {
    expect(toHex(encodeEnvelope({ type: EnvelopeType.Cancel, id: 1 }, { headroom: 4 }))).toBe('00000000820701');
  });

  it('caps names at 256 UTF-8 bytes', () => {
    expect(MAX_NAME_BYTES).toBe(256);
    for (const name of ['a'.repeat(256), 'é'.repeat(128), '水'.repeat(85) + 'a', '\u{1f600}'.repeat(64)]) {
      const env: Envelope = { type: EnvelopeType.Send, name, args: null };
      expect(decodeEnvelope(encodeEnvelope(env))).toEqual(env);
    }
    for (const name of ['a'.repeat(257), 'é'.repeat(129), '水'.repeat(86), '\u{1f600}'.repeat(64) + 'a']) {
      malformed([4, name, null], /name/);
      malformed([1, 1, name, null], /name/);
      expect(() => encodeEnvelope({ type: EnvelopeType.Send, name, args: null })).toThrow(InvalidArgumentError);
    }
  });

  it('accepts an integral id however it was written, and normalises -0', () => {
    // [7, 1.0] with 1.0 as a half float; [7, -0.0]
    expect(decodeEnvelope(Uint8Array.of(0x82, 0x07, 0xf9, 0x3c, 0x00))).toEqual({ type: 7, id: 1 });
    const zero = decodeEnvelope(Uint8Array.of(0x82, 0x07, 0xf9, 0x80, 0x00)) as { id: number };
    expect(Object.is(zero.id, 0)).toBe(true);
    // [7, 5] with a non-shortest head.
    expect(decodeEnvelope(Uint8Array.of(0x82, 0x07, 0x19, 0x00, 0x05))).toEqual({ type: 7, id: 5 });
  });

  it('rejects values that are not a non-empty array', () => {
    for (const value of [null, 1, 'x', {}, { type: 1 }, new Uint8Array(2), [], true]) {
      malformed(value as Value, /non-empty array/);
    }
  });

  it('rejects unknown types', () => {
    for (const type of [0, 14, -1, 1.5, '1', 1n << 64n, null, true, [1], { type: 1 }, new Uint8Array([1])]) {
      malformed([type as Value, 1, 'a', null], /unknown type/);
    }
    malformed([255], /unknown type 255/);
    malformed(['x'.repeat(10_000)], /unknown type of kind string$/);
  });

  it('rejects wrong lengths for every type', () => {
    const good: Value[][] = [
      [1, 1, 'a', null],
      [2, 1, null],
      [3, 1, 'c', 'm'],
      [4, 'a', null],
      [5, nonce],
      [6, nonce],
      [7, 1],
    ];
    for (const items of good) {
      expect(() => decodeEnvelope(encodeValue(items))).not.toThrow();
      malformed(items.slice(0, -1), /elements, expected/);
      malformed([...items, null], /elements, expected/);
      malformed([items[0]!], /elements, expected/);
    }
  });

  it('rejects ids that are not unsigned safe integers', () => {
    const ids: Value[] = [-1, 1.5, -0.5, 2 ** 53, 2 ** 64, 2n ** 53n, 2n ** 64n, -(2n ** 64n) - 5n, NaN, Infinity];
    ids.push('1', null, true);
    for (const id of [...ids, [1], new Uint8Array(1)]) {
      for (const items of [[1, id, 'a', null], [2, id, null], [3, id, 'c', 'm'], [7, id]]) {
        malformed(items as Value[], /id/);
      }
    }
    expect(() => decodeEnvelope(encodeValue([7, Number.MAX_SAFE_INTEGER]))).not.toThrow();
  });

  it('rejects names, codes and messages of the wrong kind', () => {
    for (const name of ['', 1, null, new Uint8Array([0x61]), ['a'], { a: 1 }]) {
      malformed([1, 1, name as Value, null], /name/);
      malformed([4, name as Value, null], /name/);
    }
    for (const bad of [1, null, new Uint8Array(1), ['x'], true]) {
      malformed([3, 1, bad as Value, 'm'], /code/);
      malformed([3, 1, 'c', bad as Value], /message/);
    }
  });

  it('rejects nonces that are not exactly 8 bytes', () => {
    const nonces = [new Uint8Array(7), new Uint8Array(9), new Uint8Array(0), 'abcdefgh', 12345678, null];
    for (const bad of [...nonces, [1, 2, 3, 4, 5, 6, 7, 8]]) {
      malformed([5, bad as Value], /nonce/);
      malformed([6, bad as Value], /nonce/);
    }
  });

  it('passes on CBOR errors as ProtocolError', () => {
    expectMalformed(new Uint8Array(0));
    expectMalformed(Uint8Array.of(0x82, 0x07));
    expectMalformed(Uint8Array.of(0x82, 0x07, 0x01, 0x00), /trailing/);
    expectMalformed(Uint8Array.of(0x9f, 0x07, 0x01, 0xff), /indefinite/);
  });

  it('rejects malformed envelopes on encode with InvalidArgumentError', () => {
    const bad = [
      { type: 1, id: -1, name: 'a', args: null },
      { type: 1, id: 1.5, name: 'a', args: null },
      { type: 1, id: 2 ** 53, name: 'a', args: null },
      { type: 1, id: 1, name: '', args: null },
      { type: 2, id: '1', result: null },
      { type: 3, id: 1, code: 1, message: 'm' },
      { type: 3, id: 1, code: 'c', message: null },
      { type: 4, name: 5, args: null },
      { type: 5, nonce: new Uint8Array(7) },
      { type: 6, nonce: 'abcdefgh' },
      { type: 7, id: 1n },
      { type: 8 },
      { type: '1', id: 1, name: 'a', args: null },
      null,
      [1, 1, 'a', null],
    ];
    for (const envelope of bad) {
      expect(() => encodeEnvelope(envelope as unknown as Envelope)).toThrow(InvalidArgumentError);
    }
  });

  it('names the place of a payload that cannot be encoded from args or result', () => {
    const failure = (envelope: unknown): unknown => {
      try {
        encodeEnvelope(envelope as Envelope);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    const when = new Date(0);
    expect(failure({ type: EnvelopeType.Call, id: 1, name: 'save', args: { profile: { when } } })).toMatchObject({
      code: 'bad_request',
      message: 'args.profile.when: Date is not a wire value',
      valuePath: ['profile', 'when'],
    });
    expect(failure({ type: EnvelopeType.Send, name: 'log', args: () => 1 })).toMatchObject({
      code: 'bad_request',
      message: 'args: function is not a wire value',
      valuePath: [],
    });
    expect(failure({ type: EnvelopeType.Reply, id: 1, result: [1, new Map()] })).toMatchObject({
      code: 'bad_request',
      message: 'result[1]: Map is not a wire value',
    });
    const args = { a: [new Set()] } as never;
    expect(() => appendEnvelope({ type: EnvelopeType.Call, id: 1, name: 'x', args }, new Uint8Array(64), 4)).toThrow(
      'args.a[0]: Set is not a wire value',
    );
  });

  it('sends an undefined payload as null, and leaves out undefined entries of a map', () => {
    const call = encodeEnvelope({ type: EnvelopeType.Call, id: 1, name: 'a', args: undefined as never });
    expect(decodeEnvelope(call)).toEqual({ type: EnvelopeType.Call, id: 1, name: 'a', args: null });
    const send = encodeEnvelope({ type: EnvelopeType.Send, name: 'a', args: { keep: 1, drop: undefined } });
    expect(decodeEnvelope(send)).toEqual({ type: EnvelopeType.Send, name: 'a', args: { keep: 1 } });
  });

  it('accepts nonces from another realm', () => {
    const foreign = runInNewContext('new Uint8Array(8).fill(9)') as Uint8Array;
    const decoded = decodeEnvelope(encodeEnvelope({ type: EnvelopeType.Ping, nonce: foreign }));
    expect(decoded).toEqual({ type: 5, nonce: new Uint8Array(8).fill(9) });
  });
});
