import type { RemoteInfo } from 'node:dgram';
import type { Packet } from 'dns-packet';
import {
  DIAGNOSTICS_CHANNELS,
  type DiscoveredPeer,
  type Discovery,
  type DiscoveryEvents,
  InvalidArgumentError,
  PeerId,
  type TransportAddress,
  TypedEmitter,
  hasDiagnosticsSubscribers,
  inSubnet,
  publishDiagnostic,
} from '@peernet/interface';
import { ANNOUNCE_COUNT, Answerer } from './answerer.js';
import { Browser } from './browser.js';
import { resolveInterfaces } from './interfaces.js';
import { type Link, type LinkContext, type LinkHandlers, destroyLink, openLink } from './link.js';
import type { MdnsDropReason } from './names.js';
import { instanceNameOf } from './names.js';
import { type MdnsDiscoveryOptions, type ResolvedOptions, resolveOptions } from './options.js';
import type { LocalService } from './records.js';

/** A `Discovery` over DNS-SD on multicast DNS (`_peernet._tcp.local`). */
export interface MdnsDiscovery extends Discovery {
  readonly name: 'mdns';
  /** Our peer id. */
  readonly id: PeerId;
  /** Our instance name, `<base32 id>._peernet._tcp.local`. */
  readonly instanceName: string;
  /** Our host name, `<hostname>.local`. */
  readonly hostname: string;
  /** The IPv4 addresses of the interfaces in use (empty while stopped). */
  activeInterfaces(): string[];
}

/**
 * Creates the mDNS `Discovery`: publishes `<id>._peernet._tcp.local` (PTR, SRV,
 * TXT `v=1 id=<id>`, A) once `announce({ port })` was called, answers queries
 * for it, browses for other instances and reports them. Throws
 * `InvalidArgumentError` for a bad option.
 */
export function mdnsDiscovery(options: MdnsDiscoveryOptions): MdnsDiscovery {
  return new MdnsDiscoveryImpl(resolveOptions(options));
}

/**
 * The lifecycle (start, stop, announce, following interfaces) and the
 * events; the answer side (`Answerer`) and the query side (`Browser`) work
 * over the links it keeps.
 */
