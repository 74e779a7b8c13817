export { mdnsDiscovery } from './discovery.js';
export type { MdnsDiscovery, MdnsDiscoveryOptions, Timers } from './discovery.js';
export type { NetworkInterfacesFn } from './interfaces.js';
export { MDNS_GROUP, MDNS_PORT, SERVICE_TYPE } from './names.js';
export type { QueryBackoff } from './schedule.js';
