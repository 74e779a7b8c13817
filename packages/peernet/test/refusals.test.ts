import { once } from 'node:events';
import { connect } from 'node:net';
import { FakeClock } from '@peernet/compliance';
import { PROLOGUE } from '@peernet/connection';
import { NoiseFrameDecoder, encodeFrame, encodeHandshakePayload } from '@peernet/frame';
import { generateIdentity, type Identity } from '@peernet/identity';
import { createHandshake } from '@peernet/noise';
import { PeerId, type PeerNet, type PeerNetOptions, type RefusedPeer } from 'peernet';
import { RefusalNotices } from '../src/refusals.js';
import { cleanup, nextEvent, rejection, startNode } from './helpers.js';

afterEach(cleanup);

/** Every `peer:refused` the node emits, in order. */
function refusalsOf(node: PeerNet): RefusedPeer[] {
  const seen: RefusedPeer[] = [];
  node.on('peer:refused', (info) => void seen.push(info));
  return seen;
}

/** `a` has paired `b`; `b` has not paired `a`. */
async function oneSided(options: Partial<PeerNetOptions> = {}): Promise<{ a: PeerNet; b: PeerNet; at: { host: string; port: number } }> {
  const a = await startNode(options);
  const b = await startNode();
  await a.pair(b.id, { label: 'b' });
  return { a, b, at: { host: '127.0.0.1', port: b.port } };
}

