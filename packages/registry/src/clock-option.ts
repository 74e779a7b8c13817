import { systemClock, type Clock, type OptionsReader } from '@peernet/interface';

/** Timer functions without a clock, the shape the registry took before it took a `Clock`. */
export interface LegacyTimers {
  /** Runs `callback` once after `ms`; returns a handle for `clearTimeout`. */
  setTimeout(callback: () => void, ms: number): unknown;
  /** Cancels a timer. */
  clearTimeout(handle: unknown): void;
  /** A monotonic clock, if the object has one (a `Clock` does). */
  now?(): number;
}

/**
 * Reads the `clock` option, or the older `timers` when `clock` is absent.
 * Old `timers` objects had no `now`; the stagger between dials only needs
 * differences, so `fallbackNow` fills the gap for them.
 */
export function readClockOption(reader: OptionsReader, fallbackNow: () => number = systemClock.now): Clock {
  const clock = reader.object<Clock, undefined>('clock', ['now', 'setTimeout', 'clearTimeout'], undefined);
  if (clock !== undefined) return clock;
  const timers = reader.object<LegacyTimers, undefined>('timers', ['setTimeout', 'clearTimeout'], undefined);
  if (timers === undefined) return systemClock;
  const now = typeof timers.now === 'function' ? () => (timers.now as () => number).call(timers) : fallbackNow;
  return {
    now,
    setTimeout: (callback, ms) => timers.setTimeout(callback, ms),
    clearTimeout: (handle) => timers.clearTimeout(handle),
  };
}
