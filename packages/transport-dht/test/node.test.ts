import { EventEmitter } from 'node:events';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { DIAGNOSTICS_CHANNELS, type DiscoveredPeer, type Discovery, type PeerId, type TransportFactory } from '@peernet/interface';
import { dht } from '@peernet/transport-dht';
import { rejection, resourceSnapshot, resourcesAbove, waitUntil } from '@peernet/compliance';
import { describeInNetns, dhtNodes, localDht } from './helpers.js';

jest.setTimeout(90_000);

/** A discovery the test drives: it reports what the test tells it to. */
class HandDiscovery extends EventEmitter implements Discovery {
  readonly name = 'hand';
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async announce(): Promise<void> {}
  report(peer: DiscoveredPeer): void {
    this.emit('peer', peer);
  }
}

describeInNetns('a node with the dht transport', () => {
  let network: Awaited<ReturnType<typeof localDht>>;
  const kit = dhtNodes(() => network.bootstrap);
  const { start, pairBoth } = kit;

  beforeAll(async () => {
    network = await localDht();
  });
  afterEach(() => kit.stopAll());
  afterAll(async () => {
    await network.destroy();
    kit.removeDirs();
  });

  it('reaches a paired peer by id alone, with no address known, and calls it', async () => {
    const a = await start();
    const b = await start();
    b.expose('whoami', (_args, { peer }) => peer.toString());
    expect(a.addresses).toContainEqual({ transport: 'dht', host: a.id.toString(), port: 0 });
    await pairBoth(a, b);
    await a.waitForPeer(b.id, { timeoutMs: 20_000 });
    await expect(a.call(b.id, 'whoami')).resolves.toBe(a.id.toString());
    const row = a.listPeers().find((p) => p.id.equals(b.id));
    expect(row).toMatchObject({ status: 'online', transport: 'dht' });
    expect(row?.addresses).toContainEqual({ transport: 'dht', host: b.id.toString(), port: 0 });
  });

  it('a stranger never gets a handshake: the firewall refuses its key, the node sees no handshake', async () => {
    const a = await start();
    const stranger = await start();
    await stranger.pair(a.id); // one-sided: a has not paired it
    const handshakes: unknown[] = [];
    const onRefused = (message: unknown) => handshakes.push(message);
    subscribe(DIAGNOSTICS_CHANNELS.handshakeRefused, onRefused);
    try {
      const refusedEvents: unknown[] = [];
      a.on('peer:refused', (r) => refusedEvents.push(r));
      const error = await rejection(stranger.waitForPeer(a.id, { timeoutMs: 8_000 }));
      expect(error).toMatchObject({ code: 'timeout' });
      // The only refusal on record is the DHT firewall's: no PeerNet handshake ran on either side.
      expect(handshakes.length).toBeGreaterThan(0);
      expect(handshakes.every((h) => (h as { reason: string }).reason === 'dht firewall: not paired')).toBe(true);
      expect(refusedEvents).toEqual([]);
      expect(a.isConnected(stranger.id)).toBe(false);
    } finally {
      unsubscribe(DIAGNOSTICS_CHANNELS.handshakeRefused, onRefused);
    }
  });

  it('moves a session from the dht to the LAN when the peer appears there, and calls keep working', async () => {
    const lan = new HandDiscovery();
    const a = await start({ discovery: [lan] });
    const b = await start();
    b.expose('echo', (args) => args);
    await pairBoth(a, b);
    await a.waitForPeer(b.id, { timeoutMs: 20_000 });
    expect(a.listPeers()[0]?.transport).toBe('dht');
    const replaced: unknown[] = [];
    const onReplaced = (m: unknown) => replaced.push(m);
    subscribe(DIAGNOSTICS_CHANNELS.sessionReplaced, onReplaced);
    const offline: PeerId[] = [];
    a.on('peer:offline', (p) => offline.push(p));
    try {
      lan.report({ id: b.id, addresses: [{ host: '127.0.0.1', port: b.port }], from: '127.0.0.1' });
      await waitUntil(() => a.listPeers()[0]?.transport === 'tcp', 10_000, 'the session to move to tcp');
      await waitUntil(() => b.listPeers()[0]?.transport === 'tcp', 10_000, "the peer's session to move to tcp");
      expect(replaced).toContainEqual({ peer: b.id.toString(), reason: 'better-transport' });
      await expect(a.call(b.id, 'echo', 'still here')).resolves.toBe('still here');
      expect(offline).toEqual([]);
    } finally {
      unsubscribe(DIAGNOSTICS_CHANNELS.sessionReplaced, onReplaced);
    }
  });

  it('with a LAN address known, the LAN wins: the session is on tcp and the dht is never dialled', async () => {
    const lan = new HandDiscovery();
    let dhtDials = 0;
    const counting: TransportFactory = (context) => {
      const transport = dht({ bootstrap: network.bootstrap })(context);
      const dial = transport.dial.bind(transport);
      transport.dial = (address, options) => {
        dhtDials++;
        return dial(address, options);
      };
      return transport;
    };
    const a = await start({ discovery: [lan], transports: [counting] });
    const b = await start();
    lan.report({ id: b.id, addresses: [{ host: '127.0.0.1', port: b.port }], from: '127.0.0.1' });
    await b.pair(a.id);
    await a.pair(b.id);
    await a.waitForPeer(b.id, { timeoutMs: 10_000 });
    expect(a.listPeers()[0]).toMatchObject({ status: 'online', transport: 'tcp' });
    // The dial round ended with the session (its stagger timer with it): no DHT dial can follow.
    expect(dhtDials).toBe(0);
    expect(a.listPeers()[0]?.addresses).toContainEqual({ transport: 'dht', host: b.id.toString(), port: 0 });
  });

  it('reconnects through the dht when the peer comes back', async () => {
    const a = await start({ reconnect: { initialMs: 100, maxMs: 500 } });
    const bDir = kit.newDir();
    let b = await start({ dataDir: bDir });
    await pairBoth(a, b);
    await a.waitForPeer(b.id, { timeoutMs: 20_000 });
    await b.stop();
    await waitUntil(() => !a.isConnected(b.id), 10_000, 'a to see b go');
    b = await start({ dataDir: bDir });
    b.expose('ping2', () => 'pong');
    await a.waitForPeer(b.id, { timeoutMs: 30_000 });
    await expect(a.call(b.id, 'ping2')).resolves.toBe('pong');
  });

  it('nodes restarted with their peers already paired find each other over the dht by themselves', async () => {
    const aDir = kit.newDir();
    const bDir = kit.newDir();
    const a = await start({ dataDir: aDir });
    const b = await start({ dataDir: bDir });
    await pairBoth(a, b);
    await a.waitForPeer(b.id, { timeoutMs: 20_000 });
    await kit.stopAll();
    const a2 = await start({ dataDir: aDir });
    const b2 = await start({ dataDir: bDir });
    // Nobody asks for a dial (waitForPeer would): the paired peers' DHT addresses alone bring the session up.
    await waitUntil(() => a2.isConnected(b2.id) && b2.isConnected(a2.id), 20_000, 'the restarted nodes to reconnect');
    expect(a2.listPeers()[0]?.transport).toBe('dht');
  });

  it('stop() releases the DHT node: no socket or timer is left', async () => {
    const baseline = resourceSnapshot();
    const a = await start();
    const b = await start();
    await pairBoth(a, b);
    await a.waitForPeer(b.id, { timeoutMs: 20_000 });
    await kit.stopAll();
    await waitUntil(() => resourcesAbove(baseline).length === 0, 10_000, `resources released (${resourcesAbove(baseline).join(', ')})`);
  });
});
