import { EventEmitter } from 'node:events';
import type { NetworkInterfaceInfo } from 'node:os';
import { FakeClock, settle } from '@peernet/compliance';
import { NotConnectedError, PeerId, RefusedByPeerError, type DiscoveredPeer, type Discovery, type TransportAddress } from '@peernet/interface';
import { Registry, backoffDelay, backoffOptions, networkAddresses, watchNetwork, type Dialer } from '@peernet/registry';

const idOf = (n: number): PeerId => PeerId.fromBytes(new Uint8Array(32).fill(n));

/** A dialer whose reachability the test sets; records every attempt. */
class ScriptedDialer implements Dialer {
  readonly trusted = new Set<string>();
  readonly reachable = new Set<string>();
  /** Addresses where the peer answers and refuses us (it has not paired us). */
  readonly refusing = new Set<string>();
  readonly connected = new Set<string>();
  readonly attempts: Array<{ id: string; address: TransportAddress; at: number }> = [];
  constructor(private readonly clock: FakeClock) {}
  async connect(id: PeerId, address: TransportAddress): Promise<void> {
    this.attempts.push({ id: id.toString(), address, at: this.clock.now() });
    if (this.refusing.has(`${address.host}:${address.port}`)) throw new RefusedByPeerError();
    if (!this.reachable.has(`${address.host}:${address.port}`)) throw new NotConnectedError('refused');
    this.connected.add(id.toString());
  }
  isConnected(id: PeerId): boolean {
    return this.connected.has(id.toString());
  }
  isTrusted(id: PeerId): boolean {
    return this.trusted.has(id.toString());
  }
}

/** A discovery the test drives by hand (the real ones are tested on real sockets in their packages). */
class HandDiscovery extends EventEmitter implements Discovery {
  readonly name = 'hand';
  started = 0;
  stopped = 0;
  async start(): Promise<void> {
    this.started++;
  }
  async stop(): Promise<void> {
    this.stopped++;
  }
  async announce(): Promise<void> {}
  see(peer: DiscoveredPeer): void {
    this.emit('peer', peer);
  }
}

async function setup() {
  const clock = new FakeClock(1_000_000);
  const dialer = new ScriptedDialer(clock);
  const discovery = new HandDiscovery();
  const registry = new Registry({ dialer, discoveries: [discovery], timers: clock, now: () => clock.now(), random: () => 0 });
  await registry.start();
  return { clock, dialer, discovery, registry };
}

describe('backoff', () => {
  it('doubles from 500 ms to a 30 s cap', () => {
    const b = backoffOptions({ jitter: 0 });
    expect(Array.from({ length: 10 }, (_, i) => backoffDelay(i, b, 0.7))).toEqual([
      500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000,
    ]);
    expect(backoffDelay(1000, b, 0)).toBe(30000);
  });

  it('jitter only shortens, by at most the jitter fraction', () => {
    const b = backoffOptions();
    expect(backoffDelay(0, b, 0)).toBe(500);
    expect(backoffDelay(0, b, 1)).toBe(250);
    expect(backoffDelay(9, b, 0.5)).toBe(22500);
  });

  it('refuses nonsense', () => {
    expect(() => backoffOptions({ initialMs: 0 })).toThrow(/initialMs/);
    expect(() => backoffOptions({ jitter: 2 })).toThrow(/jitter/);
  });
});

