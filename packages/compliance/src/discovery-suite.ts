import {
  type DiscoveredPeer,
  type Discovery,
  MAX_TIMER_MS,
  OptionsReader,
  type PeerId,
  type PeerNetError,
  isPeerId,
  isPeerNetError,
} from '@peernet/interface';
import { Waiters, resourceSnapshot, resourcesAbove, waitUntil, withTimeout } from './util.js';

/** The least the suite needs to know of an identity: its peer id. */
export interface DiscoverySuiteIdentity {
  readonly id: PeerId;
}

/** What the suite passes to `create`. */
export interface DiscoveryCreateOptions<I extends DiscoverySuiteIdentity = DiscoverySuiteIdentity> {
  /** A fresh identity from `newIdentity()`; the discovery announces it. */
  identity: I;
  /** 0, 1, 2, ...: the instance's number within the test. */
  index: number;
}

/** What `setup` hands the discovery suite for one test. */
export interface DiscoverySuiteContext<I extends DiscoverySuiteIdentity = DiscoverySuiteIdentity> {
  /** A new identity (a new key) for each instance the suite creates. */
  newIdentity(): I | Promise<I>;
  /**
   * A new, not yet started discovery for `options.identity`. All instances
   * created from one context must reach each other, and nothing else should
   * reach them: restrict them to loopback (or a namespace) here.
   */
  create(options: DiscoveryCreateOptions<I>): Discovery;
  /**
   * If given, at least one address of every discovered peer must have one of
   * these hosts (e.g. `['127.0.0.1']` on loopback).
   */
  expectedHosts?: readonly string[];
}

/** Options of `discoverySuite`. */
export interface DiscoverySuiteOptions<I extends DiscoverySuiteIdentity = DiscoverySuiteIdentity> {
  /** Runs before every test. */
  setup: () => Promise<DiscoverySuiteContext<I>>;
  /** Runs after every test, once the suite has stopped every instance it created. */
  teardown?: (context: DiscoverySuiteContext<I>) => Promise<void>;
  /**
   * Milliseconds to wait for any single event (a sighting, a loss, a stop)
   * before failing. Must cover the implementation's announcement interval:
   * an instance that starts after another may only see it at its next
   * periodic announcement. Default 5000.
   */
  timeoutMs?: number;
  /** @deprecated The old name of `timeoutMs`. */
  timeout?: number;
}

type Sighting = { kind: 'peer'; peer: DiscoveredPeer } | { kind: 'lost'; id: PeerId };

/** One discovery under test, with everything it reported. */
class Instance {
  readonly discovery: Discovery;
  readonly id: PeerId;
  readonly sightings: Sighting[] = [];
  readonly #waiters = new Waiters();
  readonly #timeout: number;

  constructor(discovery: Discovery, id: PeerId, timeout: number) {
    this.discovery = discovery;
    this.id = id;
    this.#timeout = timeout;
    discovery.on('peer', (peer) => this.#record({ kind: 'peer', peer }));
    discovery.on('peer:lost', (lostId) => this.#record({ kind: 'lost', id: lostId }));
  }

  /** Every `'peer'` event that named `id`. */
  peerEvents(id: PeerId): DiscoveredPeer[] {
    const out: DiscoveredPeer[] = [];
    for (const s of this.sightings) if (s.kind === 'peer' && sameId(s.peer.id, id)) out.push(s.peer);
    return out;
  }

  /** Number of `'peer:lost'` events that named `id`. */
  lostCount(id: PeerId): number {
    return this.sightings.filter((s) => s.kind === 'lost' && sameId(s.id, id)).length;
  }

  /** Waits for a `'peer'` event for `id`, after the first `skip` such events, that satisfies `accept`. */
  waitForPeer(
    id: PeerId,
    what: string,
    accept: (peer: DiscoveredPeer) => boolean = () => true,
    skip = 0,
  ): Promise<DiscoveredPeer> {
    const find = (): DiscoveredPeer | undefined => this.peerEvents(id).slice(skip).find(accept);
    return this.#until(find, what);
  }

  /** Waits for a `'peer:lost'` event for `id` (more than `already` of them). */
  waitForLost(id: PeerId, what: string, already = 0): Promise<true> {
    return this.#until(() => (this.lostCount(id) > already ? true : undefined), what);
  }

  #record(sighting: Sighting): void {
    this.sightings.push(sighting);
    this.#waiters.wake();
  }

  #until<T>(find: () => T | undefined, what: string): Promise<T> {
    return this.#waiters.until(find, this.#timeout, () => `${what} (saw: ${this.describe()})`);
  }


