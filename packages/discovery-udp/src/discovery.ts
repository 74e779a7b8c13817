import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import {
  DIAGNOSTICS_CHANNELS,
  type DiscoveryEvents,
  type Discovery,
  InvalidArgumentError,
  type Ipv4InterfaceAddress,
  TypedEmitter,
  describeError,
  hasDiagnosticsSubscribers,
  publishDiagnostic,
} from '@peernet/interface';
import { broadcastAddressesOf, inSubnetOf, resolveInterfaces } from './interfaces.js';
import { type Settings, type UdpDiscoveryOptions, settingsOf } from './options.js';
import { encodeAnnouncement } from './packet.js';
import { PeerTable } from './peer-table.js';
import { AnnouncementReceiver, type ReceiveCounters, type ReceiveDropReason } from './receiver.js';

// A peer heard on more addresses than this is pathological; keep the freshest ones.
const MAX_ADDRESSES_PER_PEER = 8;

/** Counters since the discovery was created, plus two gauges (`peers`, `trackedKeys`). */
export interface UdpDiscoveryStats extends ReceiveCounters {
  /** Goodbyes accepted. */
  goodbyes: number;
  /** Datagrams sent (one per broadcast address per announcement). */
  sent: number;
  /** Sends that failed. */
  sendErrors: number;
  /** `'error'` events of the socket. */
  socketErrors: number;
  /** Peers known right now. */
  peers: number;
  /** Keys in the replay table right now. */
  trackedKeys: number;
}

/** The UDP broadcast `Discovery`. */
export interface UdpDiscovery extends Discovery {
  readonly name: 'udp';
  /** A snapshot of the counters. */
  readonly stats: UdpDiscoveryStats;
  /** The broadcast addresses announcements would go to now, from the interface restriction. */
  broadcastAddresses(): string[];
  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this;
  once<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this;
  off<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this;
}

/** Creates the signed UDP broadcast discovery, named `'udp'`; throws `InvalidArgumentError` for a bad option. */
export function udpDiscovery(options: UdpDiscoveryOptions): UdpDiscovery {
  return new UdpBroadcastDiscovery(settingsOf(options));
}

class UdpBroadcastDiscovery implements UdpDiscovery {
  readonly name = 'udp' as const;
  readonly #settings: Settings;
  readonly #events = new TypedEmitter<DiscoveryEvents>();
  readonly #receiver: AnnouncementReceiver;
  readonly #peers: PeerTable;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #extra = { goodbyes: 0, sent: 0, sendErrors: 0, socketErrors: 0 };
  #socket: Socket | undefined;
  #timer: unknown;
  #interfaces: Ipv4InterfaceAddress[] = [];
  #running = false;
  #announcedPort: number | undefined;
  #lastTimestamp = -1;
  // start, stop and announce run one after the other, so each sees a settled state.
  #queue: Promise<void> = Promise.resolve();

