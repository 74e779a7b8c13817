import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { Waiters, catchUncaught, resourceSnapshot, resourcesAbove, waitUntil, withTimeout } from '@peernet/compliance';
import { type Identity, generateIdentity } from '@peernet/identity';
import { DIAGNOSTICS_CHANNELS, type DiscoveredPeer, systemClock } from '@peernet/interface';
import { PACKET_BYTES, type UdpDiscovery, type UdpDiscoveryOptions, encodeAnnouncement, udpDiscovery } from '../src/index.js';
import { RawSocket, loopbackOnly, randomPort, useLoopbackGuard } from './helpers.js';

// Real datagrams to a real discovery on loopback, and what it publishes about them.

const TIMEOUT = 3000;

useLoopbackGuard();

/** Everything published on one diagnostics channel while subscribed. */
class Channel {
  readonly messages: Array<Record<string, unknown>> = [];
  readonly #waiters = new Waiters();
  readonly #onMessage = (message: unknown): void => {
    this.messages.push(message as Record<string, unknown>);
    this.#waiters.wake();
  };

  constructor(readonly name: string) {
    subscribe(name, this.#onMessage);
  }

  /** Waits for a message with every field of `expected`. */
  waitFor(expected: Record<string, unknown>): Promise<Record<string, unknown>> {
    const matches = (m: Record<string, unknown>): boolean => Object.entries(expected).every(([k, v]) => m[k] === v);
    return this.#waiters.until(
      () => this.messages.find(matches),
      TIMEOUT,
      () => `${JSON.stringify(expected)} on ${this.name} (got ${JSON.stringify(this.messages)})`,
    );
  }

  close(): void {
    unsubscribe(this.name, this.#onMessage);
  }
}

let baseline = new Map<string, number>();
let cleanup: Array<() => Promise<void> | void> = [];
let dropped: Channel;
let limited: Channel;

beforeEach(() => {
  baseline = resourceSnapshot();
  dropped = new Channel(DIAGNOSTICS_CHANNELS.discoveryDropped);
  limited = new Channel(DIAGNOSTICS_CHANNELS.rateLimited);
  cleanup = [() => dropped.close(), () => limited.close()];
});

afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  await waitUntil(() => resourcesAbove(baseline).length === 0, TIMEOUT, `release of ${resourcesAbove(baseline).join(', ')}`);
});

async function started(options: Partial<UdpDiscoveryOptions> = {}): Promise<{ discovery: UdpDiscovery; port: number }> {
  const port = randomPort();
  const discovery = udpDiscovery({
    identity: generateIdentity(),
    port,
    interfaces: ['127.0.0.1'],
    networkInterfaces: loopbackOnly,
    ...options,
  });
  cleanup.push(() => withTimeout(discovery.stop(), TIMEOUT, 'stop()'));
  await discovery.start();
  return { discovery, port };
}

async function socket(address = '127.0.0.1'): Promise<RawSocket> {
  const raw = await RawSocket.bind(address);
  cleanup.push(() => raw.close());
  return raw;
}

const fromOf = (raw: RawSocket): string => {
  const { address, port } = raw.socket.address();
  return `${address}:${port}`;
};

let lastStamp = 0;
/** A genuine announcement with a timestamp later than any before it. */
function announcement(identity: Identity, port = 7000): Uint8Array {
  lastStamp = Math.max(Date.now(), lastStamp + 1);
  return encodeAnnouncement({ identity, port, now: lastStamp });
}

/** The same announcement with one signature byte changed: what a forger without the key can send. */
function forged(identity: Identity): Uint8Array {
  const bytes = Uint8Array.from(announcement(identity));
  bytes[PACKET_BYTES - 1] = (bytes[PACKET_BYTES - 1] as number) ^ 1;
  return bytes;
}

