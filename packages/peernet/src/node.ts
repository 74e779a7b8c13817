import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import {
  AbortedError,
  ConnectionClosedError,
  HandshakeFailedError,
  InvalidArgumentError,
  NotConnectedError,
  PeerId,
  UntrustedPeerError,
  isPeerNetError,
  type Discovery,
  type DuplexStream,
  type Listener,
  type PeerIdLike,
  type PeerNetError,
  type Transport,
  type TransportAddress,
} from '@peernet/interface';
import { loadOrCreateIdentity, type Identity } from '@peernet/identity';
import { openFileTrustStore, type TrustEntry, type TrustStore } from '@peernet/trust';
import {
  Connection,
  type Authorize,
  type CallOptions,
  type ExposedHandler,
  type Handler,
  type LocalIdentity,
  type Value,
} from '@peernet/connection';
import type { CryptoProvider } from '@peernet/noise';
import { tcp } from '@peernet/transport-tcp';
import { watchLiveness } from '@peernet/liveness';
import { udpDiscovery } from '@peernet/discovery-udp';
import { mdnsDiscovery } from '@peernet/discovery-mdns';
import {
  Registry,
  watchNetwork,
  type BackoffOptions,
  type NetworkChange,
  type NetworkWatch,
  type PeerRecord,
  type RegistryOptions,
} from '@peernet/registry';

/** Receives PeerNet's diagnostics; `console` fits. */
export interface Logger {
  debug?(message: string, details?: Record<string, unknown>): void;
  info?(message: string, details?: Record<string, unknown>): void;
  warn?(message: string, details?: Record<string, unknown>): void;
}

/** Options of `PeerNet.start`. */
export interface PeerNetOptions {
  /**
   * Directory of `identity.key` and `trust.json` (created 0700 if missing). It,
   * its files and the directories above it must not be another user's or
   * writable by others (`unsafe_permissions`): a directory of the user's own,
   * never a fixed name in a shared directory such as `/tmp/peernet`.
   */
  dataDir: string;
  /** Port to listen on; 0 (default) picks a free one. */
  port?: number;
  /** Address to listen on (default `0.0.0.0`: every IPv4 interface; only paired peers get past the handshake). */
  host?: string;
  /** Transport (default TCP). */
  transport?: Transport;
  /** Identity to use instead of `dataDir/identity.key`. */
  identity?: Identity;
  /** Trust store to use instead of `dataDir/trust.json`. */
  trust?: TrustStore;
  /** Time for a handshake, dialled or accepted (default 10 s). */
  handshakeTimeoutMs?: number;
  /** Default timeout of `call` (default 5 s). */
  callTimeoutMs?: number;
  /** Largest message sent or accepted (default 16 MiB). */
  maxMessageBytes?: number;
  /**
   * Largest estimated heap, in bytes, one received message may decode to
   * (default 64 MiB); a peer that sends more is disconnected. The arguments
   * held by one peer's running handlers together stay within it too (the
   * node stops reading from that peer until enough handlers finish).
   */
  maxDecodedBytes?: number;
  /** Handlers running at once per peer (default 256). */
  maxConcurrentHandlers?: number;
  /**
   * Bytes that may wait behind a peer that does not read (default 64 MiB).
   * Beyond it `send`/`call` to that peer fail with `message_too_large` and
   * the node stops reading from it until it reads.
   */
  maxQueuedBytes?: number;
  /** Inbound connections allowed in their handshake at once; beyond it the oldest is dropped (default 128). */
  maxPendingHandshakes?: number;
  /** Noise crypto provider (fastest available when omitted). */
  crypto?: CryptoProvider;
  /** Diagnostics (silent when omitted). */
  logger?: Logger;
  /**
   * How peers are found: `'mdns'` (DNS-SD), `'udp'` (signed broadcasts) and/or
   * your own `Discovery` instances. Default `['mdns', 'udp']`; `[]` for none
   * (then only `connect()` makes sessions).
   */
  discovery?: readonly ('mdns' | 'udp' | Discovery)[];
  /**
   * Interfaces the built-in discoveries send and listen on: IPv4 addresses
   * (`'127.0.0.1'`) or names (`'eth0'`). Default: every non-internal IPv4 interface.
   */
  interfaces?: readonly string[];
  /** UDP port of the broadcast discovery (default 4040; the same on every node of a LAN). */
  udpPort?: number;
  /** Heartbeat on every session (ping every 15 s, close after 30 s without pong); `false` turns it off. */
  liveness?: { intervalMs?: number; timeoutMs?: number } | false;
  /** Reconnect schedule (500 ms doubling to 30 s, with jitter). */
  reconnect?: BackoffOptions;
  /**
   * How a paired peer's known addresses are dialled: in parallel, the best
   * evidenced first, the next one `staggerMs` later (default 250) or when one
   * fails, each with `timeoutMs` to authenticate (default 2,500), at most
   * `maxParallel` at once (default 8); at most `maxAddressesPerPeer` addresses
   * are kept per peer (default 16).
   */
  dialing?: { timeoutMs?: number; staggerMs?: number; maxParallel?: number; maxAddressesPerPeer?: number };
  /**
   * Interface polling (every 2 s). When an address goes away, sessions are
   * dropped; on any change the node re-announces and re-dials. `false` turns it off.
   */
  networkMonitor?: { intervalMs?: number } | false;
}