  constructor(settings: Settings) {
    this.#settings = settings;
    this.#receiver = new AnnouncementReceiver({
      ownId: settings.identity.id,
      windowMs: settings.windowMs,
      verifyPerSecond: settings.verifyPerSecond,
      wantedVerifyPerSecond: settings.wantedVerifyPerSecond,
      keyVerifyPerSecond: settings.keyVerifyPerSecond,
      homeVerifyPerSecond: settings.homeVerifyPerSecond,
      isWanted: settings.isWanted,
      replayCapacity: settings.maxTrackedKeys,
      isAllowedSource: (host) => inSubnetOf(host, this.#interfaces),
    });
    this.#peers = new PeerTable({
      ttlMs: settings.ttlMs,
      maxPeers: settings.maxPeers,
      maxAddresses: MAX_ADDRESSES_PER_PEER,
    });
  }

  get stats(): UdpDiscoveryStats {
    return {
      ...this.#receiver.counters,
      ...this.#extra,
      peers: this.#peers.size,
      trackedKeys: this.#receiver.replays.size,
    };
  }

  broadcastAddresses(): string[] {
    return broadcastAddressesOf(this.#resolveInterfaces());
  }

  start(): Promise<void> {
    return this.#serially(() => this.#start());
  }

  stop(): Promise<void> {
    return this.#serially(() => this.#stop());
  }

  announce(options: { port: number }): Promise<void> {
    const port = (options as { port?: unknown } | null | undefined)?.port;
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return Promise.reject(
        new InvalidArgumentError(`announce() port must be an integer from 1 to 65535, got ${String(port)}`),
      );
    }
    return this.#serially(async () => {
      this.#announcedPort = port;
      // Announcing again while running re-sends at once: that is how a node re-announces after a network change.
      if (this.#running) {
        this.#refreshInterfaces();
        await this.#announce(false);
      }
    });
  }

  /** Adds a listener; one that throws does not stop the others, and its error is rethrown from a microtask. */
  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.on(event, listener);
    return this;
  }

  /** Adds a listener removed before its first call. */
  once<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.once(event, listener);
    return this;
  }

  /** Removes a listener. */
  off<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  #serially(step: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => {});
    return run;
  }

  #resolveInterfaces(): Ipv4InterfaceAddress[] {
    return resolveInterfaces(this.#settings.restriction, this.#settings.networkInterfaces());
  }

  /** Re-reads the interfaces; a failed lookup keeps the last ones (a transient failure must not stop the timer). */
  #refreshInterfaces(): void {
    try {
      this.#interfaces = this.#resolveInterfaces();
    } catch {
      // Keep the previous list.
    }
  }

  async #start(): Promise<void> {
    if (this.#running) return;
    const { restriction, port } = this.#settings;
    const interfaces = this.#resolveInterfaces();
    if (restriction !== undefined && interfaces.length === 0) {
      throw new InvalidArgumentError(
        `none of the interfaces ${JSON.stringify(restriction)} has an IPv4 address on this machine`,
      );
    }
    this.#interfaces = interfaces;
    const socket = createSocket({ type: 'udp4', reuseAddr: true });
    try {
      await new Promise<void>((resolve, reject) => {
        const onError = (error: Error): void => reject(error);
        socket.once('error', onError);
        // The wildcard address: a socket bound to a unicast address does not receive broadcasts.
        // What arrives is filtered by source address instead (see AnnouncementReceiver).
        socket.bind({ port, address: '0.0.0.0' }, () => {
          socket.off('error', onError);
          resolve();
        });
      });
      socket.setBroadcast(true);
    } catch (error) {
      await closeSocket(socket);
      throw new InvalidArgumentError(`cannot bind UDP port ${port}: ${describeError(error)}`, { cause: error });
    }
    // Errors of an unconnected UDP socket are transient (a failed send also reports to its callback).
    socket.on('error', () => {
      this.#extra.socketErrors++;
    });
    socket.on('message', (message: Buffer, remote: RemoteInfo) => this.#onMessage(message, remote));
    this.#socket = socket;
    this.#running = true;
    this.#peers.clear();
    this.#armTick();
    await this.#announce(false);
  }

  async #stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    this.#settings.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    await Promise.all(this.#inFlight);
    await this.#announce(true);
    const socket = this.#socket;
    this.#socket = undefined;
    this.#peers.clear();
    if (socket !== undefined) await closeSocket(socket);
  }

  /** The clock has one-shot timers only: each tick arms the next, first thing, so the pace does not drift. */
  #armTick(): void {
    this.#timer = this.#settings.clock.setTimeout(() => this.#tick(), this.#settings.intervalMs);
  }

  #tick(): void {
    if (!this.#running) return;
    this.#armTick();
    // Interfaces come and go: follow them within the restriction, for sending and for the source filter.
    this.#refreshInterfaces();
    const wallNow = this.#settings.wallClock();
    this.#receiver.replays.prune(wallNow);
    this.#receiver.relays.prune(wallNow);
    const { lost, changed } = this.#peers.expire(this.#settings.clock.now());
    void this.#announce(false);
    for (const id of lost) this.#events.emit('peer:lost', id);
    // No datagram caused this report: it comes from the most recently heard of the addresses left.
    for (const peer of changed) {
      const latest = peer.addresses[0];
      this.#events.emit('peer', latest === undefined ? peer : { ...peer, from: latest.host });
    }
  }

  /** Broadcasts one announcement (or goodbye) on every interface in use; never rejects. */
  #announce(goodbye: boolean): Promise<void> {
    const socket = this.#socket;
    const port = this.#announcedPort;
    if (socket === undefined || port === undefined) return Promise.resolve();
    const targets = broadcastAddressesOf(this.#interfaces);
    let packet: Uint8Array;
    try {
      packet = encodeAnnouncement({ identity: this.#settings.identity, port, goodbye, now: this.#timestamp() });
    } catch {
      // Only a broken identity (sign() throwing) gets here; count it like a failed send.
      this.#extra.sendErrors += targets.length;
      return Promise.resolve();
    }
    const sends = targets.map((address) => this.#send(socket, packet, address));
    const all = Promise.all(sends).then(() => {});
    this.#inFlight.add(all);
    return all.finally(() => this.#inFlight.delete(all));
  }

  #send(socket: Socket, packet: Uint8Array, address: string): Promise<void> {
    return new Promise<void>((resolve) => {
      try {
        socket.send(packet, this.#settings.port, address, (error) => {
          if (error) this.#extra.sendErrors++;
          else this.#extra.sent++;
          resolve();
        });
      } catch {
        this.#extra.sendErrors++;
        resolve();
      }
    });
  }

  /** A strictly increasing timestamp: receivers drop a timestamp not later than the last one they accepted. */
  #timestamp(): number {
    const now = Math.floor(this.#settings.wallClock());
    this.#lastTimestamp = Math.max(now, this.#lastTimestamp + 1);
    return this.#lastTimestamp;
  }

  #onMessage(message: Buffer, remote: RemoteInfo): void {
    // Datagrams still queued while stopping belong to a session that is over.
    if (!this.#running) return;
    const now = this.#settings.clock.now();
    const result = this.#receiver.receive(message, remote.address, this.#settings.wallClock(), now);
    if (!result.ok) {
      this.#dropped(result.reason, remote);
      return;
    }
    const { id, port, goodbye } = result.announcement;
    if (goodbye) {
      this.#extra.goodbyes++;
      if (this.#peers.remove(id)) this.#events.emit('peer:lost', id);
      return;
    }
    const { peer, evicted } = this.#peers.seen(id, remote.address, port, now);
    if (evicted !== undefined) this.#events.emit('peer:lost', evicted);
    if (peer !== undefined) this.#events.emit('peer', { ...peer, from: remote.address });
  }

  /** Publishes a drop for whoever watches the diagnostics channels; costs a property read when nobody does. */
  #dropped(reason: ReceiveDropReason, remote: RemoteInfo): void {
    const published = DROP_REASONS[reason];
    if (published === undefined) return;
    const limit = this.#receiver.lastLimit;
    if (limit !== undefined && hasDiagnosticsSubscribers(DIAGNOSTICS_CHANNELS.rateLimited)) {
      publishDiagnostic(DIAGNOSTICS_CHANNELS.rateLimited, { limit, from: `${remote.address}:${remote.port}` });
    }
    if (hasDiagnosticsSubscribers(DIAGNOSTICS_CHANNELS.discoveryDropped)) {
      publishDiagnostic(DIAGNOSTICS_CHANNELS.discoveryDropped, {
        discovery: 'udp',
        from: `${remote.address}:${remote.port}`,
        reason: published,
      });
    }
  }
}

/**
 * The stable reason published for each way a datagram is dropped. Our own
 * announcements, looped back by broadcast, are expected and not reported.
 */
const DROP_REASONS: Readonly<Record<ReceiveDropReason, string | undefined>> = {
  foreignSource: 'off-link',
  malformed: 'malformed',
  badMagic: 'bad-magic',
  badVersion: 'bad-version',
  badFlags: 'bad-flags',
  badPort: 'bad-port',
  stale: 'stale',
  own: undefined,
  replayed: 'replayed',
  relayed: 'relayed',
  rateLimited: 'rate-limited',
  badSignature: 'bad-signature',
};

function closeSocket(socket: Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      // Already closed.
      resolve();
    }
  });
}