describe('udp discovery diagnostics', () => {
  it('publishes every kind of bad datagram on the dropped channel, with its source and a stable reason', async () => {
    const { discovery, port } = await started();
    const raw = await socket();
    const from = fromOf(raw);
    const sender = generateIdentity();
    const cases: Array<[string, Uint8Array]> = [];
    cases.push(['malformed', new Uint8Array(10)]);
    const badMagic = Uint8Array.from(announcement(sender));
    badMagic[0] = 0x58;
    cases.push(['bad-magic', badMagic]);
    const badVersion = Uint8Array.from(announcement(sender));
    badVersion[4] = 9;
    cases.push(['bad-version', badVersion]);
    cases.push(['stale', encodeAnnouncement({ identity: sender, port: 7000, now: Date.now() - 60_000 })]);
    cases.push(['bad-signature', forged(sender)]);
    const genuine = announcement(sender);
    cases.push(['replayed', genuine]);
    for (const [reason, bytes] of cases) {
      if (reason === 'replayed') {
        // Accepted the first time; the same bytes again are a replay.
        await raw.send(genuine, port);
        await waitUntil(() => discovery.stats.accepted === 1, TIMEOUT, 'the genuine announcement');
      }
      await raw.send(bytes, port);
      expect(await dropped.waitFor({ reason })).toEqual({ discovery: 'udp', from, reason });
    }
    expect(dropped.messages.map((m) => m.reason)).toEqual(cases.map(([reason]) => reason));
    expect(limited.messages).toEqual([]);
  });

  it('publishes a source outside the subnets in use as off-link', async () => {
    // Only 127.0.0.0/30 is "ours" here, so 127.0.0.9 is off-link while still on loopback.
    const table = () => ({ lo: [{ address: '127.0.0.1', netmask: '255.255.255.252', family: 'IPv4' as const, mac: '', internal: true, cidr: null }] });
    const { port } = await started({ networkInterfaces: table });
    const raw = await socket('127.0.0.9');
    await raw.send(announcement(generateIdentity()), port);
    expect(await dropped.waitFor({ reason: 'off-link' })).toEqual({ discovery: 'udp', from: fromOf(raw), reason: 'off-link' });
  });

  it('publishes its own looped-back announcements on neither channel', async () => {
    const { discovery } = await started({ intervalMs: 20 });
    await discovery.announce({ port: 6000 });
    await waitUntil(() => discovery.stats.own >= 3, TIMEOUT, 'three own announcements received');
    expect(dropped.messages).toEqual([]);
    expect(limited.messages).toEqual([]);
  });

  it('names the budget of unknown keys when it turns a packet away', async () => {
    const { discovery, port } = await started({ verifyPerSecond: 0 });
    const raw = await socket();
    await raw.send(announcement(generateIdentity()), port);
    const from = fromOf(raw);
    expect(await limited.waitFor({ from })).toEqual({ limit: 'udp-verify-unknown', from });
    expect(await dropped.waitFor({ from })).toEqual({ discovery: 'udp', from, reason: 'rate-limited' });
    expect(discovery.stats.rateLimited).toBe(1);
  });

  it("names a wanted key's per-source and per-key budgets, and the relay guard, when each turns a packet away", async () => {
    const alice = generateIdentity();
    let skew = 0;
    const { discovery, port } = await started({
      isWanted: (id) => id.equals(alice.id),
      // One check per second for alice, half of it per source address: one packet uses up a source's share.
      keyVerifyPerSecond: 1,
      homeVerifyPerSecond: 0,
      clock: { ...systemClock, now: () => performance.now() + skew },
    });
    const first = await socket('127.0.0.2');
    const second = await socket('127.0.0.3');
    await first.send(forged(alice), port);
    await waitUntil(() => discovery.stats.badSignature === 1, TIMEOUT, 'the first forgery to be checked');

    await first.send(forged(alice), port);
    expect(await limited.waitFor({ from: fromOf(first) })).toEqual({ limit: 'udp-verify-per-source', from: fromOf(first) });

    // Another source has its own share, but alice's bucket is empty.
    const genuine = announcement(alice);
    await second.send(genuine, port);
    expect(await limited.waitFor({ from: fromOf(second) })).toEqual({ limit: 'udp-verify-per-key', from: fromOf(second) });

    // Once the budget is back, the same bytes from elsewhere are a relay of a packet dropped unverified.
    skew = 10_000;
    await first.send(genuine, port);
    await waitUntil(() => discovery.stats.relayed === 1, TIMEOUT, 'the relay to be dropped');
    expect(limited.messages.map((m) => m.limit)).toEqual(['udp-verify-per-source', 'udp-verify-per-key', 'udp-relay-guard']);
    expect(dropped.messages.map((m) => m.reason)).toEqual(['bad-signature', 'rate-limited', 'rate-limited', 'relayed']);
    expect(dropped.messages.at(-1)).toEqual({ discovery: 'udp', from: fromOf(first), reason: 'relayed' });
  });
});

describe('udp discovery listeners', () => {
  it("a throwing 'peer' listener stops neither the next listener nor the discovery, and its error surfaces as uncaught", async () => {
    const { discovery, port } = await started();
    const bug = new Error('listener bug');
    const seen: DiscoveredPeer[] = [];
    const waiters = new Waiters();
    discovery.on('peer', () => {
      throw bug;
    });
    discovery.on('peer', (peer) => {
      seen.push(peer);
      waiters.wake();
    });
    const raw = await socket();
    const [a, b] = [generateIdentity(), generateIdentity()];
    const uncaught = catchUncaught();
    try {
      await raw.send(announcement(a), port);
      await raw.send(announcement(b), port);
      await waiters.until(() => (seen.length === 2 ? true : undefined), TIMEOUT, 'both peers at the second listener');
      expect(await uncaught.until(2, TIMEOUT)).toEqual([bug, bug]);
    } finally {
      uncaught.restore();
    }
    expect(seen.map((p) => p.id.toString())).toEqual([a.id.toString(), b.id.toString()]);
    expect(discovery.stats.accepted).toBe(2);
  });
});
