export { DHT_TRANSPORT, dht } from './dht.js';
export type { DhtOptions, DhtTransport } from './dht.js';
export { startBootstrapNode } from './bootstrap.js';
export type { BootstrapNode, BootstrapNodeOptions } from './bootstrap.js';
export { startRelay } from './relay.js';
export type { Relay, RelayOptions } from './relay.js';
