import {
  MAX_TIMER_MS,
  NotConnectedError,
  OptionsReader,
  PeerId,
  TimeoutError,
  TypedEmitter,
  type Clock,
  type DiscoveredPeer,
  type Discovery,
  type PeerNetError,
  type TransportAddress,
} from '@peernet/interface';
import { AddressBook, addressKey, type AddressSource, type KnownAddress, type RankedAddress } from './address-book.js';
import { backoffDelay, backoffOptions, type Backoff, type BackoffOptions } from './backoff.js';
import { readClockOption, type LegacyTimers } from './clock-option.js';

/**
 * What the registry needs from the node that owns the sessions. The node's
 * session table is the one owner of "is this peer online": the registry
 * keeps no flag of its own and asks `isConnected` whenever it matters, so
 * the two can never disagree.
 */
export interface Dialer {
  /**
   * Dials and authenticates `id` at `address`; resolves once the session is
   * up. The registry may dial several addresses of one peer at once: it
   * aborts the others through `signal` once one resolves, so a dial that
   * completes anyway must leave an existing session of the peer in place.
   */
  connect(id: PeerId, address: TransportAddress, options: { signal: AbortSignal }): Promise<void>;
  /** True if a session with `id` is live; the registry's only source for it. */
  isConnected(id: PeerId): boolean;
  /** True if `id` is paired. */
  isTrusted(id: PeerId): boolean;
}

/** A row of the peer table. */
export interface PeerRecord {
  readonly id: PeerId;
  readonly trusted: boolean;
  readonly status: 'offline' | 'connecting' | 'online';
  /** Known addresses in the order they are dialled: best evidenced first. */
  readonly addresses: readonly KnownAddress[];
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
  /** Most addresses kept per peer; the least evidenced are dropped first, never the last authenticated one (default 16). */
  maxAddressesPerPeer?: number;
  /** Most addresses taken from one report, the first ones as announced (default 8). */
  maxAddressesPerReport?: number;
  /** Time one address gets to connect and authenticate before the next is preferred (default 2,500 ms). */
  dialTimeoutMs?: number;
  /** Delay before the next address is dialled while earlier ones are still trying (default 250 ms). */
  dialStaggerMs?: number;
  /** Most dials in flight for one peer; the authenticated address and its sender's others may exceed it (default 8). */
  maxParallelDials?: number;
  /**
   * What the registry should know of the transports named by addresses'
   * `transport` tags: a `fallback` transport's addresses are dialled after
   * the peer's other addresses have started, and `dialTimeoutMs` replaces
   * the default budget for its dials.
   */
  transports?: Readonly<Record<string, TransportHints>>;
  /** Time source of the backoff, the stagger and the dial budgets (`systemClock` by default). */
  clock?: Clock;
  /**
   * Timers of old, read when `clock` is absent.
   * @deprecated Use `clock`.
   */
  timers?: LegacyTimers;
  /** Wall clock of `lastSeen`, in ms since the epoch (`Date.now` by default). */
  now?: () => number;
  /** Randomness of the backoff jitter (`Math.random` by default). */
  random?: () => number;
}

/** What the registry knows of one transport. */
export interface TransportHints {
  /** Dialled after every other address of the peer has started (a DHT). */
  readonly fallback?: boolean;
  /** The time one of its dials gets to authenticate. */
  readonly dialTimeoutMs?: number;
}

/** Events of the registry. */
export interface RegistryEvents {
  /** A discovery reported a peer (trusted or not) or new addresses for it. */
  'peer:discovered': [peer: DiscoveredPeer & { readonly trusted: boolean; readonly source: AddressSource }];
  /**
   * Every address of a dial round failed; the registry will retry after
   * `retryInMs` (undefined: no retry). The error is the last failure, or a
   * `refused_by_peer` if any address of the round was refused by the peer.
   */
  'dial:failed': [id: PeerId, error: PeerNetError | Error, retryInMs: number | undefined];
}

type RegistryListeners = { [E in keyof RegistryEvents]: (...args: RegistryEvents[E]) => void };

interface Attempt {
  readonly report: string;
  readonly controller: AbortController;
  timer: unknown;
  settled: boolean;
}

