import { pseudoRandomBytes, resourceSnapshot, resourcesAbove, waitUntil } from '@peernet/compliance';
import { type Identity, generateIdentity } from '@peernet/identity';
import { PeerId } from '@peernet/interface';
import { PACKET_BYTES, type UdpDiscoveryStats, encodeAnnouncement, udpDiscovery } from '../src/index.js';
import { EventLog, RawSocket, loopbackOnly, randomPort, useLoopbackGuard } from './helpers.js';

const TOTAL = 10_000;
const BATCH = 50;
const VERIFY_PER_SECOND = 20;
const WANTED_VERIFY_PER_SECOND = 20;
// Small caps, so that the flood's valid strangers (five in the first batch alone) must hit them.
const MAX_TRACKED_KEYS = 4;
const MAX_PEERS = 4;

useLoopbackGuard();

/** Every received datagram ends in exactly one outcome counter. */
function outcomes(s: UdpDiscoveryStats): number {
  return (
    s.accepted +
    s.foreignSource +
    s.malformed +
    s.badMagic +
    s.badVersion +
    s.badFlags +
    s.badPort +
    s.stale +
    s.own +
    s.replayed +
    s.relayed +
    s.rateLimited +
    s.badSignature
  );
}

/** A well-formed packet with a random signature: what a forger without the key can send. */
function forgedPacket(key: Uint8Array, port: number, time: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(PACKET_BYTES);
  const view = new DataView(bytes.buffer);
  bytes.set([0x50, 0x4e, 0x45, 0x54, 2, 0], 0);
  view.setUint16(6, port);
  bytes.set(key, 8);
  view.setUint32(40, Math.floor(time / 2 ** 32));
  view.setUint32(44, time % 2 ** 32);
  bytes.set(pseudoRandomBytes(64, seed), 48);
  return bytes;
}

