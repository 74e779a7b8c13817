// Raw HyperDHT nodes for the adversary tests: strangers, garbage talkers and
// announcement forgers that are not PeerNet nodes, only hyperdht.
import HyperDHT, { type KeyPair, type SecretStream, type ServerOptions } from 'hyperdht';
import NoiseWrap from 'hyperdht/lib/noise-wrap.js';
import { ed25519KeyPair, type Identity } from '@peernet/identity';

/** The parts of hyperdht the tests use that `src/hyperdht.d.ts` leaves out. */
interface LookupReply {
  from: { host: string; port: number };
  peers: Array<{ publicKey: Buffer; relayAddresses: Array<{ host: string; port: number }> }>;
}
interface Queryable {
  lookup(target: Buffer): AsyncIterable<LookupReply>;
}

/** A HyperDHT key pair (Buffers, libsodium layout) of a PeerNet identity: the key the node listens and dials with. */
export function dhtKeyPairOf(identity: Identity): KeyPair {
  const pair = ed25519KeyPair(identity);
  return { publicKey: Buffer.from(pair.publicKey), secretKey: Buffer.from(pair.secretKey) };
}

/**
 * The DHT target a dial to `publicKey` looks up: hyperdht's `connect` uses
 * `unslabbedHash(publicKey)` (lib/connect.js), a server announces under
 * `unslabbedHash(keyPair.publicKey)` (lib/server.js), and both are
 * `crypto_generichash` (BLAKE2b-256), which `HyperDHT.hash` is too.
 */
export function dhtTargetOf(publicKey: Uint8Array): Buffer {
  return (HyperDHT as unknown as { hash(data: Buffer): Buffer }).hash(Buffer.from(publicKey));
}

/** A plain DHT client on the local testnet (ephemeral, like any fresh node). */
export function rawNode(bootstrap: readonly string[]): HyperDHT {
  return new HyperDHT({ bootstrap: [...bootstrap], host: '127.0.0.1' });
}

/**
 * A DHT node that joins the routing tables at once (as the testnet's own
 * nodes do), so lookups, announcements and FIND_PEER queries for any target
 * reach it: what a malicious DHT member is.
 */
export async function persistentNode(bootstrap: readonly string[]): Promise<HyperDHT> {
  const node = new HyperDHT({ bootstrap: [...bootstrap], host: '127.0.0.1', ephemeral: false, firewalled: false });
  await node.fullyBootstrapped();
  return node;
}

/** How a raw dial ended. */
export type RawOutcome =
  | { readonly open: true; readonly socket: SecretStream; readonly ms: number }
  | { readonly open: false; readonly code: string | undefined; readonly message: string; readonly ms: number };

/**
 * Dials `publicKey` with `keyPair` through a raw DHT node and resolves when
 * the socket opens or fails (or rejects after `timeoutMs`, destroying it).
 */
export function rawConnect(node: HyperDHT, publicKey: Uint8Array, keyPair: KeyPair, timeoutMs: number): Promise<RawOutcome> {
  const started = performance.now();
  const socket = node.connect(Buffer.from(publicKey), { keyPair });
  return new Promise<RawOutcome>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      socket.off('open', onOpen);
      socket.off('error', onError);
      socket.off('close', onClose);
    };
    const onOpen = (): void => {
      done();
      socket.on('error', () => undefined);
      resolve({ open: true, socket, ms: performance.now() - started });
    };
    const onError = (error: Error): void => {
      done();
      socket.on('error', () => undefined);
      const code = (error as { code?: unknown }).code;
      resolve({ open: false, code: typeof code === 'string' ? code : undefined, message: error.message, ms: performance.now() - started });
    };
    const onClose = (): void => onError(new Error('closed before it opened'));
    const timer = setTimeout(() => {
      done();
      socket.on('error', () => undefined);
      socket.destroy();
      reject(new Error(`raw dial neither opened nor failed within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('open', onOpen);
    socket.once('error', onError);
    socket.once('close', onClose);
  });
}

/** Resolves once `socket` has closed; rejects after `timeoutMs`. */
export function closedWithin(socket: SecretStream, timeoutMs: number): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the socket did not close within ${timeoutMs} ms`)), timeoutMs);
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** The public keys (hex) that each DHT node answering a LOOKUP for `target` holds there, by the node's port. */
export async function lookupRecords(node: HyperDHT, target: Buffer): Promise<Array<{ port: number; keys: string[] }>> {
  const replies: Array<{ port: number; keys: string[] }> = [];
  for await (const reply of (node as unknown as Queryable).lookup(target)) {
    replies.push({ port: reply.from.port, keys: reply.peers.map((p) => p.publicKey.toString('hex')) });
  }
  return replies;
}

/** What a DHT server saw of the handshakes sent to it. */
export interface ServerTap {
  /** Noise IK first messages it tried to read. */
  handshakes: number;
  /** Of those, the ones it could not decrypt (they were sealed to another key). */
  undecryptable: number;
  /** Keys its firewall was asked about: only handshakes it could read get there. */
  firewallAsked: string[];
  /** Connections it got. */
  connections: SecretStream[];
  /** The server options that record all that (the firewall lets everyone in). */
  options: ServerOptions;
}

/**
 * Server options that record every handshake a server receives, whether it
 * could read it, what its firewall was asked and the connections it got. The
 * firewall admits every key: an attacker would take anyone who reaches it.
 */
export function serverTap(): ServerTap {
  const tap: ServerTap = {
    handshakes: 0,
    undecryptable: 0,
    firewallAsked: [],
    connections: [],
    options: {},
  };
  const options: ServerOptions & { createHandshake(keyPair: KeyPair, remotePublicKey: Buffer | null): NoiseWrap } = {
    firewall: (remotePublicKey) => {
      tap.firewallAsked.push(remotePublicKey.toString('hex'));
      return false;
    },
    createHandshake: (keyPair, remotePublicKey) => {
      const wrap = new NoiseWrap(keyPair, remotePublicKey);
      const recv = wrap.recv.bind(wrap);
      wrap.recv = (message: Buffer) => {
        tap.handshakes++;
        try {
          return recv(message);
        } catch (error) {
          tap.undecryptable++;
          throw error;
        }
      };
      return wrap;
    },
  };
  tap.options = options;
  return tap;
}

export { HyperDHT };
