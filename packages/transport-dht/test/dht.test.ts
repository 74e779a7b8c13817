import { createHash } from 'node:crypto';
import { DIAGNOSTICS_CHANNELS, PeerId, type DuplexStream, type TransportAddress } from '@peernet/interface';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { dht, type DhtTransport } from '@peernet/transport-dht';
import { Reader, withTimeout } from '@peernet/compliance';
import { contextOf, describeInNetns, generateIdentity, localDht } from './helpers.js';
import { dhtKeyPairOf, rawConnect, rawNode } from './raw-dht.js';

jest.setTimeout(60_000);

describeInNetns('dht transport', () => {
  let network: Awaited<ReturnType<typeof localDht>>;
  const open: DhtTransport[] = [];
  const transport = (identity = generateIdentity(), paired = new Set<string>(), options = {}) => {
    const t = dht({ bootstrap: network.bootstrap, ...options })(contextOf(identity, paired)) as DhtTransport;
    open.push(t);
    return { t, identity, paired };
  };

  beforeAll(async () => {
    network = await localDht();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  afterAll(async () => {
    await network.destroy();
  });

  async function listening(server: ReturnType<typeof transport>) {
    const accepted: Array<{ stream: DuplexStream; remote: TransportAddress }> = [];
    const waiters: Array<() => void> = [];
    const listener = await server.t.listen({
      onStream: (stream, remote) => {
        accepted.push({ stream, remote });
        waiters.splice(0).forEach((w) => w());
      },
    });
    const next = async () => {
      if (accepted.length === 0) await withTimeout(new Promise<void>((r) => waiters.push(r)), 10_000, 'no inbound stream');
      return accepted.shift()!;
    };
    return { listener, next };
  }

  it('dials a listening node by its id alone and carries bytes both ways, then half-closes', async () => {
    const server = transport();
    const client = transport();
    server.paired.add(client.identity.id.toString());
    const { listener, next } = await listening(server);
    expect(listener.address).toEqual({ transport: 'dht', host: server.identity.id.toString(), port: 0 });
    expect(server.t.peerAddress!(server.identity.id)).toEqual(listener.address);
    const stream = await client.t.dial(listener.address);
    const { stream: inbound, remote } = await next();
    expect(remote).toEqual({ transport: 'dht', host: client.identity.id.toString(), port: 0 });
    const payload = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) & 0xff);
    const got = new Reader(inbound, { keep: true });
    const back = new Reader(stream, { keep: true });
    stream.write(payload);
    stream.end();
    await got.waitForEnd(10_000);
    expect(got.digest()).toBe(createHash('sha256').update(payload).digest('hex'));
    inbound.write(new TextEncoder().encode('after your end'));
    inbound.end();
    await back.waitForEnd(10_000);
    expect(back.text()).toBe('after your end');
    await listener.close();
  });

  it("refuses a stranger's key in the firewall: the dial fails and the listener never sees a stream", async () => {
    const server = transport();
    const stranger = transport();
    const refused: unknown[] = [];
    const onRefused = (message: unknown) => refused.push(message);
    subscribe(DIAGNOSTICS_CHANNELS.handshakeRefused, onRefused);
    try {
      const accepted: unknown[] = [];
      const listener = await server.t.listen({ onStream: (stream) => accepted.push(stream) });
      await expect(stranger.t.dial(listener.address)).rejects.toMatchObject({
        code: 'not_connected',
        message: expect.stringContaining('PEER_CONNECTION_FAILED (the peer did not accept: it may not have paired this node'),
      });
      expect(accepted).toEqual([]);
      expect(server.t.refusedCount).toBe(1);
      expect(refused).toContainEqual(expect.objectContaining({ peer: stranger.identity.id.toString(), code: 'untrusted_peer' }));
    } finally {
      unsubscribe(DIAGNOSTICS_CHANNELS.handshakeRefused, onRefused);
    }
  });

  it('a peer that is not on the DHT: not_connected at once, naming PEER_NOT_FOUND and what it means', async () => {
    const client = transport();
    const absent = generateIdentity();
    await expect(client.t.dial(client.t.peerAddress!(absent.id))).rejects.toMatchObject({
      code: 'not_connected',
      message: expect.stringContaining('PEER_NOT_FOUND (the peer is not listening on this DHT'),
    });
  });

  it('refuses what is not a dht address, our own id, and bad options with invalid_argument', async () => {
    const me = transport();
    await expect(me.t.dial({ host: '127.0.0.1', port: 1 })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(me.t.dial({ transport: 'dht', host: 'not-an-id', port: 0 })).rejects.toMatchObject({ code: 'invalid_argument' });
    await expect(me.t.dial(me.t.peerAddress!(me.identity.id))).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(() => dht({ bootstrap: [] })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
    expect(() => dht({ bootstrap: ['nohost'] })).toThrow(/'host:port'/);
    expect(() => dht({ relays: ['x'] })).toThrow(/relays\[0\] is not a peer id/);
    expect(() => dht({ relayMode: 'sometimes' as 'always' })).toThrow(expect.objectContaining({ code: 'invalid_argument' }));
  });

  it('a dial aborted before or while it runs rejects with aborted', async () => {
    const server = transport();
    const client = transport();
    server.paired.add(client.identity.id.toString());
    const { listener } = await listening(server);
    const controller = new AbortController();
    controller.abort();
    await expect(client.t.dial(listener.address, { signal: controller.signal })).rejects.toMatchObject({ code: 'aborted' });
    const late = new AbortController();
    const dialling = client.t.dial(listener.address, { signal: late.signal });
    late.abort();
    await expect(dialling).rejects.toMatchObject({ code: 'aborted' });
  });

  it('with no bootstrap node answering, listen still completes and a dial fails with PEER_NOT_FOUND', async () => {
    // Port 9 of loopback: nothing listens there inside the test's namespace.
    const lonely = dht({ bootstrap: ['127.0.0.1:9'] })(contextOf(generateIdentity(), new Set())) as DhtTransport;
    open.push(lonely);
    const started = Date.now();
    const listener = await lonely.listen({ onStream: () => undefined });
    const listenMs = Date.now() - started;
    await expect(lonely.dial(lonely.peerAddress!(generateIdentity().id))).rejects.toMatchObject({
      code: 'not_connected',
      message: expect.stringContaining('PEER_NOT_FOUND'),
    });
    await listener.close();
    process.stdout.write(`no bootstrap: listen took ${listenMs} ms\n`);
  });

  describe('flow control on the wire', () => {
    /** A paired raw HyperDHT client on `server`'s listener, and the stream the listener accepted for it. */
    async function rawPeer() {
      const server = transport();
      const client = generateIdentity();
      server.paired.add(client.id.toString());
      const { listener, next } = await listening(server);
      const raw = rawNode(network.bootstrap);
      const outcome = await rawConnect(raw, PeerId.parse(listener.address.host).bytes, dhtKeyPairOf(client), 20_000);
      if (!outcome.open) throw new Error(`not let in: ${outcome.code ?? outcome.message}`);
      const { stream } = await next();
      const failed = new Promise<Error>((resolve) => stream.on('error', resolve));
      return { socket: outcome.socket, stream, failed, close: () => raw.destroy({ force: true }) };
    }

    it('a paused reader holds the writer to one window (1 MiB) plus the buffers of one frame each side; resume lets all of it through', async () => {
      const server = transport();
      const client = transport();
      server.paired.add(client.identity.id.toString());
      const { listener, next } = await listening(server);
      const writer = await client.t.dial(listener.address);
      const { stream: reader } = await next();
      reader.pause();
      const got = new Reader(reader, { keep: false });
      const chunk = new Uint8Array(4096).fill(9);
      let written = 0;
      for (;;) {
        written += chunk.length;
        if (writer.write(chunk)) continue;
        // Held back for good, or only for a moment? A 'drain' within 1 s means it was let on.
        const drained = await withTimeout(new Promise<boolean>((r) => writer.once('drain', () => r(true))), 1_000, 'drain').catch(() => false);
        if (!drained) break;
        if (written > 8 * 1024 * 1024) break;
      }
      expect(written).toBeLessThanOrEqual(1024 * 1024 + 4 * 64 * 1024);
      expect(got.received).toBe(0);
      reader.resume();
      await got.waitForBytes(written, 10_000, 'every byte written');
      process.stdout.write(`flow control: the writer was held back after ${written} bytes\n`);
    });

    it('a peer that sends beyond the window it was given is cut off with protocol_error', async () => {
      const peer = await rawPeer();
      try {
        peer.stream.pause(); // a reader that takes nothing: the peer has the first window and no more
        const frame = Buffer.alloc(1 + 64 * 1024);
        for (let i = 0; i < 17; i++) peer.socket.write(frame); // 17 × 64 KiB > 1 MiB
        await expect(withTimeout(peer.failed, 10_000, 'the stream to fail')).resolves.toMatchObject({
          code: 'protocol_error',
          message: expect.stringContaining('beyond the credit it was given'),
        });
      } finally {
        await peer.close();
      }
    });

    it('an unknown frame type is a protocol_error', async () => {
      const peer = await rawPeer();
      try {
        peer.socket.write(Buffer.from([7, 1, 2, 3]));
        await expect(withTimeout(peer.failed, 10_000, 'the stream to fail')).resolves.toMatchObject({
          code: 'protocol_error',
          message: expect.stringContaining('an unknown frame (type 7, 4 bytes)'),
        });
      } finally {
        await peer.close();
      }
    });
  });
});
