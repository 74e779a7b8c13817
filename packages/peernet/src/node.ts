import { join } from 'node:path';
import {
  AbortedError,
  ConnectionClosedError,
  InvalidArgumentError,
  NotConnectedError,
  PeerId,
  TypedEmitter,
  UntrustedPeerError,
  isPeerNetError,
  type Clock,
  type Discovery,
  type DuplexStream,
  type NetworkChange,
  type PeerIdLike,
  type PeerNetError,
  type Transport,
  type TransportAddress,
} from '@peernet/interface';
import { loadOrCreateIdentity, type Identity } from '@peernet/identity';
import { openFileTrustStore, type TrustEntry, type TrustStore } from '@peernet/trust';
import type { Duplex } from 'node:stream';
import type {
  CallOptions, Handler, OpenStreamOptions, StreamHandler, WireCompatible, WireResult, WireValue,
} from '@peernet/interface';
import { Connection, type LocalIdentity, type PairingAccess } from '@peernet/connection';
import { Exposed, type ExposeOptions, type ExposeStreamOptions } from './exposed.js';
import { peerInfo, type ConnectOptions, type Listener_, type PeerInfo, type PeerNetEvents, type PeerNetListeners } from './events.js';
import { Transports, addressOf, addressText, evictOldest } from './transports.js';
import { watchLiveness } from '@peernet/liveness';
import { builtInDiscoveries } from './discoveries.js';
import { Registry, type NetworkWatch } from '@peernet/registry';
import { logDiagnostics } from './diagnostics.js';
import { readOptions, type Logger, type NodeSettings, type PeerNetOptions } from './options.js';
import { SessionTable } from './sessions.js';
import { Refusals } from './refusals.js';
import { PeerWaiters, readWaitOptions, waitTimeout, type WaitForPeerOptions } from './waiting.js';
import { Invites, type Invite, type InviteOptions, type JoinOptions, type JoinResult } from '@peernet/pairing';
import { joinHost, joinUntilStopped } from './pairing.js';

