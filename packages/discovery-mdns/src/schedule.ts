/** Delays between browse queries, in milliseconds. */
export interface QueryBackoff {
  /** Delay after the first query (default 1000, RFC 6762 §5.2). */
  readonly initialMs: number;
  /** Cap of the doubling delay (default 60 000). */
  readonly maxMs: number;
}

/** The default browse backoff: 1 s, 2 s, 4 s, … capped at 60 s. */
export const DEFAULT_QUERY_BACKOFF: QueryBackoff = Object.freeze({ initialMs: 1000, maxMs: 60_000 });

/**
 * When to send the next browse query (sans-IO): one at once, then after
 * `initialMs`, and the delay doubles up to `maxMs` (RFC 6762 §5.2). `reset` starts
 * over, e.g. after the set of interfaces changed.
 */
export class QuerySchedule {
  readonly #backoff: QueryBackoff;
  #due: number;
  #delay: number;

  constructor(backoff: QueryBackoff, now: number) {
    this.#backoff = backoff;
    this.#due = now;
    this.#delay = backoff.initialMs;
  }

  /** Time at which the next query is due. */
  get due(): number {
    return this.#due;
  }

  /** True if a query is due at `now`. */
  isDue(now: number): boolean {
    return now >= this.#due;
  }

  /** Records that a query went out at `now`; returns the time of the next one. */
  sent(now: number): number {
    this.#due = now + this.#delay;
    this.#delay = Math.min(this.#delay * 2, this.#backoff.maxMs);
    return this.#due;
  }

  /** Makes a query due at `now` and restarts the doubling from `initialMs`. */
  reset(now: number): void {
    this.#due = now;
    this.#delay = this.#backoff.initialMs;
  }
}
