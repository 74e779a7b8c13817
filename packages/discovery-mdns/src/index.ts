export { mdnsDiscovery } from './discovery.js';
export type { MdnsDiscovery } from './discovery.js';
export type { MdnsDiscoveryOptions, QueryBackoffOption, Timers } from './options.js';
export type { NetworkInterfacesFn } from './interfaces.js';
export type { MdnsDropReason } from './names.js';
export { MDNS_GROUP, MDNS_PORT, SERVICE_TYPE } from './names.js';
export type { QueryBackoff } from './schedule.js';
