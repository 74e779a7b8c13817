import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PeerId, type PeerNet, type Value } from 'peernet';
import { cleanup, connected, nextEvent, startNode, tempDir } from './helpers.js';

afterEach(cleanup);

describe('PeerNet: two nodes on 127.0.0.1', () => {
  it('starts with an identity and trust list in dataDir, and prints its id as text', async () => {
    const dataDir = await tempDir();
    const node = await startNode({ dataDir });
    expect(`${node.id}`).toMatch(/^[a-z2-7]{52}$/);
    expect(node.port).toBeGreaterThan(0);
    expect((await stat(join(dataDir, 'identity.key'))).mode & 0o777).toBe(0o600);
    await node.pair(PeerId.fromBytes(new Uint8Array(32).fill(7)), { label: 'x' });
    expect(await readFile(join(dataDir, 'trust.json'), 'utf8')).toContain('"label": "x"');
    await node.stop();
    const again = await startNode({ dataDir });
    expect(again.id.equals(node.id)).toBe(true);
    expect(again.listPeers().map((p) => p.label)).toEqual(['x']);
  });

  it('pairs, connects, calls with every value type and sends', async () => {
    const a = await startNode();
    const b = await startNode();
    const got: Value[] = [];
    const sent = new Promise<void>((resolve) => b.expose('note', (args) => void (got.push(args), resolve())));
    b.expose('echo', (args, { peer }) => ({ args, from: peer.toString() }));
    const aOnline = nextEvent(a, 'peer:online');
    await connected(a, b);
    expect((await aOnline)[0].equals(b.id)).toBe(true);
    expect(a.isConnected(b.id) && b.isConnected(a.id.toString())).toBe(true);
    const value: Value = {
      nil: null,
      yes: true,
      no: false,
      int: -42,
      float: 3.25,
      big: 2n ** 70n,
      text: 'héllo 👋',
      bytes: Uint8Array.of(1, 2, 3),
      list: [1, [2, [3]]],
      map: { nested: { deep: 'x' } },
    };
    await expect(a.call(b.id, 'echo', value)).resolves.toEqual({ args: value, from: a.id.toString() });
    await a.send(b.id.toString(), 'note', 'hi');
    await sent;
    expect(got).toEqual(['hi']);
  });

  it('answers 1,000 concurrent calls with the right ids', async () => {
    const a = await startNode();
    const b = await startNode();
    b.expose('square', (n) => (n as number) ** 2);
    await connected(a, b);
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => a.call(b.id, 'square', i)));
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i * i));
  });

  it('is default-deny: unknown handles, authorize, unexpose', async () => {
    const a = await startNode();
    const b = await startNode();
    let ran = 0;
    b.expose('admin', () => void ran++, { authorize: (peer) => peer.equals(b.id) });
    b.expose('throwing-guard', () => void ran++, {
      authorize: () => {
        throw new Error('guard crashed');
      },
    });
    b.expose('open', () => 'ok');
    await connected(a, b);
    await expect(a.call(b.id, 'missing')).rejects.toMatchObject({ code: 'no_such_handle' });
    await expect(a.call(b.id, 'admin')).rejects.toMatchObject({ code: 'forbidden' });
    await expect(a.call(b.id, 'throwing-guard')).rejects.toMatchObject({ code: 'forbidden' });
    expect(ran).toBe(0);
    await expect(a.call(b.id, 'open')).resolves.toBe('ok');
    expect(b.unexpose('open')).toBe(true);
    await expect(a.call(b.id, 'open')).rejects.toMatchObject({ code: 'no_such_handle' });
  });

  it('rejects send and call at once with not_connected when there is no session', async () => {
    const a = await startNode();
    const stranger = PeerId.fromBytes(new Uint8Array(32).fill(1));
    await expect(a.call(stranger, 'x')).rejects.toMatchObject({ code: 'not_connected' });
    await expect(a.send(stranger, 'x')).rejects.toMatchObject({ code: 'not_connected' });
    expect(() => a.isConnected('not an id')).toThrow(expect.objectContaining({ code: 'invalid_peer_id' }));
  });

  it('refuses to pair its own id, and keeps its trust list as it was', async () => {
    const node = await startNode();
    await expect(node.pair(node.id)).rejects.toMatchObject({ code: 'invalid_argument', message: expect.stringContaining("this node's own id") });
    await expect(node.pair(node.id.toString())).rejects.toMatchObject({ code: 'invalid_argument' });
    expect(node.listPeers()).toEqual([]);
  });

  it('refuses to connect to a peer that is not paired, without dialling', async () => {
    const a = await startNode();
    const b = await startNode();
    await expect(a.connect(b.id, { host: '127.0.0.1', port: b.port })).rejects.toMatchObject({ code: 'untrusted_peer' });
  });

  it('fails with refused_by_peer when the other side has not paired us', async () => {
    const a = await startNode();
    const b = await startNode();
    let ran = 0;
    b.expose('x', () => void ran++);
    await a.pair(b.id);
    await expect(a.connect(b.id, { host: '127.0.0.1', port: b.port })).rejects.toMatchObject({
      code: 'refused_by_peer',
    });
    expect(a.isConnected(b.id) || b.isConnected(a.id)).toBe(false);
    expect(ran).toBe(0);
  });

  it('fails with peer_mismatch when the address belongs to someone else', async () => {
    const a = await startNode();
    const b = await startNode();
    const c = await startNode();
    await connected(a, b); // a trusts b
    await a.pair(c.id);
    await c.pair(a.id);
    await expect(a.connect(c.id, { host: '127.0.0.1', port: b.port })).rejects.toMatchObject({ code: 'peer_mismatch' });
  });

  it('unpair closes the live session at once, on either side', async () => {
    const a = await startNode();
    const b = await startNode();
    await connected(a, b);
    const bOffline = nextEvent(b, 'peer:offline');
    const aOffline = nextEvent(a, 'peer:offline');
    expect(await a.unpair(b.id)).toBe(true);
    expect(a.isConnected(b.id)).toBe(false);
    expect((await bOffline)[0].equals(a.id)).toBe(true);
    expect((await aOffline)[1]).toMatchObject({ code: 'untrusted_peer' });
    await expect(a.call(b.id, 'x')).rejects.toMatchObject({ code: 'not_connected' });
    expect(a.listPeers()).toEqual([]);
  });

  it('lists peers with their live status', async () => {
    const a = await startNode();
    const b = await startNode();
    await connected(a, b);
    expect(a.listPeers()).toEqual([expect.objectContaining({ label: 'b', status: 'online' })]);
    const offline = nextEvent(a, 'peer:offline');
    await b.stop();
    await offline;
    expect(a.listPeers()).toEqual([expect.objectContaining({ label: 'b', status: 'offline' })]);
  });

  it('keeps one session per peer when both dial at once, and both sides agree', async () => {
    const a = await startNode();
    const b = await startNode();
    await a.pair(b.id);
    await b.pair(a.id);
    let aOnline = 0;
    a.on('peer:online', () => aOnline++);
    await Promise.all([
      a.connect(b.id, { host: '127.0.0.1', port: b.port }),
      b.connect(a.id, { host: '127.0.0.1', port: a.port }),
    ]);
    expect(aOnline).toBe(1);
    b.expose('ping', () => 'pong');
    await expect(a.call(b.id, 'ping')).resolves.toBe('pong');
    await expect(a.call(b.id, 'ping')).resolves.toBe('pong');
  });

  it('stop() is idempotent, emits offline and leaves calls failing cleanly', async () => {
    const a = await startNode();
    const b = await startNode();
    b.expose('hang', () => new Promise(() => undefined));
    await connected(a, b);
    const pending = a.call(b.id, 'hang', null, { timeout: 60_000 });
    const offline = nextEvent(a, 'peer:offline');
    await Promise.all([b.stop(), b.stop()]);
    await expect(pending).rejects.toMatchObject({ code: 'connection_closed' });
    await offline;
    await expect(a.connect(b.id, { host: '127.0.0.1', port: b.port })).rejects.toMatchObject({
      code: 'not_connected',
    });
  });
});

describe('PeerNet.start argument checks', () => {
  it('needs a dataDir', async () => {
    const { PeerNet } = await import('peernet');
    await expect(PeerNet.start({} as never)).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  it('refuses an unknown discovery name', async () => {
    const dataDir = await tempDir();
    await expect(startNode({ dataDir, discovery: ['bluetooth' as never] })).rejects.toMatchObject({
      code: 'invalid_argument',
      message: expect.stringMatching(/unknown discovery "bluetooth"/),
    });
  });

  it('refuses a corrupt keyfile instead of making a new identity', async () => {
    const dataDir = await tempDir();
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dataDir, 'identity.key'), 'garbage', { mode: 0o600 });
    await expect(startNode({ dataDir })).rejects.toMatchObject({ code: 'invalid_keyfile' });
  });
});

export type { PeerNet };
