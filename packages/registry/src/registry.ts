import { EventEmitter } from 'node:events';
import {
  PeerId,
  type DiscoveredPeer,
  type Discovery,
  type PeerNetError,
  type TransportAddress,
} from '@peernet/interface';
import { backoffDelay, backoffOptions, type Backoff, type BackoffOptions } from './backoff.js';
import { realTimers, type Timers } from './timers.js';

/** What the registry needs from the node that owns the sessions. */
export interface Dialer {
  /** Dials and authenticates `id` at `address`; resolves once the session is up. */
  connect(id: PeerId, address: TransportAddress, options: { signal: AbortSignal }): Promise<void>;
  /** True if a session with `id` is live. */
  isConnected(id: PeerId): boolean;
  /** True if `id` is paired. */
  isTrusted(id: PeerId): boolean;
}

/** Where an address came from: a discovery's name, or `'manual'`. */
export type AddressSource = string;

/** A row of the peer table. */
export interface PeerRecord {
  readonly id: PeerId;
  readonly trusted: boolean;
  readonly status: 'offline' | 'connecting' | 'online';
  readonly addresses: readonly (TransportAddress & { readonly source: AddressSource; readonly lastSeen: number })[];
  /** When any source last reported the peer (ms since epoch), if ever. */
  readonly lastSeen: number | undefined;
}

/** Options of `Registry`. */
export interface RegistryOptions {
  dialer: Dialer;
  /** Discoveries whose `peer`/`peer:lost` events feed the table. The registry starts and stops them. */
  discoveries?: readonly Discovery[];
  /** Reconnect schedule (500 ms doubling to 30 s, jitter 0.5). */
  backoff?: BackoffOptions;
  /** Most peers kept in the table; untrusted ones are evicted first (default 1,000). */
  maxPeers?: number;
  /** Timers, clock and randomness, injectable for tests. */
  timers?: Timers;
  now?: () => number;
  random?: () => number;
}

/** Events of the registry. */
export interface RegistryEvents {
  /** A discovery reported a peer (trusted or not) or new addresses for it. */
  'peer:discovered': [peer: DiscoveredPeer & { readonly trusted: boolean; readonly source: AddressSource }];
  /** A dial attempt failed; the registry will retry after `retryInMs` (undefined: no retry). */
  'dial:failed': [id: PeerId, error: PeerNetError | Error, retryInMs: number | undefined];
}

interface Entry {
  id: PeerId;
  addresses: Map<string, TransportAddress & { source: AddressSource; lastSeen: number }>;
  lastSeen: number | undefined;
  attempts: number;
  timer: unknown;
  dialing: AbortController | undefined;
  online: boolean;
}

const keyOf = (a: TransportAddress): string => `${a.host}|${a.port}`;

/**
 * The peer table: which peers exist, where they can be reached, and whether
 * a session is up. It dials trusted peers as soon as it knows an address for
 * them, retries with backoff while they stay trusted and addressable, and
 * never dials an untrusted peer (it only lists it).
 */
export class Registry {
  readonly #dialer: Dialer;
  readonly #discoveries: readonly Discovery[];
  readonly #backoff: Backoff;
  readonly #maxPeers: number;
  readonly #timers: Timers;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #events = new EventEmitter();
  readonly #unsubscribe: Array<() => void> = [];
  #running = false;

  constructor(options: RegistryOptions) {
    this.#dialer = options.dialer;
    this.#discoveries = options.discoveries ?? [];
    this.#backoff = backoffOptions(options.backoff);
    this.#maxPeers = options.maxPeers ?? 1_000;
    this.#timers = options.timers ?? realTimers;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  /** Starts every discovery and listens to them. */
  async start(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    for (const discovery of this.#discoveries) {
      const onPeer = (peer: DiscoveredPeer): void => this.#onDiscovered(peer, discovery.name);
      const onLost = (id: PeerId): void => this.#onLost(id, discovery.name);
      discovery.on('peer', onPeer);
      discovery.on('peer:lost', onLost);
      this.#unsubscribe.push(() => {
        discovery.off('peer', onPeer);
        discovery.off('peer:lost', onLost);
      });
    }
    await Promise.all(this.#discoveries.map((d) => d.start()));
  }

