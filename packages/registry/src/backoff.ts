import { InvalidArgumentError } from '@peernet/interface';

/** Reconnect schedule: exponential with jitter. */
export interface BackoffOptions {
  /** First delay (default 500 ms). */
  initialMs?: number;
  /** Largest delay (default 30 s). */
  maxMs?: number;
  /** Growth per attempt (default 2). */
  factor?: number;
  /** Fraction of each delay that is randomised, 0 to 1 (default 0.5): delay × (1 − jitter × random). */
  jitter?: number;
}

/** The options with every default filled in and checked. */
export type Backoff = Required<BackoffOptions>;

/** Fills in and checks backoff options. */
export function backoffOptions(options: BackoffOptions = {}): Backoff {
  const b = { initialMs: 500, maxMs: 30_000, factor: 2, jitter: 0.5, ...options };
  if (!(b.initialMs > 0) || !(b.maxMs >= b.initialMs) || !(b.factor >= 1) || !(b.jitter >= 0 && b.jitter <= 1)) {
    throw new InvalidArgumentError('backoff needs initialMs > 0, maxMs ≥ initialMs, factor ≥ 1 and 0 ≤ jitter ≤ 1');
  }
  return b;
}

/**
 * Delay before retry number `attempt` (0 for the first retry). Jitter only
 * shortens a delay, so two peers that failed together spread out without
 * ever waiting longer than the cap.
 */
export function backoffDelay(attempt: number, backoff: Backoff, random: number): number {
  const base = Math.min(backoff.maxMs, backoff.initialMs * backoff.factor ** Math.min(attempt, 64));
  return Math.round(base * (1 - backoff.jitter * random));
}
