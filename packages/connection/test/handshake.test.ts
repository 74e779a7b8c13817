import { once } from 'node:events';
import { Connection, PROLOGUE } from '@peernet/connection';
import { encodeFrame, NoiseFrameDecoder } from '@peernet/frame';
import { createHandshake, generateKeyPair } from '@peernet/noise';
import { connectParties, pairBoth, party, socketPair, type Party } from './helpers.js';

/** Collects every byte a socket receives. */
function record(socket: NodeJS.EventEmitter): () => number {
  let total = 0;
  socket.on('data', (chunk: Uint8Array) => (total += chunk.length));
  return () => total;
}

async function attempt(a: Party, b: Party, expectedPeer = b.identity.id) {
  const [clientSocket, serverSocket] = await socketPair();
  const receivedByServer = record(serverSocket);
  const ran: string[] = [];
  b.handlers.set('probe', { handler: () => void ran.push('b') });
  const client = new Connection({
    stream: clientSocket,
    identity: a.identity,
    trust: a.trust,
    initiator: true,
    expectedPeer,
  });
  const server = new Connection({ stream: serverSocket, identity: b.identity, trust: b.trust, handlers: b.handlers, initiator: false });
  const [c, s] = await Promise.allSettled([client.ready, server.ready]);
  await Promise.all([client.closed, server.closed]);
  return { c, s, receivedByServer: receivedByServer(), ran };
}

function code(result: PromiseSettledResult<unknown>): string | undefined {
  return result.status === 'rejected' ? (result.reason as { code?: string }).code : undefined;
}

describe('handshake trust checks', () => {
  it('authenticates both sides when each trusts the other', async () => {
    const a = party();
    const b = party();
    await pairBoth(a, b);
    const { client, server } = await connectParties(a, b);
    expect(client.isOpen && server.isOpen).toBe(true);
    expect(client.peer.toString()).toBe(b.identity.id.toString());
    await client.close();
  });

  it("reads an identity's Noise key pair once for all its connections", async () => {
    const a = party();
    const b = party();
    await pairBoth(a, b);
    let reads = 0;
    const identity = {
      id: a.identity.id,
      noiseKeyPair: () => {
        reads++;
        return a.identity.noiseKeyPair();
      },
    };
    for (let i = 0; i < 3; i++) {
      const [clientSocket, serverSocket] = await socketPair();
      const client = new Connection({ stream: clientSocket, identity, trust: a.trust, initiator: true, expectedPeer: b.identity.id });
      const server = new Connection({ stream: serverSocket, identity: b.identity, trust: b.trust, initiator: false });
      await Promise.all([client.ready, server.ready]);
      expect(server.peer.toString()).toBe(a.identity.id.toString());
      await client.close();
    }
    expect(reads).toBe(1);
  });

  it('an initiator that does not trust the responder never sends message 3', async () => {
    const a = party();
    const b = party();
    await b.trust.add(a.identity.id); // one way only
    const { c, s, receivedByServer } = await attempt(a, b);
    expect(code(c)).toBe('untrusted_peer');
    expect(code(s)).toBe('handshake_failed');
    // Only message 1 (u16 length + 32-byte ephemeral key) ever reached the responder.
    expect(receivedByServer).toBe(2 + 32);
  });

  it('a responder that does not trust the initiator rejects it after message 3; no handler runs', async () => {
    const a = party();
    const b = party();
    await a.trust.add(b.identity.id);
    const { c, s, ran } = await attempt(a, b);
    expect(code(s)).toBe('untrusted_peer');
    expect(code(c)).toBe('refused_by_peer');
    expect((c as PromiseRejectedResult).reason.message).toMatch(/refused the session: it has not paired this node/);
    expect(ran).toEqual([]);
  });

  it('dialling one peer and reaching another is peer_mismatch, even when both are trusted', async () => {
    const a = party();
    const b = party();
    const other = party();
    await pairBoth(a, b);
    await a.trust.add(other.identity.id);
    const { c, receivedByServer } = await attempt(a, b, other.identity.id);
    expect(code(c)).toBe('peer_mismatch');
    expect((c as PromiseRejectedResult).reason.message).toContain(b.identity.id.toString());
    expect(receivedByServer).toBe(2 + 32);
  });

  it('fails a handshake that does not finish in time', async () => {
    const a = party();
    const b = party();
    await pairBoth(a, b);
    const [, serverSocket] = await socketPair(); // the client side stays silent
    const server = new Connection({
      stream: serverSocket,
      identity: b.identity,
      trust: b.trust,
      initiator: false,
      handshakeTimeoutMs: 100,
    });
    await expect(server.ready).rejects.toMatchObject({ code: 'timeout' });
    expect(serverSocket.destroyed).toBe(true);
  });

  it('aborts a handshake with an AbortSignal', async () => {
    const a = party();
    const b = party();
    await pairBoth(a, b);
    const [clientSocket] = await socketPair();
    const controller = new AbortController();
    const client = new Connection({
      stream: clientSocket,
      identity: a.identity,
      trust: a.trust,
      initiator: true,
      expectedPeer: b.identity.id,
      signal: controller.signal,
    });
    controller.abort();
    await expect(client.ready).rejects.toMatchObject({ code: 'aborted' });
    const already = new Connection({
      stream: (await socketPair())[0],
      identity: a.identity,
      trust: a.trust,
      initiator: true,
      expectedPeer: b.identity.id,
      signal: controller.signal,
    });
    await expect(already.ready).rejects.toMatchObject({ code: 'aborted' });
  });
});