  /** Tells every discovery the port to announce. */
  async announce(port: number): Promise<void> {
    await Promise.all(this.#discoveries.map((d) => d.announce({ port })));
  }

  /** Stops retrying, aborts dials in progress, stops every discovery. Idempotent. */
  async stop(): Promise<void> {
    this.#running = false;
    for (const off of this.#unsubscribe.splice(0)) off();
    for (const entry of this.#entries.values()) this.#cancel(entry);
    await Promise.allSettled(this.#discoveries.map((d) => d.stop()));
  }

  /** Adds an address for `id` that the application knows (manual discovery). */
  addAddress(id: PeerId, address: TransportAddress, source: AddressSource = 'manual'): void {
    this.#onDiscovered({ id, addresses: [address] }, source);
  }

  /** The table, trusted and untrusted peers alike. */
  peers(): PeerRecord[] {
    return [...this.#entries.values()].map((e) => this.#record(e));
  }

  /** One row of the table. */
  peer(id: PeerId): PeerRecord | undefined {
    const entry = this.#entries.get(id.toString());
    return entry && this.#record(entry);
  }

  /** The node reports a session up. */
  peerOnline(id: PeerId): void {
    const entry = this.#entry(id);
    entry.online = true;
    entry.attempts = 0;
    // A dial already under way is left to finish: the peer may be completing
    // it as its own session right now, and the node resolves duplicates.
    if (entry.timer !== undefined) this.#timers.clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  /** The node reports a session down: reconnect with backoff while trusted and addressable. */
  peerOffline(id: PeerId): void {
    const entry = this.#entries.get(id.toString());
    if (!entry) return;
    entry.online = false;
    this.#schedule(entry, backoffDelay(0, this.#backoff, this.#random()));
  }

  /** The node paired `id`: dial at once if an address is known. */
  peerTrusted(id: PeerId): void {
    const entry = this.#entries.get(id.toString());
    if (entry) this.#schedule(entry, 0);
  }

  /** The node unpaired `id`: stop every attempt. */
  peerUntrusted(id: PeerId): void {
    const entry = this.#entries.get(id.toString());
    if (entry) this.#cancel(entry);
  }

  /** The network changed: forget backoff and dial every trusted, offline peer now. */
  networkChanged(): void {
    for (const entry of this.#entries.values()) {
      entry.attempts = 0;
      if (!entry.online) this.#schedule(entry, 0, true);
    }
  }

  /** Subscribes to an event. */
  on<E extends keyof RegistryEvents>(event: E, listener: (...args: RegistryEvents[E]) => void): this {
    this.#events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Unsubscribes. */
  off<E extends keyof RegistryEvents>(event: E, listener: (...args: RegistryEvents[E]) => void): this {
    this.#events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  // ---- internals -----------------------------------------------------------

  #onDiscovered(peer: DiscoveredPeer, source: AddressSource): void {
    const id = PeerId.from(peer.id);
    const entry = this.#entry(id);
    const now = this.#now();
    entry.lastSeen = now;
    let changed = false;
    for (const address of peer.addresses) {
      const key = keyOf(address);
      if (!entry.addresses.has(key)) changed = true;
      // Newest first: re-insert so iteration order is most recently seen last, read in reverse.
      entry.addresses.delete(key);
      entry.addresses.set(key, { host: address.host, port: address.port, source, lastSeen: now });
    }
    const trusted = this.#dialer.isTrusted(id);
    if (changed) this.#events.emit('peer:discovered', { id, addresses: peer.addresses, trusted, source });
    // A new address is a reason to try now rather than at the end of a long backoff.
    this.#schedule(entry, 0, changed);
  }

  #onLost(id: PeerId, source: AddressSource): void {
    const entry = this.#entries.get(id.toString());
    if (!entry) return;
    for (const [key, address] of entry.addresses) if (address.source === source) entry.addresses.delete(key);
    if (entry.addresses.size === 0 && !entry.online) this.#cancel(entry);
  }

  #entry(id: PeerId): Entry {
    const key = id.toString();
    let entry = this.#entries.get(key);
    if (!entry) {
      if (this.#entries.size >= this.#maxPeers) this.#evict();
      entry = {
        id,
        addresses: new Map(),
        lastSeen: undefined,
        attempts: 0,
        timer: undefined,
        dialing: undefined,
        online: false,
      };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Makes room: the least recently seen untrusted, offline peer goes first. */
  #evict(): void {
    let victim: Entry | undefined;
    for (const entry of this.#entries.values()) {
      if (entry.online || this.#dialer.isTrusted(entry.id)) continue;
      if (!victim || (entry.lastSeen ?? 0) < (victim.lastSeen ?? 0)) victim = entry;
    }
    if (victim) {
      this.#cancel(victim);
      this.#entries.delete(victim.id.toString());
    }
  }

  /**
   * Plans a dial in `delayMs` if the peer is trusted, offline, addressable and
   * not being dialled. An earlier plan stays unless `replace` is set.
   */
  #schedule(entry: Entry, delayMs: number, replace = false): void {
    if (!this.#running || entry.online || entry.dialing || entry.addresses.size === 0) return;
    if (!this.#dialer.isTrusted(entry.id)) return;
    if (entry.timer !== undefined) {
      if (!replace) return;
      this.#timers.clearTimeout(entry.timer);
    }
    entry.timer = this.#timers.setTimeout(() => {
      entry.timer = undefined;
      void this.#dial(entry);
    }, delayMs);
  }

  async #dial(entry: Entry): Promise<void> {
    if (!this.#running || entry.online || entry.dialing || !this.#dialer.isTrusted(entry.id)) return;
    if (this.#dialer.isConnected(entry.id)) {
      entry.online = true;
      return;
    }
    const controller = new AbortController();
    entry.dialing = controller;
    let lastError: Error | undefined;
    // Most recently seen address first.
    for (const address of [...entry.addresses.values()].reverse()) {
      if (controller.signal.aborted) break;
      try {
        await this.#dialer.connect(entry.id, address, { signal: controller.signal });
        lastError = undefined;
        break;
      } catch (error) {
        lastError = error instanceof Error ? error : new Error(String(error));
      }
    }
    if (entry.dialing === controller) entry.dialing = undefined;
    if (controller.signal.aborted || !lastError) {
      if (!lastError) entry.attempts = 0;
      return;
    }
    const retry =
      this.#running && this.#dialer.isTrusted(entry.id) && entry.addresses.size > 0
        ? backoffDelay(entry.attempts++, this.#backoff, this.#random())
        : undefined;
    this.#events.emit('dial:failed', entry.id, lastError, retry);
    if (retry !== undefined) this.#schedule(entry, retry);
  }

  #cancel(entry: Entry): void {
    if (entry.timer !== undefined) this.#timers.clearTimeout(entry.timer);
    entry.timer = undefined;
    entry.dialing?.abort();
    entry.dialing = undefined;
  }

  #record(entry: Entry): PeerRecord {
    const status = entry.online ? 'online' : entry.dialing ? 'connecting' : 'offline';
    return {
      id: entry.id,
      trusted: this.#dialer.isTrusted(entry.id),
      status,
      addresses: [...entry.addresses.values()].reverse().map((a) => ({ ...a })),
      lastSeen: entry.lastSeen,
    };
  }
}
