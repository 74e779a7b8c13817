// A peer reachable at two addresses, both dialled in parallel and both
// handshakes completed on the far side: one session survives on each node,
// and neither ever reports the other offline.
import { EventEmitter } from 'node:events';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { Waiters } from '@peernet/compliance';
import type { DiscoveredPeer, Discovery } from 'peernet';
import { cleanup, deferred, nextEvent, startNode } from './helpers.js';

afterEach(cleanup);

class StaticDiscovery extends EventEmitter implements Discovery {
  readonly name = 'static';
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async announce(): Promise<void> {}
  publish(peer: DiscoveredPeer): void {
    this.emit('peer', peer);
  }
}

/**
 * Two TCP relays in front of one node. Each holds the node's replies until
 * both relays have one, then lets them through together: the dialler gets
 * message 2 of both handshakes at once and completes both, so the node
 * behind sees two authenticated sessions from one initiator.
 */
async function gatedRelays(target: number) {
  const release = deferred();
  let replied = 0;
  const waiters = new Waiters();
  const log: string[] = [];
  const servers: Server[] = [];
  const sockets = new Set<Socket>();
  for (let i = 0; i < 2; i++) {
    const server = createServer((client) => {
      const upstream = tcpConnect(target, '127.0.0.1');
      sockets.add(client).add(upstream);
      let released = false;
      const held: Buffer[] = [];
      let first = true;
      upstream.on('data', (data: Buffer) => {
        if (released) client.write(data);
        else held.push(data);
        if (first) {
          first = false;
          if (++replied === 2) release.resolve();
        }
      });
      void release.promise.then(() => {
        released = true;
        for (const data of held.splice(0)) client.write(data);
      });
      client.on('data', (data: Buffer) => upstream.write(data));
      // Pass a hang-up on as a half-close, so the far side closes in its own time and we see when it did.
      client.on('end', () => upstream.end());
      client.on('close', () => {
        log.push(`client ${i} closed`);
        upstream.end();
        waiters.wake();
      });
      upstream.on('end', () => client.end());
      upstream.on('close', () => {
        log.push(`upstream ${i} closed`);
        client.destroy();
        waiters.wake();
      });
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
  }
  return {
    ports: servers.map((s) => (s.address() as { port: number }).port),
    log,
    /** Resolves once the node behind has closed one relayed connection. */
    oneClosed: () => waiters.until(() => log.find((l) => l.startsWith('upstream')), 5_000, 'a relayed session to close'),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    },
  };
}

describe('parallel dials of one peer', () => {
  it('both handshakes complete: one session survives, nothing goes offline, calls work both ways', async () => {
    const discovery = new StaticDiscovery();
    const a = await startNode({ discovery: [discovery], dialing: { staggerMs: 0 } });
    const b = await startNode();
    b.expose('echo', (args) => args);
    a.expose('echo', (args) => args);
    await a.pair(b.id);
    await b.pair(a.id);
    const relays = await gatedRelays(b.port);
    const events: string[] = [];
    for (const [name, node] of [['a', a], ['b', b]] as const) {
      node.on('peer:online', () => events.push(`${name} online`));
      node.on('peer:offline', (_peer, reason) => events.push(`${name} offline ${reason?.code}`));
    }
    const bOnline = nextEvent(b, 'peer:online');
    const aOnline = nextEvent(a, 'peer:online');
    discovery.publish({ id: b.id, addresses: relays.ports.map((port) => ({ host: '127.0.0.1', port })) });
    await Promise.all([aOnline, bOnline]);
    // The dialler keeps one and drops the other; the node behind follows.
    await relays.oneClosed();
    expect(await a.call(b.id, 'echo', 'from a')).toBe('from a');
    expect(await b.call(a.id, 'echo', 'from b')).toBe('from b');
    expect(events.sort()).toEqual(['a online', 'b online']);
    expect(relays.log.filter((l) => l.startsWith('upstream'))).toHaveLength(1);
    // The address that authenticated is listed first.
    expect(relays.ports).toContain(a.listPeers()[0]?.addresses[0]?.port);
    await relays.close();
  });
});
