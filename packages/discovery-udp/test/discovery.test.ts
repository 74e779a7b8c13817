import * as dgram from 'node:dgram';
import { FakeClock, resourceSnapshot, resourcesAbove, waitUntil, withTimeout } from '@peernet/compliance';
import { type Identity, generateIdentity } from '@peernet/identity';
import {
  DEFAULT_PORT,
  type UdpDiscovery,
  type UdpDiscoveryOptions,
  decodeAnnouncement,
  encodeAnnouncement,
  udpDiscovery,
} from '../src/index.js';
import { EventLog, RawSocket, loopbackOnly, randomPort, useLoopbackGuard } from './helpers.js';

const TIMEOUT = 3000;

useLoopbackGuard();

// Everything a test opens is closed after it, and must leave nothing behind.
let baseline = new Map<string, number>();
let toStop: UdpDiscovery[] = [];
let toClose: RawSocket[] = [];
beforeEach(() => {
  baseline = resourceSnapshot();
  toStop = [];
  toClose = [];
});
afterEach(async () => {
  for (const d of toStop) await withTimeout(d.stop(), TIMEOUT, 'stop()');
  for (const s of toClose) await s.close();
  await waitUntil(() => resourcesAbove(baseline).length === 0, TIMEOUT, `release of ${resourcesAbove(baseline).join(', ')}`);
});

function loopbackDiscovery(options: Partial<UdpDiscoveryOptions> & { port: number }): UdpDiscovery {
  const discovery = udpDiscovery({
    identity: generateIdentity(),
    interfaces: ['127.0.0.1'],
    networkInterfaces: loopbackOnly,
    ...options,
  });
  toStop.push(discovery);
  return discovery;
}

async function raw(address = '127.0.0.1', port = 0, reuseAddr = false): Promise<RawSocket> {
  const socket = await RawSocket.bind(address, port, reuseAddr);
  toClose.push(socket);
  return socket;
}

/** Sends announcements of `identity` with strictly increasing times, as a real sender does. */
function announcer(
  identity: Identity,
  socket: RawSocket,
  target: number,
): (port: number, goodbye?: boolean) => Promise<void> {
  return (port, goodbye = false) => {
    // One clock for every announcer: two senders of one key must never stamp the
    // same millisecond, or the later packet is (rightly) dropped as a replay.
    lastStamp = Math.max(Date.now(), lastStamp + 1);
    return socket.send(encodeAnnouncement({ identity, port, goodbye, now: lastStamp }), target);
  };
}
let lastStamp = 0;

describe('udpDiscovery options', () => {
  const identity = generateIdentity();
  it.each<[string, Partial<UdpDiscoveryOptions>]>([
    ['no identity', { identity: undefined as never }],
    [
      'an identity whose key does not match its id',
      { identity: { id: generateIdentity().id, publicKey: identity.publicKey, sign: identity.sign } },
    ],
    ['port 0', { port: 0 }],
    ['port 65536', { port: 65536 }],
    ['intervalMs 0', { intervalMs: 0 }],
    ['intervalMs above 2^31 - 1', { intervalMs: 2 ** 31 }],
    ['ttlMs 0', { ttlMs: 0 }],
    ['windowMs -1', { windowMs: -1 }],
    ['verifyPerSecond -1', { verifyPerSecond: -1 }],
    ['wantedVerifyPerSecond NaN', { wantedVerifyPerSecond: Number.NaN }],
    ['keyVerifyPerSecond -1', { keyVerifyPerSecond: -1 }],
    ['homeVerifyPerSecond a string', { homeVerifyPerSecond: '2' as never }],
    ['isWanted not a function', { isWanted: true as never }],
    ['maxTrackedKeys 0', { maxTrackedKeys: 0 }],
    ['maxPeers 1.5', { maxPeers: 1.5 }],
    ['an empty interfaces list', { interfaces: [] }],
    ['an IPv6 interface address', { interfaces: ['::1'] }],
    ['now not a function', { now: 5 as never }],
    ['wallClock not a function', { wallClock: 5 as never }],
    ['a clock without timers', { clock: { now: () => 0 } as never }],
  ])('refuses %s with invalid_argument', (_label, change) => {
    expect(() => udpDiscovery({ identity, interfaces: ['127.0.0.1'], ...change } as UdpDiscoveryOptions)).toThrow(
      expect.objectContaining({ code: 'invalid_argument' }),
    );
  });

  it("is named 'udp' and uses port 4040 by default", () => {
    expect(DEFAULT_PORT).toBe(4040);
    const d = udpDiscovery({ identity, interfaces: ['127.0.0.1'], networkInterfaces: loopbackOnly });
    expect(d.name).toBe('udp');
  });

  it('computes broadcast addresses from the restriction only', () => {
    expect(udpDiscovery({ identity, interfaces: ['127.0.0.1'] }).broadcastAddresses()).toEqual(['127.255.255.255']);
    // The default (every non-internal interface) is only ever computed here, from a made-up table, never used.
    const table = () => ({
      lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' as const, mac: '', internal: true, cidr: null }],
      eth0: [
        { address: '192.168.7.9', netmask: '255.255.255.0', family: 'IPv4' as const, mac: '', internal: false, cidr: null },
      ],
    });
    expect(udpDiscovery({ identity, networkInterfaces: table }).broadcastAddresses()).toEqual(['192.168.7.255']);
    const byName = udpDiscovery({ identity, interfaces: ['lo'], networkInterfaces: table });
    expect(byName.broadcastAddresses()).toEqual(['127.255.255.255']);
  });
});

