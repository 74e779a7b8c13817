/**
 * Time as every PeerNet package sees it: a monotonic `now` and one-shot
 * timers. Injected wherever a component waits or measures, so tests run in
 * virtual time (`FakeClock` from `@peernet/compliance` fits).
 */
export interface Clock {
  /** Milliseconds on a monotonic clock: only differences mean anything. */
  now(): number;
  /** Runs `callback` once after `ms`; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: unknown): void;
}

/** The longest delay a Node timer honours (2^31 − 1 ms, ~24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2_147_483_647;

/**
 * The real clock: `performance.now()` (monotonic, so a wall-clock step
 * neither fires a timeout early nor hides silence) and the global timers.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};