  describe(): string {
    if (this.sightings.length === 0) return 'nothing';
    return this.sightings
      .map((s) =>
        s.kind === 'peer'
          ? `peer ${short(s.peer.id)} ${JSON.stringify(s.peer.addresses)}`
          : `lost ${short(s.id)}`,
      )
      .join('; ');
  }
}

function sameId(a: unknown, b: PeerId): boolean {
  return isPeerId(a) && a.equals(b);
}

function short(id: unknown): string {
  return isPeerId(id) ? id.toString().slice(0, 8) : String(id);
}

function hasPort(port: number): (peer: DiscoveredPeer) => boolean {
  return (peer) => peer.addresses.some((address) => address.port === port);
}

/** Distinct announced ports for one test; they are only announced, never listened on. */
function announcedPorts(count: number): number[] {
  const base = 20000 + Math.floor(Math.random() * 20000);
  return Array.from({ length: count }, (_, i) => base + i);
}

/**
 * Declares a jest `describe` block of tests every `Discovery` must pass, on
 * real traffic between instances created by `setup`. Call it at the top
 * level of a test file; `setup` runs before each test.
 */
export function discoverySuite<I extends DiscoverySuiteIdentity>(
  name: string,
  options: DiscoverySuiteOptions<I>,
): void {
  const timeout = new OptionsReader('discoverySuite', options).integer('timeoutMs', {
    default: 5000,
    min: 1,
    max: MAX_TIMER_MS,
    alias: 'timeout',
  });
  const testTimeout = timeout * 6;

  describe(`${name}: Discovery compliance`, () => {
    let context: DiscoverySuiteContext<I> | undefined;
    let instances: Instance[] = [];
    let baseline = new Map<string, number>();

    const ctx = (): DiscoverySuiteContext<I> => {
      if (context === undefined) throw new Error('setup() did not complete');
      return context;
    };

    /** A new instance with a fresh identity; stopped by the suite after the test. */
    const create = async (): Promise<Instance> => {
      const identity = await ctx().newIdentity();
      if (!isPeerId(identity?.id)) throw new Error('newIdentity() must return an object with a PeerId `id`');
      const discovery = ctx().create({ identity, index: instances.length });
      const instance = new Instance(discovery, identity.id, timeout);
      instances.push(instance);
      return instance;
    };

    const start = (instance: Instance): Promise<void> =>
      withTimeout(instance.discovery.start(), timeout, `start() of instance ${short(instance.id)}`);
    const stop = (instance: Instance): Promise<void> =>
      withTimeout(instance.discovery.stop(), timeout, `stop() of instance ${short(instance.id)}`);
    const announce = (instance: Instance, port: number): Promise<void> =>
      withTimeout(instance.discovery.announce({ port }), timeout, `announce({ port: ${port} })`);

    /** Creates one instance per port, then has each announce its port and start, in order. */
    const startAnnouncing = async (ports: readonly number[]): Promise<Instance[]> => {
      const all: Instance[] = [];
      for (let i = 0; i < ports.length; i++) all.push(await create());
      for (const [i, instance] of all.entries()) {
        await announce(instance, ports[i] as number);
        await start(instance);
      }
      return all;
    };

    /** Checks the shape of a `'peer'` event and the hosts, if the setup named them. */
    const checkPeer = (peer: DiscoveredPeer, id: PeerId, port: number): void => {
      expect(isPeerId(peer.id)).toBe(true);
      expect(peer.id.equals(id)).toBe(true);
      expect(Array.isArray(peer.addresses)).toBe(true);
      expect(peer.addresses.length).toBeGreaterThan(0);
      for (const address of peer.addresses) {
        expect(typeof address.host === 'string' && address.host.length > 0).toBe(true);
        expect(Number.isInteger(address.port) && address.port >= 1 && address.port <= 65535).toBe(true);
      }
      expect(peer.addresses.some((address) => address.port === port)).toBe(true);
      const hosts = ctx().expectedHosts;
      if (hosts !== undefined) {
        const seen = peer.addresses.map((address) => address.host);
        if (!seen.some((host) => hosts.includes(host))) {
          throw new Error(`peer ${short(id)} has addresses ${JSON.stringify(seen)}, none of ${JSON.stringify(hosts)}`);
        }
      }
    };

    beforeEach(async () => {
      baseline = resourceSnapshot();
      instances = [];
      context = await options.setup();
    }, testTimeout);

    afterEach(async () => {
      const problems: string[] = [];
      for (const instance of instances) {
        try {
          await stop(instance);
        } catch (error) {
          problems.push(String(error));
        }
      }
      if (context !== undefined) await options.teardown?.(context);
      context = undefined;
      instances = [];
      try {
        await waitUntil(() => resourcesAbove(baseline).length === 0, timeout, 'resources to be released');
      } catch {
        problems.push(`left open after stop(): ${resourcesAbove(baseline).join(', ')}`);
      }
      if (problems.length > 0) throw new Error(problems.join('\n'));
    }, testTimeout);

    it('has a name', async () => {
      const { discovery } = await create();
      expect(typeof discovery.name).toBe('string');
      expect(discovery.name.length).toBeGreaterThan(0);
    });

    it('two instances find each other with the right id and the announced port', async () => {
      const [portA, portB] = announcedPorts(2) as [number, number];
      const a = await create();
      const b = await create();
      // One announces before start(), the other after: both orders must work.
      await announce(a, portA);
      await start(a);
      await start(b);
      await announce(b, portB);
      const bAtA = await a.waitForPeer(b.id, 'instance A to see B', hasPort(portB));
      const aAtB = await b.waitForPeer(a.id, 'instance B to see A', hasPort(portA));
      checkPeer(bAtA, b.id, portB);
      checkPeer(aAtB, a.id, portA);
    }, testTimeout);

    it('three instances each find the other two and never report themselves', async () => {
      const ports = announcedPorts(3);
      const all = await startAnnouncing(ports);
      for (const [i, observer] of all.entries()) {
        for (const [j, other] of all.entries()) {
          if (i === j) continue;
          const port = ports[j] as number;
          const peer = await observer.waitForPeer(other.id, `instance ${i} to see instance ${j}`, hasPort(port));
          checkPeer(peer, other.id, port);
        }
      }
      for (const instance of all) {
        expect(instance.peerEvents(instance.id)).toEqual([]);
        expect(instance.lostCount(instance.id)).toBe(0);
      }
    }, testTimeout);

    it("stop() says goodbye: the others report 'peer:lost' with its id", async () => {
      const ports = announcedPorts(3);
      const all = await startAnnouncing(ports);
      const [leaver, ...stayers] = all as [Instance, Instance, Instance];
      for (const stayer of stayers) await stayer.waitForPeer(leaver.id, 'a sighting of the instance that will stop');
      await stop(leaver);
      for (const stayer of stayers) {
        await stayer.waitForLost(leaver.id, "'peer:lost' for the stopped instance");
        expect(stayer.lostCount(leaver.id)).toBe(1);
      }
      // The stayers still know each other: a goodbye concerns its sender only.
      const [x, y] = stayers as [Instance, Instance];
      expect(x.lostCount(y.id)).toBe(0);
      expect(y.lostCount(x.id)).toBe(0);
    }, testTimeout);

    it('stop() is idempotent: before start(), concurrent and repeated calls all resolve', async () => {
      const a = await create();
      await stop(a);
      await announce(a, announcedPorts(1)[0] as number);
      await start(a);
      await withTimeout(Promise.all([a.discovery.stop(), a.discovery.stop()]), timeout, 'two concurrent stop() calls');
      await stop(a);
      await waitUntil(() => resourcesAbove(baseline).length === 0, timeout, 'resources to be released after stop()');
    }, testTimeout);

    it('start() twice is harmless, and stop() right after start() leaves nothing open', async () => {
      const a = await create();
      await announce(a, announcedPorts(1)[0] as number);
      const twice = Promise.all([a.discovery.start(), a.discovery.start()]);
      await withTimeout(twice, timeout, 'two concurrent start() calls');
      await start(a);
      await stop(a);
      const b = await create();
      await announce(b, announcedPorts(1)[0] as number);
      const starting = b.discovery.start();
      await withTimeout(Promise.all([starting, b.discovery.stop()]), timeout, 'start() and stop() called together');
      await waitUntil(() => resourcesAbove(baseline).length === 0, timeout, 'resources to be released after stop()');
    }, testTimeout);

    it('a stopped instance can start again and is found again', async () => {
      const [portA, portB] = announcedPorts(2) as [number, number];
      const a = await create();
      const b = await create();
      await announce(a, portA);
      await announce(b, portB);
      await start(a);
      await start(b);
      await a.waitForPeer(b.id, 'A to see B');
      await b.waitForPeer(a.id, 'B to see A');
      await stop(a);
      await b.waitForLost(a.id, "'peer:lost' for A at B");
      const before = b.peerEvents(a.id).length;
      // The announced port is remembered across stop() and start().
      await start(a);
      const again = await b.waitForPeer(a.id, 'B to see A again after its restart', hasPort(portA), before);
      checkPeer(again, a.id, portA);
      await a.waitForPeer(b.id, 'the restarted A to see B', hasPort(portB), a.peerEvents(b.id).length);
    }, testTimeout);

    it("announce() with a new port is reported again with the new port", async () => {
      const [portA, portB, newPortA] = announcedPorts(3) as [number, number, number];
      const a = await create();
      const b = await create();
      await announce(a, portA);
      await announce(b, portB);
      await start(a);
      await start(b);
      await b.waitForPeer(a.id, 'B to see A', hasPort(portA));
      await announce(a, newPortA);
      const moved = await b.waitForPeer(a.id, 'B to see A with its new port', hasPort(newPortA));
      checkPeer(moved, a.id, newPortA);
    }, testTimeout);

    it('announce() rejects an invalid port with invalid_argument and does not throw', async () => {
      const a = await create();
      for (const port of [0, -1, 65536, 1.5, Number.NaN]) {
        let call: Promise<void> | undefined;
        expect(() => {
          call = a.discovery.announce({ port });
        }).not.toThrow();
        const outcome = await withTimeout(
          (call as Promise<void>).then(
            () => undefined,
            (error: unknown) => error,
          ),
          timeout,
          `announce({ port: ${port} })`,
        );
        if (outcome === undefined) throw new Error(`announce({ port: ${port} }) resolved instead of rejecting`);
        expect(isPeerNetError(outcome)).toBe(true);
        expect((outcome as PeerNetError).code).toBe('invalid_argument');
      }
    }, testTimeout);

    it('off() removes a listener', async () => {
      const [portA, portB] = announcedPorts(2) as [number, number];
      const a = await create();
      const b = await create();
      const removed: DiscoveredPeer[] = [];
      const listener = (peer: DiscoveredPeer): void => {
        removed.push(peer);
      };
      a.discovery.on('peer', listener);
      a.discovery.off('peer', listener);
      await announce(a, portA);
      await announce(b, portB);
      await start(a);
      await start(b);
      // The suite's own listener is still attached and sees B; the removed one must not have.
      await a.waitForPeer(b.id, 'A to see B');
      expect(removed).toEqual([]);
    }, testTimeout);
  });
}
