import { OptionsReader } from '@peernet/interface';

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

/**
 * Fills in and checks backoff options; `owner` names whoever took them in
 * error messages (`PeerNet.start reconnect option maxMs must be …`).
 */
export function backoffOptions(options: BackoffOptions = {}, owner = 'backoff'): Backoff {
  const reader = new OptionsReader(owner, options);
  const initialMs = reader.number('initialMs', { default: 500, min: 1 });
  const maxMs = reader.number('maxMs', { default: Math.max(30_000, initialMs), min: initialMs });
  const factor = reader.number('factor', { default: 2, min: 1 });
  const jitter = reader.number('jitter', { default: 0.5, min: 0, max: 1 });
  return { initialMs, maxMs, factor, jitter };
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
