import { generateIdentity } from '@peernet/identity';
import type { PeerId } from '@peernet/interface';
import { encodeAnnouncement } from '../src/index.js';
import { AnnouncementReceiver, type ReceiveCounters, type ReceiverOptions } from '../src/receiver.js';

const T0 = 1_700_000_000_000;
const me = generateIdentity();
const friend = generateIdentity();

const receiverWith = (options: Partial<ReceiverOptions> = {}): AnnouncementReceiver =>
  new AnnouncementReceiver({
    ownId: me.id,
    windowMs: 30_000,
    verifyPerSecond: 10,
    wantedVerifyPerSecond: 5,
    isWanted: (id) => id.equals(friend.id),
    replayCapacity: 64,
    ...options,
  });

/** A well-formed packet for a random key with a random (so wrong) signature. */
function forged(now: number, seed: number, key?: Uint8Array): Uint8Array {
  const bytes = encodeAnnouncement({ identity: friend, port: 4000, now });
  let x = seed;
  for (let i = 8; i < 112; i++) {
    if (key !== undefined && i < 40) continue;
    if (i >= 40 && i < 48) continue;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  if (key !== undefined) bytes.set(key, 8);
  return bytes;
}

function outcomesTotal(c: ReceiveCounters): number {
  return (
    c.accepted +
    c.foreignSource +
    c.malformed +
    c.badMagic +
    c.badVersion +
    c.badFlags +
    c.badPort +
    c.stale +
    c.own +
    c.replayed +
    c.relayed +
    c.rateLimited +
    c.badSignature
  );
}

describe('AnnouncementReceiver (fake clock)', () => {
  it('verifies unwanted keys within their budget only, refilling with time', () => {
    const receiver = receiverWith({ verifyPerSecond: 10 });
    for (let i = 1; i <= 100; i++) receiver.receive(forged(T0, i), '10.0.0.9', T0);
    expect(receiver.counters).toMatchObject({ received: 100, verified: 10, badSignature: 10, rateLimited: 90 });
    for (let i = 101; i <= 200; i++) receiver.receive(forged(T0 + 500, i), '10.0.0.9', T0 + 500);
    expect(receiver.counters).toMatchObject({ verified: 15, badSignature: 15, rateLimited: 185 });
  });

  it('keeps a separate budget for wanted keys, so strangers cannot starve them', () => {
    const receiver = receiverWith({ verifyPerSecond: 10, wantedVerifyPerSecond: 5 });
    for (let i = 1; i <= 100; i++) receiver.receive(forged(T0, i), '10.0.0.9', T0);
    const genuine = encodeAnnouncement({ identity: friend, port: 4000, now: T0 });
    const result = receiver.receive(genuine, '10.0.0.2', T0);
    expect(result.ok).toBe(true);
    expect(receiver.counters.accepted).toBe(1);
  });

  it('bounds even forgeries that carry a wanted key: the key is public', () => {
    // One source gets half of the key's 10 per second.
    const receiver = receiverWith({ wantedVerifyPerSecond: 100, keyVerifyPerSecond: 10 });
    for (let i = 1; i <= 50; i++) receiver.receive(forged(T0 + i, i, friend.publicKey), '10.0.0.9', T0);
    expect(receiver.counters).toMatchObject({ verified: 5, badSignature: 5, rateLimited: 45 });
    // A second later there is room again for the real one.
    const genuine = encodeAnnouncement({ identity: friend, port: 4000, now: T0 + 1000 });
    expect(receiver.receive(genuine, '10.0.0.2', T0 + 1000).ok).toBe(true);
  });

  it('gives each wanted key its own budget: forging one starves neither the other nor the owner at home', () => {
    const other = generateIdentity();
    const receiver = receiverWith({
      wantedVerifyPerSecond: 100,
      isWanted: (id) => id.equals(friend.id) || id.equals(other.id),
    });
    const first = encodeAnnouncement({ identity: friend, port: 4000, now: T0 });
    expect(receiver.receive(first, '10.0.0.2', T0).ok).toBe(true);
    expect(receiver.homeOf(friend.id)).toBe('10.0.0.2');
    // 10 000 forgeries naming the friend, from a hundred addresses, all within one second.
    for (let i = 1; i <= 10_000; i++) receiver.receive(forged(T0 + i, i, friend.publicKey), `10.0.1.${i % 100}`, T0 + i / 10);
    expect(receiver.counters.verified).toBeLessThanOrEqual(1 + 10 + 10);
    const now = T0 + 1000;
    const fromOther = encodeAnnouncement({ identity: other, port: 4001, now });
    expect(receiver.receive(fromOther, '10.0.0.3', now).ok).toBe(true);
    const fromFriend = encodeAnnouncement({ identity: friend, port: 4002, now: now + 1 });
    expect(receiver.receive(fromFriend, '10.0.0.2', now)).toMatchObject({ ok: true, announcement: { port: 4002 } });
    expect(receiver.counters.verifiedAtHome).toBe(1);
  });

  it('drops a genuine announcement relayed from elsewhere after it was dropped for lack of budget', () => {
    const receiver = receiverWith({ wantedVerifyPerSecond: 1, keyVerifyPerSecond: 1 });
    // A forgery from another address uses up the only token.
    receiver.receive(forged(T0, 1, friend.publicKey), '10.0.0.8', T0);
    const genuine = encodeAnnouncement({ identity: friend, port: 4000, now: T0 });
    expect(receiver.receive(genuine, '10.0.0.2', T0)).toEqual({ ok: false, reason: 'rateLimited' });
    // Seconds later the budget is back; whoever captured the packet sends it from its own address.
    const verifiedBefore = receiver.counters.verified;
    expect(receiver.receive(genuine, '10.0.0.9', T0 + 5000)).toEqual({ ok: false, reason: 'relayed' });
    expect(receiver.counters).toMatchObject({ relayed: 1, verified: verifiedBefore });
    // From where it was first seen it is still the sender's own packet, and is accepted.
    expect(receiver.receive(genuine, '10.0.0.2', T0 + 5000)).toMatchObject({ ok: true });
    expect(receiver.homeOf(friend.id)).toBe('10.0.0.2');
  });

  it('spends no verification on packets that fail a cheap check', () => {
    const receiver = receiverWith();
    const genuine = encodeAnnouncement({ identity: friend, port: 4000, now: T0 });
    expect(receiver.receive(genuine, '10.0.0.2', T0).ok).toBe(true);
    const before = receiver.counters.verified;
    const cheapFailures = [
      new Uint8Array(111),
      Uint8Array.from(genuine, (b, i) => (i === 0 ? 0 : b)),
      Uint8Array.from(genuine, (b, i) => (i === 4 ? 1 : b)),
      Uint8Array.from(genuine, (b, i) => (i === 5 ? 4 : b)),
      encodeAnnouncement({ identity: friend, port: 4000, now: T0 - 31_000 }),
      encodeAnnouncement({ identity: me, port: 4000, now: T0 }),
      genuine, // replay
    ];
    for (const bytes of cheapFailures) expect(receiver.receive(bytes, '10.0.0.2', T0).ok).toBe(false);
    expect(receiver.counters.verified).toBe(before);
    expect(receiver.counters).toMatchObject({ malformed: 1, badMagic: 1, badVersion: 1, badFlags: 1, stale: 1, own: 1, replayed: 1 });
  });

  it('drops datagrams from sources outside the interfaces in use before looking at them', () => {
    const receiver = receiverWith({ isAllowedSource: (host) => host.startsWith('127.') });
    const genuine = encodeAnnouncement({ identity: friend, port: 4000, now: T0 });
    expect(receiver.receive(genuine, '192.168.1.7', T0)).toEqual({ ok: false, reason: 'foreignSource' });
    expect(receiver.counters.verified).toBe(0);
    expect(receiver.receive(genuine, '127.0.0.1', T0).ok).toBe(true);
  });

  it('treats a throwing isWanted as "not wanted"', () => {
    const receiver = receiverWith({
      verifyPerSecond: 0,
      isWanted: () => {
        throw new Error('trust store unavailable');
      },
    });
    const genuine = encodeAnnouncement({ identity: friend, port: 4000, now: T0 });
    expect(receiver.receive(genuine, '10.0.0.2', T0)).toEqual({ ok: false, reason: 'rateLimited' });
  });

  it('asks isWanted with the sender id, after the cheap checks', () => {
    const asked: PeerId[] = [];
    const receiver = receiverWith({
      isWanted: (id) => {
        asked.push(id);
        return true;
      },
    });
    receiver.receive(new Uint8Array(5), '10.0.0.2', T0);
    expect(asked).toEqual([]);
    receiver.receive(encodeAnnouncement({ identity: friend, port: 4000, now: T0 }), '10.0.0.2', T0);
    expect(asked).toHaveLength(1);
    expect(asked[0]?.equals(friend.id)).toBe(true);
  });

  it('counts every datagram under exactly one outcome', () => {
    const receiver = receiverWith({ verifyPerSecond: 3, isAllowedSource: (host) => host !== '8.8.8.8' });
    for (let i = 1; i <= 40; i++) receiver.receive(forged(T0, i), i % 7 === 0 ? '8.8.8.8' : '10.0.0.9', T0);
    receiver.receive(new Uint8Array(3), '10.0.0.9', T0);
    receiver.receive(encodeAnnouncement({ identity: friend, port: 4000, now: T0 }), '10.0.0.9', T0);
    expect(receiver.counters.received).toBe(42);
    expect(outcomesTotal(receiver.counters)).toBe(42);
  });
});
