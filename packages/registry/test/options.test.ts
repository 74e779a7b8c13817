// The registry's shared pieces: one Clock, one options validator, the
// pluggable polling monitor, and online state asked of the dialer.
import type { NetworkInterfaceInfo } from 'node:os';
import { FakeClock } from '@peernet/compliance';
import { NotConnectedError, PeerId, type TransportAddress } from '@peernet/interface';
import { Registry, pollingNetworkMonitor, type Dialer } from '@peernet/registry';

const idOf = (n: number): PeerId => PeerId.fromBytes(new Uint8Array(32).fill(n));

/** A dialer whose sessions the test opens and closes: the one owner of "online". */
class SessionsDialer implements Dialer {
  readonly trusted = new Set<string>();
  readonly sessions = new Set<string>();
  readonly attempts: Array<{ id: string; at: number }> = [];
  constructor(private readonly clock: FakeClock) {}
  async connect(id: PeerId): Promise<void> {
    this.attempts.push({ id: id.toString(), at: this.clock.now() });
    throw new NotConnectedError('refused');
  }
  isConnected(id: PeerId): boolean {
    return this.sessions.has(id.toString());
  }
  isTrusted(id: PeerId): boolean {
    return this.trusted.has(id.toString());
  }
}

const address: TransportAddress = { host: '10.0.0.1', port: 7000 };

describe('Registry options', () => {
  it('takes one clock for its timers and its stagger', async () => {
    const clock = new FakeClock(5_000);
    const dialer = new SessionsDialer(clock);
    const registry = new Registry({ dialer, clock, random: () => 0 });
    await registry.start();
    const a = idOf(1);
    dialer.trusted.add(a.toString());
    registry.addAddress(a, address);
    await clock.advance(4_000);
    // 0, +500, +1000, +2000 on the clock it was given.
    expect(dialer.attempts.map((x) => x.at - 5_000)).toEqual([0, 500, 1500, 3500]);
    await registry.stop();
    expect(clock.pending).toBe(0);
  });

  it('names the component and the option in every refusal', () => {
    const dialer = new SessionsDialer(new FakeClock());
    expect(() => new Registry({ dialer, dialTimeoutMs: -1 })).toThrow(
      'Registry option dialTimeoutMs must be a number from 1 to 2147483647, got -1',
    );
    expect(() => new Registry({ dialer, maxPeers: 0 })).toThrow('Registry option maxPeers must be an integer of at least 1, got 0');
    expect(() => new Registry({ dialer, clock: {} as never })).toThrow('Registry option clock must have a now() method');
    expect(() => new Registry({ dialer, backoff: { initialMs: 0 } })).toThrow(
      'Registry backoff option initialMs must be a number of at least 1, got 0',
    );
    expect(() => new Registry({} as never)).toThrow('Registry option dialer is required');
  });
});

describe('online state has one owner', () => {
  it('a peer is online exactly while the dialer says so, and never dialled then', async () => {
    const clock = new FakeClock();
    const dialer = new SessionsDialer(clock);
    const registry = new Registry({ dialer, clock, random: () => 0 });
    await registry.start();
    const a = idOf(2);
    dialer.trusted.add(a.toString());
    // A session came up that the registry did not dial (an inbound one).
    dialer.sessions.add(a.toString());
    registry.addAddress(a, address);
    await clock.advance(10_000);
    expect(registry.peer(a)?.status).toBe('online');
    expect(dialer.attempts).toEqual([]);
    // It went away: the table says so at once, and the report starts the redial schedule.
    dialer.sessions.delete(a.toString());
    expect(registry.peer(a)?.status).toBe('offline');
    registry.peerOffline(a);
    await clock.advance(500);
    expect(dialer.attempts).toHaveLength(1);
    await registry.stop();
  });
});

describe('pollingNetworkMonitor', () => {
  const eth = (address: string): NodeJS.Dict<NetworkInterfaceInfo[]> => ({
    eth0: [{ address, netmask: '255.255.255.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: false, cidr: `${address}/24` }],
  });

  it('reports a change within one poll, once, to each watch of its own', async () => {
    const clock = new FakeClock();
    let current = eth('10.0.0.1');
    const monitor = pollingNetworkMonitor({ intervalMs: 2000, readInterfaces: () => current, clock });
    const first: unknown[] = [];
    const second: unknown[] = [];
    const watchFirst = monitor.watch((change) => first.push(change));
    await clock.advance(10_000);
    expect(first).toEqual([]);
    current = eth('10.0.0.2');
    await clock.advance(2000);
    const change = { added: ['eth0/IPv4/10.0.0.2/255.255.255.0'], removed: ['eth0/IPv4/10.0.0.1/255.255.255.0'] };
    expect(first).toEqual([change]);
    const watchSecond = monitor.watch((c) => second.push(c));
    await clock.advance(10_000);
    expect(first).toHaveLength(1);
    expect(second).toEqual([]);
    watchFirst.stop();
    watchFirst.stop();
    watchSecond.stop();
    expect(clock.pending).toBe(0);
  });

  it('refuses a bad interval, naming it', () => {
    expect(() => pollingNetworkMonitor({ intervalMs: 0 })).toThrow(
      'pollingNetworkMonitor option intervalMs must be a number from 1 to 2147483647, got 0',
    );
  });
});