describe('a flood of forged, replayed and garbage datagrams', () => {
  it(`keeps memory and signature checks bounded over ${TOTAL} datagrams, and reports no forged peer`, async () => {
    const baseline = resourceSnapshot();
    const port = randomPort();
    const me = generateIdentity();
    const friend = generateIdentity();
    // Strangers with valid signatures of their own: legitimate (untrusted) peers, to fill the tables.
    const strangers: Identity[] = Array.from({ length: 100 }, () => generateIdentity());
    const discovery = udpDiscovery({
      identity: me,
      port,
      interfaces: ['127.0.0.1'],
      networkInterfaces: loopbackOnly,
      intervalMs: 60_000,
      verifyPerSecond: VERIFY_PER_SECOND,
      wantedVerifyPerSecond: WANTED_VERIFY_PER_SECOND,
      maxTrackedKeys: MAX_TRACKED_KEYS,
      maxPeers: MAX_PEERS,
      isWanted: (id) => id.equals(friend.id),
    });
    const log = new EventLog(discovery);
    const attacker = await RawSocket.bind('127.0.0.1');
    let maxTracked = 0;
    let maxPeers = 0;
    try {
      await discovery.start();
      // The genuine friend is heard first; its packet is then replayed by the attacker.
      const genuine = encodeAnnouncement({ identity: friend, port: 7000, now: Date.now() });
      await attacker.send(genuine, port);
      await log.until(() => log.peers(friend.id).length === 1, 3000, 'the genuine friend');

      // Packets whose drop does not depend on their time are signed once and sent many times.
      const stale = strangers.map((stranger) =>
        encodeAnnouncement({ identity: stranger, port: 7000, now: Date.now() - 31_000 }),
      );
      const own = encodeAnnouncement({ identity: me, port: 7000, now: Date.now() });
      const started = Date.now();
      const forgedIds = new Set<string>();
      const make = (i: number): Uint8Array => {
        const now = Date.now();
        const kind = i % 10;
        switch (kind) {
          case 0: // garbage of any size
            return pseudoRandomBytes(i % 700, i + 1);
          case 1: {
            // one byte short or long, otherwise valid
            const valid = genuine;
            if (i % 20 === 1) return valid.subarray(0, PACKET_BYTES - 1);
            const longer = new Uint8Array(PACKET_BYTES + 1);
            longer.set(valid);
            return longer;
          }
          case 2: {
            // right size, broken header: magic, version, flags or zero port
            const bytes = pseudoRandomBytes(PACKET_BYTES, i + 1);
            bytes.set([0x50, 0x4e, 0x45, 0x54, 2, 0, 0x1f, 0x40], 0);
            bytes[[0, 4, 5, 6][i % 4] as number] = [0x51, 3, 0x02, 0][i % 4] as number;
            if (i % 4 === 3) bytes[7] = 0;
            return bytes;
          }
          case 3: // stale: a valid signature, more than 30 s old
            return stale[i % stale.length] as Uint8Array;
          case 4: // our own key, validly signed
            return own;
          case 5:
          case 6: {
            // forged: a fresh random key, a current time, a random signature
            const key = pseudoRandomBytes(32, i + 7);
            forgedIds.add(PeerId.fromBytes(key).toString());
            return forgedPacket(key, 7000, now, i);
          }
          case 7: // forged with the wanted (public) key and a later time
            return forgedPacket(friend.publicKey, 7666, now + (i % 997), i);
          case 8: // replay of the friend's genuine announcement
            return genuine;
          default: {
            // a stranger's valid announcement (reported: strangers are peers too, just not trusted)
            const stranger = strangers[Math.floor(i / 10) % strangers.length] as Identity;
            return encodeAnnouncement({ identity: stranger, port: 7000, now: now + Math.floor(i / 10) });
          }
        }
      };

      for (let sent = 0; sent < TOTAL; sent += BATCH) {
        await Promise.all(Array.from({ length: BATCH }, (_, k) => attacker.send(make(sent + k), port)));
        // Pace the sender to the receiver so the kernel's buffer never overflows: every datagram must be counted.
        await waitUntil(() => discovery.stats.received >= 1 + sent + BATCH, 5000, `datagram ${sent + BATCH} to be received`);
        maxTracked = Math.max(maxTracked, discovery.stats.trackedKeys);
        maxPeers = Math.max(maxPeers, discovery.stats.peers);
      }
      const seconds = (Date.now() - started) / 1000;
      const stats = discovery.stats;

      expect(stats.received).toBe(TOTAL + 1);
      expect(outcomes(stats)).toBe(stats.received);
      expect(stats.malformed).toBe(TOTAL / 10 + TOTAL / 10);
      expect(stats.badMagic + stats.badVersion + stats.badFlags + stats.badPort).toBe(TOTAL / 10);
      expect(stats.stale).toBe(TOTAL / 10);
      expect(stats.own).toBe(TOTAL / 10);

      // Signature checks: within the budgets (burst + rate × elapsed each), plus the genuine packet.
      // Everything comes from the friend's home address, so its forgeries may also use the
      // friend's home reserve (default 2 per second, burst 4).
      const budget = (rate: number, burst = rate): number => Math.ceil(burst + rate * seconds);
      expect(stats.verified).toBeLessThanOrEqual(
        budget(VERIFY_PER_SECOND) + budget(WANTED_VERIFY_PER_SECOND) + budget(2, 4) + 1,
      );
      expect(stats.verified - stats.verifiedAtHome).toBeLessThanOrEqual(
        budget(VERIFY_PER_SECOND) + budget(WANTED_VERIFY_PER_SECOND) + 1,
      );
      // Forgeries, replays and strangers (5 kinds in 10) passed the cheap checks: each was then
      // found a replay, rate limited, refused or accepted (the genuine packet is the 1 extra).
      // Everything has the same source, so nothing is a relay.
      expect(stats.relayed).toBe(0);
      expect(stats.replayed + stats.rateLimited + stats.badSignature + stats.accepted).toBe((TOTAL / 10) * 5 + 1);
      expect(stats.rateLimited).toBeGreaterThanOrEqual((TOTAL / 10) * 4 - stats.verified);

      // Memory: the tables filled up to their caps and never beyond.
      expect(maxTracked).toBe(MAX_TRACKED_KEYS);
      expect(maxPeers).toBe(MAX_PEERS);
      expect(log.lost().length).toBeGreaterThan(0); // peers pushed out of the full table

      // No forged key was ever reported, nor the own one. The friend may be reported again after
      // being pushed out (its replayed packet is then news), but never with the forged port 7666.
      const reported = log.peers().map((p) => p.id.toString());
      expect(reported.filter((id) => forgedIds.has(id))).toEqual([]);
      expect(reported).not.toContain(me.id.toString());
      expect(log.peers(friend.id).length).toBeGreaterThanOrEqual(1);
      for (const peer of log.peers(friend.id)) expect(peer.addresses).toEqual([{ host: '127.0.0.1', port: 7000 }]);
      const legitimate = new Set([friend.id.toString(), ...strangers.map((s) => s.id.toString())]);
      expect(reported.every((id) => legitimate.has(id))).toBe(true);
      console.log(
        `flood: ${stats.received} datagrams in ${seconds.toFixed(2)} s, ${stats.verified} signature checks, ` +
          `${stats.rateLimited} rate limited, max ${maxTracked} tracked keys, max ${maxPeers} peers`,
      );
    } finally {
      await discovery.stop();
      await attacker.close();
    }
    await waitUntil(() => resourcesAbove(baseline).length === 0, 3000, 'resources to be released');
  }, 60_000);
});
