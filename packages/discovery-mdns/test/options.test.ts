import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { FakeClock, resourceSnapshot, resourcesAbove, waitUntil, withTimeout } from '@peernet/compliance';
import { generateIdentity } from '@peernet/identity';
import { InvalidArgumentError, type PeerNetError } from '@peernet/interface';
import { type MdnsDiscoveryOptions, mdnsDiscovery } from '@peernet/discovery-mdns';
import { inSubnet } from '@peernet/interface';
import { resolveInterfaces } from '../src/interfaces.js';
import { QuerySchedule } from '../src/schedule.js';

const WAIT = 5000;

function info(address: string, netmask: string, internal = false, family: 'IPv4' | 'IPv6' = 'IPv4'): NetworkInterfaceInfo {
  return { address, netmask, family, internal, mac: '00:00:00:00:00:00', cidr: null } as NetworkInterfaceInfo;
}

const table = (): NodeJS.Dict<NetworkInterfaceInfo[]> => ({
  lo: [info('127.0.0.1', '255.0.0.0', true), info('::1', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', true, 'IPv6')],
  eth0: [info('fe80::1', 'ffff:ffff:ffff:ffff::', false, 'IPv6'), info('10.1.0.5', '255.255.255.0'), info('10.1.0.6', '255.255.255.0')],
  wlan0: [info('192.168.7.20', '255.255.255.0')],
  v6only: [info('fd00::5', 'ffff:ffff:ffff:ffff::', false, 'IPv6')],
});

async function rejection(promise: Promise<unknown>): Promise<PeerNetError> {
  const outcome = await withTimeout(
    promise.then(
      () => undefined,
      (error: unknown) => error,
    ),
    WAIT,
    'the promise to settle',
  );
  if (outcome === undefined) throw new Error('expected a rejection');
  return outcome as PeerNetError;
}

describe('QuerySchedule (fake clock)', () => {
  it('queries at once, then after 1 s, 2 s, 4 s … capped at 60 s', () => {
    const clock = new FakeClock(1000);
    const schedule = new QuerySchedule({ initialMs: 1000, maxMs: 60_000 }, clock.now());
    const sentAt: number[] = [];
    for (let step = 0; step < 200_000; step += 250) {
      if (schedule.isDue(clock.now())) {
        sentAt.push(clock.now() - 1000);
        schedule.sent(clock.now());
      }
      void clock.advance(250);
    }
    expect(sentAt.slice(0, 9)).toEqual([0, 1000, 3000, 7000, 15_000, 31_000, 63_000, 123_000, 183_000]);
  });

  it('reset() makes a query due now and restarts the doubling', () => {
    const schedule = new QuerySchedule({ initialMs: 100, maxMs: 400 }, 0);
    expect(schedule.isDue(0)).toBe(true);
    expect([schedule.sent(0), schedule.sent(100), schedule.sent(300), schedule.sent(700), schedule.sent(1100)]).toEqual([
      100, 300, 700, 1100, 1500,
    ]);
    expect(schedule.isDue(1499)).toBe(false);
    schedule.reset(1200);
    expect(schedule.isDue(1200)).toBe(true);
    expect(schedule.sent(1200)).toBe(1300);
  });
});

describe('mdnsDiscovery timers on a fake clock (no interface: nothing is sent)', () => {
  const noInterfaces = (): NodeJS.Dict<NetworkInterfaceInfo[]> => ({ lo: [info('127.0.0.1', '255.0.0.0', true)] });

  // The deprecated `now` + `timers` and `queryBackoff.initial`/`max` must drive it exactly as `clock` and the Ms names do.
  const clocked = (clock: FakeClock): Partial<MdnsDiscoveryOptions> => ({ clock, queryBackoff: { initialMs: 1000, maxMs: 8000 } });
  const deprecated = (clock: FakeClock): Partial<MdnsDiscoveryOptions> => ({
    now: () => clock.now(),
    timers: clock,
    queryBackoff: { initial: 1000, max: 8000 },
  });
  it.each([
    ['clock', clocked],
    ['now and timers (deprecated)', deprecated],
  ])('re-arms the browse timer with the backoff, announces twice one second apart, and clears every timer on stop (%s)', async (_how, timing) => {
    const clock = new FakeClock();
    const discovery = mdnsDiscovery({
      identity: generateIdentity(),
      networkInterfaces: noInterfaces,
      ...timing(clock),
    });
    await discovery.start();
    expect(discovery.activeInterfaces()).toEqual([]);
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      expect(clock.pending).toBe(1);
      const [delay] = clock.pendingDelays() as [number];
      delays.push(delay);
      await clock.advance(delay);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000, 8000]);

    await discovery.announce({ port: 4040 });
    expect(clock.pendingDelays()).toEqual([1000, 8000]);
    await clock.advance(1000);
    // The second announcement was the last one.
    expect(clock.pendingDelays()).toEqual([7000]);

    await discovery.stop();
    expect(clock.pending).toBe(0);
    await discovery.stop();
  });
});

