// Addresses per peer: bounded, replaced per sender, ordered by evidence, and
// dialled in parallel with a short budget each (virtual time throughout).
import { EventEmitter } from 'node:events';
import { FakeClock } from '@peernet/compliance';
import { NotConnectedError, PeerId, type DiscoveredPeer, type Discovery, type TransportAddress } from '@peernet/interface';
import { Registry, type Dialer, type RegistryOptions } from '@peernet/registry';

const idOf = (n: number): PeerId => PeerId.fromBytes(new Uint8Array(32).fill(n));
const at = (host: string, port: number): TransportAddress => ({ host, port });
const text = (a: TransportAddress): string => `${a.transport === undefined ? '' : `${a.transport}:`}${a.host}:${a.port}`;

interface Attempt {
  address: string;
  at: number;
  signal: AbortSignal;
  ended?: { at: number; how: 'connected' | 'refused' | 'aborted' };
}

/**
 * A dialer over a scripted network: an address is reachable (authenticates
 * after `delays` ms, default at once), silent (accepts and never answers:
 * the dial ends only when aborted), or refused (everything else).
 */
class NetworkDialer implements Dialer {
  readonly trusted = new Set<string>();
  readonly reachable = new Map<string, number>();
  readonly silent = new Set<string>();
  readonly connected = new Set<string>();
  readonly attempts: Attempt[] = [];
  constructor(private readonly clock: FakeClock) {}

  connect(id: PeerId, address: TransportAddress, { signal }: { signal: AbortSignal }): Promise<void> {
    const attempt: Attempt = { address: text(address), at: this.clock.now(), signal };
    this.attempts.push(attempt);
    const end = (how: 'connected' | 'refused' | 'aborted'): void => {
      attempt.ended ??= { at: this.clock.now(), how };
    };
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        end('aborted');
        reject(new NotConnectedError('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const delay = this.reachable.get(attempt.address);
      if (delay !== undefined) {
        this.clock.setTimeout(() => {
          if (signal.aborted) return;
          signal.removeEventListener('abort', onAbort);
          end('connected');
          this.connected.add(id.toString());
          resolve();
        }, delay);
      } else if (!this.silent.has(attempt.address)) {
        signal.removeEventListener('abort', onAbort);
        end('refused');
        reject(new NotConnectedError('refused'));
      }
    });
  }
  isConnected(id: PeerId): boolean {
    return this.connected.has(id.toString());
  }
  isTrusted(id: PeerId): boolean {
    return this.trusted.has(id.toString());
  }
  /** Addresses dialled, in order. */
  order(): string[] {
    return this.attempts.map((a) => a.address);
  }
  inFlight(): number {
    return this.attempts.filter((a) => a.ended === undefined).length;
  }
}

class HandDiscovery extends EventEmitter implements Discovery {
  constructor(readonly name = 'hand') {
    super();
  }
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async announce(): Promise<void> {}
  see(peer: DiscoveredPeer): void {
    this.emit('peer', peer);
  }
  lose(id: PeerId): void {
    this.emit('peer:lost', id);
  }
}

async function setup(options: Partial<RegistryOptions> = {}, trusted = true) {
  const clock = new FakeClock(1_000_000);
  const dialer = new NetworkDialer(clock);
  const discovery = new HandDiscovery();
  const registry = new Registry({
    dialer,
    discoveries: [discovery],
    timers: clock,
    now: () => clock.now(),
    random: () => 0,
    ...options,
  });
  await registry.start();
  const peer = idOf(1);
  if (trusted) dialer.trusted.add(peer.toString());
  const addresses = (): string[] => (registry.peer(peer)?.addresses ?? []).map(text);
  return { clock, dialer, discovery, registry, peer, addresses };
}

