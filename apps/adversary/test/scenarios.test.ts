import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { PROLOGUE } from '@peernet/connection';
import {
  MAX_NOISE_MESSAGE_BYTES,
  NoiseFrameDecoder,
  encodeEnvelope,
  encodeFrame,
  encodeHandshakePayload,
  encodeValue,
  type Envelope,
} from '@peernet/frame';
import { generateIdentity } from '@peernet/identity';
import { createHandshake } from '@peernet/noise';
import { RawPeer, churn, envelopeBytes, replay } from '../src/index.js';
import { MiB, arena, eventually, runsOf, tcpHandles, type Arena } from './harness.js';

// The node under attack, its well-behaved peer, and the attackers' identities
// are shared by the scenarios of this file; each scenario checks the node's
// promise afterwards (see `checkPromise`).
let a: Arena;
let baselineRss: number;
const stranger = generateIdentity();
const trusted = generateIdentity();
const admin = generateIdentity();

// RSS of the attacked node's process may not exceed its idle RSS by more than this.
const RSS_HEADROOM = 96 * MiB;
const MAX_MESSAGE_BYTES = 1 * MiB;
const MAX_QUEUED_BYTES = 8 * MiB;

beforeAll(async () => {
  a = await arena({ maxMessageBytes: MAX_MESSAGE_BYTES, maxQueuedBytes: MAX_QUEUED_BYTES, handshakeTimeoutMs: 3_000 });
  await a.target.pair(trusted.id, 'trusted attacker');
  await a.target.pair(admin.id, 'admin');
  await a.target.request({ op: 'grant', peer: admin.id.toString() });
  baselineRss = (await a.target.stats(true)).rss;
}, 60_000);

afterAll(async () => {
  const final = await a?.stop();
  // Everything the node held is released by stop(): no socket, server or timer is left.
  expect(final?.resources.TCPSocketWrap ?? 0).toBe(0);
  expect(final?.resources.TCPServerWrap ?? 0).toBe(0);
  expect(final?.resources.Timeout ?? 0).toBe(0);
});

const address = (): { port: number } => ({ port: a.target.port });

/** The node's promise after an attack: it is up, the good peer's calls succeed, memory is bounded, and no handler ran for `noRunsFor`. */
async function checkPromise(noRunsFor: { toString(): string }[] = [stranger.id]): Promise<void> {
  expect(a.target.alive).toBe(true);
  await expect(a.goodCall()).resolves.toBe('still here');
  const stats = await a.target.stats(true);
  for (const peer of noRunsFor) expect({ peer: peer.toString(), runs: runsOf(stats, peer) }).toEqual({ peer: peer.toString(), runs: 0 });
  expect(stats.rss).toBeLessThan(baselineRss + RSS_HEADROOM);
}

/** Waits until the node holds no connection but its listener and the good peer's session. */
async function settled(): Promise<void> {
  await eventually(() => a.target.stats(), (s) => tcpHandles(s) === 2);
}

const call = (id: number, name = 'echo', args: unknown = 'x'): Envelope => ({ type: 1, id, name, args: args as never });
const send = (name: string, args: unknown): Envelope => ({ type: 4, name, args: args as never });