/** Options of `expose`. */
export interface ExposeOptions {
  /** Runs before the handler; false or a throw answers `forbidden` and the handler never runs. */
  authorize?: Authorize;
  /** Send thrown errors' stack traces to callers (default false). */
  exposeErrorStack?: boolean;
}

/** Options of `connect`. */
export interface ConnectOptions extends TransportAddress {
  /** Aborts the dial and handshake. */
  signal?: AbortSignal;
}

/** A row of `listPeers()`. */
export interface PeerInfo {
  readonly id: PeerId;
  readonly label: string | undefined;
  readonly addedAt: number;
  readonly status: 'online' | 'connecting' | 'offline';
  /** Addresses known for the peer, most recently seen first. */
  readonly addresses: readonly TransportAddress[];
  /** When a discovery last reported the peer (ms since epoch). */
  readonly lastSeen: number | undefined;
}

/** The events of a node. */
export interface PeerNetEvents {
  /** A paired peer's session is authenticated and usable. */
  'peer:online': [peer: PeerId];
  /** A peer's session ended (the reason is undefined for a local close). */
  'peer:offline': [peer: PeerId, reason: PeerNetError | undefined];
  /** A discovery reported a peer, paired or not, or new addresses for it. */
  'peer:discovered': [peer: { id: PeerId; addresses: readonly TransportAddress[]; trusted: boolean; source: string }];
}

// How long an existing session may take to answer before a duplicate replaces it.
const DUPLICATE_PROBE_MS = 2_000;
// How long a retired duplicate stays open for calls already on their way.
const RETIRE_LINGER_MS = 1_000;

type Listener_<E extends keyof PeerNetEvents> = (...args: PeerNetEvents[E]) => void;

/**
 * A PeerNet node: an identity, a trust list, exposed handlers and at most one
 * live session per paired peer. Create it with `PeerNet.start`.
 */
export class PeerNet {
  /** This node's address. */
  readonly id: PeerId;
  // Our identity as sessions use it: the Noise key pair is derived once, so the
  // crypto provider's prepared-key cache serves every handshake.
  readonly #identity: LocalIdentity;
  readonly #trust: TrustStore;
  readonly #ownsTrust: boolean;
  readonly #transport: Transport;
  readonly #options: PeerNetOptions;
  readonly #logger: Logger;
  readonly #events = new EventEmitter();
  readonly #handlers = new Map<string, ExposedHandler>();
  // The live session of each peer (by text id) and every connection object we hold, handshaking or not.
  readonly #sessions = new Map<string, Connection>();
  readonly #all = new Set<Connection>();
  // The older session of a duplicate pair while a ping decides which one stays.
  readonly #standby = new Map<string, Connection>();
  readonly #dials = new Map<string, Promise<void>>();
  readonly #dialAborts = new Set<AbortController>();
  // Inbound connections still in their handshake, oldest first.
  readonly #handshaking = new Set<Connection>();
  #listener: Listener | undefined;
  #stopping: Promise<void> | undefined;
  readonly #registry: Registry;
  #network: NetworkWatch | undefined;
  readonly #onTrustAdded = (entry: TrustEntry): void => this.#registry.peerTrusted(entry.id);
  readonly #onTrustRemoved = (entry: TrustEntry): void => this.#registry.peerUntrusted(entry.id);