describe('udpDiscovery on loopback', () => {
  it('start() rejects when no restricted interface exists, and holds nothing', async () => {
    const d = loopbackDiscovery({ port: randomPort(), interfaces: ['no-such-interface0'] });
    await expect(d.start()).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringContaining('no-such-interface0'),
    });
  });

  it('start() rejects with invalid_argument when the port is taken without address reuse', async () => {
    const port = randomPort();
    const exclusive = dgram.createSocket({ type: 'udp4' });
    await new Promise<void>((resolve) => exclusive.bind(port, '0.0.0.0', resolve));
    try {
      const d = loopbackDiscovery({ port });
      const error = await d.start().then(
        () => undefined,
        (e: unknown) => e as { code: string; cause?: { code?: string } },
      );
      expect(error).toMatchObject({ code: 'invalid_argument', cause: { code: 'EADDRINUSE' } });
    } finally {
      await new Promise<void>((resolve) => exclusive.close(() => resolve()));
    }
  });

  it("reports a peer once, not for each periodic announcement; again for a new address, a new port, or after a goodbye", async () => {
    const port = randomPort();
    const d = loopbackDiscovery({ port });
    const log = new EventLog(d);
    await d.start();
    const peer = generateIdentity();
    const from1 = await raw('127.0.0.1');
    const from2 = await raw('127.0.0.2');
    const send1 = announcer(peer, from1, port);
    const send2 = announcer(peer, from2, port);

    await send1(7001);
    await log.until(() => log.peers(peer.id).length === 1, TIMEOUT, 'the first sighting');
    expect(log.peers(peer.id)[0]?.addresses).toEqual([{ host: '127.0.0.1', port: 7001 }]);

    for (let i = 0; i < 5; i++) await send1(7001);
    await waitUntil(() => d.stats.accepted === 6, TIMEOUT, 'six accepted announcements');
    expect(log.peers(peer.id)).toHaveLength(1);

    await send2(7001);
    await log.until(() => log.peers(peer.id).length === 2, TIMEOUT, 'a sighting with the second address');
    expect(log.peers(peer.id)[1]?.addresses).toEqual([
      { host: '127.0.0.2', port: 7001 },
      { host: '127.0.0.1', port: 7001 },
    ]);
    // Each report names the source address of the datagram that caused it.
    expect(log.peers(peer.id).map((p) => p.from)).toEqual(['127.0.0.1', '127.0.0.2']);

    await send1(7002);
    await log.until(() => log.peers(peer.id).length === 3, TIMEOUT, 'a sighting with the new port');
    expect(log.peers(peer.id)[2]?.addresses).toEqual([{ host: '127.0.0.1', port: 7002 }]);

    await send1(7002, true);
    await log.until(() => log.lost(peer.id).length === 1, TIMEOUT, "'peer:lost' after the goodbye");
    await send1(7002, true);
    await waitUntil(() => d.stats.goodbyes === 2, TIMEOUT, 'the second goodbye');
    expect(log.lost(peer.id)).toHaveLength(1);

    await send1(7002);
    await log.until(() => log.peers(peer.id).length === 4, TIMEOUT, 'a sighting after coming back');
    expect(d.stats.peers).toBe(1);
  });

  it("reports 'peer:lost' once when a peer falls silent for longer than the TTL", async () => {
    const port = randomPort();
    const d = loopbackDiscovery({ port, intervalMs: 40, ttlMs: 120 });
    const log = new EventLog(d);
    // Announcing makes the discovery's own ticks observable (one send per tick).
    await d.announce({ port: 9999 });
    await d.start();
    const peer = generateIdentity();
    const send = announcer(peer, await raw(), port);
    await send(7001);
    await log.until(() => log.peers(peer.id).length === 1, TIMEOUT, 'the sighting');
    await log.until(() => log.lost(peer.id).length === 1, TIMEOUT, "'peer:lost' after the TTL");
    const sentAtLoss = d.stats.sent;
    await waitUntil(() => d.stats.sent >= sentAtLoss + 4, TIMEOUT, 'four more ticks');
    expect(log.lost(peer.id)).toHaveLength(1);
    expect(d.stats.peers).toBe(0);
  });

  it('reports the addresses left when one expires, from the most recently heard of them', async () => {
    const port = randomPort();
    const d = loopbackDiscovery({ port, intervalMs: 40, ttlMs: 200 });
    const log = new EventLog(d);
    await d.start();
    const peer = generateIdentity();
    // One clock for both addresses, as one sender has: otherwise both may stamp the same millisecond.
    let last = 0;
    const sender = (socket: RawSocket) => (announced: number) => {
      last = Math.max(Date.now(), last + 1);
      return socket.send(encodeAnnouncement({ identity: peer, port: announced, now: last }), port);
    };
    const send1 = sender(await raw('127.0.0.1'));
    const send2 = sender(await raw('127.0.0.2'));
    await send2(7001);
    await send1(7001);
    await log.until(() => log.peers(peer.id).length === 2, TIMEOUT, 'both addresses');
    // Only the first address goes on announcing; the second expires.
    const keepAlive = setInterval(() => void send1(7001), 40);
    try {
      await log.until(() => log.peers(peer.id).length === 3, TIMEOUT, 'the report after the expiry');
    } finally {
      clearInterval(keepAlive);
    }
    const expired = log.peers(peer.id)[2];
    expect(expired?.addresses).toEqual([{ host: '127.0.0.1', port: 7001 }]);
    expect(expired?.from).toBe('127.0.0.1');
  });

  // `now` is the deprecated name of `wallClock`: both must stamp the announcements.
  it.each(['wallClock', 'now'] as const)('announces on start and on every tick, says goodbye on stop, with strictly increasing times (%s)', async (option) => {
    const port = randomPort();
    const capture = await raw('0.0.0.0', port, true);
    // A frozen wall clock: the times must still go up by at least 1 ms per packet.
    const frozen = 1_700_000_000_000;
    const d = loopbackDiscovery({ port, intervalMs: 30, [option]: () => frozen });
    await d.announce({ port: 5555 });
    await d.start();
    await capture.waitForCount(3, TIMEOUT, 'three announcements');
    await d.announce({ port: 5556 });
    await d.stop();
    await d.stop();
    await capture.waitFor(() => capture.received.some(({ bytes }) => bytes[5] === 1), TIMEOUT, 'the goodbye');
    const decoded = capture.received.map(({ bytes }) => decodeAnnouncement(bytes, { now: frozen, windowMs: 60_000 }));
    const announcements = decoded.map((r) => {
      if (!r.ok) throw new Error(`captured a packet the decoder drops: ${r.reason}`);
      return r.announcement;
    });
    const times = announcements.map((a) => a.timestamp);
    for (let i = 1; i < times.length; i++) expect(times[i]).toBeGreaterThan(times[i - 1] as number);
    expect(announcements[0]?.port).toBe(5555);
    const last = announcements[announcements.length - 1];
    expect(last).toMatchObject({ goodbye: true, port: 5556 });
    expect(announcements.filter((a) => a.goodbye)).toHaveLength(1);
    expect(d.stats.sendErrors).toBe(0);
  });

  it('runs its ticks and peer TTLs on `clock`, not on the wall clock', async () => {
    const port = randomPort();
    const clock = new FakeClock();
    const d = loopbackDiscovery({ port, intervalMs: 1000, ttlMs: 2500, clock });
    const log = new EventLog(d);
    await d.announce({ port: 6000 });
    await d.start();
    expect(d.stats.sent).toBe(1);
    expect(clock.pendingDelays()).toEqual([1000]);
    const peer = generateIdentity();
    await announcer(peer, await raw(), port)(7001);
    await log.until(() => log.peers(peer.id).length === 1, TIMEOUT, 'the sighting');
    await clock.advance(2000);
    await waitUntil(() => d.stats.sent === 3, TIMEOUT, 'two ticks of the fake clock');
    expect(log.lost(peer.id)).toEqual([]);
    await clock.advance(1000);
    await log.until(() => log.lost(peer.id).length === 1, TIMEOUT, "'peer:lost' once the fake clock passed the TTL");
    await d.stop();
    expect(clock.pending).toBe(0);
  });

  it('a discovery that never announced listens only, and sends nothing on stop', async () => {
    const port = randomPort();
    const listener = loopbackDiscovery({ port, intervalMs: 20 });
    const log = new EventLog(listener);
    await listener.start();
    const talker = loopbackDiscovery({ port, intervalMs: 20 });
    await talker.announce({ port: 6000 });
    await talker.start();
    await log.until(() => log.peers().length === 1, TIMEOUT, 'the talker');
    await listener.stop();
    expect(listener.stats.sent).toBe(0);
  });

  it('re-sends at once when announce() is called again while running (re-announce after a network change)', async () => {
    const port = randomPort();
    const d = loopbackDiscovery({ port, intervalMs: 60_000 });
    await d.announce({ port: 6000 });
    await d.start();
    expect(d.stats.sent).toBe(1);
    await d.announce({ port: 6000 });
    expect(d.stats.sent).toBe(2);
  });

  it('verifies a wanted peer under its own budget while strangers are rate limited', async () => {
    const port = randomPort();
    const friend = generateIdentity();
    const d = loopbackDiscovery({ port, verifyPerSecond: 0, isWanted: (id) => id.equals(friend.id) });
    const log = new EventLog(d);
    await d.start();
    const socket = await raw();
    const stranger = generateIdentity();
    await announcer(stranger, socket, port)(7000);
    await announcer(friend, socket, port)(7001);
    await log.until(() => log.peers(friend.id).length === 1, TIMEOUT, 'the wanted peer');
    await waitUntil(() => d.stats.received === 2, TIMEOUT, 'both datagrams');
    expect(log.peers(stranger.id)).toHaveLength(0);
    expect(d.stats).toMatchObject({ rateLimited: 1, accepted: 1, verified: 1 });
  });

  it('follows the interface table on every tick: stops sending while the interface is gone, resumes when it is back', async () => {
    const port = randomPort();
    let present = true;
    let lookups = 0; // one lookup per tick: the ticks made visible
    const table = () => {
      lookups++;
      return present ? loopbackOnly() : {};
    };
    const d = loopbackDiscovery({ port, intervalMs: 20, networkInterfaces: table });
    await d.announce({ port: 6000 });
    await d.start();
    await waitUntil(() => d.stats.sent >= 2, TIMEOUT, 'two announcements');
    present = false;
    const gone = lookups;
    await waitUntil(() => lookups >= gone + 2, TIMEOUT, 'two ticks without the interface');
    const sentWhileGone = d.stats.sent;
    await waitUntil(() => lookups >= gone + 6, TIMEOUT, 'four more ticks');
    expect(d.stats.sent).toBe(sentWhileGone);
    present = true;
    await waitUntil(() => d.stats.sent > sentWhileGone, TIMEOUT, 'sending to resume');
    expect(d.stats.sendErrors).toBe(0);
  });

  it("drops its own announcements that broadcast loops back", async () => {
    const port = randomPort();
    const d = loopbackDiscovery({ port, intervalMs: 20 });
    const log = new EventLog(d);
    await d.announce({ port: 6000 });
    await d.start();
    await waitUntil(() => d.stats.own >= 3, TIMEOUT, 'three own announcements received');
    expect(log.events).toEqual([]);
  });
});