describe('untrusted identities', () => {
  it('a full handshake from an unpaired key, with a call pipelined after message 3: closed, the handler never runs', async () => {
    const peer = await RawPeer.connect(address());
    await peer.handshake({ identity: stranger, pipelined: (s) => s.sealEnvelopes([call(1), send('record', 'sneaked in')]) });
    expect(await peer.accepted()).toBe(false);
    await peer.closed;
    await checkPromise();
  });

  it('an impostor claiming a paired id without its key: closed, the handler never runs', async () => {
    const peer = await RawPeer.connect(address());
    await peer.handshake({ identity: stranger, claim: trusted.id.bytes, pipelined: (s) => s.sealEnvelopes([call(1)]) });
    expect(await peer.accepted()).toBe(false);
    await checkPromise([stranger.id, trusted.id]);
  });

  it('message 1 with a payload, and message 3 before message 2: closed', async () => {
    const withPayload = await RawPeer.connect(address());
    withPayload.sendMessage1(trusted, new Uint8Array(16));
    await withPayload.closedByNode();
    const proper = await RawPeer.connect(address());
    await proper.handshake({ identity: trusted });
    expect(await proper.accepted()).toBe(true); // control: a proper handshake is accepted
    proper.destroy();
    const outOfOrder = await RawPeer.connect(address());
    outOfOrder.sendMessage1(trusted);
    outOfOrder.write(encodeFrame(new Uint8Array(64))); // a "message 3" before the node's message 2 was read
    await outOfOrder.closedByNode();
    await settled();
    await checkPromise([stranger.id]);
  });

  it('a paired but unauthorised peer calling a guarded handler gets forbidden, 1000 times, and the handler never runs', async () => {
    const peer = await RawPeer.connect(address());
    const session = await peer.handshake({ identity: trusted });
    expect(await peer.accepted()).toBe(true);
    peer.write(session.sealEnvelopes(Array.from({ length: 1000 }, (_, i) => call(i + 1, 'admin'))));
    const replies: Envelope[] = [];
    while (replies.length < 1000) replies.push(...(await session.envelopes()));
    expect(replies.every((r) => r.type === 3 && r.code === 'forbidden')).toBe(true);
    const stats = await a.target.stats();
    expect(stats.runs[trusted.id.toString()]?.admin).toBeUndefined();
    // Control: the authorised peer's call runs it.
    const adminPeer = await RawPeer.connect(address());
    const adminSession = await adminPeer.handshake({ identity: admin });
    expect(await adminPeer.accepted()).toBe(true);
    adminPeer.write(adminSession.sealEnvelopes([call(1, 'admin')]));
    expect(await adminSession.envelopes()).toEqual([{ type: 2, id: 1, result: 'granted' }]);
    peer.destroy();
    adminPeer.destroy();
    await settled();
    await checkPromise();
  });

  it('a node dialling a paired id that an impostor answers: it never sends message 3, so the impostor never learns who dialled', async () => {
    // A raw responder that answers message 1 with its own identity, and records whatever comes after.
    const impostor = generateIdentity();
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const after: Uint8Array[] = [];
    let answered!: () => void;
    const gotM1 = new Promise<void>((resolve) => (answered = resolve));
    let socketClosed: Promise<unknown> | undefined;
    server.on('connection', (socket: Socket) => {
      socket.on('error', () => undefined);
      socketClosed = once(socket, 'close');
      const frames = new NoiseFrameDecoder({ maxBytes: MAX_NOISE_MESSAGE_BYTES });
      const hs = createHandshake({ initiator: false, prologue: PROLOGUE, staticKeyPair: impostor.noiseKeyPair() });
      let n = 0;
      socket.on('data', (chunk: Uint8Array) => {
        for (const frame of frames.push(chunk)) {
          if (n++ === 0) {
            hs.readMessage(frame);
            socket.write(encodeFrame(hs.writeMessage(encodeHandshakePayload({ identityKey: impostor.id.bytes, extensions: new Uint8Array(0) }))));
            answered();
          } else after.push(frame);
        }
      });
    });
    try {
      const { port } = server.address() as AddressInfo;
      const dial = a.target.request({ op: 'connect', peer: trusted.id.toString(), port });
      await expect(dial).rejects.toMatchObject({ code: 'peer_mismatch' });
      await gotM1;
      await socketClosed;
      expect(after).toEqual([]);
    } finally {
      server.close();
    }
    await checkPromise([stranger.id, impostor.id]);
  });
});

