import { PeerId } from '@peernet/interface';
import { formatPairingUri, isPairingUri, PAIRING_SECRET_LENGTH, parsePairingUri, parseInviteCode, type PairingUri } from '../src/index.js';
import { decodeBase64url, encodeBase64url } from '../src/uri.js';
import { seeded } from './helpers.js';

/** An `invalid_argument` error with exactly this message. */
const invalid = (message: string): ReturnType<typeof expect.objectContaining> => expect.objectContaining({ code: 'invalid_argument', message });
const plain = (uri: PairingUri): object => ({ inviter: uri.inviter.toString(), nameplate: uri.nameplate, secret: [...uri.secret] });
const ITERATIONS = 2000;

const inviter = PeerId.fromBytes(Uint8Array.from({ length: 32 }, (_, i) => i));
const id = inviter.toString();
const secret = Uint8Array.from({ length: 16 }, (_, i) => i * 17); // 00 11 22 .. ff
const s = 'ABEiM0RVZneImaq7zN3u_w';
const good = `peernet://pair/${id}?n=473&s=${s}`;

describe('base64url', () => {
  it('matches RFC 4648 section 10, without padding and in the URL alphabet', () => {
    const text = (b: string): Uint8Array => new TextEncoder().encode(b);
    const vectors: [string, string][] = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
    for (const [plainText, encoded] of vectors) {
      expect(encodeBase64url(text(plainText))).toBe(encoded);
      expect(decodeBase64url(encoded)).toEqual(text(plainText));
    }
    expect(encodeBase64url(Uint8Array.of(0xfb, 0xff, 0xbf))).toBe('-_-_');
  });

  it('agrees with Buffer, and round-trips, for every length up to 40', () => {
    const random = seeded(3);
    for (let length = 0; length <= 40; length++) {
      const bytes = random(length);
      const text = encodeBase64url(bytes);
      expect(text).toBe(Buffer.from(bytes).toString('base64url'));
      expect(decodeBase64url(text)).toEqual(bytes);
    }
  });

  it('decodes only what it would have written', () => {
    for (const text of ['A', 'Zg=', 'Zg==', 'Zh', 'Zm9', 'Zm+v', 'Zm/v', 'Zm9 v', 'Zm9é']) expect(decodeBase64url(text)).toBeUndefined();
  });
});

describe('formatPairingUri', () => {
  it('writes the inviter id, the nameplate and the secret', () => {
    expect(formatPairingUri({ inviter, nameplate: 473, secret })).toBe(good);
    expect(formatPairingUri({ inviter, nameplate: 0, secret: new Uint8Array(16) })).toBe(`peernet://pair/${id}?n=0&s=AAAAAAAAAAAAAAAAAAAAAA`);
    expect(formatPairingUri({ inviter, nameplate: 999, secret: new Uint8Array(16).fill(255) })).toBe(`peernet://pair/${id}?n=999&s=_____________________w`);
  });

  it.each([
    ['a 15-byte secret', { secret: new Uint8Array(15) }, 'formatPairingUri: secret must be a Uint8Array of 16 bytes, got 15 bytes'],
    ['a 17-byte secret', { secret: new Uint8Array(17) }, 'formatPairingUri: secret must be a Uint8Array of 16 bytes, got 17 bytes'],
    ['a string secret', { secret: 'secret' }, 'formatPairingUri: secret must be a Uint8Array of 16 bytes, got "secret"'],
    ['nameplate 1000', { nameplate: 1000 }, 'formatPairingUri: nameplate must be an integer from 0 to 999, got 1000'],
    ['nameplate -1', { nameplate: -1 }, 'formatPairingUri: nameplate must be an integer from 0 to 999, got -1'],
    ['nameplate 4.5', { nameplate: 4.5 }, 'formatPairingUri: nameplate must be an integer from 0 to 999, got 4.5'],
  ])('refuses %s', (_, override, message) => {
    expect(() => formatPairingUri({ inviter, nameplate: 473, secret, ...override } as PairingUri)).toThrow(invalid(message));
  });

  it('refuses what is not a PairingUri, and an inviter that is not an id', () => {
    expect(() => formatPairingUri(null as never)).toThrow(invalid('formatPairingUri: expected { inviter, nameplate, secret }'));
    expect(() => formatPairingUri({ inviter: 'someone', nameplate: 1, secret } as never)).toThrow(expect.objectContaining({ code: 'invalid_peer_id' }));
  });
});

