import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import { hmacSha256Of, sha256Of } from '../src/crypto/sha256.js';
import { toHex, utf8 } from './helpers.js';

const filled = (length: number, byte: number): Uint8Array => new Uint8Array(length).fill(byte);

describe('SHA-256 for short inputs', () => {
  it('matches the FIPS 180 examples', () => {
    expect(toHex(sha256Of([utf8('abc')]))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(toHex(sha256Of([]))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(toHex(sha256Of([utf8('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')]))).toBe(
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(toHex(sha256Of([filled(1_000_000, 0x61)]))).toBe(
      'cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0',
    );
  });

  it('equals node:crypto for every length up to 300 bytes, in one piece and split in three', () => {
    for (let n = 0; n <= 300; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 131 + n) & 0xff);
      const expected = createHash('sha256').update(data).digest('hex');
      expect(toHex(sha256Of([data]))).toBe(expected);
      const a = Math.floor(n / 3);
      const b = Math.floor((2 * n) / 3);
      expect(toHex(sha256Of([data.subarray(0, a), data.subarray(a, b), data.subarray(b)]))).toBe(expected);
    }
  });

  it('equals node:crypto over any chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 150 }), { maxLength: 6 }), (chunks) => {
        const expected = createHash('sha256');
        for (const chunk of chunks) expected.update(chunk);
        expect(toHex(sha256Of(chunks))).toBe(expected.digest('hex'));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves its input untouched and returns a new array each time', () => {
    const input = utf8('abc');
    const first = sha256Of([input]);
    const second = sha256Of([input]);
    expect(first).not.toBe(second);
    expect(toHex(first)).toBe(toHex(second));
    expect(toHex(input)).toBe('616263');
  });
});

describe('HMAC-SHA256 for short inputs', () => {
  it('matches RFC 4231 test cases 1–4, 6 and 7', () => {
    const cases: [Uint8Array, Uint8Array, string][] = [
      [filled(20, 0x0b), utf8('Hi There'), 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7'],
      [utf8('Jefe'), utf8('what do ya want for nothing?'), '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843'],
      [filled(20, 0xaa), filled(50, 0xdd), '773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe'],
      [
        Uint8Array.from({ length: 25 }, (_, i) => i + 1),
        filled(50, 0xcd),
        '82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b',
      ],
      [
        filled(131, 0xaa),
        utf8('Test Using Larger Than Block-Size Key - Hash Key First'),
        '60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54',
      ],
      [
        filled(131, 0xaa),
        utf8(
          'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.',
        ),
        '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
      ],
    ];
    for (const [key, data, mac] of cases) expect(toHex(hmacSha256Of(key, data))).toBe(mac);
  });

  it('equals node:crypto for keys of 0 to 130 bytes and data of 0 to 200 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 130 }), fc.uint8Array({ maxLength: 200 }), (key, data) => {
        expect(toHex(hmacSha256Of(key, data))).toBe(createHmac('sha256', key).update(data).digest('hex'));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves a long key untouched (it hashes a copy)', () => {
    const key = filled(100, 7);
    hmacSha256Of(key, utf8('x'));
    expect(key.every((byte) => byte === 7)).toBe(true);
  });
});
