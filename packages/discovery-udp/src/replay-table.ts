import { OptionsReader } from '@peernet/interface';
import { DEFAULT_WINDOW_MS } from './packet.js';

/** Options of `ReplayTable`. */
export interface ReplayTableOptions {
  /** Most keys remembered; beyond it the least recently accepted key is forgotten. Default 4096. */
  capacity?: number;
  /** The decoder's time window (ms): an entry older than this can no longer stop anything. Default 30 000. */
  windowMs?: number;
}

/** Default `capacity` of a `ReplayTable`. */
export const DEFAULT_REPLAY_CAPACITY = 4096;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * The last accepted announcement time per sender key. A packet whose
 * timestamp is not later than the last one accepted from its key is a replay.
 *
 * Memory is bounded twice: at most `capacity` keys (least recently accepted
 * forgotten first), and an entry is dropped once it is older than the window,
 * because the time-window check then rejects everything it would reject.
 * Entries are only added for packets whose signature verified, so their rate
 * is the verification rate, not the packet rate.
 */
export class ReplayTable {
  readonly #capacity: number;
  readonly #windowMs: number;
  // Map iteration order is insertion order; `record` re-inserts, so the first entry is the least recent.
  readonly #last = new Map<string, number>();

  constructor(options: ReplayTableOptions = {}) {
    const reader = new OptionsReader('ReplayTable', options);
    this.#capacity = reader.integer('capacity', { default: DEFAULT_REPLAY_CAPACITY, min: 1 });
    this.#windowMs = reader.number('windowMs', { default: DEFAULT_WINDOW_MS });
  }

  /** Keys currently remembered. */
  get size(): number {
    return this.#last.size;
  }

  /** The most keys this table remembers. */
  get capacity(): number {
    return this.#capacity;
  }

  /** True if an announcement from `key` at `timestamp` is not newer than the last one accepted. */
  isReplay(key: Uint8Array, timestamp: number): boolean {
    const last = this.#last.get(keyOf(key));
    return last !== undefined && timestamp <= last;
  }

  /** The last accepted timestamp of `key`, if remembered. */
  lastAccepted(key: Uint8Array): number | undefined {
    return this.#last.get(keyOf(key));
  }

  /** Remembers that an announcement from `key` at `timestamp` was accepted at `now`. */
  record(key: Uint8Array, timestamp: number, now: number): void {
    const k = keyOf(key);
    const previous = this.#last.get(k);
    this.#last.delete(k);
    this.#last.set(k, previous === undefined ? timestamp : Math.max(previous, timestamp));
    // Expired entries sit at the front (least recently recorded): dropping them there is O(1) each.
    for (const [oldest, last] of this.#last) {
      if (this.#last.size <= this.#capacity && !this.#expired(last, now)) break;
      this.#last.delete(oldest);
    }
  }

  /** Forgets every entry the time window has made useless; returns how many. */
  prune(now: number): number {
    let removed = 0;
    for (const [k, last] of this.#last) {
      if (this.#expired(last, now)) {
        this.#last.delete(k);
        removed++;
      }
    }
    return removed;
  }

  /** Forgets everything. */
  clear(): void {
    this.#last.clear();
  }

  #expired(last: number, now: number): boolean {
    // Every timestamp <= last is also < now - windowMs: the window check already drops it.
    return last < now - this.#windowMs;
  }
}

function keyOf(key: Uint8Array): string {
  let out = '';
  for (let i = 0; i < key.length; i++) out += HEX[key[i] as number];
  return out;
}
