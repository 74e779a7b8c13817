import { once } from 'node:events';
import { createServer, connect, type Socket, type AddressInfo } from 'node:net';
import { generateIdentity, type Identity } from '@peernet/identity';
import { MemoryTrustStore } from '@peernet/trust';
import { Connection, type ConnectionOptions, type ExposedHandler } from '@peernet/connection';
import { encodeValue } from '@peernet/frame';

/** A connected pair of real TCP sockets on 127.0.0.1. */
export async function socketPair(): Promise<[Socket, Socket]> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect(port, '127.0.0.1');
  await once(client, 'connect');
  const [serverSide] = await accepted;
  server.close();
  client.setNoDelay(true);
  serverSide.setNoDelay(true);
  return [client, serverSide];
}

export interface Party {
  identity: Identity;
  trust: MemoryTrustStore;
  handlers: Map<string, ExposedHandler>;
}

/** An identity with an empty trust list and no handlers. */
export function party(): Party {
  return { identity: generateIdentity(), trust: new MemoryTrustStore(), handlers: new Map() };
}

/** Makes a and b trust each other. */
export async function pairBoth(a: Party, b: Party): Promise<void> {
  await a.trust.add(b.identity.id);
  await b.trust.add(a.identity.id);
}

/** Runs a handshake over a fresh socket pair; returns both ends (settled results). */
export async function connectParties(
  a: Party,
  b: Party,
  options: Partial<ConnectionOptions> = {},
): Promise<{ client: Connection; server: Connection; sockets: [Socket, Socket] }> {
  const sockets = await socketPair();
  const client = new Connection({
    stream: sockets[0],
    identity: a.identity,
    trust: a.trust,
    handlers: a.handlers,
    initiator: true,
    expectedPeer: b.identity.id,
    ...options,
  });
  const server = new Connection({
    stream: sockets[1],
    identity: b.identity,
    trust: b.trust,
    handlers: b.handlers,
    initiator: false,
    ...options,
  });
  await Promise.all([client.ready, server.ready]);
  return { client, server, sockets };
}

/**
 * A hand-driven initiator: completes a valid handshake against a responder
 * `Connection`, then lets the test write whatever it likes on the secure
 * stream or on the socket.
 */
export async function rawInitiator(a: Party, b: Party, options: Partial<ConnectionOptions> = {}) {
  const { createHandshake } = await import('@peernet/noise');
  const { MAX_PLAINTEXT_PER_MESSAGE: most, encodeFrame, encodeHandshakePayload, NoiseFrameDecoder } = await import('@peernet/frame');
  const { PROLOGUE } = await import('@peernet/connection');
  const [raw, serverSocket] = await socketPair();
  const server = new Connection({
    stream: serverSocket,
    identity: b.identity,
    trust: b.trust,
    handlers: b.handlers,
    initiator: false,
    ...options,
  });
  const hs = createHandshake({ initiator: true, prologue: PROLOGUE, staticKeyPair: a.identity.noiseKeyPair() });
  const frames = new NoiseFrameDecoder();
  const inbox: Uint8Array[] = [];
  let waiter: (() => void) | undefined;
  raw.on('data', (chunk: Uint8Array) => {
    inbox.push(...frames.push(chunk));
    waiter?.();
  });
  const next = async (): Promise<Uint8Array> => {
    while (inbox.length === 0) await new Promise<void>((resolve) => (waiter = resolve));
    return inbox.shift() as Uint8Array;
  };
  raw.write(encodeFrame(hs.writeMessage(new Uint8Array(0))));
  hs.readMessage(await next());
  raw.write(encodeFrame(hs.writeMessage(encodeHandshakePayload({ identityKey: a.identity.id.bytes, extensions: new Uint8Array(0) }))));
  const { send, receive } = hs.split();
  await server.ready;
  return {
    raw,
    server,
    /** Encrypts `plaintext` as one transport message and returns its frame (not yet written). */
    seal: (plaintext: Uint8Array) => encodeFrame(send.encrypt(plaintext)),
    /** Encrypts secure-stream bytes of any length as as many transport messages as they need, framed in one buffer. */
    sealStream: (bytes: Uint8Array) => {
      const frames: Uint8Array[] = [];
      for (let at = 0; at < bytes.length; at += most) frames.push(encodeFrame(send.encrypt(bytes.subarray(at, at + most))));
      return new Uint8Array(Buffer.concat(frames));
    },
    /** Reads and decrypts the next transport message from the responder. */
    open: async () => receive.decrypt(await next()),
  };
}

/** `u32 length | body` for the secure stream. */
export function envelopeBytes(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/**
 * The bytes of an envelope `[type, ...fields, payload]` whose last item is
 * given already encoded (possibly malformed or huge), with its u32 prefix.
 */
export function rawEnvelope(type: number, fields: readonly (string | number)[], payload: Uint8Array): Uint8Array {
  const head = [Uint8Array.of(0x80 | (fields.length + 2), type), ...fields.map((f) => encodeValue(f))];
  return envelopeBytes(new Uint8Array(Buffer.concat([...head, payload])));
}

/** An encoded CBOR array of `count` copies of the one-byte item `item` (0xa0 `{}`, 0x80 `[]`, 0x00 `0`). */
export function denseArray(item: number, count: number): Uint8Array {
  const out = new Uint8Array(5 + count).fill(item);
  out[0] = 0x9a;
  new DataView(out.buffer).setUint32(1, count);
  return out;
}
