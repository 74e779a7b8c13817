export { transportSuite } from './transport-suite.js';
export type { TransportSuiteContext, TransportSuiteOptions } from './transport-suite.js';
export type { UncaughtCatcher } from './util.js';
export { MEMORY_HOST, memoryNetwork, memoryTransport } from './memory.js';
export type { MemoryNetwork, MemoryNetworkOptions, MemoryTransportOptions } from './memory.js';
export {
  Reader,
  catchUncaught,
  nextEvent,
  pseudoRandomBytes,
  readLines,
  rejection,
  resourceSnapshot,
  resourcesAbove,
  sha256,
  useTempDir,
  Waiters,
  waitUntil,
  withTimeout,
} from './util.js';

export * from './discovery-suite.js';
export { FakeClock, settle } from './fake-clock.js';
export { createNetnsLab, netnsUnavailableReason } from './netns.js';
export { createNatLab, natLabUnavailableReason } from './nat-lab.js';
export {
  NODE_UID,
  OTHER_UID,
  commandAsUser,
  describeAsOtherUser,
  otherUserUnavailableReason,
  ownedDir,
  passableTempDir,
  plainUserUnavailableReason,
  runJsonAsUser,
  runNodeAsUser,
} from './other-user.js';
export type { OtherUserSuiteOptions, UserRunOptions, UserRunResult } from './other-user.js';
export type { NetnsHost, NetnsLab } from './netns.js';
export type { NatKind, NatLab, NatLabNode, NatLabOptions, NatRouter } from './nat-lab.js';
export { runJestFixtures } from './child-jest.js';
export type { ChildTestResult, RunJestFixturesOptions } from './child-jest.js';
export { loadNoiseVectors, replayNoiseVector, vectorKeyPair } from './noise-vectors.js';
export type { NoiseVector, NoiseVectorMessage, ReplayOptions, VectorCrypto } from './noise-vectors.js';
