import { generateIdentity, identityFromSeed, verify } from '@peernet/identity';
import { PeerId } from '@peernet/interface';
import {
  DEFAULT_WINDOW_MS,
  FLAG_GOODBYE,
  PACKET_BYTES,
  PROTOCOL_VERSION,
  ReplayTable,
  decodeAnnouncement,
  encodeAnnouncement,
} from '../src/index.js';

const NOW = 1_700_000_000_000;
const sender = identityFromSeed(new Uint8Array(32).fill(7));
const receiver = generateIdentity();

const packet = (overrides: { port?: number; goodbye?: boolean; now?: number } = {}): Uint8Array =>
  encodeAnnouncement({ identity: sender, port: overrides.port ?? 4100, goodbye: overrides.goodbye, now: overrides.now ?? NOW });

/** A copy of `bytes` with its first 48 bytes changed by `edit` and signed again by `sender`. */
function resigned(bytes: Uint8Array, edit: (copy: Uint8Array) => void): Uint8Array {
  const copy = Uint8Array.from(bytes);
  edit(copy);
  copy.set(sender.sign(copy.subarray(0, 48)), 48);
  return copy;
}

const decode = (bytes: Uint8Array, now = NOW) => decodeAnnouncement(bytes, { now, ownId: receiver.id });