describe('a valid handshake, then wrong protocol', () => {
  async function trustedSession(identity = trusted) {
    const peer = await RawPeer.connect(address());
    const session = await peer.handshake({ identity });
    expect(await peer.accepted()).toBe(true);
    return { peer, session };
  }

  it('random bytes after the handshake: closed, nothing runs', async () => {
    const before = runsOf(await a.target.stats(), trusted.id);
    const { peer } = await trustedSession();
    // More than one largest frame: whatever length the first two bytes declare, a whole frame arrives and fails to decrypt.
    peer.write(new Uint8Array(70_000).map(() => Math.floor(Math.random() * 256)));
    await peer.closedByNode();
    expect(runsOf(await a.target.stats(), trusted.id)).toBe(before);
    await checkPromise();
  });

  it('a valid send, then a frame that does not decrypt: the send ran once, then closed', async () => {
    const { peer, session } = await trustedSession();
    const frame = session.sealEnvelopes([send('record', 'first')]);
    const bad = session.seal(envelopeBytes(encodeEnvelope(send('record', 'second'))));
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 0x80; // break the tag
    peer.write(frame);
    peer.write(bad);
    await peer.closedByNode();
    const stats = await a.target.stats();
    expect(stats.received[trusted.id.toString()]?.slice(-1)).toEqual(['first']);
    expect(stats.received[trusted.id.toString()]).not.toContain('second');
    await checkPromise();
  });

  it('an envelope of unknown shape, a non-array envelope and an undecodable CBOR body: each closes the session', async () => {
    for (const body of [encodeValue([9, 1]), encodeValue({ type: 1 }), Uint8Array.of(0xff, 0xff, 0xff)]) {
      const { peer, session } = await trustedSession();
      peer.write(session.seal(envelopeBytes(body)));
      await peer.closedByNode();
    }
    await settled();
    await checkPromise();
  });

  it('reordered transport messages: what came in order ran, then the session closed', async () => {
    const { peer, session } = await trustedSession();
    const [m0, m1, m2] = [0, 1, 2].map((i) => session.seal(envelopeBytes(encodeEnvelope(send('record', `reordered ${i}`)))));
    peer.write(m0 as Uint8Array);
    peer.write(m2 as Uint8Array);
    peer.write(m1 as Uint8Array);
    await peer.closedByNode();
    const got = (await a.target.stats()).received[trusted.id.toString()]?.filter((v) => String(v).startsWith('reordered'));
    expect(got).toEqual(['reordered 0']);
    await checkPromise();
  });

  it('a duplicated transport message: delivered once, then the session closed', async () => {
    const { peer, session } = await trustedSession();
    const m0 = session.seal(envelopeBytes(encodeEnvelope(send('record', 'duplicated'))));
    peer.write(m0);
    peer.write(m0);
    await peer.closedByNode();
    const got = (await a.target.stats()).received[trusted.id.toString()]?.filter((v) => v === 'duplicated');
    expect(got).toEqual(['duplicated']);
    await checkPromise();
  });

  it('a reused call id while the first call runs: closed', async () => {
    const { peer, session } = await trustedSession();
    peer.write(session.sealEnvelopes([call(5, 'slow', 2_000), call(5, 'slow', 2_000)]));
    await peer.closedByNode();
    await settled();
    await checkPromise();
  });
});

