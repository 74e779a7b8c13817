import { InvalidArgumentError, TimeoutError, type PeerNetError } from '@peernet/interface';

/** What the heartbeat needs from a session; a `Connection` from `@peernet/connection` fits. */
export interface Pingable {
  /** Sends a ping; resolves when the pong arrives. */
  ping(options: { timeout: number }): Promise<number>;
  /** Closes the session at once with a reason. */
  destroy(reason?: PeerNetError): void;
  /** Resolves when the session is closed, however that happened. */
  readonly closed: Promise<unknown>;
}

/** A clock and timers, injectable so tests run in virtual time. */
export interface LivenessClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of `watchLiveness`. */
export interface LivenessOptions {
  /** Time between pings (default 15 s). */
  intervalMs?: number;
  /** A session with no pong for this long is closed (default 30 s). */
  timeoutMs?: number;
  /** Clock and timers (real ones by default). */
  clock?: LivenessClock;
}

/** A running heartbeat. */
export interface LivenessWatch {
  /** Round-trip time of the latest pong, in ms (undefined before the first). */
  readonly lastRttMs: number | undefined;
  /** Stops pinging; does not close the session. Idempotent. */
  stop(): void;
}

const realClock: LivenessClock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

/**
 * Pings `session` every `intervalMs`; when no pong has arrived for
 * `timeoutMs`, destroys it with a `timeout` reason so whoever owns it can
 * reconnect. Stops by itself when the session closes.
 */
export function watchLiveness(session: Pingable, options: LivenessOptions = {}): LivenessWatch {
  const intervalMs = options.intervalMs ?? 15_000;
  const timeoutMs = options.timeoutMs ?? 30_000;
  if (!(intervalMs > 0) || !(timeoutMs > 0)) {
    throw new InvalidArgumentError('intervalMs and timeoutMs must be positive numbers');
  }
  const clock = options.clock ?? realClock;
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
      session.destroy(new TimeoutError(`no pong for ${silentFor} ms (liveness timeout ${timeoutMs} ms)`));
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
