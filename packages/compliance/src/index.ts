export { transportSuite } from './transport-suite.js';
export type { TransportSuiteContext, TransportSuiteOptions } from './transport-suite.js';
export { MEMORY_HOST, memoryNetwork, memoryTransport } from './memory.js';
export type { MemoryNetwork, MemoryNetworkOptions, MemoryTransportOptions } from './memory.js';
export {
  Reader,
  nextEvent,
  pseudoRandomBytes,
  resourceSnapshot,
  resourcesAbove,
  sha256,
  waitUntil,
  withTimeout,
} from './util.js';

// A `discoverySuite(name, { setup, teardown })` for `Discovery` implementations
// belongs here next to `transportSuite`, in its own `discovery-suite.ts`.
export { FakeClock, settle } from './fake-clock.js';