  private constructor(
    options: PeerNetOptions,
    identity: Identity,
    trust: TrustStore,
    ownsTrust: boolean,
    discoveries: readonly Discovery[],
  ) {
    this.#options = options;
    const noiseKeys = identity.noiseKeyPair();
    this.#identity = { id: identity.id, noiseKeyPair: () => noiseKeys };
    this.id = identity.id;
    this.#trust = trust;
    this.#ownsTrust = ownsTrust;
    this.#transport = options.transport ?? tcp();
    this.#logger = options.logger ?? {};
    this.#registry = new Registry({
      dialer: {
        connect: (id, address, { signal }) => this.#connectTo(id, { host: address.host, port: address.port, signal }),
        isConnected: (id) => this.isConnected(id),
        isTrusted: (id) => this.#trust.has(id),
      },
      discoveries,
      ...(options.reconnect ? { backoff: options.reconnect } : {}),
      ...registryDialing(options.dialing),
    });
    this.#registry.on('peer:discovered', (peer) => this.#events.emit('peer:discovered', peer));
    this.#registry.on('dial:failed', (id, error, retryInMs) =>
      this.#logger.debug?.('dial failed', { peer: id.toString(), error: error.message, retryInMs }),
    );
  }

  /** Loads (or creates) the identity and trust list in `dataDir`, listens, and returns the running node. */
  static async start(options: PeerNetOptions): Promise<PeerNet> {
    if (!options || typeof options.dataDir !== 'string' || options.dataDir === '') {
      throw new InvalidArgumentError('PeerNet.start needs a dataDir');
    }
    const identity = options.identity ?? (await loadOrCreateIdentity({ dataDir: options.dataDir }));
    const trust = options.trust ?? (await openFileTrustStore({ path: join(options.dataDir, 'trust.json') }));
    let discoveries: Discovery[];
    try {
      discoveries = builtInDiscoveries(options, identity, trust);
    } catch (error) {
      if (options.trust === undefined) await trust.close();
      throw error;
    }
    const node = new PeerNet(options, identity, trust, options.trust === undefined, discoveries);
    try {
      node.#listener = await node.#transport.listen({
        host: options.host ?? '0.0.0.0',
        port: options.port ?? 0,
        onStream: (stream, remote) => node.#accept(stream, remote),
      });
      trust.on('added', node.#onTrustAdded);
      trust.on('removed', node.#onTrustRemoved);
      await node.#registry.start();
      await node.#registry.announce(node.port);
      if (options.networkMonitor !== false) {
        node.#network = watchNetwork((change) => node.#onNetworkChange(change), options.networkMonitor ?? {});
      }
    } catch (error) {
      await node.stop();
      throw error;
    }
    return node;
  }

  /** The port this node listens on. */
  get port(): number {
    return (this.#listener as Listener).address.port;
  }

  /** The address this node listens on. */
  get address(): TransportAddress {
    return (this.#listener as Listener).address;
  }

  /** Makes `handler` callable by paired peers under `name` (replacing any handler of that name). */
  expose(name: string, handler: Handler, options: ExposeOptions = {}): void {
    if (typeof name !== 'string' || name === '') throw new InvalidArgumentError('handler name must be a non-empty string');
    if (typeof handler !== 'function') throw new InvalidArgumentError('handler must be a function');
    this.#handlers.set(name, { handler, authorize: options.authorize, exposeErrorStack: options.exposeErrorStack });
  }

  /** Removes a handler; takes effect for the next message that names it. Returns whether it existed. */
  unexpose(name: string): boolean {
    return this.#handlers.delete(name);
  }

  /** Trusts `id` (optionally with a label). Takes effect for the next handshake. */
  pair(id: PeerIdLike, options: { label?: string } = {}): Promise<TrustEntry> {
    return this.#trust.add(PeerId.from(id), options.label === undefined ? {} : { label: options.label });
  }

  /** Forgets `id` and closes its live session at once. Returns whether it was paired. */
  async unpair(id: PeerIdLike): Promise<boolean> {
    const peer = PeerId.from(id);
    const removed = await this.#trust.remove(peer);
    const closing: Promise<void>[] = [];
    for (const connection of this.#all) {
      if (connection.isOpen && connection.peer.equals(peer)) {
        closing.push(connection.close(new UntrustedPeerError(`peer ${peer.toString()} was unpaired`)));
      }
    }
    await Promise.all(closing);
    return removed;
  }

  /** The paired peers with their live status and known addresses. */
  listPeers(): PeerInfo[] {
    return this.#trust.list().map((entry) => {
      const record: PeerRecord | undefined = this.#registry.peer(entry.id);
      const online = this.#sessions.has(entry.id.toString());
      return {
        id: entry.id,
        label: entry.label,
        addedAt: entry.addedAt,
        status: online ? 'online' : record?.status === 'connecting' ? 'connecting' : 'offline',
        addresses: (record?.addresses ?? []).map(({ host, port }) => ({ host, port })),
        lastSeen: record?.lastSeen,
      };
    });
  }

  /** True if a session with `id` is live. */
  isConnected(id: PeerIdLike): boolean {
    return this.#sessions.has(PeerId.from(id).toString());
  }

  /**
   * Dials `host:port` and authenticates the peer there as `id`: resolves once
   * the session is up, rejects with `untrusted_peer`, `peer_mismatch`,
   * `handshake_failed`, `timeout`, `aborted` or the transport's error.
   * Resolves at once if a session with `id` is already live.
   */
  connect(id: PeerIdLike, options: ConnectOptions): Promise<void> {
    const peer = PeerId.from(id);
    if (this.#trust.has(peer) && !this.#stopping) {
      // Remember the address, so the session is re-established if it drops.
      this.#registry.addAddress(peer, { host: options.host, port: options.port });
    }
    // A joined dial of the registry's may be aborted because another of its
    // dials won: the session is up, which is all the caller asked for.
    return this.#connectTo(peer, options).catch((error: unknown) => {
      if (this.isConnected(peer)) return;
      throw error;
    });
  }

  /**
   * Dials one address of the peer, joining a dial to the same address that
   * is already under way (the registry may be dialling the address that
   * `connect` names). Dials to different addresses run side by side: the
   * registry tries several at once, and the first session up wins.
   */
  #connectTo(peer: PeerId, options: ConnectOptions): Promise<void> {
    const id = peer.toString();
    if (this.#stopping) return Promise.reject(new NotConnectedError('node is stopped'));
    if (this.#sessions.has(id)) return Promise.resolve();
    if (!this.#trust.has(peer)) {
      return Promise.reject(new UntrustedPeerError(`peer ${id} is not paired; pair it before connecting`));
    }
    const key = `${id}|${options.host}|${options.port}`;
    const inFlight = this.#dials.get(key);
    if (inFlight) return inFlight;
    const dial = this.#dial(peer, options).finally(() => this.#dials.delete(key));
    this.#dials.set(key, dial);
    return dial;
  }

  /** Sends to `name` on `id` (no reply). Rejects at once with `not_connected` without a live session. */
  send(id: PeerIdLike, name: string, args: Value = null): Promise<void> {
    const session = this.#session(id);
    return session ? session.send(name, args) : Promise.reject(this.#notConnected(id));
  }

  /** Calls `name` on `id` and resolves with its result. Rejects at once with `not_connected` without a live session. */
  call(id: PeerIdLike, name: string, args: Value = null, options: CallOptions = {}): Promise<Value> {
    const session = this.#session(id);
    return session ? session.call(name, args, options) : Promise.reject(this.#notConnected(id));
  }

  /** Subscribes to an event. */
  on<E extends keyof PeerNetEvents>(event: E, listener: Listener_<E>): this {
    this.#events.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Subscribes to the next occurrence of an event. */
  once<E extends keyof PeerNetEvents>(event: E, listener: Listener_<E>): this {
    this.#events.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Unsubscribes. */
  off<E extends keyof PeerNetEvents>(event: E, listener: Listener_<E>): this {
    this.#events.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  /** Stops listening, closes every session and releases every resource. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#network?.stop();
    this.#trust.off('added', this.#onTrustAdded);
    this.#trust.off('removed', this.#onTrustRemoved);
    await this.#registry.stop();
    for (const controller of this.#dialAborts) controller.abort();
    await this.#listener?.close();
    await Promise.all([...this.#all].map((connection) => connection.close()));
    await Promise.allSettled([...this.#dials.values()]);
    if (this.#ownsTrust) await this.#trust.close();
    this.#events.removeAllListeners();
  }

  // ---- sessions ------------------------------------------------------------

  #session(id: PeerIdLike): Connection | undefined {
    return this.#sessions.get(PeerId.from(id).toString());
  }

  #notConnected(id: PeerIdLike): NotConnectedError {
    return new NotConnectedError(`peer ${PeerId.from(id).toString()} is not connected`);
  }

  async #dial(peer: PeerId, options: ConnectOptions): Promise<void> {
    const controller = new AbortController();
    this.#dialAborts.add(controller);
    const onAbort = (): void => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (options.signal?.aborted) throw new AbortedError('connect aborted');
      const stream = await this.#transport.dial({ host: options.host, port: options.port }, { signal: controller.signal });
      if (this.#stopping) {
        stream.destroy();
        throw new NotConnectedError('node is stopped');
      }
      const connection = this.#connection(stream, { initiator: true, expectedPeer: peer, signal: controller.signal });
      await connection.ready;
      const existing = this.#sessions.get(peer.toString());
      if (existing?.initiator && existing.isOpen) {
        // A parallel dial to another of the peer's addresses won meanwhile.
        // Keep that one: new calls already use it. This one goes the way of a
        // retired duplicate, so calls the peer sent on it are still answered.
        this.#retire(connection);
        return;
      }
      this.#register(connection);
      // Dialled first from now on, and never evicted by forged reports.
      if (this.#sessions.get(peer.toString()) === connection) {
        this.#registry.authenticated(peer, { host: options.host, port: options.port });
      }
    } catch (error) {
      this.#logger.warn?.('dial failed', { peer: peer.toString(), host: options.host, port: options.port, error });
      throw controller.signal.aborted && !(isPeerNetError(error) && error.code === 'aborted') && options.signal?.aborted
        ? new AbortedError('connect aborted', { cause: error })
        : error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.#dialAborts.delete(controller);
    }
  }

  #accept(stream: DuplexStream, remote: TransportAddress): void {
    if (this.#stopping) {
      stream.destroy();
      return;
    }
    const maxPending = this.#options.maxPendingHandshakes ?? 128;
    if (this.#handshaking.size >= maxPending) {
      // Evict the oldest: an honest handshake takes one round trip, so under a
      // flood of idle connections the newest one is the likeliest to be real.
      const [oldest] = this.#handshaking;
      if (oldest) {
        this.#handshaking.delete(oldest);
        oldest.destroy(new HandshakeFailedError('evicted: too many handshakes in progress'));
        this.#logger.warn?.('too many handshakes in progress; evicted the oldest', { maxPending });
      }
    }
    const connection = this.#connection(stream, { initiator: false });
    this.#handshaking.add(connection);
    connection.ready.then(
      () => {
        this.#handshaking.delete(connection);
        this.#register(connection);
      },
      (error: PeerNetError) => {
        this.#handshaking.delete(connection);
        this.#logger.warn?.('inbound handshake failed', { remote, code: error.code, reason: error.message });
      },
    );
  }

  #connection(
    stream: DuplexStream,
    role: { initiator: boolean; expectedPeer?: PeerId; signal?: AbortSignal },
  ): Connection {
    const o = this.#options;
    const connection = new Connection({
      stream,
      identity: this.#identity,
      trust: this.#trust,
      handlers: this.#handlers,
      ...role,
      handshakeTimeoutMs: o.handshakeTimeoutMs,
      callTimeoutMs: o.callTimeoutMs,
      maxMessageBytes: o.maxMessageBytes,
      maxDecodedBytes: o.maxDecodedBytes,
      maxConcurrentHandlers: o.maxConcurrentHandlers,
      maxQueuedBytes: o.maxQueuedBytes,
      crypto: o.crypto,
      onHandlerError: (error, context) =>
        this.#logger.warn?.('send handler failed', { peer: context.peer.toString(), name: context.name, error }),
    });
    this.#all.add(connection);
    void connection.closed.then((reason) => this.#onClosed(connection, reason));
    if (o.liveness !== false) void connection.ready.then((c) => watchLiveness(c, o.liveness || {}), () => undefined);
    return connection;
  }

  /**
   * Makes an authenticated connection the peer's session. With two sessions
   * for one peer (both dialled at once) both nodes keep the one initiated by
   * the smaller id, so they agree without talking; a newer session from the
   * same initiator replaces the older (the old one is likely dead).
   */
  #register(connection: Connection): void {
    const peer = connection.peer;
    const key = peer.toString();
    if (this.#stopping || !this.#trust.has(peer)) {
      void connection.close(new UntrustedPeerError(`peer ${key} is not paired`));
      return;
    }
    const existing = this.#sessions.get(key);
    if (existing === connection) return;
    if (existing) {
      this.#resolveDuplicate(peer, existing, connection);
      return;
    }
    this.#sessions.set(key, connection);
    this.#registry.peerOnline(peer);
    this.#logger.info?.('peer online', { peer: key });
    this.#events.emit('peer:online', peer);
  }

  /**
   * Two sessions with one peer. If we dialled both, we gave up the old one:
   * the new one wins. If the peer dialled both, either its old session is
   * dead (a ping on it fails: the new one wins) or both are alive because it
   * dialled two of our addresses at once, and it keeps one and retires the
   * other: both stay until it does, so whichever it keeps survives here too.
   * Otherwise either both sides dialled at once (both sessions alive: keep
   * the one initiated by the smaller id, which the peer computes identically)
   * or the old session is dead and the peer re-dialled (a ping on it fails:
   * the new one wins). Until the ping answers, new calls use the newer
   * session and the older one stands by; the loser is retired only after the
   * calls already on it are answered.
   */
  #resolveDuplicate(peer: PeerId, existing: Connection, incoming: Connection): void {
    const key = peer.toString();
    this.#sessions.set(key, incoming);
    if (existing.initiator && incoming.initiator) {
      this.#retire(existing);
      return;
    }
    // At most one session stands by: a peer that keeps opening sessions which
    // all answer pings must not make the node hold every one of them.
    const previous = this.#standby.get(key);
    if (previous !== undefined && previous !== existing) {
      this.#standby.delete(key);
      this.#retire(previous);
    }
    this.#standby.set(key, existing);
    if (existing.initiator === incoming.initiator) {
      existing.ping({ timeout: DUPLICATE_PROBE_MS }).then(
        () => undefined,
        () => {
          if (this.#standby.get(key) === existing) this.#standby.delete(key);
          existing.destroy(new ConnectionClosedError('replaced by a newer session; this one stopped answering'));
        },
      );
      return;
    }
    const initiatorOf = (c: Connection): PeerId => (c.initiator ? this.id : peer);
    existing.ping({ timeout: DUPLICATE_PROBE_MS }).then(
      () => {
        if (this.#standby.get(key) !== existing) return; // one of them closed meanwhile
        this.#standby.delete(key);
        if (!incoming.isOpen) return;
        const keepExisting = initiatorOf(existing).compare(initiatorOf(incoming)) < 0;
        this.#sessions.set(key, keepExisting ? existing : incoming);
        this.#retire(keepExisting ? incoming : existing);
      },
      () => {
        if (this.#standby.get(key) === existing) this.#standby.delete(key);
        existing.destroy(new ConnectionClosedError('replaced by a newer session; this one stopped answering'));
      },
    );
  }

  /**
   * Closes a session that lost to a duplicate once the calls already on it
   * are answered (new calls go to the winner), or after the call timeout.
   */
  #retire(connection: Connection): void {
    const close = (): void => void connection.close();
    const deadline = setTimeout(close, (this.#options.callTimeoutMs ?? 5_000) + RETIRE_LINGER_MS);
    // Linger a moment first: a call the peer sent before it switched may still be on the wire.
    const linger = setTimeout(() => void connection.drained().then(close), RETIRE_LINGER_MS);
    void connection.closed.then(() => {
      clearTimeout(deadline);
      clearTimeout(linger);
    });
  }

  #onClosed(connection: Connection, reason: PeerNetError | undefined): void {
    this.#all.delete(connection);
    let peer: PeerId | undefined;
    try {
      peer = connection.peer;
    } catch {
      return; // never authenticated: nothing was online
    }
    const key = peer.toString();
    if (this.#standby.get(key) === connection) this.#standby.delete(key);
    if (this.#sessions.get(key) !== connection) return;
    const standby = this.#standby.get(key);
    if (standby?.isOpen) {
      // The other session of a duplicate pair is alive: the peer never went offline.
      this.#standby.delete(key);
      this.#sessions.set(key, standby);
      return;
    }
    this.#sessions.delete(key);
    this.#logger.info?.('peer offline', { peer: key, reason: reason?.message });
    this.#events.emit('peer:offline', peer, reason);
    if (!this.#stopping) this.#registry.peerOffline(peer);
  }

  /**
   * Addresses changed. When one vanished, sessions may be bound to it and
   * would only die by liveness timeout, so drop them all and start over; when
   * addresses only appeared, keep the sessions. Either way, announce again
   * and dial every offline peer now.
   */
  #onNetworkChange(change: NetworkChange): void {
    if (this.#stopping) return;
    this.#logger.info?.('network changed', { added: change.added, removed: change.removed });
    const closing =
      change.removed.length === 0
        ? []
        : [...this.#sessions.values()].map((connection) => {
            connection.destroy(new ConnectionClosedError('a local address went away'));
            return connection.closed;
          });
    // After the sessions are gone (and reported offline), dial everyone at once.
    void Promise.all(closing)
      .then(() => {
        if (this.#stopping) return;
        this.#registry.networkChanged();
        return this.#registry.announce(this.port);
      })
      .catch((error: unknown) => this.#logger.warn?.('re-announce failed', { error }));
  }
}

/** The registry's dialing options from the node's. */
function registryDialing(dialing: PeerNetOptions['dialing']): Partial<RegistryOptions> {
  if (dialing === undefined) return {};
  return {
    ...(dialing.timeoutMs === undefined ? {} : { dialTimeoutMs: dialing.timeoutMs }),
    ...(dialing.staggerMs === undefined ? {} : { dialStaggerMs: dialing.staggerMs }),
    ...(dialing.maxParallel === undefined ? {} : { maxParallelDials: dialing.maxParallel }),
    ...(dialing.maxAddressesPerPeer === undefined ? {} : { maxAddressesPerPeer: dialing.maxAddressesPerPeer }),
  };
}

/** Turns the `discovery` option into `Discovery` instances. */
function builtInDiscoveries(options: PeerNetOptions, identity: Identity, trust: TrustStore): Discovery[] {
  return (options.discovery ?? ['mdns', 'udp']).map((d) => {
    const interfaces = options.interfaces ? { interfaces: options.interfaces } : {};
    if (d === 'mdns') return mdnsDiscovery({ identity, ...interfaces });
    if (d === 'udp') {
      return udpDiscovery({
        identity,
        ...interfaces,
        ...(options.udpPort === undefined ? {} : { port: options.udpPort }),
        isWanted: (id) => trust.has(id),
      });
    }
    if (typeof d === 'object' && d !== null && typeof d.start === 'function') return d;
    throw new InvalidArgumentError(`unknown discovery ${JSON.stringify(d)}: use 'mdns', 'udp' or a Discovery`);
  });
}
