import { randomInt } from 'node:crypto';
import * as dgram from 'node:dgram';
import { type NetworkInterfaceInfo, networkInterfaces } from 'node:os';
import { Waiters } from '@peernet/compliance';
import type { DiscoveredPeer, PeerId } from '@peernet/interface';

/**
 * This machine has an outside interface with a default route: a broadcast
 * sent anywhere but loopback leaves it. Every test that opens sockets in the
 * machine's own namespace installs this guard, which refuses (and records)
 * any datagram to a destination outside 127.0.0.0/8.
 */
export interface SendGuard {
  /** Destinations that were refused. */
  readonly violations: string[];
  /** Puts the real `send` back. */
  restore(): void;
}

function isLoopbackDestination(address: string): boolean {
  if (address === 'localhost') return true;
  const parts = address.split('.');
  return parts.length === 4 && parts[0] === '127' && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

/** Wraps `dgram.Socket.prototype.send` so that only loopback destinations get through. */
export function guardLoopbackSends(): SendGuard {
  const proto = dgram.Socket.prototype;
  const original = proto.send;
  const violations: string[] = [];
  // Same argument rules as Node's own send(): (msg, [offset, length,] port, [address,] [callback]).
  proto.send = function guardedSend(this: dgram.Socket, ...args: unknown[]): void {
    const offsetForm = typeof args[4] === 'string' || (args[3] !== undefined && typeof args[3] !== 'function');
    const address = offsetForm ? args[4] : args[2];
    if (typeof address === 'string' && !isLoopbackDestination(address)) {
      violations.push(address);
      throw new Error(`test safety guard: refused a UDP datagram to ${address} (only 127.0.0.0/8 is allowed here)`);
    }
    return (original as (...a: unknown[]) => void).apply(this, args);
  } as typeof proto.send;
  return {
    violations,
    restore: () => {
      proto.send = original;
    },
  };
}

/** The real interface table with every non-loopback address removed: a second line of defence. */
export function loopbackOnly(): NodeJS.Dict<NetworkInterfaceInfo[]> {
  const out: NodeJS.Dict<NetworkInterfaceInfo[]> = {};
  for (const [name, infos] of Object.entries(networkInterfaces())) {
    const kept = (infos ?? []).filter((info) => info.family === 'IPv4' && info.address.startsWith('127.'));
    if (kept.length > 0) out[name] = kept;
  }
  return out;
}

/** Name of the loopback interface (`'lo'` on Linux). */
export function loopbackName(): string {
  const name = Object.keys(loopbackOnly())[0];
  if (name === undefined) throw new Error('this machine has no IPv4 loopback interface');
  return name;
}

/** A random UDP port for one test: never 4040, below Linux's ephemeral range so the kernel does not hand it out. */
export function randomPort(): number {
  return randomInt(20_000, 32_000);
}

/** A plain UDP socket on a loopback address, for sending crafted datagrams and capturing broadcasts. */
export class RawSocket {
  readonly socket: dgram.Socket;
  readonly received: Array<{ bytes: Uint8Array; from: string }> = [];
  readonly #waiters = new Waiters();

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (message, remote) => {
      this.received.push({ bytes: Uint8Array.from(message), from: remote.address });
      this.#waiters.wake();
    });
  }

  /** Binds `address:port` (port 0: any). `reuseAddr` lets it share a discovery's port to capture broadcasts. */
  static async bind(address: string, port = 0, reuseAddr = false): Promise<RawSocket> {
    const socket = dgram.createSocket({ type: 'udp4', reuseAddr });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind({ address, port }, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    return new RawSocket(socket);
  }

  /** Sends `bytes` to `host:port` and waits for the send to complete. */
  send(bytes: Uint8Array, port: number, host = '127.0.0.1'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.socket.send(bytes, port, host, (error) => (error ? reject(error) : resolve()));
    });
  }

  /** Waits until `count` datagrams have arrived. */
  waitForCount(count: number, timeout: number, what: string): Promise<void> {
    return this.waitFor(() => this.received.length >= count, timeout, what);
  }

  /** Waits until `condition()` holds, re-checked on every datagram. */
  async waitFor(condition: () => boolean, timeout: number, what: string): Promise<void> {
    await this.#waiters.until(() => condition() || undefined, timeout, () => `${what} (got ${this.received.length})`);
  }


  close(): Promise<void> {
    return new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

/** What a discovery reported, in order, with waits for what is still to come. */
export class EventLog {
  readonly events: Array<{ kind: 'peer'; peer: DiscoveredPeer } | { kind: 'lost'; id: PeerId }> = [];
  readonly #waiters = new Waiters();

  constructor(discovery: {
    on(event: 'peer', listener: (peer: DiscoveredPeer) => void): unknown;
    on(event: 'peer:lost', listener: (id: PeerId) => void): unknown;
  }) {
    discovery.on('peer', (peer) => this.#push({ kind: 'peer', peer }));
    discovery.on('peer:lost', (id) => this.#push({ kind: 'lost', id }));
  }

  peers(id?: PeerId): DiscoveredPeer[] {
    const out: DiscoveredPeer[] = [];
    for (const e of this.events) if (e.kind === 'peer' && (id === undefined || e.peer.id.equals(id))) out.push(e.peer);
    return out;
  }

  lost(id?: PeerId): PeerId[] {
    const out: PeerId[] = [];
    for (const e of this.events) if (e.kind === 'lost' && (id === undefined || e.id.equals(id))) out.push(e.id);
    return out;
  }

  /** Waits until `condition()` holds, re-checked on every event. */
  async until(condition: () => boolean, timeout: number, what: string): Promise<void> {
    await this.#waiters.until(() => condition() || undefined, timeout, what);
  }


  #push(event: EventLog['events'][number]): void {
    this.events.push(event);
    this.#waiters.wake();
  }
}

/**
 * For a whole test file: refuses (and records) any datagram to a destination
 * outside 127.0.0.0/8, and fails the file if one was attempted.
 */
export function useLoopbackGuard(): void {
  let guard: SendGuard;
  beforeAll(() => {
    guard = guardLoopbackSends();
  });
  afterAll(() => {
    guard.restore();
    expect(guard.violations).toEqual([]);
  });
}