export type { Logger, PeerNetOptions } from './options.js';
export type { ExposeOptions, ExposeStreamOptions } from './exposed.js';
export type { ConnectOptions, PeerInfo, PeerNetEvents } from './events.js';
export type { Invite, InviteOptions, JoinOptions, JoinResult, PairedPeer } from '@peernet/pairing';

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
  readonly #transports: Transports;
  readonly #options: NodeSettings;
  readonly #logger: Logger;
  readonly #clock: Clock;
  // Replaced on stop, so the application's listeners are let go with the node's resources.
  #events = new TypedEmitter<PeerNetListeners>();
  readonly #exposed = new Exposed();
  readonly #sessions: SessionTable;
  readonly #dials = new Map<string, Promise<void>>();
  readonly #dialAborts = new Set<AbortController>();
  readonly #waiters: PeerWaiters;
  readonly #refusals: Refusals;
  readonly #invites: Invites;
  // Inbound connections still in their handshake, oldest first, with where they came from.
  readonly #handshaking = new Map<Connection, TransportAddress>();
  #stopping: Promise<void> | undefined;
  readonly #stopped = new AbortController(); // fires when stop() begins: joins under way end at once
  readonly #registry: Registry;
  #network: NetworkWatch | undefined;
  #stopDiagnostics: (() => void) | undefined;
  readonly #onTrustAdded = (entry: TrustEntry): void => {
    this.#addIdAddresses(entry.id);
    this.#registry.peerTrusted(entry.id);
  };
  readonly #onTrustRemoved = (entry: TrustEntry): void => {
    const key = entry.id.toString();
    this.#registry.peerUntrusted(entry.id);
    this.#refusals.forget(entry.id);
    this.#waiters.settle(key, () => new UntrustedPeerError(`peer ${key} was unpaired while waiting for it`));
  };

  private constructor(
    options: NodeSettings,
    identity: Identity,
    trust: TrustStore,
    ownsTrust: boolean,
    discoveries: readonly Discovery[],
    transports: Transports,
  ) {
    this.#options = options;
    const noiseKeys = identity.noiseKeyPair();
    this.#identity = { id: identity.id, noiseKeyPair: () => noiseKeys };
    this.id = identity.id;
    this.#trust = trust;
    this.#ownsTrust = ownsTrust;
    this.#transports = transports;
    this.#logger = options.logger;
    this.#clock = options.clock;
    this.#waiters = new PeerWaiters(this.#clock);
    this.#refusals = new Refusals(this.id, this.#clock);
    const rendezvous = transports.rendezvous();
    this.#invites = new Invites({ id: this.id, clock: this.#clock, pair: this.pair.bind(this), rendezvous, logger: this.#logger });
    this.#sessions = new SessionTable({
      localId: this.id,
      clock: this.#clock,
      callTimeoutMs: options.callTimeoutMs,
      admits: (peer) => !this.#stopping && this.#trust.has(peer),
      onOnline: (peer) => this.#online(peer),
      onOffline: (peer, reason) => this.#offline(peer, reason),
      // A session on a fallback transport (the DHT) gives way to one on the LAN.
      rank: (connection) => transports.rank(connection),
    });
    // The session table owns "online"; the registry asks it through `isConnected` rather than keeping a copy.
    this.#registry = new Registry({
      dialer: {
        connect: (id, address, { signal }) => this.#connectTo(id, { ...address, signal }),
        isConnected: (id) => this.#sessions.has(id),
        isTrusted: (id) => this.#trust.has(id),
      },
      discoveries,
      backoff: options.reconnect,
      clock: this.#clock,
      transports: transports.hints(),
      ...options.dialing,
    });
    this.#registry.on('peer:discovered', (peer) => {
      this.#events.emit('peer:discovered', peer);
      if (peer.trusted) this.#moveToDirect(peer.id, peer.addresses);
    });
    this.#registry.on('dial:failed', (id, error, retryInMs) =>
      this.#logger.debug?.('dial failed', { peer: id.toString(), error: error.message, retryInMs }),
    );
  }

  /** Loads (or creates) the identity and trust list in `dataDir`, listens, and returns the running node. */
  static async start(options: PeerNetOptions): Promise<PeerNet> {
    const settings = readOptions(options);
    const identity = settings.identity ?? (await loadOrCreateIdentity({ dataDir: settings.dataDir }));
    const trust = settings.trust ?? (await openFileTrustStore({ path: join(settings.dataDir, 'trust.json') }));
    let discoveries: Discovery[];
    let transports: Transports;
    let invitesOpen = (): boolean => false;
    try {
      discoveries = builtInDiscoveries(settings, identity, trust);
      // A transport that filters strangers (the DHT) lets them through while an invite is open.
      transports = new Transports(settings, identity, (peer) => trust.has(peer) || invitesOpen());
    } catch (error) {
      if (settings.trust === undefined) await trust.close();
      throw error;
    }
    const node = new PeerNet(settings, identity, trust, settings.trust === undefined, discoveries, transports);
    invitesOpen = () => node.#invites.anyOpen;
    try {
      await transports.listen({ host: settings.host, port: settings.port }, (stream, remote, transport) =>
        node.#accept(stream, remote, transport),
      );
      node.#stopDiagnostics = logDiagnostics(settings.logger);
      trust.on('added', node.#onTrustAdded);
      trust.on('removed', node.#onTrustRemoved);
      await node.#registry.start();
      // After start: a registry that is not running records addresses but dials nothing.
      for (const entry of trust.list()) node.#addIdAddresses(entry.id);
      await node.#registry.announce(node.port);
      if (settings.networkMonitor !== false) {
        node.#network = settings.networkMonitor.watch((change) => node.#onNetworkChange(change));
      }
    } catch (error) {
      await node.stop();
      throw error;
    }
    return node;
  }

  /** The port this node listens on (its default transport's). */
  get port(): number {
    return this.address.port;
  }

  /** The address this node listens on (its default transport's). */
  get address(): TransportAddress {
    return this.#transports.addresses()[0] as TransportAddress;
  }

  /** Where this node listens, one address per transport (a DHT's is this node's id). */
  get addresses(): TransportAddress[] {
    return this.#transports.addresses();
  }

  /**
   * Makes `handler` callable by paired peers under `name` (replacing any
   * handler of that name). Its result must be able to travel (a `Date` or a
   * `Map` fails to type-check; at run time the caller gets `handler_error`
   * naming the place in `result`).
   */
  expose<Result>(name: string, handler: Handler<Result> & WireResult<Result>, options: ExposeOptions = {}): void {
    this.#exposed.expose(name, handler as Handler, options);
  }

  /** Removes a handler; takes effect for the next message that names it. Returns whether it existed. */
  unexpose(name: string): boolean {
    return this.#exposed.handlers.delete(name);
  }

  /**
   * Lets paired peers open byte streams to `handler` under `name` (replacing
   * any stream handler of that name). The handler gets each stream as a Node
   * `Duplex` and owns it; a throw or rejection resets it with `handler_error`.
   */
  exposeStream(name: string, handler: StreamHandler, options: ExposeStreamOptions = {}): void {
    this.#exposed.exposeStream(name, handler, options);
  }

  /** Removes a stream handler; takes effect for the next open that names it. Returns whether it existed. */
  unexposeStream(name: string): boolean {
    return this.#exposed.streams.delete(name);
  }

  /** Trusts `id` (optionally with a label). Takes effect for the next handshake. */
  pair(id: PeerIdLike, options: { label?: string } = {}): Promise<TrustEntry> {
    const peer = PeerId.from(id);
    if (peer.equals(this.id)) {
      // Trusting ourselves is always a mix-up of two ids, and would let a copy of our key in as a peer.
      return Promise.reject(new InvalidArgumentError(`${peer.toString()} is this node's own id: pair the other node's id`));
    }
    return this.#trust.add(peer, options.label === undefined ? {} : { label: options.label });
  }

  /**
   * Opens an invite: a code and a URI (for a QR code) with which one other node `join`s and pairs with
   * this one, both ways (docs/pairing.md). Single use; expires after `ttlMs` (10 min); a wrong code burns it.
   */
  async invite(options: InviteOptions = {}): Promise<Invite> {
    if (this.#stopping) throw new NotConnectedError('node is stopped');
    const invite = this.#invites.open(options);
    // Announce now: a joiner looking for us should not wait for the next round.
    return this.#registry.announce(this.port).then(() => invite, () => invite);
  }

  /**
   * Pairs with the inviter of `code` (an invite code or a `peernet://` URI), both ways, and brings a session up.
   * Rejects with `pairing_failed` (a wrong code, or `confirm` declined), `invite_closed`, `inviter_not_found`,
   * `invalid_argument`, `aborted` or `not_connected`.
   */
  async join(code: string, options: JoinOptions = {}): Promise<JoinResult> {
    const node = { pair: this.pair.bind(this), openPairing: this.#openPairing.bind(this), connect: this.connect.bind(this) };
    const host = joinHost(this.id, this.#registry, this.#transports, this.#trust, { ...node, waitForPeer: this.waitForPeer.bind(this) });
    return joinUntilStopped(host, code, options, this.#stopped.signal);
  }

  /** Forgets `id` and closes its live session at once. Returns whether it was paired. */
  async unpair(id: PeerIdLike): Promise<boolean> {
    const peer = PeerId.from(id);
    const removed = await this.#trust.remove(peer);
    await this.#sessions.closePeer(peer, new UntrustedPeerError(`peer ${peer.toString()} was unpaired`));
    return removed;
  }

  /** The paired peers with their live status and known addresses. */
  listPeers(): PeerInfo[] {
    return this.#trust.list().map((entry) => {
      const session = this.#sessions.get(entry.id);
      return peerInfo(entry, this.#registry.peer(entry.id), session && this.#transports.of(session)?.name);
    });
  }

  /** True if a session with `id` is live. */
  isConnected(id: PeerIdLike): boolean {
    return this.#sessions.has(id);
  }

  /**
   * Dials `host:port` and authenticates the peer there as `id`: resolves once
   * the session is up, rejects with `untrusted_peer`, `peer_mismatch`,
   * `refused_by_peer` (the peer proved its id, then refused us: it has not
   * paired this node), `handshake_failed`, `timeout`, `aborted` or the
   * transport's error. Resolves at once if a session with `id` is already live.
   */
  connect(id: PeerIdLike, options: ConnectOptions): Promise<void> {
    const peer = PeerId.from(id);
    if (this.#trust.has(peer) && !this.#stopping) {
      // Remember the address, so the session is re-established if it drops.
      this.#registry.addAddress(peer, addressOf(options));
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
   * `connect` names). With `evenIfOnline`, dials although a session is up
   * (to move it to a better path). Dials to different addresses run side by side: the
   * registry tries several at once, and the first session up wins.
   */
  #connectTo(peer: PeerId, options: ConnectOptions, evenIfOnline = false): Promise<void> {
    const id = peer.toString();
    if (this.#stopping) return Promise.reject(new NotConnectedError('node is stopped'));
    if (this.#sessions.has(id) && !evenIfOnline) return Promise.resolve();
    if (!this.#trust.has(peer)) {
      return Promise.reject(new UntrustedPeerError(`peer ${id} is not paired; pair it before connecting`));
    }
    const key = `${id}|${options.transport ?? ''}|${options.host}|${options.port}`;
    const inFlight = this.#dials.get(key);
    if (inFlight) return inFlight;
    const dial = this.#dial(peer, options).finally(() => this.#dials.delete(key));
    this.#dials.set(key, dial);
    return dial;
  }

  /**
   * Sends to `name` on `id` (no reply). Rejects at once without a live
   * session: `refused_by_peer` if the peer refused our latest dial, else
   * `not_connected`; and with `bad_request` naming the place (e.g.
   * `args.when`) for arguments that cannot be encoded.
   */
  send(id: PeerIdLike, name: string): Promise<void>;
  send<Args = WireValue>(id: PeerIdLike, name: string, args: Args & WireCompatible<Args>): Promise<void>;
  send(id: PeerIdLike, name: string, args: unknown = null): Promise<void> {
    const session = this.#sessions.get(id);
    return session ? session.send(name, args as WireValue) : Promise.reject(this.#notConnected(id));
  }

  /**
   * Calls `name` on `id` and resolves with its result. Rejects at once
   * without a live session (`waitForPeer` waits for one): `refused_by_peer`
   * if the peer refused our latest dial, else `not_connected`; and with
   * `bad_request` naming the place (e.g. `args.when`) for arguments that
   * cannot be encoded.
   */
  call(id: PeerIdLike, name: string): Promise<WireValue>;
  call<Args = WireValue>(id: PeerIdLike, name: string, args: Args & WireCompatible<Args>, options?: CallOptions): Promise<WireValue>;
  call(id: PeerIdLike, name: string, args: unknown = null, options: CallOptions = {}): Promise<WireValue> {
    const session = this.#sessions.get(id);
    return session ? session.call(name, args as WireValue, options) : Promise.reject(this.#notConnected(id));
  }

  /**
   * Opens a byte stream to the stream handler `name` of `id`: a Node
   * `Duplex` with flow control, once the peer accepted it. Rejects as `call`
   * does without a session, and with `no_such_handle`, `forbidden`,
   * `too_many_streams`, `timeout` or `aborted`.
   */
  openStream(id: PeerIdLike, name: string, options: OpenStreamOptions = {}): Promise<Duplex> {
    const session = this.#sessions.get(id);
    return session ? session.openStream(name, options) : Promise.reject(this.#notConnected(id));
  }

  /**
   * Resolves once a session with `id` is up: at once if it is, else when the
   * node's dialling (asked to dial now if an address is known), discovery,
   * `connect()` or the peer's own dial brings it up. Rejects with
   * `untrusted_peer` (not paired, or unpaired meanwhile), `refused_by_peer`
   * (the peer refused a dial during the wait, or refused the latest one and
   * cannot be dialled again now), `timeout` (after `timeoutMs`, default 30 s),
   * `aborted` (the signal fired) or `not_connected` (the node stopped).
   */
  async waitForPeer(id: PeerIdLike, options: WaitForPeerOptions = {}): Promise<void> {
    const peer = PeerId.from(id);
    const { timeoutMs, signal } = readWaitOptions(options);
    const key = peer.toString();
    if (this.#stopping) throw new NotConnectedError('node is stopped');
    if (this.#sessions.has(peer)) return;
    if (!this.#trust.has(peer)) throw new UntrustedPeerError(`peer ${key} is not paired; pair it before waiting for it`);
    if (signal?.aborted) throw new AbortedError('waitForPeer aborted');
    // A refusal may be old news (the peer may have paired us since): ask again, and repeat it only if we cannot.
    const refusal = this.#refusals.refusalOf(peer);
    if (!this.#registry.dialNow(peer) && refusal !== undefined) throw refusal;
    const known = (): boolean => (this.#registry.peer(peer)?.addresses.length ?? 0) > 0;
    return this.#waiters.wait(key, { timeoutMs, signal, timeoutError: () => waitTimeout(key, timeoutMs, known()) });
  }

  /**
   * Subscribes to an event. A listener that throws stops neither the other
   * listeners nor the node: its error surfaces as an uncaught exception.
   */
  on<E extends keyof PeerNetEvents>(event: E, listener: Listener_<E>): this {
    this.#events.on(event, listener as PeerNetListeners[E]);
    return this;
  }

  /** Subscribes to the next occurrence of an event. */
  once<E extends keyof PeerNetEvents>(event: E, listener: Listener_<E>): this {
    this.#events.once(event, listener as PeerNetListeners[E]);
    return this;
  }

  /** Unsubscribes (a listener added with `once` too, before it fires). */
  off<E extends keyof PeerNetEvents>(event: E, listener: Listener_<E>): this {
    this.#events.off(event, listener as PeerNetListeners[E]);
    return this;
  }

  /** Stops listening, closes every session and releases every resource. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#stopped.abort();
    this.#waiters.settleAll(() => new NotConnectedError('node is stopped'));
    this.#network?.stop();
    this.#stopDiagnostics?.();
    this.#trust.off('added', this.#onTrustAdded);
    this.#trust.off('removed', this.#onTrustRemoved);
    await this.#registry.stop();
    await this.#invites.stop();
    for (const controller of this.#dialAborts) controller.abort();
    await this.#transports.close();
    await Promise.all(this.#sessions.all().map((connection) => connection.close()));
    await Promise.allSettled([...this.#dials.values()]);
    if (this.#ownsTrust) await this.#trust.close();
    this.#events = new TypedEmitter();
  }

  // ---- sessions ------------------------------------------------------------

  #notConnected(id: PeerIdLike): PeerNetError {
    const peer = PeerId.from(id);
    return this.#refusals.refusalOf(peer) ?? new NotConnectedError(`peer ${peer.toString()} is not connected`);
  }

  /** A dial of ours was refused: remembered until a session comes up, and the end of every wait for that peer. */
  #refusedUs(peer: PeerId, error: PeerNetError): void {
    if (this.#stopping || this.#sessions.has(peer) || !this.#trust.has(peer)) return;
    this.#refusals.refusedUs(peer, error);
    this.#waiters.settle(peer.toString(), () => this.#refusals.refusalOf(peer) as PeerNetError);
  }

  async #dial(peer: PeerId, options: ConnectOptions): Promise<void> {
    const controller = new AbortController();
    this.#dialAborts.add(controller);
    const onAbort = (): void => controller.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      if (options.signal?.aborted) throw new AbortedError('connect aborted');
      const transport = this.#transports.forAddress(options);
      const stream = await transport.dial(addressOf(options), { signal: controller.signal });
      if (this.#stopping) {
        stream.destroy();
        throw new NotConnectedError('node is stopped');
      }
      const connection = this.#connection(stream, transport, { initiator: true, expectedPeer: peer, signal: controller.signal });
      await connection.ready;
      const existing = this.#sessions.get(peer);
      const moves = existing !== undefined && this.#transports.rank(existing) > this.#transports.rank(connection);
      if (existing?.initiator && existing.isOpen && !moves) {
        // A parallel dial to another of the peer's addresses won meanwhile.
        // Keep that one: new calls already use it. This one goes the way of a
        // retired duplicate, so calls the peer sent on it are still answered.
        this.#sessions.retire(connection);
        return;
      }
      this.#sessions.register(connection);
      // Dialled first from now on, and never evicted by forged reports.
      if (this.#sessions.get(peer) === connection) {
        this.#registry.authenticated(peer, addressOf(options));
      }
    } catch (caught) {
      let error = caught;
      if (isPeerNetError(caught) && caught.code === 'refused_by_peer') {
        this.#refusedUs(peer, caught);
        error = this.#refusals.refusal(peer, caught); // named with both ids: the peer's user has to pair ours
      }
      this.#logger.warn?.('dial failed', { peer: peer.toString(), host: options.host, port: options.port, error });
      throw controller.signal.aborted && !(isPeerNetError(error) && error.code === 'aborted') && options.signal?.aborted
        ? new AbortedError('connect aborted', { cause: error })
        : error;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      this.#dialAborts.delete(controller);
    }
  }

  #accept(stream: DuplexStream, remote: TransportAddress, transport: Transport): void {
    if (this.#stopping) {
      stream.destroy();
      return;
    }
    evictOldest(this.#handshaking, this.#options.maxPendingHandshakes, this.#logger);
    const expectedPeer = Transports.dialler(remote, transport);
    const connection = this.#connection(stream, transport, expectedPeer ? { initiator: false, expectedPeer } : { initiator: false });
    this.#handshaking.set(connection, remote);
    connection.ready.then(
      () => {
        this.#handshaking.delete(connection);
        if (connection.purpose === 'pairing') this.#invites.accepted(connection);
        else this.#sessions.register(connection);
      },
      (error: PeerNetError) => {
        this.#handshaking.delete(connection);
        this.#logger.warn?.('inbound handshake failed', { remote, code: error.code, reason: error.message });
        const address = typeof remote?.host === 'string' && remote.host !== '' ? addressText(remote) : undefined;
        const refused = this.#stopping || connection.purpose === 'pairing' ? undefined : this.#refusals.strangerTurnedAway(connection.provenPeer, error, address)
        if (refused) this.#events.emit('peer:refused', refused);
      },
    );
  }

  /** Dials `address` for a pairing session with `peer` (a `join`): the peer need not be paired. */
  async #openPairing(peer: PeerId, address: TransportAddress, signal: AbortSignal): Promise<Connection> {
    const transport = this.#transports.forAddress(address);
    const stream = await transport.dial(addressOf(address), { signal });
    if (this.#stopping) {
      stream.destroy();
      throw new NotConnectedError('node is stopped');
    }
    return this.#connection(stream, transport, { initiator: true, expectedPeer: peer, signal, pairing: { request: true } }).ready;
  }

  #connection(
    stream: DuplexStream,
    transport: Transport,
    role: { initiator: boolean; expectedPeer?: PeerId; signal?: AbortSignal; pairing?: PairingAccess },
  ): Connection {
    const connection: Connection = new Connection({
      stream,
      identity: this.#identity,
      trust: this.#trust,
      handlers: this.#exposed.handlers,
      streamHandlers: this.#exposed.streams,
      // A responder admits a stranger's pairing session only while an invite is open.
      ...(role.initiator ? {} : { pairing: this.#invites.access(() => connection) }),
      ...role,
      ...this.#options.connection,
      clock: this.#clock,
      onHandlerError: (error, context) =>
        this.#logger.warn?.('send handler failed', { peer: context.peer.toString(), name: context.name, error }),
    });
    this.#transports.track(connection, transport);
    this.#sessions.track(connection);
    const liveness = this.#options.liveness;
    if (liveness !== false) {
      void connection.ready.then((c) => c.purpose === 'session' && watchLiveness(c, { ...liveness, clock: this.#clock }), () => undefined);
    }
    return connection;
  }

  /** Tells the registry where transports that reach a peer by id alone (the DHT) dial `peer`. */
  #addIdAddresses(peer: PeerId): void {
    for (const { address, source } of this.#transports.idAddresses(peer)) this.#registry.addAddress(peer, address, source);
  }

  /** A peer on a fallback path (the DHT) was found on a direct one (the LAN): dial it there; that session replaces this one. */
  #moveToDirect(peer: PeerId, addresses: readonly TransportAddress[]): void {
    const session = this.#sessions.get(peer);
    if (this.#stopping || session === undefined || this.#transports.rank(session) === 0) return;
    const direct = addresses.find((a) => !this.#transports.isFallback(a));
    if (direct === undefined) return;
    const failed = (error: unknown): void => this.#logger.debug?.('move to a direct path failed', { peer: peer.toString(), error });
    this.#connectTo(peer, direct, true).catch(failed);
  }

  /** The session table reports a peer online: tell the registry, the log and the application, in that order. */
  #online(peer: PeerId): void {
    this.#registry.peerOnline(peer);
    this.#refusals.forget(peer);
    this.#waiters.settle(peer.toString());
    this.#logger.info?.('peer online', { peer: peer.toString() });
    this.#events.emit('peer:online', peer);
  }

  #offline(peer: PeerId, reason: PeerNetError | undefined): void {
    this.#logger.info?.('peer offline', { peer: peer.toString(), reason: reason?.message });
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
    const closing = change.removed.length === 0 ? Promise.resolve() : this.#sessions.dropLive(new ConnectionClosedError('a local address went away'));
    // After the sessions are gone (and reported offline), dial everyone at once.
    void closing
      .then(() => {
        if (this.#stopping) return;
        this.#registry.networkChanged();
        return this.#registry.announce(this.port);
      })
      .catch((error: unknown) => this.#logger.warn?.('re-announce failed', { error }));
  }
}