describe('mdnsDiscovery options', () => {
  const identity = generateIdentity();

  it('is named mdns and derives its names from the id', () => {
    const discovery = mdnsDiscovery({ identity });
    expect(discovery.name).toBe('mdns');
    expect(discovery.id.equals(identity.id)).toBe(true);
    expect(discovery.instanceName).toBe(`${identity.id.toString()}._peernet._tcp.local`);
    expect(discovery.hostname).toBe(`pn-${identity.id.toString().slice(0, 16)}.local`);
    expect(mdnsDiscovery({ id: identity.id.toString() }).id.equals(identity.id)).toBe(true);
    expect(mdnsDiscovery({ id: identity.id.toHex(), identity }).id.equals(identity.id)).toBe(true);
  });

  it('takes a host label with or without .local, lowercased', () => {
    expect(mdnsDiscovery({ identity, hostname: 'Kitchen-Node' }).hostname).toBe('kitchen-node.local');
    expect(mdnsDiscovery({ identity, hostname: 'kitchen.local' }).hostname).toBe('kitchen.local');
  });

  const bad: Array<[string, MdnsDiscoveryOptions]> = [
    ['no id', {}],
    ['a malformed id', { id: 'not-an-id' }],
    ['id and identity that differ', { identity, id: generateIdentity().id }],
    ['interfaces not an array', { identity, interfaces: '127.0.0.1' as never }],
    ['an empty interface entry', { identity, interfaces: [''] }],
    ['an IPv6 interface entry', { identity, interfaces: ['::1'] }],
    ['the unspecified address', { identity, interfaces: ['0.0.0.0'] }],
    ['a host name with a dot', { identity, hostname: 'a.b' }],
    ['a host name with an underscore', { identity, hostname: 'a_b' }],
    ['an empty host name', { identity, hostname: '' }],
    ['ttl 0', { identity, ttl: 0 }],
    ['ttl 1 (too short to be refreshed)', { identity, ttl: 1 }],
    ['ttl above 4500', { identity, ttl: 4501 }],
    ['a fractional ttl', { identity, ttl: 1.5 }],
    ['queryBackoff.initialMs 0', { identity, queryBackoff: { initialMs: 0 } }],
    ['queryBackoff.maxMs below initialMs', { identity, queryBackoff: { initialMs: 5000, maxMs: 1000 } }],
    ['queryBackoff.initial 0 (deprecated name)', { identity, queryBackoff: { initial: 0 } }],
    ['queryBackoff not an object', { identity, queryBackoff: 5 as never }],
    ['maxPeers 0', { identity, maxPeers: 0 }],
    ['timers without clearTimeout', { identity, timers: { setTimeout: () => 1 } as never }],
    ['now not a function', { identity, now: 5 as never }],
    ['a clock without clearTimeout', { identity, clock: { now: () => 0, setTimeout: () => 1 } as never }],
  ];
  it.each(bad)('refuses %s with InvalidArgumentError', (_what, options) => {
    let error: unknown;
    try {
      mdnsDiscovery(options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect((error as PeerNetError).code).toMatch(/^invalid_(argument|peer_id)$/);
  });

  it('names the option in its messages, nested ones by their path', () => {
    expect(() => mdnsDiscovery({ identity, ttl: 0 })).toThrow('mdnsDiscovery option ttl must be an integer from 2 to 4500, got 0');
    expect(() => mdnsDiscovery({ identity, queryBackoff: { initialMs: 5000, maxMs: 10 } })).toThrow(
      /^mdnsDiscovery option queryBackoff\.maxMs must be an integer from 5000 to/,
    );
    expect(() => mdnsDiscovery({ identity, interfaces: ['::1'] })).toThrow(/^mdnsDiscovery option interfaces\[0\] \(::1\) is an IPv6 address/);
  });

  it('announce() rejects a bad port without throwing', async () => {
    const discovery = mdnsDiscovery({ identity });
    for (const port of [0, 65536, 1.5, Number.NaN, '80' as never]) {
      const error = await rejection(discovery.announce({ port }));
      expect(error).toBeInstanceOf(InvalidArgumentError);
    }
  });

  it('start() fails for a restriction that matches no interface, leaving nothing open', async () => {
    const baseline = resourceSnapshot();
    const discovery = mdnsDiscovery({ identity, interfaces: ['127.0.0.1', 'no-such-if0'] });
    const error = await rejection(discovery.start());
    expect(error).toBeInstanceOf(InvalidArgumentError);
    expect(error.message).toContain('no-such-if0');
    expect(discovery.activeInterfaces()).toEqual([]);
    await discovery.stop();
    await waitUntil(() => resourcesAbove(baseline).length === 0, WAIT, 'no resources left');
  });

  const absent = '203.0.113.77';
  const machineHasAbsent = Object.values(networkInterfaces()).some((list) => (list ?? []).some((i) => i.address === absent));
  (machineHasAbsent ? it.skip : it)(
    'start() fails when the kernel has no such interface address (nothing is sent), closing every socket it opened',
    async () => {
      const baseline = resourceSnapshot();
      const fake = (): NodeJS.Dict<NetworkInterfaceInfo[]> => ({
        lo: [info('127.0.0.1', '255.0.0.0', true)],
        ghost0: [info(absent, '255.255.255.0')],
      });
      const discovery = mdnsDiscovery({ identity, interfaces: ['127.0.0.1', 'ghost0'], networkInterfaces: fake });
      const error = await rejection(discovery.start());
      expect(error).toBeInstanceOf(InvalidArgumentError);
      expect(error.message).toContain(`ghost0 (${absent})`);
      expect(discovery.activeInterfaces()).toEqual([]);
      await waitUntil(() => resourcesAbove(baseline).length === 0, WAIT, 'the sockets to be closed');
    },
  );
});

describe('resolveInterfaces', () => {
  it('defaults to the first IPv4 address of every non-internal interface', () => {
    const { found, missing } = resolveInterfaces(undefined, table);
    expect(found.map((f) => `${f.name} ${f.address}`)).toEqual(['eth0 10.1.0.5', 'wlan0 192.168.7.20']);
    expect(missing).toEqual([]);
  });

  it('takes addresses and names, in the order given, once per interface', () => {
    const { found, missing } = resolveInterfaces(['wlan0', '127.0.0.1', '10.1.0.6', 'eth0', 'lo', 'v6only', '10.9.9.9'], table);
    expect(found.map((f) => `${f.name} ${f.address} ${f.internal}`)).toEqual([
      'wlan0 192.168.7.20 false',
      'lo 127.0.0.1 true',
      'eth0 10.1.0.6 false',
    ]);
    expect(missing).toEqual(['v6only', '10.9.9.9']);
  });

  it('accepts the numeric family of older Node versions', () => {
    const old = (): NodeJS.Dict<NetworkInterfaceInfo[]> => ({ eth0: [{ ...info('10.2.0.1', '255.255.0.0'), family: 4 as never }] });
    expect(resolveInterfaces(undefined, old).found.map((f) => f.address)).toEqual(['10.2.0.1']);
  });
});

describe('the on-link rule over resolved interfaces', () => {
  const links = (extra: NodeJS.Dict<NetworkInterfaceInfo[]> = {}) =>
    resolveInterfaces(['eth0', 'lo', 'p2p', 'odd'], () => ({ ...table(), ...extra })).found;
  it('accepts addresses in the interface subnet only', () => {
    const [eth, lo] = links();
    if (eth === undefined || lo === undefined) throw new Error('the made-up table lost an interface');
    expect(inSubnet('10.1.0.200', eth)).toBe(true);
    expect(inSubnet('10.1.1.200', eth)).toBe(false);
    expect(inSubnet('127.5.6.7', lo)).toBe(true);
    expect(inSubnet('192.0.2.2', lo)).toBe(false);
    expect(inSubnet('::1', lo)).toBe(false);
    const host = links({ p2p: [info('200.1.1.1', '255.255.255.255')] })[2];
    if (host === undefined) throw new Error('the /32 interface was not resolved');
    expect(host.address).toBe('200.1.1.1');
    expect(inSubnet('255.255.255.255', host)).toBe(false);
    expect(inSubnet('200.1.1.1', host)).toBe(true);
  });

  it('leaves out an interface address whose netmask does not parse', () => {
    expect(links({ odd: [info('10.7.0.7', 'garbage')] }).map((f) => f.name)).toEqual(['eth0', 'lo']);
  });
});
