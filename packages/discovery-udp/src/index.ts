export { udpDiscovery } from './discovery.js';
export type { UdpDiscovery, UdpDiscoveryStats } from './discovery.js';
export {
  DEFAULT_HOME_VERIFY_PER_SECOND,
  DEFAULT_INTERVAL_MS,
  DEFAULT_KEY_VERIFY_PER_SECOND,
  DEFAULT_MAX_PEERS,
  DEFAULT_PORT,
  DEFAULT_VERIFY_PER_SECOND,
  DEFAULT_WANTED_VERIFY_PER_SECOND,
} from './options.js';
export type { UdpDiscoveryIdentity, UdpDiscoveryOptions } from './options.js';
export {
  DEFAULT_WINDOW_MS,
  FLAG_GOODBYE,
  PACKET_BYTES,
  PROTOCOL_VERSION,
  decodeAnnouncement,
  encodeAnnouncement,
} from './packet.js';
export type {
  Announcement,
  AnnouncementSigner,
  DecodeAnnouncementOptions,
  DecodeResult,
  DropReason,
  EncodeAnnouncementOptions,
} from './packet.js';
export { DEFAULT_REPLAY_CAPACITY, ReplayTable } from './replay-table.js';
export type { ReplayTableOptions } from './replay-table.js';
export { DEFAULT_RELAY_PER_SOURCE, DEFAULT_RELAY_SOURCES, RelayGuard } from './relay-guard.js';
export type { RelayGuardOptions } from './relay-guard.js';
export { TokenBucket } from './token-bucket.js';
export type { TokenBucketOptions } from './token-bucket.js';
export type { InterfaceTable } from '@peernet/interface';
export type { ReceiveCounters, ReceiveLimit } from './receiver.js';
export { DEFAULT_BUDGET_KEYS, VerifyBudget } from './verify-budget.js';
export type { BudgetLimit, BudgetSource, VerifyBudgetOptions } from './verify-budget.js';
