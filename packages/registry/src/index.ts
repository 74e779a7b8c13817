export { Registry } from './registry.js';
export type { Dialer, PeerRecord, RegistryEvents, RegistryOptions } from './registry.js';
export type { AddressSource, KnownAddress } from './address-book.js';
export { backoffDelay, backoffOptions } from './backoff.js';
export type { Backoff, BackoffOptions } from './backoff.js';
export { networkAddresses, watchNetwork } from './network-monitor.js';
export type { NetworkChange, NetworkMonitorOptions, NetworkWatch } from './network-monitor.js';
export type { Timers } from './timers.js';
