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
 * The machine's non-internal addresses, one `name/family/address/netmask`
 * string each, sorted: equal lists mean nothing a peer could dial has changed.
 */
export function networkAddresses(interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): string[] {
  const entries: string[] = [];
  for (const [name, infos] of Object.entries(interfaces)) {
    for (const info of infos ?? []) {
      if (!info.internal) entries.push(`${name}/${info.family}/${info.address}/${info.netmask}`);
    }
  }
  return entries.sort();
}

/** What changed between two polls. */
export interface NetworkChange {
  /** Addresses that appeared. */
  readonly added: readonly string[];
  /** Addresses that disappeared (sessions bound to them are dead). */
  readonly removed: readonly string[];
}

/** A running network monitor. */
export interface NetworkWatch {
  /** Stops polling. Idempotent. */
  stop(): void;
}

/** Polls the interfaces and calls `onChange` with the difference when the set of addresses changes. */
export function watchNetwork(onChange: (change: NetworkChange) => void, options: NetworkMonitorOptions = {}): NetworkWatch {
  const read = options.networkInterfaces ?? osNetworkInterfaces;
  const timers = options.timers ?? defaultTimers;
  const intervalMs = options.intervalMs ?? 2_000;
  let last = networkAddresses(read());
  let timer: unknown;
  let stopped = false;
  const poll = (): void => {
    if (stopped) return;
    const now = networkAddresses(read());
    const added = now.filter((a) => !last.includes(a));
    const removed = last.filter((a) => !now.includes(a));
    last = now;
    if (added.length > 0 || removed.length > 0) onChange({ added, removed });
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

