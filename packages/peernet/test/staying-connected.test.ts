import { EventEmitter, once } from 'node:events';
import { connect as tcpConnect } from 'node:net';
import { generateIdentity } from '@peernet/identity';
import { createHandshake } from '@peernet/noise';
import { encodeFrame, NoiseFrameDecoder } from '@peernet/frame';
import { PROLOGUE, encodeHandshakePayload } from '@peernet/connection';
import { PeerId, type DiscoveredPeer, type Discovery } from 'peernet';
import { cleanup, connected, nextEvent, startNode, tempDir } from './helpers.js';

afterEach(cleanup);

/** A discovery fed from a fixed list, as an application might from a config file. */
class StaticDiscovery extends EventEmitter implements Discovery {
  readonly name = 'static';
  constructor(private readonly peers: DiscoveredPeer[]) {
    super();
  }
  async start(): Promise<void> {}
  /** Reports the list (an application would do this after reading its file). */
  publish(): void {
    for (const peer of this.peers) this.emit('peer', peer);
  }
  async stop(): Promise<void> {}
  async announce(): Promise<void> {}
}

describe('staying connected', () => {
  it('reconnects by itself when the peer restarts on the same address', async () => {
    const bDir = await tempDir();
    const a = await startNode({ reconnect: { initialMs: 50, maxMs: 200 } });
    const b = await startNode({ dataDir: bDir });
    await connected(a, b);
    const port = b.port;
    const offline = nextEvent(a, 'peer:offline');
    await b.stop();
    await offline;
    expect(a.listPeers()[0]?.status).not.toBe('online');
    const online = nextEvent(a, 'peer:online');
    const b2 = await startNode({ dataDir: bDir, port });
    b2.expose('hi', () => 'again');
    const [peer] = await online;
    expect(peer.equals(b2.id)).toBe(true);
    await expect(a.call(b2.id, 'hi')).resolves.toBe('again');
  });

  it('connects through a custom discovery without any connect() call', async () => {
    const aDir = await tempDir();
    const bDir = await tempDir();
    const b0 = await startNode({ dataDir: bDir });
    const bId = b0.id;
    const bPort = b0.port;
    await b0.stop();
    const a0 = await startNode({ dataDir: aDir });
    const aId = a0.id;
    await a0.pair(bId);
    await a0.stop();
    const b = await startNode({ dataDir: bDir, port: bPort, discovery: [] });
    await b.pair(aId);
    const list = new StaticDiscovery([{ id: bId, addresses: [{ host: '127.0.0.1', port: bPort }] }]);
    const a = await startNode({ dataDir: aDir, discovery: [list] });
    const discoveredEvent = nextEvent(a, 'peer:discovered');
    const onlineEvent = nextEvent(a, 'peer:online');
    list.publish();
    const discovered = await discoveredEvent;
    expect(discovered[0]).toMatchObject({ trusted: true, source: 'static' });
    await onlineEvent;
    expect(a.listPeers()[0]).toMatchObject({ status: 'online', addresses: [{ host: '127.0.0.1', port: bPort }] });
  });

  it('lists an untrusted discovered peer but never dials it', async () => {
    const stranger = await startNode();
    let accepted = 0;
    stranger.on('peer:online', () => accepted++);
    const list = new StaticDiscovery([{ id: stranger.id, addresses: [{ host: '127.0.0.1', port: stranger.port }] }]);
    const a = await startNode({ discovery: [list] });
    const seenEvent = nextEvent(a, 'peer:discovered');
    list.publish();
    const [seen] = await seenEvent;
    expect(a.listPeers()).toEqual([]);
    expect(seen).toMatchObject({ trusted: false });
    // Pairing later makes it dialable: proof that the registry kept it but did not dial before.
    await stranger.pair(a.id);
    const online = nextEvent(a, 'peer:online');
    await a.pair(stranger.id);
    await online;
    expect(accepted).toBe(1);
  });

  it('closes a session whose peer stops answering pings, then reports it offline', async () => {
    const a = await startNode({ liveness: { intervalMs: 50, timeoutMs: 300 } });
    // A hand-driven peer: completes the handshake, then never reads or answers again.
    const mute = generateIdentity();
    await a.pair(mute.id);
    const socket = tcpConnect(a.port, '127.0.0.1');
    await once(socket, 'connect');
    const hs = createHandshake({ initiator: true, prologue: PROLOGUE, staticKeyPair: mute.noiseKeyPair() });
    socket.write(encodeFrame(hs.writeMessage(new Uint8Array(0))));
    const [m2] = new NoiseFrameDecoder().push((await once(socket, 'data'))[0] as Uint8Array);
    hs.readMessage(m2 as Uint8Array);
    const online = nextEvent(a, 'peer:online');
    socket.write(encodeFrame(hs.writeMessage(encodeHandshakePayload({ identityKey: mute.id.bytes, extensions: new Uint8Array(0) }))));
    await online;
    socket.pause();
    const [peer, reason] = await nextEvent(a, 'peer:offline', 5000);
    expect(peer.equals(mute.id)).toBe(true);
    expect(reason).toMatchObject({ code: 'timeout', message: expect.stringMatching(/no pong/) });
    socket.destroy();
  });

  it('keeps a healthy session alive across many heartbeats', async () => {
    const a = await startNode({ liveness: { intervalMs: 20, timeoutMs: 200 } });
    const b = await startNode({ liveness: { intervalMs: 20, timeoutMs: 200 } });
    await connected(a, b);
    let offline = 0;
    a.on('peer:offline', () => offline++);
    b.expose('n', (x) => x);
    // Keep calling for well over ten heartbeat intervals: the session must survive throughout.
    const until = performance.now() + 400;
    for (let i = 0; performance.now() < until; i++) await expect(a.call(b.id, 'n', i)).resolves.toBe(i);
    expect(offline).toBe(0);
    expect(a.isConnected(b.id)).toBe(true);
  });
});

export type { PeerId };