describe('a paired peer abusing its session', () => {
  it('unsolicited replies, failures, pongs and cancels are ignored; the session stays usable', async () => {
    const peer = await RawPeer.connect(address());
    const session = await peer.handshake({ identity: trusted });
    expect(await peer.accepted()).toBe(true);
    const junk: Envelope[] = [];
    for (let i = 1; i <= 200; i++) {
      junk.push({ type: 2, id: i, result: 'unasked' }, { type: 3, id: i, code: 'forbidden', message: 'x' });
      junk.push({ type: 6, nonce: new Uint8Array(8).fill(i) }, { type: 7, id: i });
    }
    peer.write(session.sealEnvelopes([...junk, call(1)]));
    expect(await session.envelopes()).toEqual([{ type: 2, id: 1, result: 'x' }]);
    peer.destroy();
    await settled();
    await checkPromise();
  });

  it('100 sessions at once under one paired identity: the node keeps one and closes the rest', async () => {
    // Fewer than maxPendingHandshakes (128), so none is evicted before it authenticates.
    const peers = await Promise.all(Array.from({ length: 100 }, () => RawPeer.connect(address())));
    try {
      await Promise.all(peers.map((peer) => peer.handshake({ identity: trusted })));
      // Each newer session from the same dialler replaces the older one, which is closed after a short linger.
      const stats = await eventually(() => a.target.stats(), (s) => tcpHandles(s) <= 3, 30_000);
      expect(stats.online).toBe(2); // the good peer and the last of the 100
      await eventually(async () => peers.filter((p) => !p.ended).length, (open) => open === 1);
    } finally {
      for (const peer of peers) peer.destroy();
    }
    await settled();
    await checkPromise();
  }, 60_000);

  it('unpairing a peer in the middle of its flood closes its session at once, and it cannot come back', async () => {
    const victim = generateIdentity();
    await a.target.pair(victim.id, 'soon unpaired');
    const peer = await RawPeer.connect(address());
    const session = await peer.handshake({ identity: victim });
    expect(await peer.accepted()).toBe(true);
    let flooding = true;
    const flood = (async () => {
      for (let i = 0; flooding && !peer.ended; i++) {
        peer.write(session.sealEnvelopes(Array.from({ length: 100 }, (_, k) => send('record', i * 100 + k))));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await eventually(() => a.target.stats(), (s) => (s.received[victim.id.toString()]?.length ?? 0) > 1000);
    await expect(a.target.request({ op: 'unpair', peer: victim.id.toString() })).resolves.toBe(true);
    const atUnpair = (await a.target.stats()).received[victim.id.toString()]?.length ?? 0;
    await peer.closedByNode();
    flooding = false;
    await flood;
    expect((await a.target.stats()).received[victim.id.toString()]?.length).toBe(atUnpair);
    const again = await RawPeer.connect(address());
    await again.handshake({ identity: victim, pipelined: (s) => s.sealEnvelopes([send('record', 'back?')]) });
    expect(await again.accepted()).toBe(false);
    expect((await a.target.stats()).received[victim.id.toString()]).not.toContain('back?');
    await settled();
    await checkPromise();
  });
});

describe('replayed sessions', () => {
  it('a recorded session of a paired peer, replayed byte for byte: refused at message 3, nothing runs again', async () => {
    const recorded = await RawPeer.connect(address());
    const session = await recorded.handshake({ identity: trusted });
    expect(await recorded.accepted()).toBe(true);
    recorded.write(session.sealEnvelopes([send('record', 'replayed?')]));
    recorded.write(session.sealEnvelopes([call(1)]));
    await session.envelopes(); // the call's reply: the send before it has run too
    recorded.destroy();
    const count = (): Promise<number> =>
      a.target.stats().then((s) => (s.received[trusted.id.toString()] ?? []).filter((v) => v === 'replayed?').length);
    expect(await count()).toBe(1);

    for (let i = 0; i < 3; i++) {
      const again = await replay(address(), recorded.written);
      // The node picks a fresh ephemeral key: the recorded message 3 does not decrypt.
      await again.closedByNode();
    }
    expect(await count()).toBe(1);
    await settled();
    await checkPromise();
  });
});

describe('oversized messages', () => {
  it('a handshake frame over 1 KiB: closed before the frame is read', async () => {
    const peer = await RawPeer.connect(address());
    peer.write(Uint8Array.of(0x04, 0x01)); // declares 1025 bytes
    await peer.closedByNode();
    await checkPromise();
  });

  it('a declared envelope length above maxMessageBytes: closed before anything is buffered', async () => {
    const peer = await RawPeer.connect(address());
    const session = await peer.handshake({ identity: trusted });
    expect(await peer.accepted()).toBe(true);
    const header = new Uint8Array(4);
    new DataView(header.buffer).setUint32(0, MAX_MESSAGE_BYTES + 1);
    peer.write(session.seal(header));
    await peer.closedByNode();
    await checkPromise();
  });

  it('many sessions each sending a message just under the cap, never finishing it: memory stays bounded', async () => {
    // Each session makes the node hold one incomplete message of up to maxMessageBytes.
    const peers: RawPeer[] = [];
    for (let i = 0; i < 16; i++) {
      const peer = await RawPeer.connect(address());
      const session = await peer.handshake({ identity: trusted });
      expect(await peer.accepted()).toBe(true);
      const header = new Uint8Array(4);
      new DataView(header.buffer).setUint32(0, MAX_MESSAGE_BYTES - 64);
      peer.write(session.seal(header));
      for (let sent = 0; sent < MAX_MESSAGE_BYTES - 128; sent += 60_000) peer.write(session.seal(new Uint8Array(60_000)));
      peers.push(peer);
    }
    await checkPromise();
    for (const peer of peers) peer.destroy();
    await settled();
  });
});

describe('floods and backpressure from a paired peer', () => {
  it('20,000 calls to a slow handler in one burst: at most maxConcurrentHandlers run at once, others keep working', async () => {
    await a.target.request({ op: 'resetStats' });
    const peer = await RawPeer.connect(address());
    const session = await peer.handshake({ identity: trusted });
    expect(await peer.accepted()).toBe(true);
    const total = 20_000;
    for (let i = 0; i < total; i += 1000) {
      peer.write(session.sealEnvelopes(Array.from({ length: 1000 }, (_, k) => call(i + k + 1, 'slow', 20))));
    }
    let replies = 0;
    const goodCalls = [a.goodCall(), a.goodCall(), a.goodCall()];
    while (replies < total) replies += (await session.envelopes(30_000)).length;
    await Promise.all(goodCalls.map((c) => expect(c).resolves.toBe('still here')));
    const stats = await a.target.stats();
    expect(stats.slowMaxInFlight).toBeLessThanOrEqual(256);
    expect(stats.slowMaxInFlight).toBeGreaterThan(1);
    peer.destroy();
    await settled();
    await checkPromise();
  }, 120_000);

  // Regression: replies, error replies and pongs were queued without limit behind a peer that does not read.
  it('a peer that never reads, asking for replies bigger than its requests: the node stops reading it, memory stays flat', async () => {
    const peer = await RawPeer.connect(address());
    const session = await peer.handshake({ identity: trusted });
    expect(await peer.accepted()).toBe(true);
    peer.stopReading();
    // Calls to a name that does not exist: every ~20-byte call earns a ~70-byte error reply.
    let id = 1;
    let peak = 0;
    const push = (): void => {
      for (let k = 0; k < 20 && peer.socket.writableLength < 16 * MiB; k++) {
        peer.write(session.sealEnvelopes(Array.from({ length: 2000 }, () => call(id++, 'no-such-name', null))));
      }
    };
    // Until the node stops reading us: our requests then pile up on our side (or the node hangs up).
    const deadline = Date.now() + 45_000;
    while (!peer.ended && peer.socket.writableLength < 8 * MiB) {
      if (Date.now() > deadline) throw new Error(`the node kept reading: ${id} calls sent`);
      push();
      peak = Math.max(peak, (await a.target.stats()).rss);
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Keep pushing a while: nothing more reaches the node.
    for (let i = 0; i < 10 && !peer.ended; i++) {
      push();
      peak = Math.max(peak, (await a.target.stats()).rss);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    peak = Math.max(peak, (await a.target.stats(true)).rss);
    expect(peak).toBeLessThan(baselineRss + RSS_HEADROOM);
    await checkPromise();
    peer.destroy();
    await settled();
  }, 90_000);
});

describe('half-open sockets and churn', () => {
  it('a peer that sends message 1 and then closes its write side: closed, not kept half-open', async () => {
    const peer = await RawPeer.connect(address());
    peer.sendMessage1(trusted);
    await peer.frame(); // message 2
    peer.halfClose();
    await peer.closedByNode();
    await settled();
    await checkPromise();
  });

  it('a paired peer that closes its write side mid-session: the session ends, the node releases it', async () => {
    const peer = await RawPeer.connect(address());
    const session = await peer.handshake({ identity: trusted });
    expect(await peer.accepted()).toBe(true);
    peer.write(session.sealEnvelopes([call(1, 'slow', 500)]));
    peer.halfClose();
    await peer.closedByNode();
    await settled();
    await checkPromise();
  });

  it('2,000 connect/close and 1,000 connect/reset, then 100 complete handshakes that hang up: nothing is kept', async () => {
    expect(await churn(address(), 2_000, { parallel: 40 })).toBeGreaterThan(1_900);
    expect(await churn(address(), 1_000, { parallel: 40, reset: true })).toBeGreaterThan(950);
    for (let i = 0; i < 100; i++) {
      const peer = await RawPeer.connect(address());
      await peer.handshake({ identity: i % 2 === 0 ? trusted : stranger });
      peer.destroy();
    }
    const stats = await settledStats();
    expect(stats.online).toBe(1);
    await checkPromise();
  }, 120_000);
});

async function settledStats() {
  return eventually(() => a.target.stats(), (s) => tcpHandles(s) === 2);
}
