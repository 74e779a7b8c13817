import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { networkInterfaces as osNetworkInterfaces } from 'node:os';
import type { Answer, Packet, Question } from 'dns-packet';
import multicastDns from 'multicast-dns';
import {
  type DiscoveredPeer,
  type Discovery,
  type DiscoveryEvents,
  InvalidArgumentError,
  PeerId,
  type PeerIdLike,
  type TransportAddress,
} from '@peernet/interface';
import { DEFAULT_MAX_PEERS, PeerCache } from './cache.js';
import {
  type InterfaceAddress,
  type NetworkInterfacesFn,
  invalidRestrictionEntry,
  onLink,
  resolveInterfaces,
} from './interfaces.js';
import { MDNS_GROUP, MDNS_PORT, SERVICE_TYPE, defaultHostLabel, instanceNameOf, isHostLabel } from './names.js';
import { MAX_PACKET_BYTES, parseResponse } from './parse.js';
import { type LocalService, Responder, type ServiceRecords, announcement, query, serviceRecords } from './records.js';
import { DEFAULT_QUERY_BACKOFF, type QueryBackoff, QuerySchedule } from './schedule.js';

/** Options of `mdnsDiscovery`. */
export interface MdnsDiscoveryOptions {
  /** Our identity; only its `id` is used (mDNS records are not signed). Give this or `id`. */
  identity?: { readonly id: PeerId };
  /** Our peer id, when no `identity` is at hand. */
  id?: PeerIdLike;
  /**
   * Interfaces to send and listen on: IPv4 addresses (`'127.0.0.1'`) or
   * interface names (`'eth0'`). Default: every non-internal IPv4 interface.
   * An entry that matches nothing makes `start()` fail.
   */
  interfaces?: readonly string[];
  /** Host label for our SRV target and A record (`<label>.local`). Default `pn-<first 16 characters of the id>`. */
  hostname?: string;
  /** TTL of our records in seconds (2-4500). Default 120. */
  ttl?: number;
  /** Delays between browse queries in ms. Default `{ initial: 1000, max: 60000 }`. */
  queryBackoff?: Partial<QueryBackoff>;
  /** Most peers tracked per interface (default 1000). */
  maxPeers?: number;
  /** Replaces `os.networkInterfaces` (tests). */
  networkInterfaces?: NetworkInterfacesFn;
  /** Monotonic clock in ms (default `performance.now`); drives TTLs and rate limits. */
  now?: () => number;
  /** Timer functions (default the global ones); with `now`, lets tests run the schedules on a fake clock. */
  timers?: Timers;
}

/** The timer functions the discovery uses. */
export interface Timers {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const defaultTimers: Timers = {
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

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

const DEFAULT_TTL = 120;
// Peers refresh a record at 80 % of its TTL, and a responder repeats a record at most once a second
// (RFC 6762 §5.2, §6): below 2 s a live record could expire before anyone may answer.
const MIN_OWN_TTL = 2;
const MAX_OWN_TTL = 4500;
// RFC 6762 §8.3: announce at least twice, one second apart.
const ANNOUNCE_COUNT = 2;
const ANNOUNCE_INTERVAL_MS = 1000;
// RFC 6762 §5.2: a follow-up question is not repeated on an interface within a second.
const QUESTION_INTERVAL_MS = 1000;
// Query packets on one interface are at least this far apart; questions that arrive in between are sent together.
const QUERY_GAP_MS = 100;
// The cache timer fires at most this often: records with tiny TTLs cannot make it spin.
const CACHE_TICK_MS = 100;
const MAX_KNOWN_ANSWERS = 64;
const MAX_QUESTIONS_PER_QUERY = 32;
const MAX_PENDING_QUESTIONS = 256;
const MAX_TIMER_MS = 2 ** 31 - 1;

/** One interface's socket and state. */
interface Link {
  readonly iface: InterfaceAddress;
  readonly socket: Socket;
  readonly mdns: multicastDns.MulticastDNS;
  readonly cache: PeerCache;
  readonly responder: Responder;
  /** Question key → when it was last asked on this link. */
  readonly asked: Map<string, number>;
  /** Questions waiting for the next query packet. */
  readonly pending: Map<string, Question>;
  /** When the last query packet went out. */
  lastQuery: number;
  flushTimer: unknown;
}

interface Reported {
  readonly signature: string;
}

interface ResolvedOptions {
  id: PeerId;
  restriction: readonly string[] | undefined;
  host: string;
  ttl: number;
  backoff: QueryBackoff;
  maxPeers: number;
  networkInterfaces: NetworkInterfacesFn;
  now: () => number;
  timers: Timers;
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

function resolveOptions(options: MdnsDiscoveryOptions): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('mdnsDiscovery options must be an object');
  }
  let id: PeerId;
  if (options.identity !== undefined) {
    id = PeerId.from(options.identity.id);
    if (options.id !== undefined && !id.equals(options.id)) {
      throw new InvalidArgumentError('mdnsDiscovery options id and identity.id differ');
    }
  } else if (options.id !== undefined) {
    id = PeerId.from(options.id);
  } else {
    throw new InvalidArgumentError('mdnsDiscovery needs an identity or an id');
  }

