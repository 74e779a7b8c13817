import { type RemoteInfo, createSocket } from 'node:dgram';
import dnsPacket, { type Packet } from 'dns-packet';
import { Waiters } from '@peernet/compliance';
import type { DiscoveredPeer, Discovery, PeerId } from '@peernet/interface';

type Sighting = { kind: 'peer'; peer: DiscoveredPeer; at: number } | { kind: 'lost'; id: PeerId; at: number };

/** Records what a discovery reports and lets a test wait for it. */
export class Recorder {
  readonly sightings: Sighting[] = [];
  readonly #waiters = new Waiters();

  constructor(discovery: Discovery) {
    discovery.on('peer', (peer) => this.#push({ kind: 'peer', peer, at: performance.now() }));
    discovery.on('peer:lost', (id) => this.#push({ kind: 'lost', id, at: performance.now() }));
  }

  /** Every 'peer' event for `id`. */
  peers(id: PeerId): DiscoveredPeer[] {
    return this.sightings.flatMap((s) => (s.kind === 'peer' && s.peer.id.equals(id) ? [s.peer] : []));
  }

  /** Number of 'peer:lost' events for `id`. */
  lost(id: PeerId): number {
    return this.sightings.filter((s) => s.kind === 'lost' && s.id.equals(id)).length;
  }

  /** Waits for the `count`-th 'peer' event for `id` that satisfies `accept`. */
  waitForPeer(id: PeerId, timeout: number, accept: (peer: DiscoveredPeer) => boolean = () => true, count = 1): Promise<DiscoveredPeer> {
    return this.#until(() => this.peers(id).filter(accept)[count - 1], timeout, `'peer' #${count} for ${short(id)}`);
  }

  /** Waits until `id` was reported lost `count` times. */
  waitForLost(id: PeerId, timeout: number, count = 1): Promise<true> {
    return this.#until(() => (this.lost(id) >= count ? true : undefined), timeout, `'peer:lost' #${count} for ${short(id)}`);
  }

  #push(sighting: Sighting): void {
    this.sightings.push(sighting);
    this.#waiters.wake();
  }

  #until<T>(find: () => T | undefined, timeout: number, what: string): Promise<T> {
    return this.#waiters.until(find, timeout, what);
  }

}

function short(id: PeerId): string {
  return id.toString().slice(0, 8);
}

/** A packet seen on the loopback mDNS group. */
export interface Seen {
  readonly packet: Packet;
  readonly rinfo: RemoteInfo;
}

/** A raw socket on the loopback mDNS group, to inject packets and watch what the discoveries send. */
export interface LoopbackWire {
  /** Everything received since it opened, decoded (undecodable packets are skipped). */
  readonly seen: Seen[];
  /** The local port it sends from. */
  readonly port: number;
  /** Multicasts a packet (or raw bytes) to 224.0.0.251:5353 on loopback. */
  send(packet: Packet | Uint8Array): Promise<void>;
  /** Waits for a received packet matching `accept`, among those seen after the `from`-th. */
  waitFor(accept: (seen: Seen) => boolean, timeout: number, what: string, from?: number): Promise<Seen>;
  close(): Promise<void>;
}

/**
 * Opens a wire on loopback only: multicast interface 127.0.0.1, TTL 1, loop
 * enabled, set before anything is sent. `port` 5353 also hears the group;
 * another port sends from there (a "legacy" querier) and hears only unicast.
 */
export async function loopbackWire(port = 5353): Promise<LoopbackWire> {
  const socket = createSocket({ type: 'udp4', reuseAddr: true });
  const seen: Seen[] = [];
  const waiters = new Waiters();
  socket.on('error', () => {});
  socket.on('message', (bytes, rinfo) => {
    try {
      seen.push({ packet: dnsPacket.decode(bytes), rinfo });
    } catch {
      return;
    }
    waiters.wake();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '0.0.0.0', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.setMulticastInterface('127.0.0.1');
  socket.setMulticastTTL(1);
  socket.setMulticastLoopback(true);
  if (port === 5353) socket.addMembership('224.0.0.251', '127.0.0.1');
  return {
    seen,
    port: socket.address().port,
    send(packet) {
      const bytes = packet instanceof Uint8Array ? packet : dnsPacket.encode(packet);
      return new Promise((resolve, reject) =>
        socket.send(bytes, 5353, '224.0.0.251', (error) => (error ? reject(error) : resolve())),
      );
    },
    waitFor(accept, timeout, what, from = 0) {
      return waiters.until(() => seen.slice(from).find(accept), timeout, what);
    },
    close() {
      return new Promise((resolve) => socket.close(() => resolve()));
    },
  };
}
