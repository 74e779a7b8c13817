import HyperDHT from 'hyperdht';
import { Server as BlindRelay } from 'blind-relay';
import { OptionsReader, PeerId, type PeerIdLike } from '@peernet/interface';
import { parseBootstrap } from './bootstrap-list.js';

/** Options of `startRelay`. */
export interface RelayOptions {
  /** The relay's Ed25519 key pair (libsodium layout, e.g. `ed25519KeyPair(identity)`): its id is what nodes name in `relays`. */
  keyPair: { readonly publicKey: Uint8Array; readonly secretKey: Uint8Array };
  /** Bootstrap nodes of the network (omitted: the public HyperDHT network). */
  bootstrap?: readonly string[];
  /** Only these nodes may relay through it (default: anyone who knows its id). */
  allow?: readonly PeerIdLike[];
  /** UDP port (default: any free port). */
  port?: number;
  /** Address to bind (default: every interface). */
  host?: string;
}

/** A running relay. */
export interface Relay {
  /** The id nodes name in `dht({ relays })`. */
  readonly id: PeerId;
  /** Pairs of streams it relays now. */
  readonly activePairs: number;
  /** Pairs of streams it has relayed since it started (those it relays now included). */
  readonly pairsRelayed: number;
  /** Stops it: every relayed session it carries ends. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts a blind relay on the DHT: when two nodes cannot holepunch, both
 * connect to it and it forwards their UDX packets. It sees ciphertext only
 * (HyperDHT's stream, and PeerNet's session inside it) and who talks to whom.
 */
export async function startRelay(options: RelayOptions): Promise<Relay> {
  const reader = new OptionsReader('startRelay', options);
  const keyPair = reader.raw('keyPair') as RelayOptions['keyPair'] | undefined;
  if (!(keyPair?.publicKey instanceof Uint8Array) || !(keyPair.secretKey instanceof Uint8Array)) {
    throw reader.error('keyPair', 'must be { publicKey, secretKey } (Uint8Array each)');
  }
  const bootstrap = reader.raw('bootstrap');
  const allowList = reader.raw('allow');
  if (allowList !== undefined && !Array.isArray(allowList)) throw reader.error('allow', 'must be an array of peer ids');
  const allowed = allowList === undefined ? undefined : new Set(allowList.map((id: PeerIdLike) => PeerId.from(id).toString()));
  const port = reader.integer('port', { default: undefined, min: 0, max: 65_535 });
  const host = reader.string('host', undefined);
  const pair = { publicKey: Buffer.from(keyPair.publicKey), secretKey: Buffer.from(keyPair.secretKey) };
  const node = new HyperDHT({
    keyPair: pair,
    ...(bootstrap === undefined ? {} : { bootstrap: parseBootstrap(bootstrap, 'startRelay bootstrap') }),
    ...(port === undefined ? {} : { port }),
    ...(host === undefined ? {} : { host }),
  });
  const relay = new BlindRelay({ createStream: (streamOptions) => node.createRawStream({ ...streamOptions, framed: true }) });
  const server = node.createServer(
    { firewall: (remote) => allowed !== undefined && !allowed.has(PeerId.fromBytes(remote).toString()) },
    (socket) => {
      socket.on('error', () => undefined);
      relay.accept(socket, { id: socket.remotePublicKey }).on('error', () => undefined);
    },
  );
  try {
    await server.listen(pair);
  } catch (error) {
    await node.destroy({ force: true });
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    id: PeerId.fromBytes(pair.publicKey),
    get activePairs() {
      return relay.stats.pairings.active;
    },
    get pairsRelayed() {
      return relay.stats.pairings.matched;
    },
    close: () =>
      (closing ??= (async () => {
        await relay.close();
        await server.close();
        await node.destroy({ force: true });
      })()),
  };
}
