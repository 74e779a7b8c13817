import { OptionsReader } from '@peernet/interface';
import { readRate } from './rate.js';

/** Options of `TokenBucket`. */
export interface TokenBucketOptions {
  /** Tokens added per second; `Infinity` means no limit, `0` means nothing after the burst. */
  ratePerSecond: number;
  /** Most tokens held, and the number at first. Default: one second's worth (at least 1 if the rate is above 0). */
  burst?: number;
}

/**
 * A token bucket over an injected clock: `take(now)` spends one token if one
 * is there. Pure state, no timers, so tests drive it with a fake clock.
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #last: number | undefined;

  constructor(options: TokenBucketOptions) {
    const reader = new OptionsReader('TokenBucket', options);
    const ratePerSecond = readRate(reader, 'ratePerSecond');
    // One second's worth; a rate of 0 means none at all, not one.
    const burst = readRate(reader, 'burst', ratePerSecond === 0 ? 0 : Math.max(1, Math.ceil(ratePerSecond)));
    this.#rate = ratePerSecond;
    this.#burst = burst;
    this.#tokens = burst;
  }

  /** Spends one token at time `now` (ms); false if none is left. */
  take(now: number): boolean {
    if (this.#rate === Infinity) return true;
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Tokens available at time `now` (ms), without spending any. */
  available(now: number): number {
    if (this.#rate === Infinity) return Infinity;
    this.#refill(now);
    return this.#tokens;
  }

  #refill(now: number): void {
    // A clock that steps back adds nothing; refilling resumes from the new reading.
    if (this.#last !== undefined && now > this.#last) {
      this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) * this.#rate) / 1000);
    }
    this.#last = now;
  }
}