describe('addresses per peer', () => {
  it('a newer report from the same sender replaces its earlier addresses; other senders keep theirs', async () => {
    const { discovery, registry, peer, addresses } = await setup({}, false);
    discovery.see({ id: peer, from: '10.0.0.7', addresses: [at('10.0.0.7', 1), at('10.0.0.7', 2)] });
    discovery.see({ id: peer, from: '10.0.0.9', addresses: [at('10.0.0.9', 9)] });
    discovery.see({ id: peer, from: '10.0.0.7', addresses: [at('10.0.0.7', 3)] });
    expect(addresses()).toEqual(['10.0.0.7:3', '10.0.0.9:9']);
    expect(registry.peer(peer)?.addresses[0]).toMatchObject({ source: 'hand', from: '10.0.0.7' });
    // Without a `from`, the discovery as a whole is the sender.
    discovery.see({ id: peer, addresses: [at('10.0.0.5', 5)] });
    discovery.see({ id: peer, addresses: [at('10.0.0.5', 6)] });
    expect(addresses()).toEqual(['10.0.0.5:6', '10.0.0.7:3', '10.0.0.9:9']);
    // A goodbye from the discovery drops what every sender of it reported.
    discovery.lose(peer);
    expect(addresses()).toEqual([]);
    await registry.stop();
  });

  it('50,000 forged reports leave at most the cap, from one sender or from thousands', async () => {
    const { discovery, registry, peer, addresses } = await setup({}, false);
    discovery.see({ id: peer, from: '10.0.0.2', addresses: [at('10.0.0.2', 7000)] });
    for (let i = 0; i < 25_000; i++) discovery.see({ id: peer, from: '10.0.0.66', addresses: [at('10.0.0.66', 10_000 + i)] });
    expect(addresses()).toEqual(['10.0.0.66:34999', '10.0.0.2:7000']);
    for (let i = 0; i < 25_000; i++) {
      const host = `10.0.${(i >> 8) & 255}.${i & 255}`;
      discovery.see({ id: peer, from: host, addresses: [at(host, 1), at(host, 2), at(host, 3)] });
    }
    expect(addresses()).toHaveLength(16);
    // One report contributes at most maxAddressesPerReport, the first ones as announced.
    const many = Array.from({ length: 100 }, (_, i) => at('10.9.9.9', 1 + i));
    discovery.see({ id: peer, from: '10.9.9.9', addresses: many });
    expect(addresses().slice(0, 8)).toEqual(many.slice(0, 8).map(text));
    expect(addresses()).toHaveLength(16);
    await registry.stop();
  });

  it('the address a session last authenticated on is dialled first and never evicted', async () => {
    const { clock, dialer, discovery, registry, peer, addresses } = await setup({ maxAddressesPerPeer: 4 });
    dialer.reachable.set('10.0.0.2:7000', 5);
    discovery.see({ id: peer, from: '10.0.0.2', addresses: [at('10.0.0.2', 7000)] });
    await clock.advance(10);
    registry.peerOnline(peer);
    expect(registry.peer(peer)?.addresses[0]).toMatchObject({ host: '10.0.0.2', port: 7000, authenticated: true });
    for (let i = 0; i < 1000; i++) discovery.see({ id: peer, from: `10.0.1.${i % 250}`, addresses: [at(`10.0.1.${i % 250}`, i)] });
    expect(addresses()).toHaveLength(4);
    expect(addresses()[0]).toBe('10.0.0.2:7000');
    // The session drops; the redial goes to the proven address first.
    dialer.connected.clear();
    dialer.attempts.length = 0;
    registry.peerOffline(peer);
    await clock.advance(500);
    expect(dialer.order()[0]).toBe('10.0.0.2:7000');
    await registry.stop();
  });

  it('after authenticating, the same sender\'s newer report ranks before strangers\' newer ones', async () => {
    const { clock, dialer, discovery, registry, peer, addresses } = await setup({ maxAddressesPerPeer: 3 });
    dialer.reachable.set('10.0.0.2:7000', 1);
    discovery.see({ id: peer, from: '10.0.0.2', addresses: [at('10.0.0.2', 7000)] });
    await clock.advance(5);
    registry.peerOnline(peer);
    // The peer restarts on another port; a forger keeps answering afterwards.
    discovery.see({ id: peer, from: '10.0.0.2', addresses: [at('10.0.0.2', 7001)] });
    for (let i = 0; i < 100; i++) discovery.see({ id: peer, from: `10.0.3.${i}`, addresses: [at(`10.0.3.${i}`, 1)] });
    expect(addresses()).toEqual(['10.0.0.2:7001', '10.0.3.99:1', '10.0.3.98:1']);
    await registry.stop();
  });
});

