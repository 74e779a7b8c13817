import {
  DIAGNOSTICS_CHANNELS, HandshakeFailedError, InvalidArgumentError, PeerId, publishDiagnostic,
  type Listener, type ListenOptions, type Rendezvous, type Transport, type TransportAddress,
} from '@peernet/interface';
import { ed25519KeyPair, type Identity } from '@peernet/identity';
import type { Connection } from '@peernet/connection';
import type { TransportHints } from '@peernet/registry';
import { tcp } from '@peernet/transport-tcp';
import type { Logger, NodeSettings } from './options.js';

/**
 * The node's transports: the default (the one untagged LAN addresses use)
 * first, then the `transports` option's; which one each connection runs on;
 * and their listeners.
 */
export class Transports {
  readonly #all: readonly Transport[];
  readonly #of = new WeakMap<Connection, Transport>();
  readonly #listeners: Listener[] = [];

  /** Makes the `transports` option's factories for this node; `invalid_argument` for two transports of one name. */
  constructor(options: NodeSettings, identity: Identity, isPaired: (peer: PeerId) => boolean) {
    let keyPair: ReturnType<typeof ed25519KeyPair> | undefined;
    const context = {
      id: identity.id,
      // Only a transport that asks gets the secret key (the DHT's key is the identity's).
      get keyPair() {
        keyPair ??= ed25519KeyPair(identity);
        return keyPair;
      },
      isPaired,
    };
    this.#all = [options.transport ?? tcp(), ...options.transports.map((t) => (typeof t === 'function' ? t(context) : t))];
    const names = new Set<string>();
    for (const transport of this.#all) {
      if (names.has(transport.name)) {
        throw new InvalidArgumentError(`PeerNet transports: two transports are named '${transport.name}'; names must differ`);
      }
      names.add(transport.name);
    }
  }

  /** What the registry needs to know of each: fallback or not, and its dial budget. */
  hints(): Record<string, TransportHints> {
    return Object.fromEntries(this.#all.map((t) => [t.name, { fallback: t.fallback === true, dialTimeoutMs: t.dialTimeoutMs }]));
  }

  /**
   * Listens on every transport, handing each inbound stream on with the
   * transport it came in on. `host` and `port` are the default transport's;
   * the others listen where their own options say.
   */
  async listen(
    where: Omit<ListenOptions, 'onStream'>,
    onStream: (stream: Parameters<ListenOptions['onStream']>[0], remote: TransportAddress, transport: Transport) => void,
  ): Promise<void> {
    for (const [i, transport] of this.#all.entries()) {
      const accept = (stream: Parameters<ListenOptions['onStream']>[0], remote: TransportAddress): void => onStream(stream, remote, transport);
      this.#listeners.push(await transport.listen(i === 0 ? { ...where, onStream: accept } : { onStream: accept }));
    }
  }

  /** Where the node listens, one address per transport, the default's first. */
  addresses(): TransportAddress[] {
    return this.#listeners.map((l) => l.address);
  }

  /** The transport that dials `address`: the one its tag names, else the default. */
  forAddress(address: TransportAddress): Transport {
    const name = address.transport;
    const transport = name === undefined ? this.#all[0] : this.#all.find((t) => t.name === name);
    if (transport === undefined) throw new InvalidArgumentError(`no transport named '${String(name)}' on this node`);
    return transport;
  }

  /** True for an address of a fallback transport (the DHT); unknown tags count as direct. */
  isFallback(address: TransportAddress): boolean {
    const name = address.transport ?? this.#all[0]?.name;
    return this.#all.find((t) => t.name === name)?.fallback === true;
  }

  /** Addresses at which transports that reach a peer by id alone (the DHT) dial `peer`. */
  idAddresses(peer: PeerId): Array<{ address: TransportAddress; source: string }> {
    return this.#all.flatMap((t) => (t.peerAddress ? [{ address: t.peerAddress(peer), source: t.name }] : []));
  }

  /**
   * The id a transport that reaches peers by id (the DHT) authenticated for
   * an inbound stream, if it names one: the handshake must then prove that
   * same id.
   */
  static dialler(remote: TransportAddress, transport: Transport): PeerId | undefined {
    if (remote.transport !== transport.name || transport.peerAddress === undefined) return undefined;
    try {
      return PeerId.parse(remote.host);
    } catch {
      return undefined; // not an id: the transport vouches for nothing
    }
  }

  /** Records the transport a connection runs on. */
  track(connection: Connection, transport: Transport): void {
    this.#of.set(connection, transport);
  }

  /** The transport `connection` runs on. */
  of(connection: Connection): Transport | undefined {
    return this.#of.get(connection);
  }

  /** Rank of a session's path for the session table: 0 direct, 1 fallback. */
  rank(connection: Connection): number {
    return this.#of.get(connection)?.fallback === true ? 1 : 0;
  }

  /** The meeting point of the first transport that has one (the DHT's), for pairing. */
  rendezvous(): Rendezvous | undefined {
    return this.#all.find((transport) => transport.rendezvous !== undefined)?.rendezvous;
  }

  /** Closes every listener, then releases what the transports hold of their own. */
  async close(): Promise<void> {
    await Promise.all(this.#listeners.map((l) => l.close()));
    await Promise.all(this.#all.map((t) => t.close?.()));
  }
}

/** The address part of connect options (no signal), tagged only when it has a transport. */
export function addressOf(options: TransportAddress): TransportAddress {
  const { transport, host, port } = options;
  return transport === undefined ? { host, port } : { transport, host, port };
}

/** `host:port`, with IPv6 hosts in brackets, after the transport's name when tagged, for messages. */
export function addressText(address: TransportAddress): string {
  const tag = address.transport === undefined ? '' : `${address.transport}:`;
  return tag + (address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`);
}

/**
 * Makes room for one more inbound handshake by evicting the oldest once
 * `max` are in progress: an honest handshake takes one round trip, so under
 * a flood of idle connections the newest one is the likeliest to be real.
 */
export function evictOldest(handshaking: Map<Connection, TransportAddress>, max: number, logger: Logger): void {
  if (handshaking.size < max) return;
  const [oldest] = handshaking;
  if (!oldest) return;
  const [connection, from] = oldest;
  handshaking.delete(connection);
  connection.destroy(new HandshakeFailedError('evicted: too many handshakes in progress'));
  logger.warn?.('too many handshakes in progress; evicted the oldest', { maxPending: max });
  publishDiagnostic(DIAGNOSTICS_CHANNELS.rateLimited, { limit: 'pending-handshakes', from: addressText(from) });
}
