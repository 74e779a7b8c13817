import {
  MAX_TIMER_MS,
  OptionsReader,
  networkAddresses,
  readSystemInterfaces,
  type Clock,
  type NetworkChange,
  type NetworkMonitor,
  type ReadInterfaces,
} from '@peernet/interface';
import { readClockOption, type LegacyTimers } from './clock-option.js';

/** Options of `pollingNetworkMonitor`. */
export interface PollingNetworkMonitorOptions {
  /** Poll period (default 2 s). */
  intervalMs?: number;
  /** Source of interface data (`os.networkInterfaces` by default), so a test can describe any machine. */
  readInterfaces?: ReadInterfaces;
  /** Time source of the polls (`systemClock` by default). */
  clock?: Clock;
}

/** A running network watch. */
export interface NetworkWatch {
  /** Stops watching. Idempotent. */
  stop(): void;
}

/**
 * The default `NetworkMonitor`: reads the interfaces every `intervalMs` and
 * reports the difference when the set of dialable addresses changed. Polling
 * is the one method every platform offers; a platform that pushes changes
 * can plug in its own monitor instead.
 */
export function pollingNetworkMonitor(options: PollingNetworkMonitorOptions = {}): NetworkMonitor {
  const reader = new OptionsReader('pollingNetworkMonitor', options);
  const intervalMs = reader.number('intervalMs', { default: 2_000, min: 1, max: MAX_TIMER_MS });
  const read = reader.function<ReadInterfaces>('readInterfaces', readSystemInterfaces);
  const clock = readClockOption(reader);
  return {
    watch(onChange: (change: NetworkChange) => void): NetworkWatch {
      let last = networkAddresses(read());
      let stopped = false;
      let timer: unknown;
      const poll = (): void => {
        if (stopped) return;
        const now = networkAddresses(read());
        const added = now.filter((a) => !last.includes(a));
        const removed = last.filter((a) => !now.includes(a));
        last = now;
        if (added.length > 0 || removed.length > 0) onChange({ added, removed });
        if (!stopped) timer = clock.setTimeout(poll, intervalMs);
      };
      timer = clock.setTimeout(poll, intervalMs);
      return {
        stop() {
          stopped = true;
          clock.clearTimeout(timer);
        },
      };
    },
  };
}

/**
 * Options of `watchNetwork`.
 * @deprecated Use `pollingNetworkMonitor` and its options.
 */
export interface NetworkMonitorOptions {
  /** Poll period (default 2 s). */
  intervalMs?: number;
  /** Source of interface data (`os.networkInterfaces` by default). */
  networkInterfaces?: ReadInterfaces;
  /** Timers (real ones by default). */
  timers?: LegacyTimers;
}

/**
 * Polls the interfaces and calls `onChange` with the difference when the set of addresses changes.
 * @deprecated Use `pollingNetworkMonitor({ intervalMs, readInterfaces, clock }).watch(onChange)`.
 */
export function watchNetwork(onChange: (change: NetworkChange) => void, options: NetworkMonitorOptions = {}): NetworkWatch {
  const reader = new OptionsReader('watchNetwork', options);
  const readInterfaces = reader.function<ReadInterfaces, undefined>('networkInterfaces', undefined);
  return pollingNetworkMonitor({
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    ...(readInterfaces === undefined ? {} : { readInterfaces }),
    clock: readClockOption(reader),
  }).watch(onChange);
}
