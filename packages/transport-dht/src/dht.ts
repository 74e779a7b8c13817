import HyperDHT, { type KeyPair, type SecretStream, type Server } from 'hyperdht';
import {
  AbortedError,
  DIAGNOSTICS_CHANNELS,
  InvalidArgumentError,
  MAX_TIMER_MS,
  NotConnectedError,
  OptionsReader,
  PeerId,
  publishDiagnostic,
  type DialOptions,
  type DuplexStream,
  type Listener,
  type ListenOptions,
  type PeerIdLike,
  type Rendezvous,
  type Transport,
  type TransportAddress,
  type TransportContext,
  type TransportFactory,
} from '@peernet/interface';
import { parseBootstrap } from './bootstrap-list.js';
import { FlowStream } from './flow.js';

/** The `transport` tag of DHT addresses. */
export const DHT_TRANSPORT = 'dht';

/** Options of `dht`. */
export interface DhtOptions {
  /**
   * Bootstrap nodes, `'host:port'` each: a private network's (see
   * `startBootstrapNode`). Omitted, the node joins the public HyperDHT
   * network through its public bootstrap nodes on the internet.
   */
  bootstrap?: readonly string[];
  /** UDP port the DHT node binds (default: any free port). */
  port?: number;
  /** Address the DHT node binds (default: every interface). */
  host?: string;
  /** Relays (ids of nodes running `startRelay`) that carry a session when holepunching cannot. */
  relays?: readonly PeerIdLike[];
  /**
   * When a dial goes through a relay: `'fallback'` (default) only after a
   * direct dial failed to holepunch; `'always'` at once (HyperDHT still
   * switches to a direct path when holepunching succeeds later).
   */
  relayMode?: 'fallback' | 'always';
  /** Time one dial may take to authenticate, holepunching and relay included (default 30 s). */
  dialTimeoutMs?: number;
}

/** The DHT transport, as a node holds it. */
export interface DhtTransport extends Transport {
  readonly name: typeof DHT_TRANSPORT;
  /** Refusals by the firewall so far, before any handshake (HyperDHT asks again for a handshake retried after 10 s: each counts). */
  readonly refusedCount: number;
  /** Releases the DHT node: its UDP socket and its announcements. Idempotent. */
  close(): Promise<void>;
}

// HyperDHT's codes for a dial that found the peer but could not open a direct path to it.
const HOLEPUNCH_FAILURES = new Set([
  'HOLEPUNCH_ABORTED',
  'HOLEPUNCH_PROBE_TIMEOUT',
  'HOLEPUNCH_DOUBLE_RANDOMIZED_NATS',
  'CANNOT_HOLEPUNCH',
  'REMOTE_NOT_HOLEPUNCHABLE',
  'REMOTE_NOT_HOLEPUNCHING',
]);

const HOLEPUNCH_HINT = ' (no direct path through the NATs on both sides: name a relay with dht({ relays }))';
// What HyperDHT's codes mean for a PeerNet user.
const HINTS: Readonly<Record<string, string>> = {
  PEER_NOT_FOUND: ' (the peer is not listening on this DHT: offline, or on another bootstrap network)',
  PEER_CONNECTION_FAILED: ' (the peer did not accept: it may not have paired this node, or it went away)',
};

/**
 * A transport over HyperDHT for `PeerNet.start({ transports: [dht(…)] })`:
 * the node listens under its own id's key, and a paired peer is dialled by
 * its id alone. The DHT server's firewall refuses every key that is not
 * paired before a connection is set up; PeerNet's handshake then runs inside
 * HyperDHT's encrypted stream as on any transport.
 */
export function dht(options: DhtOptions = {}): TransportFactory {
  const settings = readDhtOptions(options);
  return (context) => new HyperDhtTransport(context, settings);
}

interface DhtSettings {
  readonly bootstrap: string[] | undefined;
  readonly port: number | undefined;
  readonly host: string | undefined;
  readonly relays: Buffer[];
  readonly relayMode: 'fallback' | 'always';
  readonly dialTimeoutMs: number;
}

