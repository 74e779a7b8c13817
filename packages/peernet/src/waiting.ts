import { AbortedError, MAX_TIMER_MS, OptionsReader, TimeoutError, type Clock, type PeerNetError } from '@peernet/interface';

type Settle = (error?: () => PeerNetError) => void;

/** Options of `waitForPeer`. */
export interface WaitForPeerOptions {
  /** How long to wait before rejecting with `timeout` (default 30 s). */
  timeoutMs?: number;
  /** Rejects with `aborted` when it fires. */
  signal?: AbortSignal;
}

/** How one wait ends on its own: after a time, or when the caller gives up. */
export interface WaitLimits {
  /** Rejects with `timeout` after this long. */
  timeoutMs: number;
  /** Rejects with `aborted` when it fires. */
  signal: AbortSignal | undefined;
  /** The error of the timeout, made when it happens (so it can say what was known by then). */
  timeoutError: () => TimeoutError;
}

/**
 * The pending `waitForPeer` calls, by peer. Each wait holds one timer and
 * one abort listener, and both go as soon as it ends, however it ends: a
 * program that waits in a loop leaves nothing behind.
 */
export class PeerWaiters {
  readonly #clock: Clock;
  readonly #waiting = new Map<string, Set<Settle>>();

  /** Creates an empty set of waits whose timers run on `clock`. */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Waits until `settle(key)` ends it, the timeout passes or the signal fires. */
  wait(key: string, limits: WaitLimits): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let set = this.#waiting.get(key);
      if (set === undefined) this.#waiting.set(key, (set = new Set()));
      const waiters = set;
      const settle: Settle = (error) => {
        if (!waiters.delete(settle)) return;
        if (waiters.size === 0 && this.#waiting.get(key) === waiters) this.#waiting.delete(key);
        this.#clock.clearTimeout(timer);
        limits.signal?.removeEventListener('abort', onAbort);
        if (error === undefined) resolve();
        else reject(error());
      };
      const onAbort = (): void => settle(() => new AbortedError('waitForPeer aborted'));
      const timer = this.#clock.setTimeout(() => settle(limits.timeoutError), limits.timeoutMs);
      waiters.add(settle);
      limits.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Ends every wait for `key`: resolves them, or rejects each with its own `error()`. */
  settle(key: string, error?: () => PeerNetError): void {
    const waiters = this.#waiting.get(key);
    if (waiters === undefined) return;
    for (const settle of [...waiters]) settle(error);
  }

  /** Ends every wait of every peer with `error()` (the node stops). */
  settleAll(error: () => PeerNetError): void {
    for (const key of [...this.#waiting.keys()]) this.settle(key, error);
  }
}

/** `waitForPeer`'s options, checked. */
export function readWaitOptions(options: WaitForPeerOptions): { timeoutMs: number; signal: AbortSignal | undefined } {
  const reader = new OptionsReader('waitForPeer', options);
  return {
    timeoutMs: reader.number('timeoutMs', { default: 30_000, above: 0, max: MAX_TIMER_MS }),
    signal: reader.object<AbortSignal, undefined>('signal', ['addEventListener', 'removeEventListener'], undefined),
  };
}

/** The `timeout` of a wait for `peer`, saying whether any address was known for it. */
export function waitTimeout(peer: string, timeoutMs: number, addressKnown: boolean): TimeoutError {
  const hint = addressKnown ? '' : ' (no address is known for it: discovery has not found it and connect() was not called)';
  return new TimeoutError(`peer ${peer} did not come online within ${timeoutMs} ms${hint}`);
}