  let restriction: string[] | undefined;
  if (options.interfaces !== undefined) {
    if (!Array.isArray(options.interfaces)) {
      throw new InvalidArgumentError('mdnsDiscovery option interfaces must be an array of strings');
    }
    restriction = [...(options.interfaces as readonly unknown[])].map((entry, index) => {
      const problem = invalidRestrictionEntry(entry);
      if (problem !== undefined) {
        throw new InvalidArgumentError(`mdnsDiscovery option interfaces[${index}] (${String(entry)}) ${problem}`);
      }
      return entry as string;
    });
  }

  let label = defaultHostLabel(id);
  if (options.hostname !== undefined) {
    if (typeof options.hostname !== 'string') throw new InvalidArgumentError('mdnsDiscovery option hostname must be a string');
    label = options.hostname.toLowerCase().replace(/\.local\.?$/, '');
    if (!isHostLabel(label)) {
      throw new InvalidArgumentError(
        `mdnsDiscovery option hostname must be one DNS label (letters, digits, inner hyphens, at most 63), got ${JSON.stringify(options.hostname)}`,
      );
    }
  }

  const integer = (value: unknown, name: string, fallback: number, min: number, max: number): number => {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new InvalidArgumentError(`mdnsDiscovery option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
    }
    return value;
  };
  const backoffOption = options.queryBackoff ?? {};
  if (typeof backoffOption !== 'object' || backoffOption === null) {
    throw new InvalidArgumentError('mdnsDiscovery option queryBackoff must be an object');
  }
  const initial = integer(backoffOption.initial, 'queryBackoff.initial', DEFAULT_QUERY_BACKOFF.initial, 1, MAX_TIMER_MS);
  const max = integer(backoffOption.max, 'queryBackoff.max', Math.max(initial, DEFAULT_QUERY_BACKOFF.max), initial, MAX_TIMER_MS);

  if (options.networkInterfaces !== undefined && typeof options.networkInterfaces !== 'function') {
    throw new InvalidArgumentError('mdnsDiscovery option networkInterfaces must be a function');
  }
  if (options.now !== undefined && typeof options.now !== 'function') {
    throw new InvalidArgumentError('mdnsDiscovery option now must be a function');
  }
  const timers = options.timers;
  if (
    timers !== undefined &&
    (typeof timers !== 'object' || timers === null || typeof timers.setTimeout !== 'function' || typeof timers.clearTimeout !== 'function')
  ) {
    throw new InvalidArgumentError('mdnsDiscovery option timers must have setTimeout and clearTimeout functions');
  }
  return {
    id,
    restriction,
    host: `${label}.local`,
    ttl: integer(options.ttl, 'ttl', DEFAULT_TTL, MIN_OWN_TTL, MAX_OWN_TTL),
    backoff: { initial, max },
    maxPeers: integer(options.maxPeers, 'maxPeers', DEFAULT_MAX_PEERS, 1, 1_000_000),
    networkInterfaces: options.networkInterfaces ?? osNetworkInterfaces,
    now: options.now ?? (() => performance.now()),
    timers: timers ?? defaultTimers,
  };
}

class MdnsDiscoveryImpl implements MdnsDiscovery {
  readonly name = 'mdns' as const;
  readonly id: PeerId;
  readonly instanceName: string;
  readonly hostname: string;
  readonly #options: ResolvedOptions;
  readonly #events = new EventEmitter();
  readonly #links = new Map<string, Link>();
  readonly #reported = new Map<string, Reported>();
  #running = false;
  #port: number | undefined;
  #schedule: QuerySchedule | undefined;
  #browseTimer: unknown;
  #announceTimer: unknown;
  #cacheTimer: unknown;
  #cacheTimerAt = Infinity;
  #lastCacheTick = -Infinity;
  // start, stop and announce run one at a time, in call order.
  #queue: Promise<unknown> = Promise.resolve();

  constructor(options: ResolvedOptions) {
    this.#options = options;
    this.id = options.id;
    this.instanceName = instanceNameOf(options.id);
    this.hostname = options.host;
  }

  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.on(event, listener);
    return this;
  }

  off<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  activeInterfaces(): string[] {
    return [...this.#links.keys()];
  }

  start(): Promise<void> {
    return this.#serialized(async () => {
      if (this.#running) return;
      const { found, missing } = resolveInterfaces(this.#options.restriction, this.#options.networkInterfaces);
      if (missing.length > 0) {
        throw new InvalidArgumentError(`mdns: no IPv4 interface matches ${missing.map((m) => JSON.stringify(m)).join(', ')}`);
      }
      try {
        for (const iface of found) this.#links.set(iface.address, await this.#open(iface));
      } catch (error) {
        await this.#closeLinks();
        throw error;
      }
      this.#running = true;
      this.#schedule = new QuerySchedule(this.#options.backoff, this.#options.now());
      this.#browse();
      if (this.#port !== undefined) this.#announce(ANNOUNCE_COUNT);
    });
  }

  stop(): Promise<void> {
    return this.#serialized(async () => {
      if (!this.#running && this.#links.size === 0) return;
      this.#running = false;
      this.#clearTimers();
      if (this.#port !== undefined) {
        await Promise.all([...this.#links.values()].map((link) => this.#send(link, this.#goodbye(link))));
      }
      await this.#closeLinks();
      this.#reported.clear();
      this.#schedule = undefined;
    });
  }

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
      this.#announce(ANNOUNCE_COUNT);
      if (changed) this.#schedule?.reset(this.#options.now());
      this.#browse();
    });
  }

  #serialized<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#queue.then(task);
    this.#queue = result.catch(() => {});
    return result;
  }

  /**
   * Opens one interface's socket. multicast-dns gets a socket we made and
   * `multicast: false`, and we set the multicast options ourselves: its own
   * setup skips `setMulticastInterface` when `addMembership` fails, and the
   * socket would then send on the default route. Nothing is sent before
   * every option below is in place.
   */
  async #open(iface: InterfaceAddress): Promise<Link> {
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    const mdns = multicastDns({
      socket,
      port: MDNS_PORT,
      // Bound to the wildcard: bound to the interface address, Linux delivers no multicast to it.
      bind: '0.0.0.0',
      interface: iface.address,
      // Its own multicast setup stays off: see above.
      multicast: false,
    });
    // An 'error' event without a listener would throw; failures surface through the ready promise instead.
    const onError = (): void => {};
    mdns.on('error', onError);
    mdns.on('warning', () => {});
    const destroy = (): Promise<void> => new Promise((resolve) => mdns.destroy(() => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        const ready = (): void => {
          mdns.off('error', failed);
          resolve();
        };
        const failed = (error: Error): void => {
          mdns.off('ready', ready);
          reject(error);
        };
        mdns.once('ready', ready);
        mdns.once('error', failed);
      });
      socket.setMulticastInterface(iface.address);
      // Loopback traffic needs no hops; on a LAN RFC 6762 §11 asks for 255 (routers never forward 224.0.0.0/24).
      socket.setMulticastTTL(iface.internal ? 1 : 255);
      socket.setMulticastLoopback(true);
      socket.addMembership(MDNS_GROUP, iface.address);
    } catch (error) {
      await destroy();
      throw new InvalidArgumentError(`mdns: cannot use interface ${iface.name} (${iface.address}): ${describe(error)}`, {
        cause: error,
      });
    }
    const link: Link = {
      iface,
      socket,
      mdns,
      cache: new PeerCache({ maxPeers: this.#options.maxPeers }),
      responder: new Responder(),
      asked: new Map(),
      pending: new Map(),
      lastQuery: -Infinity,
      flushTimer: undefined,
    };
    mdns.on('query', (packet: Packet, rinfo: RemoteInfo) => this.#onQuery(link, packet, rinfo));
    mdns.on('response', (packet: Packet, rinfo: RemoteInfo) => this.#onResponse(link, packet, rinfo));
    return link;
  }

  /** Opens links for interfaces that appeared, closes those of interfaces that went away; true if any changed. */
  async #syncLinks(): Promise<boolean> {
    const { found } = resolveInterfaces(this.#options.restriction, this.#options.networkInterfaces);
    let changed = false;
    const wanted = new Set(found.map((f) => f.address));
    for (const [address, link] of this.#links) {
      if (wanted.has(address)) continue;
      this.#links.delete(address);
      await this.#destroyLink(link);
      changed = true;
    }
    for (const iface of found) {
      if (this.#links.has(iface.address)) continue;
      try {
        this.#links.set(iface.address, await this.#open(iface));
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
    await Promise.all(links.map((link) => this.#destroyLink(link)));
  }

  #destroyLink(link: Link): Promise<void> {
    this.#clear(link.flushTimer);
    link.flushTimer = undefined;
    link.pending.clear();
    link.cache.clear();
    link.mdns.removeAllListeners('query');
    link.mdns.removeAllListeners('response');
    return new Promise((resolve) => link.mdns.destroy(() => resolve()));
  }

  #clear(handle: unknown): void {
    if (handle !== undefined) this.#options.timers.clearTimeout(handle);
  }

  #clearTimers(): void {
    this.#clear(this.#browseTimer);
    this.#clear(this.#announceTimer);
    this.#clear(this.#cacheTimer);
    for (const link of this.#links.values()) {
      this.#clear(link.flushTimer);
      link.flushTimer = undefined;
      link.pending.clear();
    }
    this.#browseTimer = undefined;
    this.#announceTimer = undefined;
    this.#cacheTimer = undefined;
    this.#cacheTimerAt = Infinity;
  }

  #service(): LocalService | undefined {
    if (this.#port === undefined) return undefined;
    return { id: this.id, instance: this.instanceName, host: this.hostname, port: this.#port, ttl: this.#options.ttl };
  }

  #records(link: Link, ttl?: number): ServiceRecords | undefined {
    const service = this.#service();
    return service === undefined ? undefined : serviceRecords(service, link.iface.address, ttl);
  }

  #goodbye(link: Link): Packet {
    return announcement(this.#records(link, 0) as ServiceRecords);
  }

  /**
   * The only way out: multicast to 224.0.0.251:5353 through the link's own
   * socket, whose multicast interface is pinned to that link. Never unicast.
   * Resolves once the datagram was handed to the kernel (or failed: mDNS is
   * best effort and a failed send is like a lost packet).
   */
  #send(link: Link, packet: Packet): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => resolve();
      if (packet.type === 'response') link.mdns.respond(packet as multicastDns.ResponseOutgoingPacket, done);
      else link.mdns.query(packet as multicastDns.QueryOutgoingPacket, done);
    });
  }

  /** Sends our records on every link now, then `count - 1` more times one second apart (RFC 6762 §8.3). */
  #announce(count: number): void {
    this.#clear(this.#announceTimer);
    this.#announceTimer = undefined;
    if (!this.#running || this.#port === undefined) return;
    const now = this.#options.now();
    for (const link of this.#links.values()) {
      const packet = announcement(this.#records(link) as ServiceRecords);
      link.responder.sent(packet, now);
      void this.#send(link, packet);
    }
    if (count > 1) this.#announceTimer = this.#options.timers.setTimeout(() => this.#announce(count - 1), ANNOUNCE_INTERVAL_MS);
  }

  /** Sends the browse query if it is due and schedules the next one (1 s, 2 s, 4 s … up to the cap). */
  #browse(): void {
    this.#clear(this.#browseTimer);
    this.#browseTimer = undefined;
    const schedule = this.#schedule;
    if (!this.#running || schedule === undefined) return;
    const now = this.#options.now();
    if (schedule.isDue(now)) {
      for (const link of this.#links.values()) {
        const known = this.#knownAnswers(link, now);
        link.asked.set(questionKey({ name: SERVICE_TYPE, type: 'PTR' }), now);
        link.lastQuery = now;
        void this.#send(link, query([{ name: SERVICE_TYPE, type: 'PTR', class: 'IN' }], known));
      }
      schedule.sent(now);
    }
    this.#browseTimer = this.#options.timers.setTimeout(() => this.#browse(), Math.max(0, Math.ceil(schedule.due - now)));
  }

  /**
   * Queues `questions` for `link` and sends them, together, as soon as the
   * query gap allows. Follow-ups (`paced`) skip questions asked there within
   * the last second; refreshes are paced by their TTL points instead.
   */
  #ask(link: Link, questions: readonly Question[], now: number, paced: boolean): void {
    for (const q of questions) {
      const key = questionKey(q);
      if (paced && now - (link.asked.get(key) ?? -Infinity) < QUESTION_INTERVAL_MS) continue;
      if (link.pending.size >= MAX_PENDING_QUESTIONS && !link.pending.has(key)) break;
      link.pending.set(key, q);
    }
    this.#flushQuestions(link);
  }

  #flushQuestions(link: Link): void {
    if (!this.#running || link.pending.size === 0 || link.flushTimer !== undefined) return;
    const now = this.#options.now();
    const wait = link.lastQuery + QUERY_GAP_MS - now;
    if (wait > 0) {
      link.flushTimer = this.#options.timers.setTimeout(() => {
        link.flushTimer = undefined;
        this.#flushQuestions(link);
      }, Math.ceil(wait));
      return;
    }
    const batch = [...link.pending].slice(0, MAX_QUESTIONS_PER_QUERY);
    for (const [key] of batch) {
      link.pending.delete(key);
      link.asked.set(key, now);
    }
    if (link.asked.size > MAX_PENDING_QUESTIONS) {
      for (const [key, at] of link.asked) if (now - at >= QUESTION_INTERVAL_MS) link.asked.delete(key);
    }
    link.lastQuery = now;
    const questions = batch.map(([, q]) => q);
    const wantsPtr = questions.some((q) => q.type === 'PTR');
    void this.#send(link, query(questions, wantsPtr ? this.#knownAnswers(link, now) : []));
    this.#flushQuestions(link);
  }

  /**
   * Known answers for a PTR query (RFC 6762 §7.1): the peers' PTR records we
   * hold with more than half their TTL left, and our own, so that our own
   * responder does not answer our own query.
   */
  #knownAnswers(link: Link, now: number): Answer[] {
    const known = link.cache.knownAnswers(now, MAX_KNOWN_ANSWERS);
    const own = this.#records(link);
    if (own !== undefined) known.push(own.ptr);
    return known;
  }

  /** RFC 6762 §6, §11: answer only well-formed multicast queries from our own subnet on port 5353. */
  #onQuery(link: Link, packet: Packet, rinfo: RemoteInfo): void {
    if (!this.#running || !this.#fromLink(link, rinfo)) return;
    const records = this.#records(link);
    if (records === undefined) return;
    // Queries from another port are "legacy unicast" (RFC 6762 §6.7) and want a unicast reply; we never send unicast.
    if (rinfo.port !== MDNS_PORT) return;
    const p = packet as Packet & { opcode?: unknown; rcode?: unknown };
    if (p.opcode !== 'QUERY' || p.rcode !== 'NOERROR') return;
    let response: Packet | undefined;
    try {
      response = link.responder.respond(packet, records, this.#options.now());
    } catch {
      return; // A hostile query shape: drop it.
    }
    if (response !== undefined) void this.#send(link, response);
  }

  #onResponse(link: Link, packet: Packet, rinfo: RemoteInfo): void {
    if (!this.#running || !this.#fromLink(link, rinfo) || rinfo.port !== MDNS_PORT) return;
    const now = this.#options.now();
    let changed: ReadonlySet<string>;
    try {
      const records = parseResponse(packet, rinfo.size, {
        self: this.id,
        selfHost: this.hostname,
        acceptAddress: (address) => onLink(address, link.iface),
      });
      if (records.length === 0) return;
      const update = link.cache.ingest(records, now, rinfo.address);
      changed = update.changed;
      this.#ask(link, update.questions, now, true);
      this.#scheduleCache();
    } catch {
      return; // A hostile response shape: drop it.
    }
    this.#publish(changed);
  }

  /** The source must be on the link's subnet: with `bind: 0.0.0.0` the socket also hears other interfaces. */
  #fromLink(link: Link, rinfo: RemoteInfo): boolean {
    return rinfo.size <= MAX_PACKET_BYTES && onLink(rinfo.address, link.iface);
  }

  /** Arms one timer for the earliest expiry or refresh over every link's cache. */
  #scheduleCache(): void {
    if (!this.#running) return;
    let next = Infinity;
    for (const link of this.#links.values()) next = Math.min(next, link.cache.nextDeadline() ?? Infinity);
    if (next !== Infinity) next = Math.max(next, this.#lastCacheTick + CACHE_TICK_MS);
    if (next === this.#cacheTimerAt) return;
    this.#clear(this.#cacheTimer);
    this.#cacheTimer = undefined;
    this.#cacheTimerAt = next;
    if (next === Infinity) return;
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(next - this.#options.now())));
    this.#cacheTimer = this.#options.timers.setTimeout(() => this.#onCacheTimer(), delay);
  }

  #onCacheTimer(): void {
    this.#cacheTimer = undefined;
    this.#cacheTimerAt = Infinity;
    if (!this.#running) return;
    const now = this.#options.now();
    this.#lastCacheTick = now;
    const changed = new Set<string>();
    for (const link of this.#links.values()) {
      const update = link.cache.expire(now);
      for (const key of update.changed) changed.add(key);
      this.#ask(link, update.questions, now, false);
    }
    this.#scheduleCache();
    this.#publish(changed);
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
      if (before?.signature === signature) continue;
      // Bounded: a key is only reported while some bounded cache resolves it.
      this.#reported.set(key, { signature });
      events.push(['peer', from === undefined ? { id, addresses } : { id, addresses, from }]);
    }
    // State is settled before any listener runs; a throwing listener is rethrown after the others ran.
    let failure: { error: unknown } | undefined;
    for (const [event, value] of events) {
      try {
        this.#events.emit(event, value);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure !== undefined) throw failure.error;
  }
}

function questionKey(q: { name: string; type: string }): string {
  return `${q.name.toLowerCase()}|${q.type}`;
}

function describe(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}