describe('one-sided pairing: the dialler is told at once', () => {
  it('connect() rejects with refused_by_peer within a few hundred ms, naming both ids', async () => {
    const { a, b, at } = await oneSided();
    const started = Date.now();
    const error = await rejection(a.connect(b.id, at));
    // Far below the 5 s call timeout and the 10 s handshake timeout that a silent refusal used to cost.
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(error).toMatchObject({ code: 'refused_by_peer', name: 'RefusedByPeerError' });
    expect(error.message).toContain(b.id.toString());
    expect(error.message).toContain(a.id.toString());
    expect(a.isConnected(b.id) || b.isConnected(a.id)).toBe(false);
  });

  it('call and send then reject at once with refused_by_peer instead of not_connected', async () => {
    const { a, b, at } = await oneSided();
    let ran = 0;
    b.expose('echo', (x) => {
      ran++;
      return x;
    });
    await expect(a.call(b.id, 'echo', 1)).rejects.toMatchObject({ code: 'not_connected' }); // nothing known yet
    await rejection(a.connect(b.id, at));
    const started = Date.now();
    const called = await rejection(a.call(b.id, 'echo', 1));
    const sent = await rejection(a.send(b.id, 'echo', 1));
    expect(Date.now() - started).toBeLessThan(500);
    expect(called).toMatchObject({ code: 'refused_by_peer', message: expect.stringContaining(a.id.toString()) });
    expect(sent).toMatchObject({ code: 'refused_by_peer' });
    expect(ran).toBe(0);
  });

  it('waitForPeer rejects with refused_by_peer, whether the refusal comes during the wait or before it', async () => {
    const { a, b, at } = await oneSided();
    const during = a.waitForPeer(b.id, { timeoutMs: 10_000 });
    const started = Date.now();
    await rejection(a.connect(b.id, at));
    expect(await rejection(during)).toMatchObject({ code: 'refused_by_peer' });
    // Asked again later, the node dials again (the peer may have paired us since) and is refused again.
    expect(await rejection(a.waitForPeer(b.id, { timeoutMs: 10_000 }))).toMatchObject({ code: 'refused_by_peer' });
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('once the refusing side pairs, waitForPeer dials again at once and resolves, and calls go through', async () => {
    // a's own redial would come a minute later: only the dial waitForPeer asks for can bring the session up in time.
    const { a, b, at } = await oneSided({ reconnect: { initialMs: 60_000, maxMs: 60_000 } });
    b.expose('echo', (x) => x);
    await rejection(a.connect(b.id, at));
    await b.pair(a.id, { label: 'a' });
    await a.waitForPeer(b.id, { timeoutMs: 5_000 });
    expect(a.isConnected(b.id)).toBe(true);
    await expect(a.call(b.id, 'echo', 'in')).resolves.toBe('in');
  });
});

describe('one-sided pairing: the refusing node says who knocked', () => {
  it('emits peer:refused with the stranger\'s proven id, its address and the reason', async () => {
    const { a, b, at } = await oneSided();
    const refused = nextEvent(b, 'peer:refused');
    await rejection(a.connect(b.id, at));
    const [info] = await refused;
    expect(info.peer.equals(a.id)).toBe(true);
    expect(info.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(info.reason).toBe('not paired');
  });

  it('reports each stranger once per minute however often it redials, and again after the minute', async () => {
    const clock = new FakeClock(1_000_000);
    const b = await startNode({ clock, liveness: false, networkMonitor: false });
    const a = await startNode();
    const c = await startNode();
    const seen = refusalsOf(b);
    await a.pair(b.id);
    await c.pair(b.id);
    const at = { host: '127.0.0.1', port: b.port };
    for (let i = 0; i < 8; i++) expect(await rejection(a.connect(b.id, at))).toMatchObject({ code: 'refused_by_peer' });
    await rejection(c.connect(b.id, at));
    await rejection(c.connect(b.id, at));
    expect(seen.map((info) => info.peer.toString())).toEqual([a.id.toString(), c.id.toString()]);

    // (a and c also redial by themselves, with backoff: those are refused and counted alike.)
    const reportsOf = (node: PeerNet): number => seen.filter((info) => info.peer.equals(node.id)).length;
    await clock.advance(59_999);
    await rejection(a.connect(b.id, at));
    expect(reportsOf(a)).toBe(1);
    await clock.advance(1);
    await rejection(a.connect(b.id, at));
    expect(reportsOf(a)).toBe(2);
  });

  it('keeps at most 1,024 ids, forgetting the one seen least recently', async () => {
    const clock = new FakeClock();
    const notices = new RefusalNotices({ clock });
    expect(notices.admit('first')).toBe(true);
    for (let i = 0; i < 1_023; i++) expect(notices.admit(`id-${i}`)).toBe(true);
    expect(notices.admit('first')).toBe(false); // seen again: now the most recent
    expect(notices.admit('one too many')).toBe(true);
    expect(notices.size).toBe(1_024);
    expect(notices.admit('first')).toBe(false); // kept: id-0 went instead
    expect(notices.admit('id-0')).toBe(true);
    await clock.advance(60_000);
    expect(notices.admit('first')).toBe(true);
  });
});

/**
 * A dialler driving the handshake by hand: message 1, message 2 read and
 * checked, message 3 sent with its own identity. Then it records every byte
 * the node sends until the node either confirms or closes.
 */
async function dialByHand(port: number, self: Identity, expected: PeerId) {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const hs = createHandshake({ initiator: true, prologue: PROLOGUE, staticKeyPair: self.noiseKeyPair() });
  const decoder = new NoiseFrameDecoder();
  const frames: Uint8Array[] = [];
  let ended = false;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Uint8Array) => {
    frames.push(...decoder.push(chunk));
    wake?.();
  });
  socket.on('end', () => (ended = true));
  const closed = once(socket, 'close');
  const nextFrame = async (): Promise<Uint8Array> => {
    while (frames.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    return frames.shift() as Uint8Array;
  };
  socket.write(encodeFrame(hs.writeMessage(new Uint8Array(0))));
  const payload = hs.readMessage(await nextFrame());
  // Message 2 proves the node's id: its payload carries the key the dialler expected.
  expect(PeerId.fromBytes(payload.subarray(1, 33)).equals(expected)).toBe(true);
  socket.write(encodeFrame(hs.writeMessage(encodeHandshakePayload({ identityKey: self.id.bytes, extensions: new Uint8Array(0) }))));
  const { receive } = hs.split();
  return {
    /** Resolves once the node has closed; what arrived after message 2, and how the stream ended. */
    async untilClosed() {
      await closed;
      return { framesAfterMessage2: frames.length, partialBytes: decoder.bufferedBytes, ended };
    },
    /** The first transport message, decrypted. */
    async confirmation() {
      const plaintext = receive.decrypt(await nextFrame());
      socket.destroy();
      return plaintext;
    },
  };
}

describe('what a refused dialler learns', () => {
  it('nothing after message 2: the node closes cleanly without a single transport message', async () => {
    const b = await startNode();
    const stranger = generateIdentity();
    const refused = nextEvent(b, 'peer:refused');
    const dial = await dialByHand(b.port, stranger, b.id);
    expect(await dial.untilClosed()).toEqual({ framesAfterMessage2: 0, partialBytes: 0, ended: true });
    expect((await refused)[0].peer.equals(stranger.id)).toBe(true);
  });

  it('a paired dialler gets the confirming transport message on the same path', async () => {
    const b = await startNode();
    const friend = generateIdentity();
    await b.pair(friend.id);
    const dial = await dialByHand(b.port, friend, b.id);
    expect(await dial.confirmation()).toEqual(new Uint8Array(0));
  });
});
