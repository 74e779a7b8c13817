import { once } from 'node:events';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { Connection, type ExposedHandler } from '@peernet/connection';
import { generateIdentity } from '@peernet/identity';
import { createHandshake, pureJsCrypto, type CryptoProvider } from '@peernet/noise';
import { MemoryTrustStore } from '@peernet/trust';
import { sodiumCrypto } from '../src/index.js';
import { toHex } from './helpers.js';

/** A connected pair of real TCP sockets on 127.0.0.1 (as in packages/connection/test/helpers.ts). */
async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [serverSide] = await accepted;
  server.close();
  return [client, serverSide];
}

/** Two trusting parties over loopback TCP, the dialler on `clientCrypto`, the listener on `serverCrypto`. */
async function session(clientCrypto: CryptoProvider | undefined, serverCrypto: CryptoProvider | undefined) {
  const a = { identity: generateIdentity(), trust: new MemoryTrustStore() };
  const b = { identity: generateIdentity(), trust: new MemoryTrustStore() };
  await a.trust.add(b.identity.id);
  await b.trust.add(a.identity.id);
  const handlers = new Map<string, ExposedHandler>([['echo', { handler: (args) => args }]]);
  const sockets = await socketPair();
  const client = new Connection({
    stream: sockets[0],
    identity: a.identity,
    trust: a.trust,
    initiator: true,
    expectedPeer: b.identity.id,
    handlers,
    crypto: clientCrypto,
  });
  const server = new Connection({ stream: sockets[1], identity: b.identity, trust: b.trust, initiator: false, handlers, crypto: serverCrypto });
  await Promise.all([client.ready, server.ready]);
  return { client, server };
}

describe('a real session with one side on sodium', () => {
  let aeads = 0;
  // sodiumCrypto counting the keys it prepares, to see that the session really runs on it.
  const counted: CryptoProvider = {
    ...sodiumCrypto,
    aead: (key) => {
      aeads++;
      return sodiumCrypto.aead(key);
    },
  };

  it.each([
    ['sodium dials, default listens', counted, undefined],
    ['default dials, sodium listens', undefined, counted],
  ] as const)('%s: calls work both ways, small and large', async (_name, clientCrypto, serverCrypto) => {
    aeads = 0;
    const { client, server } = await session(clientCrypto, serverCrypto);
    expect(aeads).toBeGreaterThanOrEqual(2);
    try {
      await expect(client.call('echo', 'hello')).resolves.toBe('hello');
      await expect(server.call('echo', { n: 42 })).resolves.toEqual({ n: 42 });
      // Large enough for several transport messages, each past every provider's size switch.
      const big = Uint8Array.from({ length: 300_000 }, (_, i) => i & 0xff);
      await expect(client.call('echo', big)).resolves.toEqual(big);
      await expect(server.call('echo', big)).resolves.toEqual(big);
    } finally {
      await Promise.all([client.close(), server.close()]);
    }
  });
});

describe('a handshake between sodium and pure-js', () => {
  it('completes and carries transport messages both ways', () => {
    const prologue = new TextEncoder().encode('peernet/test');
    const initiator = createHandshake({ initiator: true, prologue, staticKeyPair: sodiumCrypto.generateKeyPair(), crypto: sodiumCrypto });
    const responder = createHandshake({ initiator: false, prologue, staticKeyPair: pureJsCrypto.generateKeyPair(), crypto: pureJsCrypto });
    responder.readMessage(initiator.writeMessage());
    expect(toHex(initiator.readMessage(responder.writeMessage(Uint8Array.of(1, 2))))).toBe('0102');
    expect(toHex(responder.readMessage(initiator.writeMessage(Uint8Array.of(3))))).toBe('03');
    expect(toHex(initiator.handshakeHash)).toBe(toHex(responder.handshakeHash));
    const a = initiator.split();
    const b = responder.split();
    for (const length of [0, 1, 255, 256, 4096, 65519]) {
      const message = Uint8Array.from({ length }, (_, i) => (i * 7) & 0xff);
      expect(b.receive.decrypt(a.send.encrypt(message))).toEqual(message);
      expect(a.receive.decrypt(b.send.encrypt(message))).toEqual(message);
    }
  });
});