/** One round of dialling a peer: its addresses in parallel, staggered, until one authenticates. */
interface Round {
  readonly inFlight: Set<Attempt>;
  // Addresses (by key) already dialled in this round, and dials per sender for taking turns.
  readonly tried: Set<string>;
  readonly perReport: Map<string, number>;
  lastStart: number;
  timer: unknown;
  lastError: Error | undefined;
}

interface Entry {
  id: PeerId;
  book: AddressBook;
  lastSeen: number | undefined;
  attempts: number;
  timer: unknown;
  round: Round | undefined;
}

/**
 * The peer table: which peers exist and where they can be reached; whether
 * a session is up it asks the dialer. It dials trusted peers as soon as it knows an address for
 * them, retries with backoff while they stay trusted and addressable, and
 * never dials an untrusted peer (it only lists it).
 *
 * A peer's addresses are dialled in rounds, happy-eyeballs style: the best
 * evidenced address first, the next one `dialStaggerMs` later or as soon as
 * one fails, each with `dialTimeoutMs` to authenticate, senders taking
 * turns; the first to authenticate wins and the others are aborted. An
 * address that accepts connections and never answers therefore costs one
 * stagger step, not a handshake timeout.
 */
export class Registry {
  readonly #dialer: Dialer;
  readonly #discoveries: readonly Discovery[];
  readonly #backoff: Backoff;
  readonly #maxPeers: number;
  readonly #limits: { maxAddresses: number; maxPerReport: number };
  readonly #dialTimeoutMs: number;
  readonly #staggerMs: number;
  readonly #maxParallel: number;
  readonly #transports: Readonly<Record<string, TransportHints>>;
  readonly #clock: Clock;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #events = new TypedEmitter<RegistryListeners>();
  readonly #unsubscribe: Array<() => void> = [];
  #running = false;

  /** Creates a stopped registry; throws `invalid_argument` naming the option that is missing or out of range. */
  constructor(options: RegistryOptions) {
    const reader = new OptionsReader('Registry', options);
    const dialer = reader.object<Dialer, undefined>('dialer', ['connect', 'isConnected', 'isTrusted'], undefined);
    if (dialer === undefined) throw reader.error('dialer', 'is required');
    this.#dialer = dialer;
    const discoveries = reader.raw('discoveries') ?? [];
    if (!Array.isArray(discoveries)) throw reader.error('discoveries', 'must be an array of Discovery');
    this.#discoveries = discoveries as Discovery[];
    this.#backoff = backoffOptions(options.backoff, 'Registry backoff');
    this.#maxPeers = reader.integer('maxPeers', { default: 1_000, min: 1 });
    this.#limits = {
      maxAddresses: reader.integer('maxAddressesPerPeer', { default: 16, min: 1 }),
      maxPerReport: reader.integer('maxAddressesPerReport', { default: 8, min: 1 }),
    };
    this.#dialTimeoutMs = reader.number('dialTimeoutMs', { default: 2_500, min: 1, max: MAX_TIMER_MS });
    this.#staggerMs = reader.number('dialStaggerMs', { default: 250, min: 0, max: MAX_TIMER_MS });
    this.#maxParallel = reader.integer('maxParallelDials', { default: 8, min: 1 });
    const transports = reader.raw('transports') ?? {};
    if (typeof transports !== 'object' || transports === null) throw reader.error('transports', 'must be an object of transport hints');
    this.#transports = transports as Record<string, TransportHints>;
    this.#now = reader.function<() => number>('now', Date.now);
    this.#clock = readClockOption(reader, this.#now);
    this.#random = reader.function<() => number>('random', Math.random);
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

  /**
   * Adds an address for `id` that the application knows (manual discovery).
   * Each manual address counts as its own sender, so adding one never
   * replaces another; the per-peer cap still applies.
   */
  addAddress(id: PeerId, address: TransportAddress, source: AddressSource = 'manual'): void {
    const transport = address.transport === undefined ? '' : `${address.transport}:`;
    this.#onDiscovered({ id, addresses: [address], from: `${transport}${address.host}:${address.port}` }, source);
  }