function readDhtOptions(options: DhtOptions): DhtSettings {
  const reader = new OptionsReader('dht', options);
  const bootstrap = reader.raw('bootstrap');
  const relays = reader.raw('relays') ?? [];
  if (!Array.isArray(relays)) throw reader.error('relays', 'must be an array of peer ids');
  return {
    bootstrap: bootstrap === undefined ? undefined : parseBootstrap(bootstrap, 'dht bootstrap'),
    port: reader.integer('port', { default: undefined, min: 0, max: 65_535 }),
    host: reader.string('host', undefined),
    relays: relays.map((relay: unknown, i) => {
      try {
        return Buffer.from(PeerId.from(relay as PeerIdLike).bytes);
      } catch (error) {
        throw new InvalidArgumentError(`dht relays[${i}] is not a peer id`, { cause: error });
      }
    }),
    relayMode: reader.oneOf('relayMode', ['fallback', 'always'] as const, 'fallback'),
    dialTimeoutMs: reader.number('dialTimeoutMs', { default: 30_000, above: 0, max: MAX_TIMER_MS }),
  };
}

class HyperDhtTransport implements DhtTransport {
  readonly name = DHT_TRANSPORT;
  readonly fallback = true;
  readonly dialTimeoutMs: number;
  readonly #context: TransportContext;
  readonly #settings: DhtSettings;
  readonly #keyPair: KeyPair;
  #node: HyperDHT | undefined;
  #closed = false;
  #refused = 0;
  readonly #sockets = new Set<SecretStream>();

