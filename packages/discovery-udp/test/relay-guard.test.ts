import { generateIdentity } from '@peernet/identity';
import { RelayGuard, encodeAnnouncement } from '../src/index.js';

const T0 = 1_700_000_000_000;
const peer = generateIdentity();
const packet = (now: number, port = 4000): Uint8Array => encodeAnnouncement({ identity: peer, port, now });

describe('RelayGuard (fake clock)', () => {
  it('flags the same bytes from another source, not from the first one', () => {
    const guard = new RelayGuard();
    const genuine = packet(T0);
    expect(guard.isRelay(genuine, '10.0.0.9', T0)).toBe(false);
    guard.record(genuine, '10.0.0.2', T0, T0);
    expect(guard.isRelay(genuine, '10.0.0.9', T0 + 1000)).toBe(true);
    expect(guard.isRelay(genuine, '10.0.0.2', T0 + 1000)).toBe(false);
    // A different packet of the same peer is not the recorded one.
    expect(guard.isRelay(packet(T0 + 1), '10.0.0.9', T0 + 1000)).toBe(false);
  });

  it('compares whole packets: the same key and time with other bytes is not a relay', () => {
    const guard = new RelayGuard();
    const genuine = packet(T0);
    guard.record(genuine, '10.0.0.2', T0, T0);
    const lookAlike = Uint8Array.from(genuine);
    lookAlike[111] = (lookAlike[111] as number) ^ 1;
    expect(guard.isRelay(lookAlike, '10.0.0.9', T0)).toBe(false);
    // Nor can a look-alike recorded first block the genuine packet.
    const guard2 = new RelayGuard();
    guard2.record(lookAlike, '10.0.0.9', T0, T0);
    expect(guard2.isRelay(genuine, '10.0.0.2', T0)).toBe(false);
  });

  it('keeps the first source: recording the packet again from elsewhere changes nothing', () => {
    const guard = new RelayGuard();
    const genuine = packet(T0);
    guard.record(genuine, '10.0.0.2', T0, T0);
    guard.record(genuine, '10.0.0.9', T0, T0);
    expect(guard.isRelay(genuine, '10.0.0.9', T0)).toBe(true);
  });

  it('stops flagging once the packet is outside the time window (the decoder drops it as stale then)', () => {
    const guard = new RelayGuard({ windowMs: 30_000 });
    const genuine = packet(T0);
    guard.record(genuine, '10.0.0.2', T0, T0);
    expect(guard.isRelay(genuine, '10.0.0.9', T0 + 30_000)).toBe(true);
    expect(guard.isRelay(genuine, '10.0.0.9', T0 + 30_001)).toBe(false);
    expect(guard.prune(T0 + 30_000)).toBe(0);
    expect(guard.prune(T0 + 30_001)).toBe(1);
    expect(guard.size).toBe(0);
  });

  it('a flood from one source cannot push out what another source sent', () => {
    const guard = new RelayGuard({ perSource: 16 });
    const genuine = packet(T0);
    guard.record(genuine, '10.0.0.2', T0, T0);
    for (let i = 1; i <= 10_000; i++) {
      const forged = packet(T0 + i);
      forged[60] = (forged[60] as number) ^ 0xff;
      guard.record(forged, '10.0.0.9', T0 + i, T0);
    }
    expect(guard.size).toBe(1 + 16);
    expect(guard.isRelay(genuine, '10.0.0.9', T0)).toBe(true);
  });

  it('bounds memory: perSource packets per source, maxSources sources', () => {
    const guard = new RelayGuard({ perSource: 2, maxSources: 3 });
    for (let s = 0; s < 10; s++) for (let i = 0; i < 5; i++) guard.record(packet(T0 + s * 10 + i), `10.0.0.${s}`, T0, T0);
    expect(guard.size).toBe(6);
    // The last three sources, each with its two latest packets.
    expect(guard.isRelay(packet(T0 + 94), '10.0.0.1', T0)).toBe(true);
    expect(guard.isRelay(packet(T0 + 92), '10.0.0.1', T0)).toBe(false);
    expect(guard.isRelay(packet(T0 + 64), '10.0.0.1', T0)).toBe(false);
  });

  it('refuses bad options with invalid_argument', () => {
    for (const options of [{ windowMs: -1 }, { perSource: 0 }, { maxSources: 1.5 }, { windowMs: Number.NaN }]) {
      expect(() => new RelayGuard(options as never)).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    }
  });
});