describe('encodeAnnouncement', () => {
  it('lays out "PNET" | version 2 | flags | port | key | time | signature over the first 48 bytes', () => {
    const bytes = packet({ port: 4040 });
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(bytes.length).toBe(PACKET_BYTES);
    expect(PACKET_BYTES).toBe(112);
    expect(Buffer.from(bytes.subarray(0, 4)).toString('latin1')).toBe('PNET');
    expect(bytes[4]).toBe(2);
    expect(PROTOCOL_VERSION).toBe(2);
    expect(bytes[5]).toBe(0);
    expect(Buffer.from(bytes.subarray(6, 8)).toString('hex')).toBe('0fc8'); // 4040
    expect(Buffer.from(bytes.subarray(8, 40))).toEqual(Buffer.from(sender.publicKey));
    expect(Buffer.from(bytes.subarray(40, 48)).toString('hex')).toBe(NOW.toString(16).padStart(16, '0'));
    expect(verify({ message: bytes.subarray(0, 48), signature: bytes.subarray(48), publicKey: sender.publicKey })).toBe(true);
  });

  it('sets flag bit 0 for a goodbye', () => {
    const bytes = packet({ goodbye: true });
    expect(bytes[5]).toBe(FLAG_GOODBYE);
    expect(FLAG_GOODBYE).toBe(1);
  });

  it('encodes a time above 2^32 ms and up to 2^53 - 1 exactly', () => {
    const max = Number.MAX_SAFE_INTEGER;
    const bytes = packet({ now: max });
    expect(Buffer.from(bytes.subarray(40, 48)).toString('hex')).toBe('001fffffffffffff');
    const result = decodeAnnouncement(bytes, { now: max });
    expect(result.ok && result.announcement.timestamp).toBe(max);
  });

  it.each([
    ['port 0', { port: 0 }],
    ['port 65536', { port: 65536 }],
    ['port 1.5', { port: 1.5 }],
    ['port NaN', { port: Number.NaN }],
    ['a negative time', { now: -1 }],
    ['a fractional time', { now: 1.5 }],
    ['a time above 2^53 - 1', { now: 2 ** 53 }],
    ['goodbye not a boolean', { goodbye: 1 }],
  ])('refuses %s with invalid_argument', (_label, change) => {
    const options = { identity: sender, port: 4000, now: NOW, ...change } as Parameters<typeof encodeAnnouncement>[0];
    expect(() => encodeAnnouncement(options)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('refuses an identity without a 32-byte key or with a signer returning the wrong size', () => {
    const bad = [
      null,
      { publicKey: new Uint8Array(31), sign: () => new Uint8Array(64) },
      { publicKey: sender.publicKey },
      { publicKey: sender.publicKey, sign: () => new Uint8Array(63) },
    ];
    for (const identity of bad) {
      expect(() => encodeAnnouncement({ identity: identity as never, port: 4000, now: NOW })).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
    }
  });
});

describe('decodeAnnouncement', () => {
  it('accepts a well-formed announcement and returns id, port, goodbye and time', () => {
    const result = decode(packet({ port: 4100 }));
    expect(result).toEqual({
      ok: true,
      announcement: { id: expect.any(PeerId), port: 4100, goodbye: false, timestamp: NOW },
    });
    expect(result.ok && result.announcement.id.equals(sender.id)).toBe(true);
    const bye = decode(packet({ goodbye: true }));
    expect(bye.ok && bye.announcement.goodbye).toBe(true);
  });

  it('reads a packet that sits at a non-zero offset of a larger buffer', () => {
    const backing = new Uint8Array(PACKET_BYTES + 13);
    backing.set(packet(), 7);
    const view = backing.subarray(7, 7 + PACKET_BYTES);
    expect(view.byteOffset).toBe(7);
    expect(decode(view).ok).toBe(true);
  });

  it('drops a packet of the wrong size as malformed (112 ± 1, empty, huge, not bytes)', () => {
    const good = packet();
    const longer = new Uint8Array(PACKET_BYTES + 1);
    longer.set(good);
    for (const bytes of [good.subarray(0, 111), longer, new Uint8Array(0), new Uint8Array(65_000)]) {
      expect(decode(bytes)).toEqual({ ok: false, reason: 'malformed' });
    }
    for (const notBytes of [undefined, null, 'PNET', [...good], good.buffer]) {
      expect(decode(notBytes as never)).toEqual({ ok: false, reason: 'malformed' });
    }
  });

  it('drops a wrong magic, whichever byte is wrong', () => {
    for (let i = 0; i < 4; i++) {
      const bytes = resigned(packet(), (b) => {
        b[i] = (b[i] as number) ^ 0x20; // 'PNET' -> 'pNET' and so on
      });
      expect(decode(bytes)).toEqual({ ok: false, reason: 'badMagic' });
    }
  });

  it.each([0, 1, 3, 255])('drops version %i', (version) => {
    const bytes = resigned(packet(), (b) => {
      b[4] = version;
    });
    expect(decode(bytes)).toEqual({ ok: false, reason: 'badVersion' });
  });

  it.each([1, 2, 3, 4, 5, 6, 7])('drops flag bit %i (unknown) even when properly signed', (bit) => {
    const bytes = resigned(packet(), (b) => {
      b[5] = 1 << bit;
    });
    expect(decode(bytes)).toEqual({ ok: false, reason: 'badFlags' });
    const withGoodbye = resigned(packet(), (b) => {
      b[5] = (1 << bit) | FLAG_GOODBYE;
    });
    expect(decode(withGoodbye)).toEqual({ ok: false, reason: 'badFlags' });
  });

  it('drops port 0 even when properly signed', () => {
    const bytes = resigned(packet(), (b) => {
      b[6] = 0;
      b[7] = 0;
    });
    expect(decode(bytes)).toEqual({ ok: false, reason: 'badPort' });
  });

  it('accepts timestamps exactly ±30 s from now and drops them 1 ms further', () => {
    expect(DEFAULT_WINDOW_MS).toBe(30_000);
    expect(decode(packet({ now: NOW - 30_000 })).ok).toBe(true);
    expect(decode(packet({ now: NOW + 30_000 })).ok).toBe(true);
    expect(decode(packet({ now: NOW - 30_001 }))).toEqual({ ok: false, reason: 'stale' });
    expect(decode(packet({ now: NOW + 30_001 }))).toEqual({ ok: false, reason: 'stale' });
    expect(decode(packet({ now: 0 }))).toEqual({ ok: false, reason: 'stale' });
  });

  it('honours a custom window', () => {
    const bytes = packet({ now: NOW - 1000 });
    expect(decodeAnnouncement(bytes, { now: NOW, windowMs: 1000 }).ok).toBe(true);
    expect(decodeAnnouncement(bytes, { now: NOW, windowMs: 999 })).toEqual({ ok: false, reason: 'stale' });
  });

  it('drops a timestamp beyond 2^53 - 1 as stale without losing precision', () => {
    const bytes = resigned(packet(), (b) => {
      b.fill(0xff, 40, 48);
    });
    expect(decodeAnnouncement(bytes, { now: NOW })).toEqual({ ok: false, reason: 'stale' });
    // High word 0x200000: the smallest time above 2^53 - 1 whose high word alone shows it.
    const justAbove = resigned(packet(), (b) => new DataView(b.buffer).setUint32(40, 0x200000));
    expect(decodeAnnouncement(justAbove, { now: NOW })).toEqual({ ok: false, reason: 'stale' });
  });

  it('drops its own announcements (own key), even with a valid signature', () => {
    const own = encodeAnnouncement({ identity: receiver, port: 4000, now: NOW });
    expect(decode(own)).toEqual({ ok: false, reason: 'own' });
    expect(decodeAnnouncement(own, { now: NOW, ownId: receiver.id.toString() })).toEqual({ ok: false, reason: 'own' });
    expect(decodeAnnouncement(own, { now: NOW }).ok).toBe(true);
  });

  it('drops a flipped bit anywhere in the signature', () => {
    const good = packet();
    for (const index of [48, 63, 64, 80, 95, 96, 111]) {
      for (const bit of [0, 7]) {
        const bytes = Uint8Array.from(good);
        bytes[index] = (bytes[index] as number) ^ (1 << bit);
        expect(decode(bytes)).toEqual({ ok: false, reason: 'badSignature' });
      }
    }
  });

  it('drops a flipped bit anywhere in the signed fields (flags, port, key, time)', () => {
    const good = packet({ port: 4100 });
    let checked = 0;
    for (let index = 5; index < 48; index++) {
      for (let bit = 0; bit < 8; bit++) {
        const bytes = Uint8Array.from(good);
        bytes[index] = (bytes[index] as number) ^ (1 << bit);
        const result = decode(bytes);
        expect(result.ok).toBe(false);
        // Flags beyond bit 0 and high time bits fail the cheap checks first; everything else the signature.
        if (!result.ok) expect(['badFlags', 'stale', 'badSignature']).toContain(result.reason);
        if (index === 5 && bit === 0) expect(result).toEqual({ ok: false, reason: 'badSignature' });
        if (index >= 6 && index < 40) expect(result).toEqual({ ok: false, reason: 'badSignature' });
        if (index === 47) expect(result).toEqual({ ok: false, reason: 'badSignature' });
        checked++;
      }
    }
    expect(checked).toBe(43 * 8);
  });

  it('runs the cheap checks in order: size, magic, version, flags, port, time, own, replay, then the signature', () => {
    const own = encodeAnnouncement({ identity: receiver, port: 4000, now: NOW - 60_000 });
    // Stale and own at once: stale is checked first.
    expect(decode(own)).toEqual({ ok: false, reason: 'stale' });
    // Bad magic and bad version at once: magic first.
    const both = Uint8Array.from(packet());
    both[0] = 0;
    both[4] = 9;
    expect(decode(both)).toEqual({ ok: false, reason: 'badMagic' });
    // Bad flags and port 0: flags first.
    const flagsAndPort = Uint8Array.from(packet());
    flagsAndPort[5] = 0x80;
    flagsAndPort[6] = 0;
    flagsAndPort[7] = 0;
    expect(decode(flagsAndPort)).toEqual({ ok: false, reason: 'badFlags' });
  });

  it('asks mayVerify only after every cheap check, and drops the packet as rateLimited when it says no', () => {
    const asked: PeerId[] = [];
    const mayVerify = (id: PeerId): boolean => {
      asked.push(id);
      return false;
    };
    const bad = Uint8Array.from(packet());
    bad[4] = 1;
    expect(decodeAnnouncement(bad, { now: NOW, mayVerify })).toEqual({ ok: false, reason: 'badVersion' });
    expect(decodeAnnouncement(packet({ now: NOW - 40_000 }), { now: NOW, mayVerify })).toEqual({ ok: false, reason: 'stale' });
    expect(asked).toHaveLength(0);
    expect(decodeAnnouncement(packet(), { now: NOW, mayVerify })).toEqual({ ok: false, reason: 'rateLimited' });
    expect(asked).toHaveLength(1);
    expect(asked[0]?.equals(sender.id)).toBe(true);
  });

  it('with a replay table: drops a repeat and anything not newer than the last accepted time', () => {
    const replays = new ReplayTable();
    const options = { now: NOW, replays };
    expect(decodeAnnouncement(packet({ now: NOW }), options).ok).toBe(true);
    expect(decodeAnnouncement(packet({ now: NOW }), options)).toEqual({ ok: false, reason: 'replayed' });
    expect(decodeAnnouncement(packet({ now: NOW - 1 }), options)).toEqual({ ok: false, reason: 'replayed' });
    expect(decodeAnnouncement(packet({ now: NOW + 1 }), options).ok).toBe(true);
    expect(decodeAnnouncement(packet({ now: NOW + 1, goodbye: true }), options)).toEqual({ ok: false, reason: 'replayed' });
    expect(decodeAnnouncement(packet({ now: NOW + 2, goodbye: true }), options).ok).toBe(true);
  });

  it('does not let a forged packet poison the replay table against the real sender', () => {
    const replays = new ReplayTable();
    // A forgery with the sender's key and a time 20 s ahead: its signature fails, so it is not recorded.
    const forged = Uint8Array.from(packet({ now: NOW + 20_000 }));
    forged[100] = (forged[100] as number) ^ 1;
    expect(decodeAnnouncement(forged, { now: NOW, replays })).toEqual({ ok: false, reason: 'badSignature' });
    expect(replays.size).toBe(0);
    expect(decodeAnnouncement(packet({ now: NOW }), { now: NOW, replays }).ok).toBe(true);
  });

  it('refuses bad options (they are programming errors, not network input)', () => {
    const bad = [undefined, null, {}, { now: Number.NaN }, { now: NOW, windowMs: -1 }, { now: NOW, windowMs: Number.NaN }];
    for (const options of bad) {
      expect(() => decodeAnnouncement(packet(), options as never)).toThrow(
        expect.objectContaining({ code: 'invalid_argument' }),
      );
    }
  });
});
