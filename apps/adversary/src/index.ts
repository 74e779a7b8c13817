export { RawPeer, envelopeBytes, replay } from './raw-peer.js';
export type { RawAddress, RawHandshakeOptions, RawSession } from './raw-peer.js';
export { Target, ensureOwnFileLimit, openFileLimit } from './target.js';
export type { TargetInvite, TargetInviteOptions, TargetInviteOutcome, TargetOptions, TargetRequest, TargetStats } from './target.js';
export { churn, closeAll, openIdle } from './flood.js';
export { MAX_HEAP_GROWTH, formatSoakReport, runSoak } from './soak.js';
export type { SoakOptions, SoakReport } from './soak.js';
export type { SoakCommand, SoakNodeReport, StreamState } from './soak-protocol.js';
