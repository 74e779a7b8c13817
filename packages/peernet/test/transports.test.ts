// The `transports` option: more than one transport on a node, factories that
// get the node's id, key pair and trust decision, and addresses tagged by the
// transport that dials them. The DHT itself is tested in @peernet/transport-dht.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { MEMORY_HOST, memoryNetwork, memoryTransport, waitUntil } from '@peernet/compliance';
import { PeerId, type Discovery, type Transport, type TransportContext } from '@peernet/interface';
import { PeerNet, type PeerNetOptions } from 'peernet';

const dirs: string[] = [];
const dataDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'pn-transports-'));
  dirs.push(dir);
  return dir;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A discovery the test drives. */
class HandDiscovery extends EventEmitter implements Discovery {
  readonly name = 'hand';
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  async announce(): Promise<void> {}
}

/** A memory transport under another name, so a node can hold it next to another. */
function named(name: string, transport: Transport, extra: Partial<Transport> = {}): Transport {
  return {
    name,
    dial: (address, options) => transport.dial({ host: address.host, port: address.port }, options),
    listen: async (options) => {
      const listener = await transport.listen(options);
      return { address: { transport: name, ...listener.address }, close: () => listener.close() };
    },
    ...extra,
  };
}

/**
 * Two nodes on one memory network, each with the default transport and a
 * fallback one named 'far'; the second finds peers through `lan`.
 */
function fallbackPair(lan: HandDiscovery, far: Partial<Transport>, options: Partial<PeerNetOptions> = {}): Promise<[PeerNet, PeerNet]> {
  const network = memoryNetwork();
  const start = (discovery: Discovery[]) =>
    PeerNet.start({
      dataDir: dataDir(),
      discovery,
      networkMonitor: false,
      host: MEMORY_HOST,
      ...options,
      transport: memoryTransport({ network }),
      transports: [named('far', memoryTransport({ network }), { fallback: true, ...far })],
    });
  return Promise.all([start([]), start([lan])]);
}

describe('PeerNet.start({ transports })', () => {
  it('refuses what is not a transport or a factory, and two transports of one name', async () => {
    await expect(PeerNet.start({ dataDir: dataDir(), transports: 'dht' as never })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringContaining('transports must be an array'),
    });
    await expect(PeerNet.start({ dataDir: dataDir(), transports: [42 as never] })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringContaining('[0] is 42'),
    });
    const network = memoryNetwork();
    await expect(
      PeerNet.start({ dataDir: dataDir(), host: MEMORY_HOST, transport: memoryTransport({ network }), transports: [memoryTransport({ network })] }),
    ).rejects.toMatchObject({ code: 'invalid_argument', message: expect.stringContaining("two transports are named 'memory'") });
  });

  it("a factory gets the node's id, its key pair and its trust decision; the node listens on every transport", async () => {
    const network = memoryNetwork();
    let context: TransportContext | undefined;
    const node = await PeerNet.start({
      dataDir: dataDir(),
      discovery: [],
      networkMonitor: false,
      host: MEMORY_HOST,
      transport: memoryTransport({ network }),
      transports: [
        (ctx) => {
          context = ctx;
          return named('second', memoryTransport({ network }));
        },
      ],
    });
    try {
      expect(context?.id.equals(node.id)).toBe(true);
      expect(PeerId.fromBytes(context!.keyPair.publicKey).equals(node.id)).toBe(true);
      expect(context!.keyPair.secretKey.subarray(32)).toEqual(node.id.bytes);
      const other = PeerId.fromBytes(new Uint8Array(32).fill(7));
      expect(context!.isPaired(other)).toBe(false);
      await node.pair(other);
      expect(context!.isPaired(other)).toBe(true);
      expect(node.addresses).toHaveLength(2);
      expect(node.addresses[1]).toMatchObject({ transport: 'second' });
      expect(node.address).toEqual(node.addresses[0]);
    } finally {
      await node.stop();
    }
  });

  it('dials a tagged address on the transport its tag names, and refuses an unknown tag', async () => {
    const network = memoryNetwork();
    const start = () =>
      PeerNet.start({
        dataDir: dataDir(),
        discovery: [],
        networkMonitor: false,
        host: MEMORY_HOST,
        transport: memoryTransport({ network }),
        transports: [named('second', memoryTransport({ network }))],
      });
    const [a, b] = await Promise.all([start(), start()]);
    try {
      await a.pair(b.id);
      await b.pair(a.id);
      b.expose('where', () => 'here');
      await expect(a.connect(b.id, { transport: 'nowhere', host: 'memory', port: 1 })).rejects.toMatchObject({
        code: 'invalid_argument',
        message: "no transport named 'nowhere' on this node",
      });
      await a.connect(b.id, b.addresses[1]!);
      expect(a.listPeers()[0]).toMatchObject({ status: 'online', transport: 'second' });
      expect(a.listPeers()[0]?.addresses).toContainEqual(b.addresses[1]);
      await expect(a.call(b.id, 'where')).resolves.toBe('here');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('a session on a fallback transport gives way to one on the default, on both sides, and stop() closes every transport', async () => {
    let closed = 0;
    const lan = new HandDiscovery();
    const [a, b] = await fallbackPair(lan, { close: async () => void closed++ });
    try {
      await a.pair(b.id);
      await b.pair(a.id);
      b.expose('echo', (x) => x);
      await a.connect(b.id, b.addresses[1]!);
      expect(a.listPeers()[0]?.transport).toBe('far');
      expect(b.listPeers()[0]?.transport).toBe('far');
      const offline: unknown[] = [];
      a.on('peer:offline', (p) => offline.push(p));
      // b (which did not dial the far session) finds a on the default transport and moves there; a follows.
      lan.emit('peer', { id: a.id, addresses: [a.addresses[0]!], from: 'memory' });
      await waitUntil(() => b.listPeers()[0]?.transport === 'memory', 5_000, "b's session on the default transport");
      await waitUntil(() => a.listPeers()[0]?.transport === 'memory', 5_000, "a's session on the default transport");
      await expect(a.call(b.id, 'echo', 1)).resolves.toBe(1);
      expect(offline).toEqual([]);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
    expect(closed).toBe(2);
  });

  it('a byte stream on a session that gives way keeps running past the call timeout (its session is retired only once it ends)', async () => {
    const lan = new HandDiscovery();
    const [a, b] = await fallbackPair(lan, {}, { callTimeoutMs: 200, liveness: false });
    try {
      await a.pair(b.id);
      await b.pair(a.id);
      b.exposeStream('echo', (stream) => void stream.pipe(stream));
      await a.connect(b.id, b.addresses[1]!);
      const stream = await a.openStream(b.id, 'echo');
      const echoed: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => echoed.push(chunk));
      const roundTrip = async (i: number): Promise<void> => {
        const before = echoed.length;
        stream.write(Buffer.from([i]));
        await waitUntil(() => echoed.length > before, 5_000, `echo ${i}`);
      };
      await roundTrip(0);
      lan.emit('peer', { id: a.id, addresses: [a.addresses[0]!], from: 'memory' });
      await waitUntil(() => a.listPeers()[0]?.transport === 'memory', 5_000, 'the session to move');
      // Round trips on the old session's stream for well past the retire deadline (call timeout + 1 s).
      const started = Date.now();
      let i = 1;
      while (Date.now() - started < 3_000) await roundTrip(i++ % 256);
      stream.end();
      await new Promise<void>((resolve) => stream.once('close', () => resolve()));
      expect(Buffer.concat(echoed).length).toBe(i);
      await expect(a.call(b.id, 'nothing').catch((e: { code: string }) => e.code)).resolves.toBe('no_such_handle');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});

