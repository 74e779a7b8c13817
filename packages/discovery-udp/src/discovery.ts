import { type RemoteInfo, type Socket, createSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { networkInterfaces as osNetworkInterfaces } from 'node:os';
import {
  type Discovery,
  type DiscoveryEvents,
  InvalidArgumentError,
  type PeerId,
  isPeerId,
} from '@peernet/interface';
import {
  type InterfaceTable,
  type Ipv4Interface,
  broadcastAddressesOf,
  checkRestriction,
  inSubnetOf,
  resolveInterfaces,
} from './interfaces.js';
import { type AnnouncementSigner, DEFAULT_WINDOW_MS, encodeAnnouncement } from './packet.js';
import { PeerTable } from './peer-table.js';
import { AnnouncementReceiver, type ReceiveCounters } from './receiver.js';
import { DEFAULT_REPLAY_CAPACITY } from './replay-table.js';

/** Default UDP port announcements are sent to and received on. */
export const DEFAULT_PORT = 4040;
/** Default ms between two periodic announcements. */
export const DEFAULT_INTERVAL_MS = 5000;
/** Default signature checks per second for keys that are not wanted. */
export const DEFAULT_VERIFY_PER_SECOND = 50;
/** Default signature checks per second for all wanted keys together (home reserves aside). */
export const DEFAULT_WANTED_VERIFY_PER_SECOND = 100;
/** Default signature checks per second for one wanted key: a tenth of the wanted total. */
export const DEFAULT_KEY_VERIFY_PER_SECOND = DEFAULT_WANTED_VERIFY_PER_SECOND / 10;
/** Default signature checks per second reserved for a wanted key's packets from its home address. */
export const DEFAULT_HOME_VERIFY_PER_SECOND = 2;
/** Default most peers remembered at once. */
export const DEFAULT_MAX_PEERS = 4096;

// A peer heard on more addresses than this is pathological; keep the freshest ones.
const MAX_ADDRESSES_PER_PEER = 8;
// setInterval fires at once for longer delays (with only a warning).
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The identity a discovery announces: an `Identity` from `@peernet/identity` is one. */
export interface UdpDiscoveryIdentity extends AnnouncementSigner {
  /** The peer id, equal to `publicKey`. */
  readonly id: PeerId;
}

/** Options of `udpDiscovery()`. */
export interface UdpDiscoveryOptions {
  /** The node's identity: announcements carry its key and are signed with it. */
  identity: UdpDiscoveryIdentity;
  /** UDP port to send to and receive on (every node of a LAN uses the same one). Default 4040. */
  port?: number;
  /**
   * Interfaces to send and listen on: IPv4 addresses (`'127.0.0.1'`) or
   * interface names (`'eth0'`). Default: every non-internal IPv4 interface.
   */
  interfaces?: readonly string[];
  /** Ms between periodic announcements. Default 5000. */
  intervalMs?: number;
  /** A peer not heard from for this long (ms) is reported lost. Default 3 × `intervalMs`. */
  ttlMs?: number;
  /** Largest accepted clock difference (ms) between sender and receiver. Default 30 000. */
  windowMs?: number;
  /** Signature checks per second for keys `isWanted` does not want (`Infinity`: no limit). Default 50. */
  verifyPerSecond?: number;
  /**
   * Signature checks per second for all wanted keys together (`Infinity`: no
   * ceiling), home reserves aside. Default 100.
   */
  wantedVerifyPerSecond?: number;
  /**
   * Signature checks per second for one wanted key, so that forgeries naming
   * one key cannot spend another's budget; one source address gets at most
   * half of it. Keep it below `wantedVerifyPerSecond`, so one key cannot use
   * up the total. Default `wantedVerifyPerSecond / 10` (10).
   */
  keyVerifyPerSecond?: number;
  /**
   * Signature checks per second reserved for a wanted key's packets from its
   * home address (the last source address whose announcement for that key
   * verified), outside the other budgets; burst two seconds' worth. Default
   * `min(2, keyVerifyPerSecond)`.
   */
  homeVerifyPerSecond?: number;
  /** Which peers matter (the node passes "is this peer trusted"); each gets a verification budget of its own. */
  isWanted?: (id: PeerId) => boolean;
  /** Most sender keys the replay table remembers. Default 4096. */
  maxTrackedKeys?: number;
  /** Most peers remembered at once. Default 4096. */
  maxPeers?: number;
  /** Clock (unix ms). Default `Date.now`. */
  now?: () => number;
  /** Source of the interface table. Default `os.networkInterfaces`. */
  networkInterfaces?: () => InterfaceTable;
}

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

interface Settings {
  identity: UdpDiscoveryIdentity;
  port: number;
  restriction: readonly string[] | undefined;
  intervalMs: number;
  ttlMs: number;
  windowMs: number;
  verifyPerSecond: number;
  wantedVerifyPerSecond: number;
  keyVerifyPerSecond: number;
  homeVerifyPerSecond: number;
  isWanted: ((id: PeerId) => boolean) | undefined;
  maxTrackedKeys: number;
  maxPeers: number;
  now: () => number;
  networkInterfaces: () => InterfaceTable;
}

/** Creates the signed UDP broadcast discovery, named `'udp'`; throws `InvalidArgumentError` for a bad option. */
export function udpDiscovery(options: UdpDiscoveryOptions): UdpDiscovery {
  return new UdpBroadcastDiscovery(settingsOf(options));
}

class UdpBroadcastDiscovery implements UdpDiscovery {
  readonly name = 'udp' as const;
  readonly #settings: Settings;
  readonly #events = new EventEmitter();
  readonly #receiver: AnnouncementReceiver;
  readonly #peers: PeerTable;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #extra = { goodbyes: 0, sent: 0, sendErrors: 0, socketErrors: 0 };
  #socket: Socket | undefined;
  #timer: NodeJS.Timeout | undefined;
  #interfaces: Ipv4Interface[] = [];
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

  on<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.on(event, listener);
    return this;
  }

  once<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.once(event, listener);
    return this;
  }

  off<E extends keyof DiscoveryEvents>(event: E, listener: DiscoveryEvents[E]): this {
    this.#events.off(event, listener);
    return this;
  }

  #serially(step: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(step);
    this.#queue = run.catch(() => {});
    return run;
  }

  #resolveInterfaces(): Ipv4Interface[] {
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
      throw new InvalidArgumentError(`cannot bind UDP port ${port}: ${messageOf(error)}`, { cause: error });
    }
    // Errors of an unconnected UDP socket are transient (a failed send also reports to its callback).
    socket.on('error', () => {
      this.#extra.socketErrors++;
    });
    socket.on('message', (message: Buffer, remote: RemoteInfo) => this.#onMessage(message, remote));
    this.#socket = socket;
    this.#running = true;
    this.#peers.clear();
    this.#timer = setInterval(() => this.#tick(), this.#settings.intervalMs);
    await this.#announce(false);
  }

  async #stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    clearInterval(this.#timer);
    this.#timer = undefined;
    await Promise.all(this.#inFlight);
    await this.#announce(true);
    const socket = this.#socket;
    this.#socket = undefined;
    this.#peers.clear();
    if (socket !== undefined) await closeSocket(socket);
  }

  #tick(): void {
    // Interfaces come and go: follow them within the restriction, for sending and for the source filter.
    this.#refreshInterfaces();
    const now = this.#settings.now();
    this.#receiver.replays.prune(now);
    this.#receiver.relays.prune(now);
    const { lost, changed } = this.#peers.expire(now);
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
    const now = Math.floor(this.#settings.now());
    this.#lastTimestamp = Math.max(now, this.#lastTimestamp + 1);
    return this.#lastTimestamp;
  }

  #onMessage(message: Buffer, remote: RemoteInfo): void {
    // Datagrams still queued while stopping belong to a session that is over.
    if (!this.#running) return;
    const now = this.#settings.now();
    const result = this.#receiver.receive(message, remote.address, now);
    if (!result.ok) return;
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
}

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

