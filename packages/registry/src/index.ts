export { Registry } from './registry.js';
export type { Dialer, PeerRecord, RegistryEvents, RegistryOptions, TransportHints } from './registry.js';
export type { AddressSource, KnownAddress } from './address-book.js';
export { backoffDelay, backoffOptions } from './backoff.js';
export type { Backoff, BackoffOptions } from './backoff.js';
export { pollingNetworkMonitor, watchNetwork } from './network-monitor.js';
export type { NetworkMonitorOptions, NetworkWatch, PollingNetworkMonitorOptions } from './network-monitor.js';
export type { LegacyTimers } from './clock-option.js';
// Kept here for code written against the registry before these moved to the shared vocabulary.
export { networkAddresses } from '@peernet/interface';
export type { NetworkChange, NetworkMonitor } from '@peernet/interface';