describe('dialling a peer\'s addresses', () => {
  it('dials one report in the order announced, and the newest report first (B2)', async () => {
    const { clock, dialer, discovery, registry, peer } = await setup();
    discovery.see({ id: peer, from: 'x', addresses: [at('10.0.0.1', 1), at('10.0.0.2', 2), at('10.0.0.3', 3)] });
    await clock.advance(0);
    expect(dialer.order()).toEqual(['10.0.0.1:1', '10.0.0.2:2', '10.0.0.3:3']);
    await registry.stop();

    const second = await setup();
    second.registry.peerUntrusted(second.peer); // collect both reports before the first dial
    second.dialer.trusted.delete(second.peer.toString());
    second.discovery.see({ id: second.peer, from: 'old', addresses: [at('10.0.0.1', 1), at('10.0.0.2', 2)] });
    second.discovery.see({ id: second.peer, from: 'new', addresses: [at('10.0.0.8', 8), at('10.0.0.9', 9)] });
    second.dialer.trusted.add(second.peer.toString());
    second.registry.peerTrusted(second.peer);
    await second.clock.advance(0);
    // Newest report first; senders then take turns, each in its own order.
    expect(second.dialer.order()).toEqual(['10.0.0.8:8', '10.0.0.1:1', '10.0.0.9:9', '10.0.0.2:2']);
    await second.registry.stop();
  });

  it('starts the next address after the stagger, gives each its budget, and aborts the losers when one authenticates', async () => {
    const { clock, dialer, discovery, registry, peer } = await setup();
    const silent = [1, 2, 3].map((i) => at('10.0.0.66', i));
    for (const a of silent) dialer.silent.add(text(a));
    dialer.reachable.set('10.0.0.2:7000', 40);
    discovery.see({ id: peer, from: '10.0.0.66', addresses: silent });
    discovery.see({ id: peer, from: '10.0.0.2', addresses: [at('10.0.0.2', 7000)] });
    discovery.see({ id: peer, from: '10.0.0.66', addresses: silent }); // the forger answers again: newest
    await clock.advance(0);
    expect(dialer.attempts.map((a) => [a.address, a.at - 1_000_000])).toEqual([['10.0.0.66:1', 0]]);
    await clock.advance(250);
    // Senders take turns: the real address goes second, a stagger later.
    expect(dialer.attempts.map((a) => [a.address, a.at - 1_000_000])).toEqual([
      ['10.0.0.66:1', 0],
      ['10.0.0.2:7000', 250],
    ]);
    await clock.advance(40);
    expect(dialer.attempts[1]?.ended).toEqual({ at: 1_000_290, how: 'connected' });
    // The silent one was aborted at once, not left to its handshake timeout.
    expect(dialer.attempts[0]?.ended).toEqual({ at: 1_000_290, how: 'aborted' });
    expect(registry.peer(peer)?.addresses[0]).toMatchObject({ host: '10.0.0.2', authenticated: true });
    await clock.advance(10_000);
    expect(dialer.attempts).toHaveLength(2);
    expect(clock.pending).toBe(0);
    await registry.stop();
  });

  it('a silent address costs its budget, not a handshake timeout; a failure starts the next at once; slots are capped', async () => {
    const { clock, dialer, discovery, registry, peer } = await setup({ dialTimeoutMs: 2000, dialStaggerMs: 300, maxParallelDials: 3 });
    const failures: Array<[string, number | undefined]> = [];
    registry.on('dial:failed', (_id, error, retry) => failures.push([(error as { code?: string }).code ?? '', retry]));
    const [s0, s1, s2, s3, s4] = Array.from({ length: 5 }, (_, i) => at('10.0.0.66', 100 + i)) as TransportAddress[];
    for (const a of [s0, s1, s2, s3, s4]) dialer.silent.add(text(a!));
    discovery.see({ id: peer, from: 'f1', addresses: [s0!, s1!, at('10.0.0.9', 1), s2!] });
    discovery.see({ id: peer, from: 'f2', addresses: [s3!, s4!] });
    await clock.advance(0);
    await clock.advance(4300);
    expect(dialer.attempts.map((a) => [a.address, a.at - 1_000_000])).toEqual([
      [text(s3!), 0], // the newest report first
      [text(s0!), 300], // senders take turns, one stagger apart
      [text(s4!), 600],
      // three in flight: the next waits for a slot, freed when the first runs out of budget
      [text(s1!), 2000],
      ['10.0.0.9:1', 2300],
      [text(s2!), 2300], // the refused one started the next at once
    ]);
    const inFlightAt = (t: number): number => dialer.attempts.filter((a) => a.at <= t && (a.ended?.at ?? Infinity) > t).length;
    expect(Math.max(...dialer.attempts.map((a) => inFlightAt(a.at)))).toBe(3);
    for (const a of dialer.attempts) if (a.ended?.how === 'aborted') expect(a.ended.at - a.at).toBe(2000);
    // Every address failed: one dial:failed for the round, then backoff.
    expect(failures).toEqual([['timeout', 500]]);
    expect(dialer.inFlight()).toBe(0);
    await registry.stop();
    expect(clock.pending).toBe(0);
  });

  it('a sender with a stream of fresh addresses cannot keep another sender waiting', async () => {
    const { clock, dialer, discovery, registry, peer } = await setup();
    let port = 1;
    const forge = (): void => {
      const a = at('10.0.0.66', port++);
      dialer.silent.add(text(a));
      discovery.see({ id: peer, from: '10.0.0.66', addresses: [a] });
    };
    forge();
    await clock.advance(0);
    for (let t = 0; t < 40; t++) {
      forge();
      await clock.advance(50);
    }
    // The real peer comes back mid-round, and the forger keeps going.
    dialer.reachable.set('10.0.0.2:7001', 5);
    const back = clock.now();
    discovery.see({ id: peer, from: '10.0.0.2', addresses: [at('10.0.0.2', 7001)] });
    for (let t = 0; t < 20 && !dialer.isConnected(peer); t++) {
      forge();
      await clock.advance(50);
    }
    expect(dialer.isConnected(peer)).toBe(true);
    const real = dialer.attempts.find((a) => a.address === '10.0.0.2:7001');
    expect((real?.at ?? Infinity) - back).toBeLessThanOrEqual(250);
    await registry.stop();
  });

  it('the sender of the authenticated address goes before fresh senders when it reports a new one', async () => {
    const { clock, dialer, discovery, registry, peer } = await setup();
    dialer.reachable.set('10.0.0.2:7000', 1);
    discovery.see({ id: peer, from: '10.0.0.2', addresses: [at('10.0.0.2', 7000)] });
    await clock.advance(5);
    registry.peerOnline(peer);
    // The session drops and the peer is gone; forgers from many addresses answer for it.
    dialer.connected.clear();
    dialer.reachable.clear();
    registry.peerOffline(peer);
    let n = 0;
    const forge = (): void => {
      const host = `10.0.5.${n++ % 200}`;
      dialer.silent.add(`${host}:1`);
      discovery.see({ id: peer, from: host, addresses: [at(host, 1)] });
    };
    for (let t = 0; t < 40; t++) {
      forge();
      forge();
      await clock.advance(50);
    }
    // The peer is back on a new port; the forgers keep going. Every slot is taken by them.
    expect(dialer.inFlight()).toBe(8);
    dialer.reachable.set('10.0.0.2:7001', 1);
    const back = clock.now();
    discovery.see({ id: peer, from: '10.0.0.2', addresses: [at('10.0.0.2', 7001)] });
    for (let t = 0; t < 40 && !dialer.isConnected(peer); t++) {
      forge();
      forge();
      await clock.advance(10);
    }
    const real = dialer.attempts.find((a) => a.address === '10.0.0.2:7001');
    expect(dialer.isConnected(peer)).toBe(true);
    expect((real?.at ?? Infinity) - back).toBeLessThanOrEqual(250);
    await registry.stop();
  });

  it("a fallback transport's address is dialled after the direct ones have started, with its own budget, and keeps its tag", async () => {
    const { clock, dialer, discovery, registry, peer, addresses } = await setup({
      transports: { dht: { fallback: true, dialTimeoutMs: 30_000 } },
    });
    const viaDht: TransportAddress = { transport: 'dht', host: peer.toString(), port: 0 };
    dialer.silent.add(text(viaDht));
    dialer.silent.add('10.0.0.5:7000');
    dialer.silent.add('10.0.0.6:7000');
    discovery.see({ id: peer, from: '10.0.0.5', addresses: [at('10.0.0.5', 7000), at('10.0.0.6', 7000)] });
    // Reported last, so the newest: ranking by evidence alone would dial it first.
    registry.addAddress(peer, viaDht, 'dht');
    expect(addresses()).toContain(`dht:${peer.toString()}:0`);
    await clock.advance(0);
    expect(dialer.order()).toEqual(['10.0.0.5:7000']);
    await clock.advance(250);
    expect(dialer.order()).toEqual(['10.0.0.5:7000', '10.0.0.6:7000']);
    await clock.advance(250);
    expect(dialer.order()).toEqual(['10.0.0.5:7000', '10.0.0.6:7000', `dht:${peer.toString()}:0`]);
    // The direct ones get the default 2.5 s; the DHT dial its own 30 s.
    await clock.advance(2_500);
    expect(dialer.attempts.map((a) => a.ended?.how)).toEqual(['aborted', 'aborted', undefined]);
    await clock.advance(30_000 - 2_500 - 1);
    expect(dialer.attempts[2]?.ended).toBeUndefined();
    await clock.advance(1);
    expect(dialer.attempts[2]?.ended).toEqual({ at: 1_000_000 + 500 + 30_000, how: 'aborted' });
    await registry.stop();
  });

  it('with only a fallback address, it is dialled at once', async () => {
    const { clock, dialer, registry, peer } = await setup({ transports: { dht: { fallback: true } } });
    dialer.reachable.set(`dht:${peer.toString()}:0`, 30);
    registry.addAddress(peer, { transport: 'dht', host: peer.toString(), port: 0 }, 'dht');
    await clock.advance(0);
    expect(dialer.order()).toEqual([`dht:${peer.toString()}:0`]);
    await clock.advance(30);
    expect(dialer.attempts[0]?.ended?.how).toBe('connected');
    expect(registry.peer(peer)?.addresses[0]).toEqual(expect.objectContaining({ transport: 'dht', authenticated: true }));
    await registry.stop();
  });

  it('refuses nonsense limits', () => {
    const dialer = new NetworkDialer(new FakeClock());
    expect(() => new Registry({ dialer, maxAddressesPerPeer: 0 })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => new Registry({ dialer, dialTimeoutMs: -1 })).toThrow(/dialTimeoutMs/);
    expect(() => new Registry({ dialer, maxParallelDials: 1.5 })).toThrow(/maxParallelDials/);
  });
});
