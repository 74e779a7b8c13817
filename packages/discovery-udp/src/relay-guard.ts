import { OptionsReader } from '@peernet/interface';
import { DEFAULT_WINDOW_MS } from './packet.js';

/** Options of `RelayGuard`. */
export interface RelayGuardOptions {
  /** The decoder's time window (ms): a packet older than this is dropped as stale anyway. Default 30 000. */
  windowMs?: number;
  /** Most packets remembered per source address; its oldest goes first. Default 16. */
  perSource?: number;
  /** Most source addresses remembered; the one that recorded least recently goes first. Default 256. */
  maxSources?: number;
}

/** Default `perSource` of a `RelayGuard`. */
export const DEFAULT_RELAY_PER_SOURCE = 16;
/** Default `maxSources` of a `RelayGuard`. */
export const DEFAULT_RELAY_SOURCES = 256;

interface Remembered {
  readonly source: string;
  /** The packet's own timestamp: once it is outside the window the packet is stale everywhere. */
  readonly timestamp: number;
}

/**
 * Packets that passed the cheap checks but were dropped unverified (no
 * budget), with the source each came from first. The same bytes from another
 * source are a relay: a genuine announcement captured off the air and sent
 * again from the relayer's address, which would make receivers dial it.
 *
 * Whole packets are compared, signature included: Ed25519 signatures are
 * deterministic and strictly checked, so a forger cannot produce the bytes of
 * a genuine announcement before its sender broadcasts it, and cannot block a
 * genuine packet by recording look-alikes first.
 *
 * Memory is bounded by source: each source keeps its own `perSource` most
 * recent packets, so a flood from one address cannot push out what another
 * address sent (a sender announces every few seconds, so 16 cover the window).
 */
export class RelayGuard {
  readonly #windowMs: number;
  readonly #perSource: number;
  readonly #maxSources: number;
  readonly #first = new Map<string, Remembered>();
  // Per source, its packets oldest first; iteration order is least recently recorded source first.
  readonly #bySource = new Map<string, string[]>();

  constructor(options: RelayGuardOptions = {}) {
    const reader = new OptionsReader('RelayGuard', options);
    this.#windowMs = reader.number('windowMs', { default: DEFAULT_WINDOW_MS });
    this.#perSource = reader.integer('perSource', { default: DEFAULT_RELAY_PER_SOURCE, min: 1 });
    this.#maxSources = reader.integer('maxSources', { default: DEFAULT_RELAY_SOURCES, min: 1 });
  }

  /** Packets remembered right now. */
  get size(): number {
    return this.#first.size;
  }

  /**
   * True if these exact bytes were dropped unverified before, from a source
   * other than `source`, and could still be fresh at `now`.
   */
  isRelay(bytes: Uint8Array, source: string, now: number): boolean {
    if (this.#first.size === 0) return false;
    const seen = this.#first.get(fingerprint(bytes));
    return seen !== undefined && seen.source !== source && !this.#expired(seen, now);
  }

  /** Remembers that `bytes` (an announcement stamped `timestamp`) from `source` was dropped unverified. */
  record(bytes: Uint8Array, source: string, timestamp: number, now: number): void {
    const print = fingerprint(bytes);
    const seen = this.#first.get(print);
    // The first source is what counts; the same packet again changes nothing.
    if (seen !== undefined && !this.#expired(seen, now)) return;
    this.#first.set(print, { source, timestamp });
    let list = this.#bySource.get(source);
    if (list === undefined) list = [];
    else this.#bySource.delete(source);
    this.#bySource.set(source, list);
    list.push(print);
    while (list.length > this.#perSource) this.#forget(list.shift() as string, source);
    while (this.#bySource.size > this.#maxSources) {
      const [oldest, prints] = this.#bySource.entries().next().value as [string, string[]];
      this.#bySource.delete(oldest);
      for (const p of prints) this.#forget(p, oldest);
    }
  }

  /** Forgets every packet the time window has made stale; returns how many. */
  prune(now: number): number {
    let removed = 0;
    for (const [source, prints] of this.#bySource) {
      const kept = prints.filter((p) => {
        const seen = this.#first.get(p);
        if (seen !== undefined && seen.source === source && this.#expired(seen, now)) {
          this.#first.delete(p);
          removed++;
          return false;
        }
        return seen !== undefined && seen.source === source;
      });
      if (kept.length === 0) this.#bySource.delete(source);
      else this.#bySource.set(source, kept);
    }
    return removed;
  }

  /** Forgets everything. */
  clear(): void {
    this.#first.clear();
    this.#bySource.clear();
  }

  #forget(print: string, source: string): void {
    // Only the entry this source owns: the packet may since have been recorded again from elsewhere.
    if (this.#first.get(print)?.source === source) this.#first.delete(print);
  }

  #expired(seen: Remembered, now: number): boolean {
    return Math.abs(now - seen.timestamp) > this.#windowMs;
  }
}

function fingerprint(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}