  /**
   * Records that a session with `id` authenticated on `address` (for
   * sessions the registry did not dial itself): that address is dialled first
   * from now on and never evicted to make room.
   */
  authenticated(id: PeerId, address: TransportAddress): void {
    this.#entries.get(id.toString())?.book.authenticated(address);
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

  /** The node reports a session up: the planned retries stop (whether it stays up is asked of the dialer). */
  peerOnline(id: PeerId): void {
    const entry = this.#entry(id);
    entry.attempts = 0;
    // Dials already under way are left to finish: the peer may be completing
    // one as its own session right now, and the node resolves duplicates.
    // No further address is started.
    if (entry.round) this.#clearTimer(entry.round);
    if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
    entry.timer = undefined;
  }

  /** The node reports a session down: reconnect with backoff while trusted and addressable. */
  peerOffline(id: PeerId): void {
    const entry = this.#entries.get(id.toString());
    if (!entry) return;
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

  /**
   * Someone waits for `id`: dial it now rather than at the end of its
   * backoff, if it is trusted, offline and has an address. True if a dial
   * round is under way or about to start, whose outcome the dialer will see.
   */
  dialNow(id: PeerId): boolean {
    const entry = this.#entries.get(id.toString());
    if (!entry || !this.#dialer.isTrusted(id) || this.#online(entry)) return false;
    this.#schedule(entry, 0, true);
    return entry.round !== undefined || entry.timer !== undefined;
  }

  /** The network changed: forget backoff and dial every trusted, offline peer now. */
  networkChanged(): void {
    for (const entry of this.#entries.values()) {
      entry.attempts = 0;
      this.#schedule(entry, 0, true);
    }
  }

  /** Subscribes to an event (a listener that throws stops neither the others nor the registry; see `TypedEmitter`). */
  on<E extends keyof RegistryEvents>(event: E, listener: RegistryListeners[E]): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Unsubscribes. */
  off<E extends keyof RegistryEvents>(event: E, listener: RegistryListeners[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  // ---- internals -----------------------------------------------------------

  #onDiscovered(peer: DiscoveredPeer, source: AddressSource): void {
    const id = PeerId.from(peer.id);
    const entry = this.#entry(id);
    const now = this.#now();
    entry.lastSeen = now;
    const changed = entry.book.report(source, peer.from, peer.addresses, now);
    const trusted = this.#dialer.isTrusted(id);
    if (changed) {
      this.#events.emit('peer:discovered', {
        id,
        addresses: peer.addresses.slice(0, this.#limits.maxPerReport),
        ...(peer.from === undefined ? {} : { from: peer.from }),
        trusted,
        source,
      });
    }
    // A round in progress takes the new addresses in its next step.
    if (entry.round) {
      if (!this.#online(entry)) this.#armStagger(entry, entry.round);
      return;
    }
    // A new address is a reason to try now rather than at the end of a long backoff.
    this.#schedule(entry, 0, changed);
  }

  #onLost(id: PeerId, source: AddressSource): void {
    const entry = this.#entries.get(id.toString());
    if (!entry) return;
    entry.book.lose(source);
    if (entry.book.size === 0 && !this.#online(entry)) this.#cancel(entry);
  }

  #online(entry: Entry): boolean {
    return this.#dialer.isConnected(entry.id);
  }

  #entry(id: PeerId): Entry {
    const key = id.toString();
    let entry = this.#entries.get(key);
    if (!entry) {
      if (this.#entries.size >= this.#maxPeers) this.#evict();
      entry = {
        id,
        book: new AddressBook(this.#limits),
        lastSeen: undefined,
        attempts: 0,
        timer: undefined,
        round: undefined,
      };
      this.#entries.set(key, entry);
    }
    return entry;
  }

  /** Makes room: the least recently seen untrusted, offline peer goes first. */
  #evict(): void {
    let victim: Entry | undefined;
    for (const entry of this.#entries.values()) {
      if (this.#online(entry) || this.#dialer.isTrusted(entry.id)) continue;
      if (!victim || (entry.lastSeen ?? 0) < (victim.lastSeen ?? 0)) victim = entry;
    }
    if (victim) {
      this.#cancel(victim);
      this.#entries.delete(victim.id.toString());
    }
  }

  /**
   * Plans a dial round in `delayMs` if the peer is trusted, offline,
   * addressable and not being dialled. An earlier plan stays unless
   * `replace` is set.
   */
  #schedule(entry: Entry, delayMs: number, replace = false): void {
    if (!this.#running || entry.round || entry.book.size === 0) return;
    if (!this.#dialer.isTrusted(entry.id) || this.#online(entry)) return;
    if (entry.timer !== undefined) {
      if (!replace) return;
      this.#clock.clearTimeout(entry.timer);
    }
    entry.timer = this.#clock.setTimeout(() => {
      entry.timer = undefined;
      this.#dial(entry);
    }, delayMs);
  }

  #dial(entry: Entry): void {
    if (!this.#running || entry.round || !this.#dialer.isTrusted(entry.id) || this.#online(entry)) return;
    const round: Round = {
      inFlight: new Set(),
      tried: new Set(),
      perReport: new Map(),
      lastStart: -Infinity,
      timer: undefined,
      lastError: undefined,
    };
    entry.round = round;
    if (!this.#startNext(entry, round)) this.#finish(entry, round);
  }

  /**
   * The next address to dial in this round: not dialled yet in it; the
   * authenticated address and its sender's first, then from the sender with
   * the fewest dials so far, best evidenced among those. One sender holds at
   * most half the slots, so a sender with a stream of fresh addresses that
   * never answer cannot keep another waiting.
   */
  #pick(entry: Entry, round: Round): RankedAddress | undefined {
    const busy = new Map<string, number>();
    for (const attempt of round.inFlight) busy.set(attempt.report, (busy.get(attempt.report) ?? 0) + 1);
    const perSender = Math.ceil(this.#maxParallel / 2);
    let best: RankedAddress | undefined;
    let fewest = Infinity;
    const candidates = entry.book
      .ordered()
      .filter((a) => !round.tried.has(addressKey(a)) && (busy.get(a.report) ?? 0) < perSender);
    // A fallback transport's address waits until every other address has started.
    const direct = candidates.filter((a) => !this.#isFallback(a));
    for (const address of direct.length > 0 ? direct : candidates) {
      if (address.proven) return address;
      const dials = round.perReport.get(address.report) ?? 0;
      if (dials < fewest) {
        best = address;
        fewest = dials;
      }
    }
    return best;
  }

  /** Starts the next address if there is one and a slot is free; true if it did. */
  #startNext(entry: Entry, round: Round): boolean {
    if (entry.round !== round || this.#online(entry)) return false;
    const address = this.#pick(entry, round);
    // Proven addresses (a handful at most) do not wait for slots held by strangers.
    if (!address || (round.inFlight.size >= this.#maxParallel && !address.proven)) return false;
    const { report, authenticated: _, proven: __, ...target } = address;
    round.tried.add(addressKey(address));
    round.perReport.set(report, (round.perReport.get(report) ?? 0) + 1);
    this.#forgetStale(entry, round);
    round.lastStart = this.#clock.now();
    const attempt: Attempt = { report, controller: new AbortController(), timer: undefined, settled: false };
    const budget = this.#hints(target).dialTimeoutMs ?? this.#dialTimeoutMs;
    round.inFlight.add(attempt);
    attempt.timer = this.#clock.setTimeout(() => {
      attempt.timer = undefined;
      this.#failed(entry, round, attempt, new TimeoutError(`no session at ${addressText(target)} within ${budget} ms`));
    }, budget);
    let dial: Promise<void>;
    try {
      dial = this.#dialer.connect(entry.id, target, { signal: attempt.controller.signal });
    } catch (error) {
      dial = Promise.reject(error);
    }
    dial.then(
      () => this.#succeeded(entry, round, attempt, target),
      (error: unknown) => this.#failed(entry, round, attempt, error instanceof Error ? error : new Error(String(error))),
    );
    this.#armStagger(entry, round);
    return true;
  }

  /** Keeps the round's bookkeeping within the book's size while a flood replaces addresses under it. */
  #forgetStale(entry: Entry, round: Round): void {
    const bound = 4 * this.#limits.maxAddresses;
    if (round.tried.size <= bound && round.perReport.size <= bound) return;
    const ordered = entry.book.ordered();
    const keys = new Set(ordered.map(addressKey));
    const reports = new Set(ordered.map((a) => a.report));
    for (const key of round.tried) if (!keys.has(key)) round.tried.delete(key);
    for (const key of round.perReport.keys()) if (!reports.has(key)) round.perReport.delete(key);
  }

  /** Plans the next staggered start, if an address is waiting and none is planned. */
  #armStagger(entry: Entry, round: Round): void {
    if (round.timer !== undefined || entry.round !== round || this.#online(entry) || !this.#pick(entry, round)) return;
    const delay = Math.max(0, round.lastStart + this.#staggerMs - this.#clock.now());
    round.timer = this.#clock.setTimeout(() => {
      round.timer = undefined;
      // With every slot busy the next start waits for one to free up.
      this.#startNext(entry, round);
    }, delay);
  }

  #succeeded(entry: Entry, round: Round, attempt: Attempt, address: TransportAddress): void {
    // One the round had already given up on, or aborted for a winner, is not
    // the session's address (the dialer reports what it kept through `authenticated`).
    if (attempt.settled) return;
    entry.book.authenticated(address);
    this.#settle(round, attempt);
    if (entry.round !== round) return;
    entry.attempts = 0;
    this.#endRound(entry, round);
  }

  #failed(entry: Entry, round: Round, attempt: Attempt, error: Error): void {
    if (attempt.settled) return;
    this.#settle(round, attempt);
    attempt.controller.abort(error);
    // The peer saying no outweighs an address that did not answer: it is what the round reports.
    if (!isRefusal(round.lastError)) round.lastError = error;
    if (entry.round !== round) return;
    // A failure frees a slot: the next address need not wait for the stagger.
    if (!this.#startNext(entry, round) && round.inFlight.size === 0 && (this.#online(entry) || !this.#pick(entry, round))) {
      this.#finish(entry, round);
    }
  }

  #settle(round: Round, attempt: Attempt): void {
    attempt.settled = true;
    if (attempt.timer !== undefined) this.#clock.clearTimeout(attempt.timer);
    attempt.timer = undefined;
    round.inFlight.delete(attempt);
  }

