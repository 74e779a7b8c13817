import fc from 'fast-check';
import { InvalidPeerIdError, PeerId, isPeerId } from '@peernet/interface';

const key = Uint8Array.from({ length: 32 }, (_, i) => i * 7 + 1);

describe('PeerId', () => {
  it('formats as 52 lowercase base32 characters without padding', () => {
    const id = PeerId.fromBytes(key);
    expect(id.toString()).toMatch(/^[a-z2-7]{52}$/);
    expect(`${id}`).toBe(id.toString());
    expect(JSON.stringify({ id })).toBe(`{"id":"${id}"}`);
  });

  it('matches the RFC 4648 base32 of known bytes', () => {
    // RFC 4648 section 10: BASE32("foobar") = "MZXW6YTBOI======"; a 32-byte key starting with
    // "foobar" must start with the same characters (lowercase).
    const bytes = new Uint8Array(32);
    bytes.set(new TextEncoder().encode('foobar'));
    expect(PeerId.fromBytes(bytes).toString().startsWith('mzxw6ytboi')).toBe(true);
    expect(PeerId.fromBytes(new Uint8Array(32)).toString()).toBe('a'.repeat(52));
  });

  it('round-trips through base32 and hex for any key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), (bytes) => {
        const id = PeerId.fromBytes(bytes);
        expect(PeerId.parse(id.toString()).bytes).toEqual(bytes);
        expect(PeerId.parse(id.toHex()).bytes).toEqual(bytes);
        expect(PeerId.parse(id.toHex().toUpperCase()).equals(id)).toBe(true);
      }),
    );
  });

  it.each([
    ['empty', ''],
    ['too short', 'a'.repeat(51)],
    ['too long', 'a'.repeat(53)],
    ['uppercase base32', 'A'.repeat(52)],
    ['padding', 'a'.repeat(50) + '=='],
    ['digit outside alphabet', 'a'.repeat(51) + '1'],
    ['non-canonical trailing bits', 'a'.repeat(51) + 'b'],
    ['non-hex', 'g'.repeat(64)],
    ['unicode', 'é'.repeat(52)],
  ])('rejects %s with InvalidPeerIdError', (_, text) => {
    expect(() => PeerId.parse(text)).toThrow(InvalidPeerIdError);
    try {
      PeerId.parse(text);
    } catch (error) {
      expect((error as InvalidPeerIdError).code).toBe('invalid_peer_id');
    }
  });

  it('says that the text form is lower case when given upper case, as QR readers return it', () => {
    const text = PeerId.fromBytes(Uint8Array.from(key)).toString();
    expect(() => PeerId.parse(text.toUpperCase())).toThrow(/lower case: parse text\.toLowerCase\(\)/);
    expect(PeerId.parse(text.toUpperCase().toLowerCase()).toString()).toBe(text);
    expect(() => PeerId.parse('a'.repeat(51) + '1')).not.toThrow(/lower case/);
  });

  it('rejects wrong-sized bytes and non-strings', () => {
    expect(() => PeerId.fromBytes(new Uint8Array(31))).toThrow(/32 bytes, got 31/);
    expect(() => PeerId.parse(42 as unknown as string)).toThrow(InvalidPeerIdError);
    expect(() => PeerId.from({} as unknown as string)).toThrow(InvalidPeerIdError);
  });

  it('copies its input and its output', () => {
    const bytes = Uint8Array.from(key);
    const id = PeerId.fromBytes(bytes);
    bytes[0] = 99;
    expect(id.bytes[0]).toBe(key[0]);
    id.bytes[1] = 99;
    expect(id.bytes[1]).toBe(key[1]);
  });

  it('compares in byte order and tests equality', () => {
    const a = PeerId.fromBytes(new Uint8Array(32));
    const b = PeerId.fromBytes(Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 1 : 0)));
    expect(a.compare(b)).toBeLessThan(0);
    expect(b.compare(a)).toBeGreaterThan(0);
    expect(a.compare(a.toString())).toBe(0);
    expect(a.equals(b)).toBe(false);
    expect(a.equals(a.toHex())).toBe(true);
    expect(PeerId.from(a)).toBe(a);
    expect(isPeerId(a)).toBe(true);
    expect(isPeerId(a.bytes)).toBe(false);
  });
});
