import { networkInterfaces as osNetworkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { realTimers as defaultTimers, type Timers } from './timers.js';

/** Options of `watchNetwork`. */
export interface NetworkMonitorOptions {
  /** Poll period (default 2 s). */
  intervalMs?: number;
  /** Source of interface data (`os.networkInterfaces` by default). */
  networkInterfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** Timers (real ones by default). */
  timers?: Timers;
}

/**
 * A canonical description of the machine's non-internal addresses: equal
 * strings mean nothing a peer could dial has changed.
 */
export function networkFingerprint(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string {
  const entries: string[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      if (!info.internal) entries.push(`${name}/${info.family}/${info.address}/${info.netmask}`);
    }
  }
  return entries.sort().join(',');
}

/** A running network monitor. */
export interface NetworkWatch {
  /** Stops polling. Idempotent. */
  stop(): void;
}

/** Polls the interfaces and calls `onChange` when the set of addresses changes. */
export function watchNetwork(onChange: () => void, options: NetworkMonitorOptions = {}): NetworkWatch {
  const read = options.networkInterfaces ?? osNetworkInterfaces;
  const timers = options.timers ?? defaultTimers;
  const intervalMs = options.intervalMs ?? 2_000;
  let last = networkFingerprint(read());
  let timer: unknown;
  let stopped = false;
  const poll = (): void => {
    if (stopped) return;
    const now = networkFingerprint(read());
    if (now !== last) {
      last = now;
      onChange();
    }
    if (!stopped) timer = timers.setTimeout(poll, intervalMs);
  };
  timer = timers.setTimeout(poll, intervalMs);
  return {
    stop() {
      stopped = true;
      timers.clearTimeout(timer);
    },
  };
}