  /** The round is over without a session of its own: retry with backoff unless the peer is online anyway. */
  #finish(entry: Entry, round: Round): void {
    this.#endRound(entry, round);
    if (!this.#running || this.#online(entry)) return;
    const retry =
      this.#dialer.isTrusted(entry.id) && entry.book.size > 0
        ? backoffDelay(entry.attempts++, this.#backoff, this.#random())
        : undefined;
    this.#events.emit('dial:failed', entry.id, round.lastError ?? new NotConnectedError('no address left to dial'), retry);
    if (retry !== undefined) this.#schedule(entry, retry);
  }

  /** Aborts what is still in flight and forgets the round. */
  #endRound(entry: Entry, round: Round): void {
    this.#clearTimer(round);
    for (const attempt of [...round.inFlight]) {
      this.#settle(round, attempt);
      attempt.controller.abort();
    }
    if (entry.round === round) entry.round = undefined;
  }

  #clearTimer(round: Round): void {
    if (round.timer !== undefined) this.#clock.clearTimeout(round.timer);
    round.timer = undefined;
  }

  #cancel(entry: Entry): void {
    if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
    entry.timer = undefined;
    if (entry.round) this.#endRound(entry, entry.round);
  }

  #hints(address: TransportAddress): TransportHints {
    return (address.transport === undefined ? undefined : this.#transports[address.transport]) ?? {};
  }

  #isFallback(address: TransportAddress): boolean {
    return this.#hints(address).fallback === true;
  }

  #record(entry: Entry): PeerRecord {
    const status = this.#online(entry) ? 'online' : entry.round ? 'connecting' : 'offline';
    return {
      id: entry.id,
      trusted: this.#dialer.isTrusted(entry.id),
      status,
      addresses: entry.book.ordered().map(({ report: _, proven: __, ...a }) => a),
      lastSeen: entry.lastSeen,
    };
  }
}

/** `host:port`, after its transport's name when it has one, for messages. */
function addressText(address: TransportAddress): string {
  return `${address.transport === undefined ? '' : `${address.transport}:`}${address.host}:${address.port}`;
}

/** True for a dial the peer refused (by code: the error may come from another copy of the packages). */
function isRefusal(error: Error | undefined): boolean {
  return (error as { code?: unknown } | undefined)?.code === 'refused_by_peer';
}