class MdnsDiscoveryImpl implements MdnsDiscovery {
  readonly name = 'mdns' as const;
  readonly id: PeerId;
  readonly instanceName: string;
  readonly hostname: string;
  readonly #options: ResolvedOptions;
  readonly #events = new TypedEmitter<DiscoveryEvents>();
  readonly #links = new Map<string, Link>();
  // The last report per peer key (addresses and senders), so unchanged refreshes report nothing.
  readonly #reported = new Map<string, string>();
  readonly #answerer: Answerer;
  readonly #browser: Browser;
  readonly #handlers: LinkHandlers = {
    query: (link: Link, packet: Packet, rinfo: RemoteInfo) => this.#answerer.onQuery(link, packet, rinfo),
    response: (link: Link, packet: Packet, rinfo: RemoteInfo) => this.#browser.onResponse(link, packet, rinfo),
    undecodable: (link: Link, rinfo: RemoteInfo) => this.#dropped(link, rinfo, 'malformed'),
  };
  #running = false;
  #port: number | undefined;
  // start, stop and announce run one at a time, in call order.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.id = options.id;
    this.instanceName = instanceNameOf(options.id);
    this.hostname = options.host;
    const context: LinkContext = {
      clock: options.clock,
      id: this.id,
      hostname: this.hostname,
      running: () => this.#running,
      links: () => this.#links.values(),
      service: () => this.#service(),
      dropped: (link, rinfo, reason) => this.#dropped(link, rinfo, reason),
    };
    this.#answerer = new Answerer(context);
    this.#browser = new Browser(context, options.backoff, (keys) => this.#publish(keys));
  }

  /** Adds a listener; one that throws does not stop the others, and its error is rethrown from a microtask. */
  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Removes a listener. */
  off<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  /** The IPv4 addresses of the interfaces in use. */
  activeInterfaces(): string[] {
    return [...this.#links.keys()];
  }

  /** Opens one socket per interface, starts browsing, and announces if a port is set. */
  start(): Promise<void> {
    return this.#serialized(async () => {
      if (this.#running) return;
      const { found, missing } = resolveInterfaces(this.#options.restriction, this.#options.networkInterfaces);
      if (missing.length > 0) {
        throw new InvalidArgumentError(`mdns: no IPv4 interface matches ${missing.map((m) => JSON.stringify(m)).join(', ')}`);
      }
      try {
        for (const iface of found) {
          this.#links.set(iface.address, await openLink(iface, this.#options.maxPeers, this.#handlers));
        }
      } catch (error) {
        await this.#closeLinks();
        throw error;
      }
      this.#running = true;
      this.#browser.start();
      if (this.#port !== undefined) this.#answerer.announce(ANNOUNCE_COUNT);
    });
  }

  /** Sends the goodbye, closes every socket and clears every timer. */
  stop(): Promise<void> {
    return this.#serialized(async () => {
      if (!this.#running && this.#links.size === 0) return;
      this.#running = false;
      this.#answerer.cancel();
      this.#browser.stop();
      await this.#answerer.goodbye();
      await this.#closeLinks();
      this.#reported.clear();
    });
  }

  /** Sets the port to publish; while running, follows interface changes and announces again. */
  announce(options: { port: number }): Promise<void> {
    const port = (options as { port?: unknown } | null)?.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return Promise.reject(new InvalidArgumentError(`mdns: announce needs a port from 1 to 65535, got ${String(port)}`));
    }
    return this.#serialized(async () => {
      this.#port = port;
      if (!this.#running) return;
      // Called again after a network change: follow interfaces that appeared or went away.
      const changed = await this.#syncLinks();
      for (const link of this.#links.values()) link.responder.clear();
      this.#answerer.announce(ANNOUNCE_COUNT);
      if (changed) this.#browser.reset();
      this.#browser.browse();
    });
  }

  #serialized<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(task);
    this.#queue = result.catch(() => {});
    return result;
  }

  #service(): LocalService | undefined {
    if (this.#port === undefined) return undefined;
    return { id: this.id, instance: this.instanceName, host: this.hostname, port: this.#port, ttl: this.#options.ttl };
  }

  /** Opens links for interfaces that appeared, closes those of interfaces that went away; true if any changed. */
  async #syncLinks(): Promise<boolean> {
    const { found } = resolveInterfaces(this.#options.restriction, this.#options.networkInterfaces);
    let changed = false;
    const wanted = new Set(found.map((f) => f.address));
    for (const [address, link] of this.#links) {
      if (wanted.has(address)) continue;
      this.#links.delete(address);
      this.#browser.forget(link);
      await destroyLink(link);
      changed = true;
    }
    for (const iface of found) {
      if (this.#links.has(iface.address)) continue;
      try {
        this.#links.set(iface.address, await openLink(iface, this.#options.maxPeers, this.#handlers));
        changed = true;
      } catch {
        // An interface that cannot be used now is retried at the next announce.
      }
    }
    if (changed) this.#publish(new Set(this.#reported.keys()));
    return changed;
  }

  async #closeLinks(): Promise<void> {
    const links = [...this.#links.values()];
    this.#links.clear();
    for (const link of links) this.#browser.forget(link);
    await Promise.all(links.map((link) => destroyLink(link)));
  }

  /**
   * Publishes a dropped datagram. Every link's socket hears every datagram
   * sent to the group, so only one link reports it: the one whose subnet
   * holds the source, or the first link when none does.
   */
  #dropped(link: Link, rinfo: RemoteInfo, reason: MdnsDropReason): void {
    if (!hasDiagnosticsSubscribers(DIAGNOSTICS_CHANNELS.discoveryDropped)) return;
    let reporter: Link | undefined;
    for (const candidate of this.#links.values()) {
      reporter ??= candidate;
      if (inSubnet(rinfo.address, candidate.iface)) {
        reporter = candidate;
        break;
      }
    }
    if (reporter !== link) return;
    publishDiagnostic(DIAGNOSTICS_CHANNELS.discoveryDropped, {
      discovery: 'mdns',
      from: `${rinfo.address}:${rinfo.port}`,
      reason,
    });
  }

  /**
   * Emits what changed for `keys`: 'peer' when a peer is new, came back or
   * its addresses or their sender changed; 'peer:lost' when no link resolves
   * it any more. A peer heard on several interfaces is reported with the
   * union of addresses, and `from` lists the senders of its SRV records.
   */
  #publish(keys: ReadonlySet<string>): void {
    const events: Array<['peer', DiscoveredPeer] | ['peer:lost', PeerId]> = [];
    for (const key of keys) {
      let id: PeerId | undefined;
      const seen = new Map<string, TransportAddress>();
      const senders = new Set<string>();
      for (const link of this.#links.values()) {
        const resolved = link.cache.resolved(key);
        if (resolved === undefined) continue;
        id = resolved.id;
        if (resolved.from !== undefined) senders.add(resolved.from);
        for (const host of resolved.hosts) seen.set(`${host}:${resolved.port}`, { host, port: resolved.port });
      }
      const before = this.#reported.get(key);
      if (id === undefined) {
        if (before !== undefined) {
          this.#reported.delete(key);
          events.push(['peer:lost', PeerId.parse(key)]);
        }
        continue;
      }
      const addresses = [...seen.values()].sort((a, b) => a.host.localeCompare(b.host) || a.port - b.port);
      // Who sent the records: the registry keeps each sender's report apart,
      // so a forger's answers replace each other, never the real peer's.
      const from = senders.size === 0 ? undefined : [...senders].sort().join(',');
      const signature = `${addresses.map((a) => `${a.host}:${a.port}`).join(',')}|${from ?? ''}`;
      if (before === signature) continue;
      // Bounded: a key is only reported while some bounded cache resolves it.
      this.#reported.set(key, signature);
      events.push(['peer', from === undefined ? { id, addresses } : { id, addresses, from }]);
    }
    // State is settled before any listener runs; the emitter keeps a throwing listener from stopping the rest.
    for (const [event, value] of events) {
      if (event === 'peer') this.#events.emit('peer', value);
      else this.#events.emit('peer:lost', value);
    }
  }
}