  constructor(context: TransportContext, settings: DhtSettings) {
    this.#context = context;
    this.#settings = settings;
    this.dialTimeoutMs = settings.dialTimeoutMs;
    this.#keyPair = {
      publicKey: Buffer.from(context.keyPair.publicKey),
      secretKey: Buffer.from(context.keyPair.secretKey),
    };
  }

  /** Announces under a topic with this node's key, and looks topics up: pairing's meeting point. */
  readonly rendezvous: Rendezvous = {
    announce: async (topic) => {
      const target = topicOf(topic);
      const node = this.#dht();
      await node.announce(target, this.#keyPair).finished();
      // HyperDHT keeps an announcement about 20 minutes; an invite lasts 10 by default, so renew it halfway.
      const renew = setInterval(() => void node.announce(target, this.#keyPair).finished().catch(() => undefined), ANNOUNCE_RENEW_MS);
      renew.unref();
      let withdrawn: Promise<void> | undefined;
      return () => {
        clearInterval(renew);
        return (withdrawn ??= node.destroyed ? Promise.resolve() : node.unannounce(target, this.#keyPair).catch(() => undefined));
      };
    },
    lookup: async (topic, options = {}) => {
      const { signal } = options;
      if (signal?.aborted) throw new AbortedError('dht lookup aborted');
      const query = this.#dht().lookup(topicOf(topic));
      const stop = (): void => query.destroy();
      signal?.addEventListener('abort', stop, { once: true });
      const found = new Map<string, PeerId>();
      try {
        for await (const reply of query) {
          for (const { publicKey } of reply.peers) {
            const peer = PeerId.fromBytes(publicKey);
            found.set(peer.toString(), peer);
          }
        }
      } catch (error) {
        if (signal?.aborted) throw new AbortedError('dht lookup aborted');
        throw new NotConnectedError(`dht lookup failed: ${(error as Error).message}`, { cause: error });
      } finally {
        signal?.removeEventListener('abort', stop);
      }
      if (signal?.aborted) throw new AbortedError('dht lookup aborted');
      return [...found.values()];
    },
  };

  get refusedCount(): number {
    return this.#refused;
  }

  peerAddress(peer: PeerId): TransportAddress {
    return { transport: DHT_TRANSPORT, host: peer.toString(), port: 0 };
  }

  async dial(address: TransportAddress, options: DialOptions = {}): Promise<DuplexStream> {
    const peer = dhtPeerOf(address);
    if (peer.equals(this.#context.id)) throw new InvalidArgumentError('cannot dial this node\'s own id over the DHT');
    const { signal } = options;
    if (signal?.aborted) throw new AbortedError('dht dial aborted');
    const node = this.#dht();
    const { relays, relayMode } = this.#settings;
    const relay = (): Buffer | null => relays[Math.floor(Math.random() * relays.length)] ?? null;
    try {
      return await this.#connect(node, peer, relayMode === 'always' ? relay() : null, signal);
    } catch (error) {
      // Found but not holepunchable (both NATs random, a firewall): the relay carries it.
      if (relayMode === 'fallback' && relays.length > 0 && HOLEPUNCH_FAILURES.has(dhtCodeOf((error as { cause?: unknown }).cause) ?? '')) {
        return this.#connect(node, peer, relay(), signal);
      }
      throw error;
    }
  }

  #connect(node: HyperDHT, peer: PeerId, relayThrough: Buffer | null, signal: AbortSignal | undefined): Promise<DuplexStream> {
    if (signal?.aborted) return Promise.reject(new AbortedError('dht dial aborted'));
    const socket = node.connect(Buffer.from(peer.bytes), { keyPair: this.#keyPair, relayThrough });
    this.#hold(socket);
    return new Promise<DuplexStream>((resolve, reject) => {
      const done = (): void => {
        socket.off('open', onOpen);
        socket.off('error', onError);
        socket.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
      };
      const onOpen = (): void => {
        done();
        resolve(new FlowStream(socket));
      };
      const onError = (error: Error): void => {
        done();
        socket.destroy();
        const code = dhtCodeOf(error);
        const via = relayThrough ? ` through relay ${PeerId.fromBytes(relayThrough).toString()}` : '';
        const hint = code === undefined ? '' : (HINTS[code] ?? (HOLEPUNCH_FAILURES.has(code) ? HOLEPUNCH_HINT : ''));
        reject(new NotConnectedError(`dht: could not reach ${peer.toString()}${via}: ${code ?? error.message}${hint}`, { cause: error }));
      };
      const onClose = (): void => onError(new Error('the DHT closed the connection before it opened'));
      const onAbort = (): void => {
        done();
        socket.destroy();
        reject(new AbortedError('dht dial aborted'));
      };
      socket.once('open', onOpen);
      socket.once('error', onError);
      socket.once('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async listen(options: ListenOptions): Promise<Listener> {
    const node = this.#dht();
    const server: Server = node.createServer(
      {
        // Runs on the connection's first message, before HyperDHT answers it: a stranger gets no session at all.
        firewall: (remotePublicKey) => {
          const peer = PeerId.fromBytes(remotePublicKey);
          if (this.#context.isPaired(peer)) return false;
          this.#refused++;
          publishDiagnostic(DIAGNOSTICS_CHANNELS.handshakeRefused, {
            peer: peer.toString(),
            initiator: false,
            code: 'untrusted_peer',
            reason: 'dht firewall: not paired',
          });
          return true;
        },
        relayThrough: this.#settings.relayMode === 'always' ? (this.#settings.relays[0] ?? null) : null,
      },
      (socket) => {
        this.#hold(socket);
        const remote: TransportAddress = {
          transport: DHT_TRANSPORT,
          host: PeerId.fromBytes(socket.remotePublicKey).toString(),
          port: 0,
        };
        options.onStream(new FlowStream(socket), remote);
      },
    );
    await server.listen(this.#keyPair);
    let closing: Promise<void> | undefined;
    return {
      address: { transport: DHT_TRANSPORT, host: this.#context.id.toString(), port: 0 },
      close: () => (closing ??= server.close()),
    };
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const socket of this.#sockets) socket.destroy();
    return this.#node?.destroy() ?? Promise.resolve();
  }

  #dht(): HyperDHT {
    if (this.#closed) throw new NotConnectedError('the dht transport is closed');
    this.#node ??= new HyperDHT({
      keyPair: this.#keyPair,
      ...(this.#settings.bootstrap === undefined ? {} : { bootstrap: this.#settings.bootstrap }),
      ...(this.#settings.port === undefined ? {} : { port: this.#settings.port }),
      ...(this.#settings.host === undefined ? {} : { host: this.#settings.host }),
    });
    return this.#node;
  }

  /** Keeps every socket until it closes, so `close()` can end them all; a socket's own error is its owner's to see. */
  #hold(socket: SecretStream): void {
    this.#sockets.add(socket);
    socket.on('error', () => undefined);
    socket.once('close', () => this.#sockets.delete(socket));
  }
}

const ANNOUNCE_RENEW_MS = 10 * 60_000;

function topicOf(topic: Uint8Array): Buffer {
  if (!(topic instanceof Uint8Array) || topic.length !== 32) throw new InvalidArgumentError('a dht topic must be 32 bytes');
  return Buffer.from(topic);
}

/** The peer a DHT address names, or `invalid_argument`. */
function dhtPeerOf(address: TransportAddress): PeerId {
  if (address === null || typeof address !== 'object' || address.transport !== DHT_TRANSPORT) {
    throw new InvalidArgumentError(`not a dht address: ${JSON.stringify(address)} (expected { transport: 'dht', host: <peer id> })`);
  }
  try {
    return PeerId.parse(address.host);
  } catch (error) {
    throw new InvalidArgumentError(`dht address host must be a peer id: ${String(address.host)}`, { cause: error });
  }
}

/** HyperDHT's error code (`PEER_NOT_FOUND`, `HOLEPUNCH_…`), if `error` carries one. */
function dhtCodeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}
