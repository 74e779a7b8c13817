import { PeerId } from '@peernet/interface';
import fc from 'fast-check';
import { CorruptTrustStoreError } from '../src/index.js';
import { MAX_LABEL_LENGTH, parseTrustFile, serializeTrustFile } from '../src/format.js';
import type { TrustEntry } from '../src/index.js';

const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
const idA = PeerId.fromBytes(new Uint8Array(32).fill(1));
const idB = PeerId.fromBytes(new Uint8Array(32).fill(2));
const entry = (id: PeerId, label: string | undefined, addedAt: number): TrustEntry => ({ id, label, addedAt });

const arbitraryEntries = fc
  .uniqueArray(fc.uint8Array({ minLength: 32, maxLength: 32 }), {
    maxLength: 8,
    selector: (bytes) => Buffer.from(bytes).toString('hex'),
  })
  .chain((keys) =>
    fc.tuple(
      ...keys.map((key) =>
        fc.record({
          id: fc.constant(PeerId.fromBytes(key)),
          label: fc.option(fc.string({ unit: 'binary', maxLength: 40 }), { nil: undefined }),
          addedAt: fc.maxSafeNat(),
        }),
      ),
    ),
  );

describe('trust file format', () => {
  it('writes the documented JSON layout', () => {
    const text = new TextDecoder().decode(serializeTrustFile([entry(idA, 'laptop', 1700000000000), entry(idB, undefined, 5)]));
    expect(JSON.parse(text)).toEqual({
      version: 1,
      peers: [
        { id: idA.toString(), label: 'laptop', addedAt: 1700000000000 },
        { id: idB.toString(), label: null, addedAt: 5 },
      ],
    });
    expect(text.endsWith('\n')).toBe(true);
  });

  it('round-trips any list of entries, in order', () => {
    fc.assert(
      fc.property(arbitraryEntries, (entries) => {
        const parsed = parseTrustFile(serializeTrustFile(entries));
        expect(parsed.map((e) => [e.id.toString(), e.label, e.addedAt])).toEqual(
          entries.map((e) => [e.id.toString(), e.label, e.addedAt]),
        );
        for (const e of parsed) expect(Object.isFrozen(e)).toBe(true);
      }),
    );
  });

  it('accepts an empty list and a missing label', () => {
    expect(parseTrustFile(encode('{"version":1,"peers":[]}'))).toEqual([]);
    const [only] = parseTrustFile(encode(`{"version":1,"peers":[{"id":"${idA}","addedAt":0}]}`));
    expect(only?.label).toBeUndefined();
  });

  const good = { id: idA.toString(), label: 'x', addedAt: 1 };
  const doc = (peers: unknown[], extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ version: 1, peers, ...extra });
  const hostile: Array<[string, string | Uint8Array, RegExp]> = [
    ['an empty file', '', /not valid JSON/],
    ['whitespace', '  \n', /not valid JSON/],
    ['truncated JSON', doc([good]).slice(0, -3), /not valid JSON/],
    ['invalid UTF-8', Uint8Array.of(0x7b, 0xff, 0x7d), /UTF-8/],
    ['a byte-order mark', `\ufeff${doc([])}`, /not valid JSON/],
    ['null', 'null', /not a JSON object/],
    ['an array', '[]', /not a JSON object/],
    ['a string', '"peers"', /not a JSON object/],
    ['no version', '{"peers":[]}', /no "version"/],
    ['version 0', '{"version":0,"peers":[]}', /unsupported version 0/],
    ['version "1"', '{"version":"1","peers":[]}', /unsupported version "1"/],
    ['version 1.5', '{"version":1.5,"peers":[]}', /unsupported version/],
    ['no peers', '{"version":1}', /"peers" is not an array/],
    ['peers as object', '{"version":1,"peers":{"0":{}}}', /"peers" is not an array/],
    ['an unknown top-level field', doc([], { extra: 1 }), /unknown top-level field "extra"/],
    ['a __proto__ top-level key', '{"version":1,"peers":[],"__proto__":{"polluted":true}}', /unknown top-level field "__proto__"/],
    ['a __proto__ entry key', `{"version":1,"peers":[{"id":"${idA}","addedAt":1,"__proto__":{"label":"x"}}]}`, /unknown field "__proto__"/],
    ['a constructor entry key', doc([{ ...good, constructor: 'x' }]), /unknown field "constructor"/],
    ['an entry that is null', doc([null]), /peers\[0\] is not an object/],
    ['an entry that is an array', doc([[good.id]]), /peers\[0\] is not an object/],
    ['a missing id', doc([{ addedAt: 1 }]), /peers\[0\]\.id is not a string/],
    ['a numeric id', doc([{ id: 12, addedAt: 1 }]), /id is not a string/],
    ['a short id', doc([{ id: 'abc', addedAt: 1 }]), /not a valid peer id/],
    ['an id with bad characters', doc([{ id: '1'.repeat(52), addedAt: 1 }]), /not a valid peer id/],
    ['a hex id', doc([{ id: idA.toHex(), addedAt: 1 }]), /canonical base32/],
    ['a duplicate id', doc([good, { ...good, label: 'y' }]), /peers\[1\]\.id .* appears more than once/],
    ['a numeric label', doc([{ ...good, label: 7 }]), /label is neither a string nor null/],
    ['an object label', doc([{ ...good, label: { toString: 'x' } }]), /label is neither/],
    ['a huge label', doc([{ ...good, label: 'x'.repeat(MAX_LABEL_LENGTH + 1) }]), /label is longer/],
    ['a missing addedAt', doc([{ id: good.id }]), /addedAt/],
    ['a string addedAt', doc([{ ...good, addedAt: '1' }]), /addedAt/],
    ['a negative addedAt', doc([{ ...good, addedAt: -1 }]), /addedAt/],
    ['a fractional addedAt', doc([{ ...good, addedAt: 1.5 }]), /addedAt/],
    ['an addedAt beyond 2^53', `{"version":1,"peers":[{"id":"${idA}","addedAt":9007199254740993}]}`, /addedAt/],
    ['an infinite addedAt', `{"version":1,"peers":[{"id":"${idA}","addedAt":1e400}]}`, /addedAt/],
    ['deep nesting', `${'['.repeat(100000)}${']'.repeat(100000)}`, /not valid JSON|not a JSON object/],
  ];

  it.each(hostile)('refuses %s with a typed error naming the file', (_, input, pattern) => {
    const bytes = typeof input === 'string' ? encode(input) : input;
    let caught: unknown;
    try {
      parseTrustFile(bytes, '/data/trust.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CorruptTrustStoreError);
    const error = caught as CorruptTrustStoreError;
    expect(error.code).toBe('corrupt_trust_store');
    expect(error.path).toBe('/data/trust.json');
    expect(error.message).toContain('trust store /data/trust.json is corrupt');
    expect(error.message).toMatch(pattern);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('says a file of a newer version needs a newer PeerNet, not a repair', () => {
    let caught: unknown;
    try {
      parseTrustFile(encode('{"version":2,"peers":[],"groups":[]}'), '/data/trust.json');
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CorruptTrustStoreError);
    expect(caught).toMatchObject({ code: 'corrupt_trust_store', path: '/data/trust.json' });
    const message = (caught as Error).message;
    expect(message).toContain('trust store /data/trust.json was written by a newer version of PeerNet (file version 2; this version reads version 1)');
    expect(message).toContain('upgrade PeerNet');
    expect(message).not.toMatch(/corrupt|repair/);
  });

  it('never throws anything but CorruptTrustStoreError, and never returns entries it could not check', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.json().map(encode), fc.jsonValue().map((v) => encode(JSON.stringify({ version: 1, peers: [v] })))), (bytes) => {
        try {
          const entries = parseTrustFile(bytes);
          for (const e of entries) {
            expect(PeerId.parse(e.id.toString()).equals(e.id)).toBe(true);
            expect(Number.isSafeInteger(e.addedAt)).toBe(true);
          }
        } catch (error) {
          expect(error).toBeInstanceOf(CorruptTrustStoreError);
        }
      }),
      { numRuns: 500 },
    );
  });
});
