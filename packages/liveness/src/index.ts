import { type Clock, MAX_TIMER_MS, OptionsReader, type PeerNetError, TimeoutError, systemClock } from '@peernet/interface';

/** What the heartbeat needs from a session; a `Connection` from `@peernet/connection` fits. */
export interface Pingable {
  /** Sends a ping; resolves when the pong arrives. */
  ping(options: { timeout: number }): Promise<number>;
  /** Closes the session at once with a reason. */
  destroy(reason?: PeerNetError): void;
  /** Resolves when the session is closed, however that happened. */
  readonly closed: Promise<unknown>;
}

/**
 * The clock the heartbeat reads.
 * @deprecated Use `Clock` from `@peernet/interface`, which this now is.
 */
export type LivenessClock = Clock;

/** Options of `watchLiveness`. */
export interface LivenessOptions {
  /** Time between pings in ms (default 15 s). */
  intervalMs?: number;
  /** A session with no pong for this many ms is closed (default 30 s). */
  timeoutMs?: number;
  /**
   * Monotonic time and timers (default `systemClock`). Silence is measured
   * on it, so a wall-clock step can neither close a healthy session nor
   * hide a dead one.
   */
  clock?: Clock;
}

/** A running heartbeat. */
export interface LivenessWatch {
  /** Round-trip time of the latest pong, in ms (undefined before the first). */
  readonly lastRttMs: number | undefined;
  /** Stops pinging; does not close the session. Idempotent. */
  stop(): void;
}

/**
 * Pings `session` every `intervalMs`; when no pong has arrived for
 * `timeoutMs`, destroys it with a `timeout` reason so whoever owns it can
 * reconnect. Stops by itself when the session closes. Throws
 * `InvalidArgumentError` for a bad option.
 */
export function watchLiveness(session: Pingable, options: LivenessOptions = {}): LivenessWatch {
  const reader = new OptionsReader('liveness', options);
  const intervalMs = positiveMs(reader, 'intervalMs', 15_000);
  const timeoutMs = positiveMs(reader, 'timeoutMs', 30_000);
  const clock = reader.object<Clock, Clock>('clock', ['now', 'setTimeout', 'clearTimeout'], systemClock);
  let lastPongAt = clock.now();
  let lastRttMs: number | undefined;
  let timer: unknown;
  let stopped = false;

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clock.clearTimeout(timer);
  };
  const tick = (): void => {
    if (stopped) return;
    const silentFor = clock.now() - lastPongAt;
    if (silentFor >= timeoutMs) {
      stop();
      session.destroy(new TimeoutError(`no pong for ${Math.round(silentFor)} ms (liveness timeout ${timeoutMs} ms)`));
      return;
    }
    session.ping({ timeout: timeoutMs }).then(
      (rtt) => {
        lastPongAt = clock.now();
        lastRttMs = rtt;
      },
      // A lost ping is judged by the silence at the next tick, not here.
      () => undefined,
    );
    // Wake at the next ping, or at the deadline if that comes first.
    timer = clock.setTimeout(tick, Math.min(intervalMs, timeoutMs - silentFor));
  };
  timer = clock.setTimeout(tick, Math.min(intervalMs, timeoutMs));
  void session.closed.then(stop);
  return {
    get lastRttMs() {
      return lastRttMs;
    },
    stop,
  };
}

/**
 * A positive duration: fractions are fine (the clock is monotonic and
 * sub-millisecond), but it must fit a timer, since a longer delay would fire
 * at once.
 */
function positiveMs(reader: OptionsReader, name: string, fallback: number): number {
  const value = reader.raw(name);
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value > 0) || value > MAX_TIMER_MS) {
    throw reader.error(name, `must be a positive number of ms up to ${MAX_TIMER_MS}, got ${String(value)}`);
  }
  return value;
}