describe('Registry', () => {
  it('dials a discovered trusted peer at once', async () => {
    const { clock, dialer, discovery, registry } = await setup();
    const a = idOf(1);
    dialer.trusted.add(a.toString());
    dialer.reachable.add('10.0.0.1:7000');
    discovery.see({ id: a, addresses: [{ host: '10.0.0.1', port: 7000 }] });
    await clock.advance(0);
    expect(dialer.attempts).toHaveLength(1);
    registry.peerOnline(a);
    expect(registry.peer(a)).toMatchObject({ status: 'online', trusted: true });
    await registry.stop();
  });

  it('lists but never dials an untrusted peer', async () => {
    const { clock, dialer, discovery, registry } = await setup();
    const seen: unknown[] = [];
    registry.on('peer:discovered', (p) => seen.push(p));
    discovery.see({ id: idOf(2), addresses: [{ host: '10.0.0.2', port: 1 }] });
    await clock.advance(60_000);
    expect(dialer.attempts).toEqual([]);
    expect(seen).toEqual([expect.objectContaining({ trusted: false, source: 'hand' })]);
    expect(registry.peers()).toEqual([expect.objectContaining({ trusted: false, status: 'offline' })]);
    await registry.stop();
  });

  it('retries with backoff while trusted and addressable, and stops on unpair', async () => {
    const { clock, dialer, discovery, registry } = await setup();
    const a = idOf(3);
    dialer.trusted.add(a.toString());
    discovery.see({ id: a, addresses: [{ host: '10.0.0.3', port: 7000 }] });
    await clock.advance(64_000);
    const start = dialer.attempts[0]?.at as number;
    // random() = 0 → no jitter: 0, +500, +1000, +2000, ... (cumulative)
    expect(dialer.attempts.map((x) => x.at - start)).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500, 61500]);
    registry.peerUntrusted(a);
    dialer.trusted.delete(a.toString());
    const before = dialer.attempts.length;
    await clock.advance(10 * 60_000);
    expect(dialer.attempts.length).toBe(before);
    expect(clock.pending).toBe(0);
    await registry.stop();
  });

  it('redials a peer that went offline after about 500 ms, and a new address resets the wait', async () => {
    const { clock, dialer, discovery, registry } = await setup();
    const a = idOf(4);
    dialer.trusted.add(a.toString());
    dialer.reachable.add('10.0.0.4:7000');
    discovery.see({ id: a, addresses: [{ host: '10.0.0.4', port: 7000 }] });
    await clock.advance(0);
    registry.peerOnline(a);
    dialer.connected.delete(a.toString());
    dialer.reachable.clear();
    registry.peerOffline(a);
    await clock.advance(499);
    expect(dialer.attempts).toHaveLength(1);
    await clock.advance(1);
    expect(dialer.attempts).toHaveLength(2);
    await clock.advance(10_000); // several failures, backoff growing
    const n = dialer.attempts.length;
    dialer.reachable.add('10.0.0.44:7001');
    discovery.see({ id: a, addresses: [{ host: '10.0.0.44', port: 7001 }] });
    await clock.advance(0);
    expect(dialer.attempts.length).toBe(n + 1);
    expect(dialer.attempts.at(-1)?.address).toEqual({ host: '10.0.0.44', port: 7001, source: 'hand', lastSeen: clock.now() });
    await registry.stop();
  });

  it('dials at once after a network change', async () => {
    const { clock, dialer, discovery, registry } = await setup();
    const a = idOf(5);
    dialer.trusted.add(a.toString());
    discovery.see({ id: a, addresses: [{ host: '10.0.0.5', port: 7000 }] });
    await clock.advance(20_000); // in a long backoff now
    const n = dialer.attempts.length;
    registry.networkChanged();
    await clock.advance(0);
    expect(dialer.attempts.length).toBe(n + 1);
    await registry.stop();
  });

  it('dialNow brings one peer\'s redial forward, and says whether a round is coming', async () => {
    const { clock, dialer, discovery, registry } = await setup();
    const a = idOf(8);
    expect(registry.dialNow(a)).toBe(false); // never heard of
    discovery.see({ id: a, addresses: [{ host: '10.0.0.8', port: 7000 }] });
    await clock.advance(0);
    expect(registry.dialNow(a)).toBe(false); // not paired: never dialled
    dialer.trusted.add(a.toString());
    registry.peerTrusted(a);
    await clock.advance(20_000); // in a long backoff now
    const n = dialer.attempts.length;
    expect(registry.dialNow(a)).toBe(true);
    await clock.advance(0);
    expect(dialer.attempts.length).toBe(n + 1);
    dialer.connected.add(a.toString());
    expect(registry.dialNow(a)).toBe(false); // online: nothing to dial
    await registry.stop();
  });

  it('a round reports the peer\'s refusal rather than an address that did not answer after it', async () => {
    const { clock, dialer, discovery, registry } = await setup();
    const a = idOf(9);
    const failures: Array<{ code: unknown; retryInMs: number | undefined }> = [];
    registry.on('dial:failed', (_, error, retryInMs) => failures.push({ code: (error as { code?: unknown }).code, retryInMs }));
    dialer.trusted.add(a.toString());
    dialer.refusing.add('10.0.0.9:7000');
    discovery.see({ id: a, addresses: [{ host: '10.0.0.9', port: 7000 }, { host: '10.0.0.99', port: 7000 }] });
    await clock.advance(0);
    // The refusing address was dialled first, the silent one last.
    expect(dialer.attempts.map((x) => x.address.host)).toEqual(['10.0.0.9', '10.0.0.99']);
    expect(failures).toEqual([{ code: 'refused_by_peer', retryInMs: 500 }]);
    await registry.stop();
  });

  it('a peer trusted after discovery is dialled when paired', async () => {
    const { clock, dialer, discovery, registry } = await setup();
    const a = idOf(6);
    discovery.see({ id: a, addresses: [{ host: '10.0.0.6', port: 7000 }] });
    await clock.advance(1000);
    expect(dialer.attempts).toHaveLength(0);
    dialer.trusted.add(a.toString());
    registry.peerTrusted(a);
    await clock.advance(0);
    expect(dialer.attempts).toHaveLength(1);
    await registry.stop();
  });

  it('bounds the table, evicting untrusted peers first', async () => {
    const clock = new FakeClock();
    const dialer = new ScriptedDialer(clock);
    const registry = new Registry({ dialer, maxPeers: 10, timers: clock, now: () => clock.now() });
    await registry.start();
    dialer.trusted.add(idOf(0).toString());
    for (let i = 0; i < 200; i++) {
      registry.addAddress(idOf(i), { host: '10.0.0.9', port: 1 + i });
      await clock.advance(1);
    }
    expect(registry.peers()).toHaveLength(10);
    expect(registry.peer(idOf(0))).toBeDefined();
    await registry.stop();
    expect(clock.pending).toBe(0);
  });

  it('starts and stops its discoveries and leaves no timers', async () => {
    const { clock, discovery, registry, dialer } = await setup();
    dialer.trusted.add(idOf(7).toString());
    discovery.see({ id: idOf(7), addresses: [{ host: '10.0.0.7', port: 1 }] });
    await settle();
    expect(discovery.started).toBe(1);
    await registry.stop();
    await registry.stop();
    expect(discovery.stopped).toBe(2);
    expect(discovery.listenerCount('peer')).toBe(0);
    expect(clock.pending).toBe(0);
  });
});

