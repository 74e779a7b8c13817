import type { DiscoveredPeer, PeerId, TransportAddress } from '@peernet/interface';

/** Options of `PeerTable`. */
export interface PeerTableOptions {
  /** A peer address not heard from for longer than this (ms) is forgotten; a peer with none left is lost. */
  ttlMs: number;
  /** Most peers remembered; a new one beyond it evicts the least recently heard (reported lost). */
  maxPeers: number;
  /** Most source addresses remembered per peer; the least recently heard goes first. */
  maxAddresses: number;
}

/** What a received announcement changed. */
export interface SeenResult {
  /** Set when the peer is new, came back, or its addresses or port changed: report it. */
  peer?: DiscoveredPeer;
  /** A peer pushed out of a full table: report it lost. */
  evicted?: PeerId;
}

interface Entry {
  readonly id: PeerId;
  port: number;
  /** host → when last heard; iteration order is least recently heard first. */
  readonly hosts: Map<string, number>;
}

/**
 * The peers a discovery currently knows, and the decision of when to report
 * them: only on news (new, changed address or port, back after being lost),
 * never for every periodic announcement, because each report makes the
 * registry dial. Pure state over an injected clock.
 */
export class PeerTable {
  readonly #options: PeerTableOptions;
  // Iteration order: least recently heard first.
  readonly #entries = new Map<string, Entry>();

  constructor(options: PeerTableOptions) {
    this.#options = options;
  }

  /** Peers currently known. */
  get size(): number {
    return this.#entries.size;
  }

  /** Records an announcement of `id` from `host` announcing `port`, heard at `now`. */
  seen(id: PeerId, host: string, port: number, now: number): SeenResult {
    const key = id.toString();
    const result: SeenResult = {};
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      if (this.#entries.size >= this.#options.maxPeers) {
        const [oldestKey, oldest] = this.#entries.entries().next().value as [string, Entry];
        this.#entries.delete(oldestKey);
        result.evicted = oldest.id;
      }
      entry = { id, port, hosts: new Map([[host, now]]) };
      this.#entries.set(key, entry);
      result.peer = snapshot(entry);
      return result;
    }
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (entry.port !== port) {
      // A new port means a restarted transport: addresses heard with the old one say nothing about it.
      entry.port = port;
      entry.hosts.clear();
      entry.hosts.set(host, now);
      result.peer = snapshot(entry);
      return result;
    }
    const known = entry.hosts.has(host);
    entry.hosts.delete(host);
    if (!known && entry.hosts.size >= this.#options.maxAddresses) {
      entry.hosts.delete(entry.hosts.keys().next().value as string);
    }
    entry.hosts.set(host, now);
    if (!known) result.peer = snapshot(entry);
    return result;
  }

  /** Forgets `id` (it said goodbye); true if it was known. */
  remove(id: PeerId): boolean {
    return this.#entries.delete(id.toString());
  }

  /** Drops addresses not heard within the TTL: peers left with none are lost, the others changed. */
  expire(now: number): { lost: PeerId[]; changed: DiscoveredPeer[] } {
    const lost: PeerId[] = [];
    const changed: DiscoveredPeer[] = [];
    for (const [key, entry] of this.#entries) {
      let dropped = false;
      for (const [host, heard] of entry.hosts) {
        if (now - heard > this.#options.ttlMs) {
          entry.hosts.delete(host);
          dropped = true;
        }
      }
      if (entry.hosts.size === 0) {
        this.#entries.delete(key);
        lost.push(entry.id);
      } else if (dropped) {
        changed.push(snapshot(entry));
      }
    }
    return { lost, changed };
  }

  /** Forgets every peer without reporting anything. */
  clear(): void {
    this.#entries.clear();
  }
}

function snapshot(entry: Entry): DiscoveredPeer {
  // Most recently heard first: the address most likely to work right now.
  const addresses: TransportAddress[] = [...entry.hosts.keys()].reverse().map((host) => ({ host, port: entry.port }));
  return { id: entry.id, addresses };
}
