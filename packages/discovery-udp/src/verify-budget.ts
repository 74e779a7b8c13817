import { OptionsReader } from '@peernet/interface';
import { readRate } from './rate.js';
import { TokenBucket } from './token-bucket.js';

/** Options of `VerifyBudget`. */
export interface VerifyBudgetOptions {
  /** Signature checks per second for all wanted keys together, home checks aside (`Infinity`: no ceiling). */
  totalPerSecond: number;
  /** Signature checks per second for one wanted key, home checks aside. Default `totalPerSecond / 10`. */
  keyPerSecond?: number;
  /**
   * Signature checks per second reserved for one key's packets from its home
   * address (the last source whose packet for that key verified). Burst: two
   * seconds' worth. Default `min(2, keyPerSecond)`.
   */
  homePerSecond?: number;
  /** Most keys (and most key-and-source pairs) whose buckets are kept; the least recently used go first. Default 4096. */
  maxKeys?: number;
}

/** Default `maxKeys` of a `VerifyBudget`. */
export const DEFAULT_BUDGET_KEYS = 4096;

/** Where a granted signature check was paid from. */
export type BudgetSource = 'home' | 'shared';

/** Which limit refused a signature check: the key-and-source share, the key's bucket, or the shared ceiling. */
export type BudgetLimit = 'per-source' | 'per-key' | 'total';

interface KeyState {
  /** The last source whose packet for this key verified. */
  home: string | undefined;
  readonly homeBucket: TokenBucket;
  readonly bucket: TokenBucket;
}

/**
 * Signature budgets for wanted keys, one per key, over an injected clock.
 *
 * A wanted key is public (it is broadcast), so anyone can put it on forged
 * packets; what forging one key may cost the others is what this bounds:
 *
 * - every key has its own bucket (`keyPerSecond`), so forgeries naming one
 *   key spend that key's budget only;
 * - within a key, one source address may use at most half of the key's rate,
 *   so a forger at one address leaves the other half to the real peer
 *   wherever it now is;
 * - the ceiling `totalPerSecond` is shared, but `keyPerSecond` is below it,
 *   so one key cannot exhaust it;
 * - packets from the key's home address are paid first from a reserve of
 *   their own (`homePerSecond`), outside the ceiling, so the peer at its
 *   usual address keeps being verified even when forgeries naming many keys
 *   have used up the ceiling.
 *
 * Checks per second are therefore at most `totalPerSecond` plus
 * `homePerSecond` for each wanted key heard at its home address.
 */
export class VerifyBudget {
  readonly #total: TokenBucket;
  readonly #keyPerSecond: number;
  readonly #sourcePerSecond: number;
  readonly #homePerSecond: number;
  readonly #maxKeys: number;
  // Iteration order is least recently used first (entries are re-inserted on use).
  readonly #keys = new Map<string, KeyState>();
  readonly #sources = new Map<string, TokenBucket>();

  constructor(options: VerifyBudgetOptions) {
    const reader = new OptionsReader('VerifyBudget', options);
    const total = readRate(reader, 'totalPerSecond');
    const keyPerSecond = readRate(reader, 'keyPerSecond', total / 10);
    const homePerSecond = readRate(reader, 'homePerSecond', Math.min(2, keyPerSecond));
    const maxKeys = reader.integer('maxKeys', { default: DEFAULT_BUDGET_KEYS, min: 1 });
    this.#total = new TokenBucket({ ratePerSecond: total });
    this.#keyPerSecond = keyPerSecond;
    this.#sourcePerSecond = keyPerSecond / 2;
    this.#homePerSecond = homePerSecond;
    this.#maxKeys = maxKeys;
  }

  /** Keys with buckets right now. */
  get size(): number {
    return this.#keys.size;
  }

  /** The home address of `key`, if one is known. */
  homeOf(key: string): string | undefined {
    return this.#keys.get(key)?.home;
  }

  /**
   * Spends one signature check for a packet naming `key` from `source` at
   * `now` (ms): `'home'` or `'shared'` says which budget paid, `false` that
   * none could.
   */
  take(key: string, source: string, now: number): BudgetSource | false {
    const outcome = this.spend(key, source, now);
    return outcome === 'home' || outcome === 'shared' ? outcome : false;
  }

  /** As `take`, but a refusal names the limit that had no token left (the first checked: source, key, total). */
  spend(key: string, source: string, now: number): BudgetSource | BudgetLimit {
    const state = this.#state(key);
    if (state.home === source && state.homeBucket.take(now)) return 'home';
    const pair = `${key} ${source}`;
    let perSource = this.#sources.get(pair);
    if (perSource === undefined) {
      perSource = new TokenBucket({ ratePerSecond: this.#sourcePerSecond, burst: burstOf(this.#sourcePerSecond) });
      this.#sources.set(pair, perSource);
      evictOldest(this.#sources, this.#maxKeys);
    } else {
      this.#sources.delete(pair);
      this.#sources.set(pair, perSource);
    }
    // All three must have a token before any is spent: a refusal costs no one anything.
    if (perSource.available(now) < 1) return 'per-source';
    if (state.bucket.available(now) < 1) return 'per-key';
    if (this.#total.available(now) < 1) return 'total';
    perSource.take(now);
    state.bucket.take(now);
    this.#total.take(now);
    return 'shared';
  }

  /** Records that a packet naming `key` from `source` verified: `source` becomes the key's home address. */
  verified(key: string, source: string): void {
    this.#state(key).home = source;
  }

  #state(key: string): KeyState {
    let state = this.#keys.get(key);
    if (state === undefined) {
      state = {
        home: undefined,
        homeBucket: new TokenBucket({ ratePerSecond: this.#homePerSecond, burst: burstOf(2 * this.#homePerSecond) }),
        bucket: new TokenBucket({ ratePerSecond: this.#keyPerSecond, burst: burstOf(this.#keyPerSecond) }),
      };
      this.#keys.set(key, state);
      evictOldest(this.#keys, this.#maxKeys);
    } else {
      this.#keys.delete(key);
      this.#keys.set(key, state);
    }
    return state;
  }
}

/** One token at least for any rate above 0, so a slow bucket can still grant its first check. */
function burstOf(tokens: number): number {
  if (tokens === 0) return 0;
  if (tokens === Infinity) return Infinity;
  return Math.max(1, Math.ceil(tokens));
}

function evictOldest<V>(map: Map<string, V>, max: number): void {
  while (map.size > max) map.delete(map.keys().next().value as string);
}