describe('network monitor', () => {
  const eth = (address: string) => ({
    eth0: [{ address, netmask: '255.255.255.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/24` }],
    lo: [{ address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4' as const, mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' }],
  });

  it('fingerprints only non-internal addresses, order-independently', () => {
    expect(networkAddresses(eth('10.0.0.1'))).toEqual(['eth0/IPv4/10.0.0.1/255.255.255.0']);
    expect(networkAddresses({ lo: eth('1.1.1.1').lo })).toEqual([]);
  });

  it('reports a change within one poll, once', async () => {
    const clock = new FakeClock();
    let current: NodeJS.Dict<NetworkInterfaceInfo[]> = eth('10.0.0.1');
    const changes: unknown[] = [];
    const watch = watchNetwork((change) => changes.push(change), { intervalMs: 2000, networkInterfaces: () => current, timers: clock });
    await clock.advance(10_000);
    expect(changes).toEqual([]);
    current = eth('10.0.0.2');
    await clock.advance(2000);
    expect(changes).toEqual([
      { added: ['eth0/IPv4/10.0.0.2/255.255.255.0'], removed: ['eth0/IPv4/10.0.0.1/255.255.255.0'] },
    ]);
    await clock.advance(10_000);
    expect(changes).toHaveLength(1);
    current = { ...eth('10.0.0.2'), wlan0: eth('192.168.1.5').eth0 };
    await clock.advance(2000);
    expect(changes[1]).toEqual({ added: ['wlan0/IPv4/192.168.1.5/255.255.255.0'], removed: [] });
    watch.stop();
    expect(clock.pending).toBe(0);
  });
});