describe('handshake on hostile bytes', () => {
  async function responderFacing(bytes: Uint8Array[]) {
    const b = party();
    const [raw, serverSocket] = await socketPair();
    const server = new Connection({ stream: serverSocket, identity: b.identity, trust: b.trust, initiator: false });
    const closed = once(raw, 'close');
    for (const chunk of bytes) raw.write(chunk);
    await expect(server.ready).rejects.toMatchObject({ code: expect.any(String) });
    await closed;
    return server.closeReason;
  }

  it('closes on garbage', async () => {
    const reason = await responderFacing([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')]);
    expect(reason?.code).toMatch(/handshake_failed|frame_too_large/);
  });

  it('closes on a handshake frame over 1 KiB before reading it', async () => {
    const reason = await responderFacing([Uint8Array.of(0x04, 0x01)]);
    expect(reason?.code).toBe('handshake_failed');
    expect(reason?.message).toMatch(/1025 bytes exceeds the limit of 1024/);
  });

  it('closes on a truncated message 1', async () => {
    const reason = await responderFacing([encodeFrame(new Uint8Array(31))]);
    expect(reason?.code).toBe('handshake_failed');
  });

  it('closes on a message 1 that carries a payload', async () => {
    const hs = createHandshake({ initiator: true, prologue: PROLOGUE, staticKeyPair: generateKeyPair() });
    const reason = await responderFacing([encodeFrame(hs.writeMessage(Uint8Array.of(1)))]);
    expect(reason?.message).toMatch(/payload/);
  });

  it('closes when the peer uses another prologue', async () => {
    const a = party();
    const b = party();
    await pairBoth(a, b);
    const [raw, serverSocket] = await socketPair();
    const server = new Connection({ stream: serverSocket, identity: b.identity, trust: b.trust, initiator: false });
    const hs = createHandshake({
      initiator: true,
      prologue: new TextEncoder().encode('peernet/2'),
      staticKeyPair: a.identity.noiseKeyPair(),
    });
    raw.write(encodeFrame(hs.writeMessage(new Uint8Array(0))));
    const decoder = new NoiseFrameDecoder();
    const [m2] = decoder.push((await once(raw, 'data'))[0] as Uint8Array);
    expect(() => hs.readMessage(m2 as Uint8Array)).toThrow();
    raw.destroy();
    await expect(server.ready).rejects.toMatchObject({
      code: 'handshake_failed',
      message: expect.stringMatching(/closed the connection during the handshake/),
    });
  });

  it('rejects a payload whose identity key does not match the Noise static key', async () => {
    const a = party();
    const b = party();
    const impostor = party();
    await pairBoth(a, b);
    const [raw, serverSocket] = await socketPair();
    const server = new Connection({ stream: serverSocket, identity: b.identity, trust: b.trust, initiator: false });
    // Claims to be a (trusted) with impostor's Noise key.
    const hs = createHandshake({ initiator: true, prologue: PROLOGUE, staticKeyPair: impostor.identity.noiseKeyPair() });
    raw.write(encodeFrame(hs.writeMessage(new Uint8Array(0))));
    const [m2] = new NoiseFrameDecoder().push((await once(raw, 'data'))[0] as Uint8Array);
    hs.readMessage(m2 as Uint8Array);
    const payload = new Uint8Array(34);
    payload[0] = 1;
    payload.set(a.identity.id.bytes, 1);
    raw.write(encodeFrame(hs.writeMessage(payload)));
    await expect(server.ready).rejects.toMatchObject({
      code: 'handshake_failed',
      message: expect.stringMatching(/does not match the Noise static key/),
    });
  });
});

describe('a refusal told apart from a broken connection', () => {
  /**
   * A hand-driven responder: answers message 1 with b's identity, reads
   * message 3 from a real initiator `Connection`, then does what the test says.
   */
  async function afterMessage3(ending: (raw: import('node:net').Socket) => void, stopAfter: 1 | 3 = 3) {
    const { encodeHandshakePayload } = await import('@peernet/frame');
    const a = party();
    const b = party();
    await a.trust.add(b.identity.id);
    const [clientSocket, raw] = await socketPair();
    raw.on('error', () => undefined);
    const hs = createHandshake({ initiator: false, prologue: PROLOGUE, staticKeyPair: b.identity.noiseKeyPair() });
    const frames = new NoiseFrameDecoder();
    const received: Uint8Array[] = [];
    let arrived: (() => void) | undefined;
    raw.on('data', (chunk: Uint8Array) => {
      received.push(...frames.push(chunk));
      arrived?.();
    });
    const next = async (): Promise<Uint8Array> => {
      while (received.length === 0) await new Promise<void>((resolve) => (arrived = resolve));
      return received.shift() as Uint8Array;
    };
    const client = new Connection({ stream: clientSocket, identity: a.identity, trust: a.trust, initiator: true, expectedPeer: b.identity.id });
    hs.readMessage(await next());
    if (stopAfter === 3) {
      raw.write(encodeFrame(hs.writeMessage(encodeHandshakePayload({ identityKey: b.identity.id.bytes, extensions: new Uint8Array(0) }))));
      hs.readMessage(await next()); // message 3: a proved who it is
    }
    ending(raw);
    const outcome = await client.ready.then(
      () => undefined,
      (error: { code: string; message: string }) => error,
    );
    await client.closed;
    return { outcome };
  }

  it('a clean end right after message 3 is refused_by_peer', async () => {
    const { outcome } = await afterMessage3((raw) => raw.end());
    expect(outcome).toMatchObject({ code: 'refused_by_peer', name: 'RefusedByPeerError' });
  });

  it('a reset after message 3 is a broken connection, not a refusal', async () => {
    const { outcome } = await afterMessage3((raw) => raw.resetAndDestroy());
    expect(outcome).toMatchObject({ code: 'handshake_failed', message: expect.stringMatching(/closed the connection during the handshake/) });
  });

  it('an end in the middle of a message after message 3 is a broken connection, not a refusal', async () => {
    // The length prefix of a 48-byte message, and two bytes of it.
    const { outcome } = await afterMessage3((raw) => raw.end(Uint8Array.of(0x00, 0x30, 1, 2)));
    expect(outcome).toMatchObject({ code: 'handshake_failed' });
  });

  it('a clean end before message 2, when the peer has proved nothing, is not a refusal', async () => {
    const { outcome } = await afterMessage3((raw) => raw.end(), 1);
    expect(outcome).toMatchObject({ code: 'handshake_failed', message: expect.stringMatching(/during the handshake/) });
  });
});