function messageOf(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  return typeof code === 'string' && !message.includes(code) ? `${message} (${code})` : message;
}

function integerOption(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidArgumentError(
      `udpDiscovery option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`,
    );
  }
  return value;
}

function rateOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(
      `udpDiscovery option ${name} must be a number >= 0 (or Infinity), got ${String(value)}`,
    );
  }
  return value;
}

function functionOption<F>(value: unknown, name: string, fallback: F): F {
  if (value === undefined) return fallback;
  if (typeof value !== 'function') throw new InvalidArgumentError(`udpDiscovery option ${name} must be a function`);
  return value as F;
}

function settingsOf(options: UdpDiscoveryOptions): Settings {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidArgumentError('udpDiscovery options must be an object with an identity');
  }
  const { identity } = options;
  if (
    typeof identity !== 'object' ||
    identity === null ||
    !isPeerId(identity.id) ||
    typeof identity.sign !== 'function' ||
    !(identity.publicKey instanceof Uint8Array) ||
    !identity.id.equals(identity.publicKey)
  ) {
    throw new InvalidArgumentError('udpDiscovery identity must be an Identity (id, publicKey and sign())');
  }
  const intervalMs = integerOption(options.intervalMs, 'intervalMs', DEFAULT_INTERVAL_MS, 1, MAX_TIMER_MS);
  const wantedVerifyPerSecond = rateOption(
    options.wantedVerifyPerSecond,
    'wantedVerifyPerSecond',
    DEFAULT_WANTED_VERIFY_PER_SECOND,
  );
  const keyVerifyPerSecond = rateOption(options.keyVerifyPerSecond, 'keyVerifyPerSecond', wantedVerifyPerSecond / 10);
  return {
    identity,
    port: integerOption(options.port, 'port', DEFAULT_PORT, 1, 65535),
    restriction: checkRestriction(options.interfaces),
    intervalMs,
    ttlMs: integerOption(options.ttlMs, 'ttlMs', 3 * intervalMs, 1, Number.MAX_SAFE_INTEGER),
    windowMs: integerOption(options.windowMs, 'windowMs', DEFAULT_WINDOW_MS, 0, Number.MAX_SAFE_INTEGER),
    verifyPerSecond: rateOption(options.verifyPerSecond, 'verifyPerSecond', DEFAULT_VERIFY_PER_SECOND),
    wantedVerifyPerSecond,
    keyVerifyPerSecond,
    homeVerifyPerSecond: rateOption(
      options.homeVerifyPerSecond,
      'homeVerifyPerSecond',
      Math.min(DEFAULT_HOME_VERIFY_PER_SECOND, keyVerifyPerSecond),
    ),
    isWanted: functionOption<((id: PeerId) => boolean) | undefined>(options.isWanted, 'isWanted', undefined),
    maxTrackedKeys: integerOption(options.maxTrackedKeys, 'maxTrackedKeys', DEFAULT_REPLAY_CAPACITY, 1, 2 ** 24),
    maxPeers: integerOption(options.maxPeers, 'maxPeers', DEFAULT_MAX_PEERS, 1, 2 ** 24),
    now: functionOption(options.now, 'now', Date.now),
    networkInterfaces: functionOption<() => InterfaceTable>(
      options.networkInterfaces,
      'networkInterfaces',
      osNetworkInterfaces,
    ),
  };
}