describe('parsePairingUri', () => {
  it('reads what formatPairingUri wrote, byte for byte, and writes it back the same', () => {
    const random = seeded(4);
    for (let i = 0; i < ITERATIONS; i++) {
      const [a, b] = random(2) as unknown as [number, number];
      const uri = { inviter: PeerId.fromBytes(random(32)), nameplate: (a * 256 + b) % 1000, secret: random(PAIRING_SECRET_LENGTH) };
      const text = formatPairingUri(uri);
      const parsed = parsePairingUri(text);
      expect(plain(parsed)).toEqual(plain(uri));
      expect(formatPairingUri(parsed)).toBe(text);
      expect(isPairingUri(text)).toBe(true);
    }
  });

  it.each([
    good,
    `  ${good}\n`,
    `PEERNET://pair/${id}?n=473&s=${s}`,
    `Peernet://PAIR/${id}?n=473&s=${s}`,
    `peernet://pair/${id}?s=${s}&n=473`,
  ])('reads %p', (text) => {
    expect(plain(parsePairingUri(text))).toEqual({ inviter: id, nameplate: 473, secret: [...secret] });
  });

  it('returns a frozen value with its own copy of the secret', () => {
    const a = parsePairingUri(good);
    expect(Object.isFrozen(a)).toBe(true);
    a.secret.fill(0);
    expect(parsePairingUri(good).secret).toEqual(secret);
  });

  const shape = 'a pairing URI looks like peernet://pair/<inviter id>?n=<number>&s=<secret>';
  const hex = inviter.toHex();
  it.each([
    ['', `pairing URI must start with "peernet:"; ${shape}`],
    [`https://pair/${id}?n=473&s=${s}`, `pairing URI must start with "peernet:"; ${shape}`],
    [`peer net://pair/${id}?n=473&s=${s}`, `pairing URI must start with "peernet:"; ${shape}`],
    [`peernet:pair/${id}?n=473&s=${s}`, `pairing URI: "peernet:" must be followed by "//pair/"; ${shape}`],
    [`peernet:/pair/${id}?n=473&s=${s}`, `pairing URI: "peernet:" must be followed by "//pair/"; ${shape}`],
    [`peernet://join/${id}?n=473&s=${s}`, `pairing URI: expected "pair" after "peernet://", got "join"; ${shape}`],
    [`peernet://pair?n=473&s=${s}`, `pairing URI has no inviter id; ${shape}`],
    [`peernet://pair/?n=473&s=${s}`, `pairing URI has no inviter id; ${shape}`],
    [`peernet://pair/${id}/?n=473&s=${s}`, `pairing URI: the path has more than the inviter id; ${shape}`],
    [`peernet://pair/${id}/x?n=473&s=${s}`, `pairing URI: the path has more than the inviter id; ${shape}`],
    [`peernet://pair/${id}`, `pairing URI has no query (n and s); ${shape}`],
    [`${good}#x`, `pairing URI must not have a fragment ("#..."); ${shape}`],
    [`peernet://pair/${hex}?n=473&s=${s}`, 'pairing URI: the inviter id must be in its 52-character base32 form'],
    [`peernet://pair/${id}?`, `pairing URI has an empty query parameter; ${shape}`],
    [`peernet://pair/${id}?n=473&&s=${s}`, `pairing URI has an empty query parameter; ${shape}`],
    [`${good}&`, `pairing URI has an empty query parameter; ${shape}`],
    [`peernet://pair/${id}?n=473`, `pairing URI has no s (the secret); ${shape}`],
    [`peernet://pair/${id}?s=${s}`, `pairing URI has no n (the nameplate); ${shape}`],
    [`${good}&n=473`, 'pairing URI has query parameter n twice'],
    [`${good}&s=${s}`, 'pairing URI has query parameter s twice'],
    [`${good}&x=1`, 'pairing URI: unknown query parameter "x" (it takes n and s only)'],
    [`peernet://pair/${id}?N=473&s=${s}`, 'pairing URI: unknown query parameter "N" (it takes n and s only)'],
    [`peernet://pair/${id}?n&s=${s}`, 'pairing URI: query parameter n has no value'],
    ...['', '0473', '1000', '-1', '+1', '4.0', '1e2', ' 473', '٤٧٣'].map((n): [string, string] => [
      `peernet://pair/${id}?n=${n}&s=${s}`,
      `pairing URI: n must be a number from 0 to 999 without leading zeros, got ${JSON.stringify(n)}`,
    ]),
    [`peernet://pair/${id}?n=473&s=${s.slice(1)}`, 'pairing URI: s must be 22 base64url characters (16 bytes), got 21'],
    [`peernet://pair/${id}?n=473&s=${s}A`, 'pairing URI: s must be 22 base64url characters (16 bytes), got 23'],
    [`peernet://pair/${id}?n=473&s=${s}==`, 'pairing URI: s must be 22 base64url characters (16 bytes), got 24'],
    [`peernet://pair/${id}?n=473&s=${Buffer.from(new Uint8Array(15)).toString('base64url')}`, 'pairing URI: s must be 22 base64url characters (16 bytes), got 20'],
  ])('refuses %p', (text, message) => {
    expect(() => parsePairingUri(text)).toThrow(invalid(message));
  });

  it.each([
    ['a standard-alphabet character', `${s.slice(0, 10)}+${s.slice(11)}`],
    ['a slash', `${s.slice(0, 10)}/${s.slice(11)}`],
    ['percent-encoding', `${s.slice(0, 19)}%3D`],
    ['non-zero unused bits', `${s.slice(0, 21)}x`],
  ])('refuses a secret with %s, without quoting it', (_, bad) => {
    const text = `peernet://pair/${id}?n=473&s=${bad}`;
    expect(() => parsePairingUri(text)).toThrow(invalid('pairing URI: s is not canonical base64url (A-Z a-z 0-9 - _, no padding, unused bits zero)'));
  });

  it('refuses an inviter id that is not an id, saying why', () => {
    const upper = `peernet://pair/${id.toUpperCase()}?n=473&s=${s}`;
    expect(() => parsePairingUri(upper)).toThrow(invalid(expect.stringMatching(/^pairing URI: the inviter id is not a peer id \(invalid base32 character .*lower case/) as never));
    expect(() => parsePairingUri(`peernet://pair/abc?n=473&s=${s}`)).toThrow(
      invalid('pairing URI: the inviter id is not a peer id (peer id must be 52 base32 characters or 64 hex characters, got 3 characters)'),
    );
    let caught: unknown;
    try {
      parsePairingUri(upper);
    } catch (error) {
      caught = error;
    }
    expect((caught as Error).cause).toEqual(expect.objectContaining({ code: 'invalid_peer_id' }));
  });

  it('refuses what is not a string', () => {
    expect(() => parsePairingUri(undefined as never)).toThrow(invalid('pairing URI must be a string, got undefined'));
  });
});

describe('isPairingUri', () => {
  it.each([good, `  ${good}`, 'PEERNET://anything', 'peernet://'])('is true for %p, which parsePairingUri then judges', (text) => {
    expect(isPairingUri(text)).toBe(true);
  });

  it.each(['473-violet-anchor-orbit', 'peernet:pair/x', 'https://pair/x', ' peernet:/', '', 42, null])('is false for %p', (text) => {
    expect(isPairingUri(text as string)).toBe(false);
  });

  it('tells the two forms apart for one input field', () => {
    const input = (text: string): string => (isPairingUri(text) ? plain(parsePairingUri(text)) && 'uri' : parseInviteCode(text) && 'code');
    expect([input(good), input('473 violet anchor orbit')]).toEqual(['uri', 'code']);
  });
});
